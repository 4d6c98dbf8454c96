// The first screen: start anonymously, sign in with a secret, or join as a
// therapist with an invite code.

import { h } from "../dom.js";
import { crisisNotice } from "./crisis.js";
import { secretForm } from "./secretform.js";

export function welcomeScreen(_ctx, { crisisText, onStart, onSignIn, onJoin }) {
  return h(
    "section",
    { class: "page welcome", "aria-labelledby": "welcome-title" },
    h(
      "div",
      { class: "welcome__intro" },
      h("h1", { id: "welcome-title", class: "welcome__title" }, "Talk with a therapist, privately"),
      h(
        "p",
        { class: "page__lead" },
        "Write to a counsellor whenever it is safe for you. No name, email or phone number is " +
          "asked. Only you and your therapist can read what you write.",
      ),
      h(
        "div",
        { class: "welcome__start" },
        h("button", {
          type: "button",
          class: "button button--primary welcome__cta",
          id: "start-anonymously",
          text: "Start anonymously",
          onClick: onStart,
        }),
        h(
          "p",
          { class: "small muted" },
          "You will get an account secret. It is the only key to your account, so you will be " +
            "asked to save it.",
        ),
      ),
      crisisNotice(crisisText),
    ),
    h(
      "ul",
      { class: "features", "aria-label": "How your privacy is protected" },
      feature("Nothing about you", "No personal details, no phone number, no email. Ever."),
      feature(
        "Only the two of you",
        "Messages are encrypted on this device. The practice's server cannot read them.",
      ),
      feature(
        "Leave in a moment",
        "Press the red button, or Shift three times, to switch to an everyday website.",
      ),
    ),
    h(
      "section",
      { class: "card welcome__signin", "aria-labelledby": "signin-title" },
      h("h2", { id: "signin-title" }, "Already have an account?"),
      secretForm({ submitLabel: "Sign in", inputId: "signin-secret", onSubmit: onSignIn }),
    ),
    h(
      "p",
      { class: "welcome__join small" },
      "Therapist with an invite from the practice? ",
      h("button", {
        type: "button",
        class: "link-button",
        id: "join-therapist",
        text: "Join as a therapist",
        onClick: onJoin,
      }),
    ),
  );
}

function feature(title, text) {
  return h(
    "li",
    { class: "feature" },
    h("span", { class: "feature__title", text: title }),
    h("span", { class: "feature__text", text }),
  );
}
