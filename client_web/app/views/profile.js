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
import { canonicalList, termKey } from "../vocabulary.js";
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
  time_zone: "",
};

function splitList(text) {
  return text
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

export function profileScreen(ctx, { workspace, go, first }) {
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
      // Names and texts in any script: the browser picks the direction.
      dir: "auto",
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

  // Office hours are read on the therapist's clock: the zone is published
  // with them (an IANA name, this browser's own by default).
  const zones =
    typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const timeZone = h(
    "select",
    { class: "select", id: "profile-time-zone", "aria-describedby": "profile-time-zone-hint" },
    [...new Set([ownTimeZone(), ...zones])].map((zone) => h("option", { value: zone, text: zone })),
  );

  // The practice's own terms, to tick; the text field holds anything else.
  const vocabulary = (list) => (Array.isArray(workspace.info[list]) ? workspace.info[list] : []);
  const ticks = { specialties: [], languages: [] };
  function choices(list, legend) {
    const terms = vocabulary(list);
    if (terms.length === 0) return null;
    ticks[list] = terms.map((term, index) => ({
      term,
      box: h("input", { type: "checkbox", id: `profile-${list}-${index}`, value: term }),
    }));
    return h(
      "fieldset",
      { class: "field choices" },
      h("legend", { class: "field__label", text: legend }),
      h(
        "ul",
        { class: "choices__list" },
        ticks[list].map(({ term, box }) =>
          h(
            "li",
            {},
            h(
              "label",
              { class: "checkbox", htmlFor: box.id },
              box,
              h("span", { dir: "auto", text: term }),
            ),
          ),
        ),
      ),
    );
  }
  function fillList(list, values) {
    const terms = canonicalList(values, vocabulary(list));
    const known = new Set(vocabulary(list).map(termKey));
    for (const { term, box } of ticks[list]) box.checked = terms.includes(term);
    fields[list].value = terms.filter((term) => !known.has(termKey(term))).join(", ");
  }
  function collectList(list) {
    const ticked = ticks[list].filter(({ box }) => box.checked).map(({ term }) => term);
    return canonicalList([...ticked, ...splitList(fields[list].value)], vocabulary(list));
  }

  function fill(profile) {
    const value = { ...EMPTY, ...(profile ?? {}) };
    fields.display_name.value = value.display_name;
    fields.pronouns.value = value.pronouns;
    fillList("specialties", value.specialties);
    fillList("languages", value.languages);
    fields.response_time.value = value.response_time;
    fields.office_hours.value = value.office_hours;
    timeZone.value = value.time_zone || ownTimeZone();
    fields.away_message.value = value.away_message;
    accepting.checked = value.accepting;
  }

  function collect() {
    const profile = {
      display_name: fields.display_name.value.trim(),
      pronouns: fields.pronouns.value.trim(),
      specialties: collectList("specialties"),
      languages: collectList("languages"),
      response_time: fields.response_time.value.trim(),
      accepting: accepting.checked,
      away_message: fields.away_message.value.trim(),
      office_hours: fields.office_hours.value.trim(),
      time_zone: timeZone.value,
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
    choices("specialties", "Specialties"),
    input("specialties", vocabulary("specialties").length ? "Other specialties" : "Specialties", {
      hint: "Separated by commas, for example: Anxiety, Trauma, Sex work",
    }),
    choices("languages", "Languages"),
    input("languages", vocabulary("languages").length ? "Other languages" : "Languages", {
      hint: "Separated by commas, for example: English, Español",
    }),
    input("response_time", "Usual response time", {
      limit: PROFILE_TEXT_CHARS.response_time,
      placeholder: "for example within a day",
    }),
    input("office_hours", "Office hours", {
      limit: PROFILE_TEXT_CHARS.office_hours,
      placeholder: "for example Mon–Thu, 9:00–17:00",
    }),
    h(
      "div",
      { class: "field" },
      h("label", { class: "field__label", htmlFor: "profile-time-zone", text: "Time zone" }),
      h(
        "span",
        { class: "field__hint", id: "profile-time-zone-hint" },
        "Shown with your office hours, so clients elsewhere know whose clock they are on.",
      ),
      timeZone,
    ),
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

  // Another device may publish the profile while this form is open: an
  // untouched form shows the new profile; one being edited is left alone.
  let touched = false;
  let shown = JSON.stringify(own());

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
      touched = false;
      shown = JSON.stringify(own());
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

  form.addEventListener("input", () => {
    touched = true;
  });
  form.addEventListener("change", () => {
    touched = true;
  });
  const onChange = () => {
    const current = JSON.stringify(own());
    if (touched || current === shown) return;
    shown = current;
    fill(own());
  };
  workspace.events.addEventListener("change", onChange);
  ctx.onLeave(() => workspace.events.removeEventListener("change", onChange));

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

function ownTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
