// The safety number of a conversation (PROTOCOL.md section 8): 60 digits in
// twelve groups, the same on both sides when nobody is in the middle, and a
// "verified" mark kept in the contact's vault item.

import { safetyNumber } from "../../lib/safety.js";
import { h } from "../dom.js";
import { idBytes } from "../ids.js";
import { setVerified } from "../mutations.js";
import { contactItem, peerIdentity, sessionItem } from "../records.js";
import { peerName } from "../threads.js";
import { describe } from "../wording.js";

export function safetyScreen(_ctx, { workspace, go, peer }) {
  const name = peerName(workspace, peer);
  const identityKey =
    peerIdentity(sessionItem(workspace.vault, peer)) ??
    workspace.directory.find((entry) => entry.account === peer)?.identityKey;
  const back = h("button", {
    type: "button",
    class: "button button--quiet button--small",
    text: "← Back to the conversation",
    onClick: () => go("thread", { peer }),
  });
  if (!identityKey) {
    return h(
      "section",
      { class: "page page--narrow", "aria-labelledby": "safety-title" },
      back,
      h("h1", { id: "safety-title" }, "Safety number"),
      h(
        "p",
        { class: "page__lead" },
        `There is nothing to compare yet. Once you and ${name} have exchanged a message, ` +
          "a safety number appears here.",
      ),
    );
  }
  const digits = safetyNumber(
    workspace.identity.publicKey,
    idBytes(workspace.account),
    identityKey,
    idBytes(peer),
  );
  const groups = digits.match(/.{5}/g);
  const verified = contactItem(workspace.vault, peer)?.data.verified === true;
  const status = h("p", { class: "small", role: "status" });
  const checkbox = h("input", { type: "checkbox", id: "mark-verified", checked: verified });
  checkbox.addEventListener("change", async () => {
    checkbox.disabled = true;
    status.textContent = "";
    try {
      await setVerified(workspace, peer, checkbox.checked, name);
      status.textContent = checkbox.checked
        ? `Marked as verified.`
        : "No longer marked as verified.";
    } catch (failure) {
      checkbox.checked = !checkbox.checked;
      status.textContent = describe(failure);
    } finally {
      checkbox.disabled = false;
    }
  });

  return h(
    "section",
    { class: "page page--narrow safety", "aria-labelledby": "safety-title" },
    back,
    h("h1", { id: "safety-title" }, `Safety number with ${name}`),
    h(
      "p",
      { class: "page__lead" },
      `Compare these digits with ${name}, in person or another way you trust. If they match, ` +
        "nobody can read your conversation by standing in the middle, not even the practice's server.",
    ),
    h(
      "ol",
      {
        class: "safety__digits",
        id: "safety-number",
        "aria-label": `Safety number: ${groups.join(" ")}`,
      },
      groups.map((group) => h("li", { class: "safety__group", text: group })),
    ),
    h(
      "div",
      { class: "card card--flat stack--tight" },
      h(
        "label",
        { class: "checkbox", htmlFor: "mark-verified" },
        checkbox,
        h(
          "span",
          {},
          h("strong", {}, "Mark as verified"),
          h(
            "span",
            { class: "small muted safety__checkbox-hint" },
            "Only after the numbers matched, digit for digit.",
          ),
        ),
      ),
      status,
    ),
    h(
      "p",
      { class: "small muted" },
      "If the number changes later, your conversation partner has a new key: " +
        "check it again before you trust it.",
    ),
  );
}
