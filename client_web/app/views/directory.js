// The therapist directory: verified profiles only, filtered by specialty and
// language.

import { loadDirectory, officeHours } from "../directory.js";
import { clear, h } from "../dom.js";
import { initials, threadList } from "../threads.js";
import { filterOptions, listHas } from "../vocabulary.js";
import { describe } from "../wording.js";

export function directoryScreen(ctx, { workspace, go }) {
  const filters = { specialty: "", language: "" };
  const results = h("div", { class: "directory__results", id: "directory-results" });
  const count = h("p", { class: "muted small", role: "status", id: "directory-count" });
  const specialty = h("select", { class: "select", id: "filter-specialty" });
  const language = h("select", { class: "select", id: "filter-language" });

  function fillSelect(select, label, values, current) {
    clear(select);
    select.append(h("option", { value: "", text: `Any ${label}` }));
    for (const value of values) {
      select.append(h("option", { value, text: value, selected: value === current }));
    }
  }

  function render() {
    const therapists = workspace.directory;
    const vocabulary = (field) =>
      Array.isArray(workspace.info[field]) ? workspace.info[field] : [];
    const all = (field) =>
      filterOptions(
        therapists.map((t) => t.profile[field]),
        vocabulary(field),
      );
    fillSelect(specialty, "specialty", all("specialties"), filters.specialty);
    fillSelect(language, "language", all("languages"), filters.language);
    const has = (t, field, option) =>
      !option || listHas(t.profile[field], option, vocabulary(field));
    const shown = therapists.filter(
      (t) => has(t, "specialties", filters.specialty) && has(t, "languages", filters.language),
    );
    const open = new Set(threadList(workspace).map((thread) => thread.peer));
    clear(results);
    count.textContent =
      therapists.length === 0 ? "" : `${shown.length} of ${therapists.length} therapists`;
    if (therapists.length === 0) {
      results.append(
        h(
          "div",
          { class: "empty" },
          h("p", { class: "empty__title" }, "No therapists are listed yet"),
          h("p", { class: "muted" }, "Please come back a little later."),
        ),
      );
      return;
    }
    if (shown.length === 0) {
      results.append(
        h(
          "div",
          { class: "empty" },
          h("p", { class: "empty__title" }, "Nobody matches both filters"),
          h("p", { class: "muted" }, "Try another specialty or language."),
        ),
      );
      return;
    }
    results.append(
      h(
        "ul",
        { class: "therapists", "aria-label": "Therapists" },
        shown.map((therapist) => card(therapist, open.has(therapist.account))),
      ),
    );
  }

  function card({ account, profile }, hasThread) {
    const titleId = `therapist-${account}`;
    const canWrite = hasThread || profile.accepting;
    return h(
      "li",
      {
        class: "therapist card",
        "aria-labelledby": titleId,
        "data-therapist": profile.display_name,
      },
      h(
        "div",
        { class: "therapist__head" },
        h("span", { class: "avatar", "aria-hidden": "true", text: initials(profile.display_name) }),
        h(
          "div",
          { class: "therapist__who" },
          h("h2", {
            class: "therapist__name",
            id: titleId,
            dir: "auto",
            text: profile.display_name,
          }),
          profile.pronouns
            ? h("p", { class: "muted small", dir: "auto", text: profile.pronouns })
            : null,
          h(
            "span",
            {
              class: `badge therapist__status ${profile.accepting ? "badge--positive" : "badge--neutral"}`,
            },
            h("span", { class: "dot", "aria-hidden": "true" }),
            profile.accepting ? "Taking new clients" : "Not taking new clients",
          ),
        ),
      ),
      profile.specialties.length
        ? h(
            "ul",
            { class: "chips", "aria-label": "Specialties" },
            profile.specialties.map((s) => h("li", { class: "chip", dir: "auto", text: s })),
          )
        : null,
      h(
        "dl",
        { class: "facts" },
        fact("Languages", profile.languages.join(", ") || "Not given"),
        fact("Usually replies", profile.response_time || "Not given"),
        profile.office_hours ? fact("Hours", officeHours(profile)) : null,
      ),
      profile.away_message
        ? h(
            "p",
            { class: "notice notice--info therapist__away" },
            h("strong", { class: "notice__title", text: "Away" }),
            h("span", { class: "preserve-lines", dir: "auto", text: profile.away_message }),
          )
        : null,
      h(
        "div",
        { class: "row row--end" },
        h("button", {
          type: "button",
          class: `button ${hasThread ? "button--secondary" : "button--primary"}`,
          text: hasThread ? "Open conversation" : `Write to ${profile.display_name}`,
          disabled: !canWrite,
          onClick: () => go("thread", { peer: account }),
        }),
      ),
    );
  }

  specialty.addEventListener("change", () => {
    filters.specialty = specialty.value;
    render();
  });
  language.addEventListener("change", () => {
    filters.language = language.value;
    render();
  });

  const onChange = () => render();
  workspace.events.addEventListener("change", onChange);
  ctx.onLeave(() => workspace.events.removeEventListener("change", onChange));

  const error = h("p", { class: "form-error", role: "alert" });
  loadDirectory()
    .then((therapists) => {
      workspace.directory = therapists;
      render();
    })
    .catch((failure) => {
      error.textContent = describe(failure);
    });
  render();

  return h(
    "section",
    { class: "page page--wide directory", "aria-labelledby": "directory-title" },
    h(
      "header",
      { class: "page__header" },
      h("h1", { id: "directory-title" }, "Find a therapist"),
      h(
        "p",
        { class: "page__lead" },
        "Every profile here is signed by the therapist's own key and checked on this device.",
      ),
    ),
    h(
      "div",
      { class: "filters", role: "search", "aria-label": "Filter therapists" },
      h(
        "div",
        { class: "field" },
        h("label", { class: "field__label", htmlFor: "filter-specialty", text: "Specialty" }),
        specialty,
      ),
      h(
        "div",
        { class: "field" },
        h("label", { class: "field__label", htmlFor: "filter-language", text: "Language" }),
        language,
      ),
    ),
    count,
    error,
    results,
  );
}

function fact(term, value) {
  return h(
    "div",
    { class: "facts__row" },
    h("dt", { class: "facts__term", text: term }),
    h("dd", { class: "facts__value", dir: "auto", text: value }),
  );
}
