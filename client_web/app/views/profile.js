// The therapist's profile, signed with their identity key before upload:
// who they are, what they work with, when clients can expect a reply, and an
// away message or office hours.

import {
  PROFILE_LIST_ITEM_CHARS,
  PROFILE_LIST_ITEMS,
  PROFILE_TEXT_CHARS,
} from "../../lib/constants.js";
import { encodeProfile, loadDirectory, publishProfile } from "../directory.js";
import { h } from "../dom.js";
import { describe } from "../wording.js";

const EMPTY = {
  display_name: "",
  pronouns: "",
  specialties: [],
  languages: [],
  response_time: "",
  accepting: true,
  away_message: "",
  office_hours: "",
};

function splitList(text) {
  return text
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

export function profileScreen(_ctx, { workspace, go, first }) {
  const own = () =>
    workspace.directory.find((entry) => entry.account === workspace.account)?.profile ?? null;
  const fields = {};
  const error = h("p", { class: "form-error", role: "alert" });
  const status = h("p", { class: "notice notice--success", role: "status", hidden: true });

  function input(name, label, { hint, limit, multiline = false, placeholder } = {}) {
    const id = `profile-${name.replace(/_/g, "-")}`;
    const control = h(multiline ? "textarea" : "input", {
      class: multiline ? "textarea" : "input",
      id,
      name,
      type: multiline ? undefined : "text",
      rows: multiline ? 3 : undefined,
      maxLength: limit,
      placeholder,
      "aria-describedby": hint ? `${id}-hint` : undefined,
      autocomplete: "off",
    });
    fields[name] = control;
    return h(
      "div",
      { class: "field" },
      h("label", { class: "field__label", htmlFor: id, text: label }),
      hint ? h("span", { class: "field__hint", id: `${id}-hint`, text: hint }) : null,
      control,
    );
  }

  const accepting = h("input", { type: "checkbox", id: "profile-accepting" });

  function fill(profile) {
    const value = { ...EMPTY, ...(profile ?? {}) };
    fields.display_name.value = value.display_name;
    fields.pronouns.value = value.pronouns;
    fields.specialties.value = value.specialties.join(", ");
    fields.languages.value = value.languages.join(", ");
    fields.response_time.value = value.response_time;
    fields.office_hours.value = value.office_hours;
    fields.away_message.value = value.away_message;
    accepting.checked = value.accepting;
  }

  function collect() {
    const profile = {
      display_name: fields.display_name.value.trim(),
      pronouns: fields.pronouns.value.trim(),
      specialties: splitList(fields.specialties.value),
      languages: splitList(fields.languages.value),
      response_time: fields.response_time.value.trim(),
      accepting: accepting.checked,
      away_message: fields.away_message.value.trim(),
      office_hours: fields.office_hours.value.trim(),
    };
    if (!profile.display_name) throw new Error("Please enter the name clients will see.");
    for (const list of ["specialties", "languages"]) {
      if (profile[list].length > PROFILE_LIST_ITEMS) {
        throw new Error(`At most ${PROFILE_LIST_ITEMS} ${list}, please.`);
      }
      if (profile[list].some((item) => [...item].length > PROFILE_LIST_ITEM_CHARS)) {
        throw new Error(
          `Each of the ${list} can be at most ${PROFILE_LIST_ITEM_CHARS} characters.`,
        );
      }
    }
    encodeProfile(profile);
    return profile;
  }

  const save = h("button", {
    type: "submit",
    class: "button button--primary",
    id: "save-profile",
    text: "Publish profile",
  });
  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    input("display_name", "Name shown to clients", {
      limit: PROFILE_TEXT_CHARS.display_name,
      hint: "Your name or a professional pseudonym.",
    }),
    input("pronouns", "Pronouns", {
      limit: PROFILE_TEXT_CHARS.pronouns,
      placeholder: "for example she/her",
    }),
    input("specialties", "Specialties", {
      hint: "Separated by commas, for example: Anxiety, Trauma, Sex work",
    }),
    input("languages", "Languages", { hint: "Separated by commas, for example: English, Español" }),
    input("response_time", "Usual response time", {
      limit: PROFILE_TEXT_CHARS.response_time,
      placeholder: "for example within a day",
    }),
    input("office_hours", "Office hours", {
      limit: PROFILE_TEXT_CHARS.office_hours,
      placeholder: "for example Mon–Thu, 9:00–17:00",
    }),
    input("away_message", "Away message", {
      limit: PROFILE_TEXT_CHARS.away_message,
      multiline: true,
      hint: "Shown to clients while it is set. Leave empty when you are available.",
    }),
    h(
      "label",
      { class: "checkbox", htmlFor: "profile-accepting" },
      accepting,
      h("span", {}, "I am taking new clients"),
    ),
    error,
    h("div", { class: "row row--end" }, save),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    status.hidden = true;
    let profile;
    try {
      profile = collect();
    } catch (failure) {
      error.textContent = failure.message;
      return;
    }
    save.disabled = true;
    save.textContent = "Signing and publishing…";
    try {
      await publishProfile(workspace, profile);
      workspace.directory = await loadDirectory().catch(() => workspace.directory);
      status.textContent = "Your profile is published. Clients see it in the directory.";
      status.hidden = false;
      if (first) go("inbox");
    } catch (failure) {
      error.textContent = describe(failure);
    } finally {
      save.disabled = false;
      save.textContent = "Publish profile";
    }
  });

  fill(own());
  if (!own()) {
    loadDirectory()
      .then((therapists) => {
        workspace.directory = therapists;
        if (own() && !fields.display_name.value) fill(own());
      })
      .catch(() => {});
  }

  return h(
    "section",
    { class: "page page--narrow profile", "aria-labelledby": "profile-title" },
    h("h1", { id: "profile-title" }, first ? "Write your profile" : "Your profile"),
    h(
      "p",
      { class: "page__lead" },
      "This is what clients see in the directory. It is signed with your key on this device, so " +
        "clients can check that nobody else changed it.",
    ),
    status,
    form,
  );
}
