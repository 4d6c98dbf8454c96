// Peer-support groups: the list (yours, and open groups to ask to join, or
// for a therapist a form to host one), and one group's conversation with its
// signed member list and, for the moderator, the moderation tools
// (app/groups.js does the work; every text enters the page through dom.js).

import { ROSTER_FLAG_INVITE_ONLY } from "../../lib/constants.js";
import { b64uEncode } from "../../lib/encoding.js";
import { request } from "../api.js";
import { loadDirectory } from "../directory.js";
import { clear, h } from "../dom.js";
import * as items from "../group_items.js";
import {
  eventText,
  groupItem,
  isPaused,
  loadListedGroups,
  members,
  reports,
  STATUS_WORDS,
  timeline,
} from "../groups.js";
import { announce } from "../shell.js";
import { describe } from "../wording.js";

function field(id, label, control, hint = "") {
  return h(
    "div",
    { class: "field" },
    h("label", { class: "field__label", htmlFor: id, text: label }),
    hint ? h("p", { class: "field__hint small muted", id: `${id}-hint`, text: hint }) : null,
    control,
  );
}

function input(id, props = {}) {
  return h("input", { class: "input", id, dir: "auto", autocomplete: "off", ...props });
}

// Runs an action, showing what went wrong in `error` rather than throwing.
async function attempt(error, work) {
  error.textContent = "";
  try {
    await work();
    return true;
  } catch (failure) {
    error.textContent = failure?.message && !failure.code ? failure.message : describe(failure);
    return false;
  }
}

export function groupsScreen(ctx, { workspace, go }) {
  const mine = h("div", { id: "my-groups" });
  const open = h("div", { id: "open-groups" });
  const error = h("p", { class: "form-error", role: "alert", id: "groups-error" });

  function render(listed = []) {
    clear(mine);
    const own = workspace.vault.list("group");
    if (own.length === 0) {
      mine.append(h("p", { class: "muted", text: "You take part in no group yet." }));
    } else {
      mine.append(
        h(
          "ul",
          { class: "threads", "aria-label": "Your groups" },
          own.map((item) => {
            const data = item.data;
            const role = data.role === "moderator" ? "Moderator" : STATUS_WORDS[data.status];
            return h(
              "li",
              { class: "thread-row" },
              h(
                "button",
                {
                  type: "button",
                  class: "thread-row__main link-button",
                  "data-group": data.group,
                  onClick: () => go("group", { group: data.group }),
                },
                h("span", { class: "thread-row__name", dir: "auto", text: data.listing?.name }),
                h("span", {
                  class: "thread-row__preview",
                  dir: "auto",
                  text: `${role}${data.muted ? " · muted for you" : ""} · you are ${data.name}`,
                }),
              ),
            );
          }),
        ),
      );
    }
    clear(open);
    const joined = new Set(own.map((item) => item.data.group));
    const others = listed.filter((entry) => !joined.has(entry.group));
    if (others.length === 0) {
      open.append(h("p", { class: "muted", text: "No other open group is listed now." }));
      return;
    }
    open.append(h("ul", { class: "therapists", "aria-label": "Open groups" }, others.map(card)));
  }

  function card(entry) {
    const id = entry.group.replace(/[^A-Za-z0-9]/g, "");
    const name = input(`join-name-${id}`, { maxLength: 40, required: true });
    const note = h("textarea", {
      class: "textarea",
      id: `join-note-${id}`,
      dir: "auto",
      rows: 2,
      maxLength: 500,
    });
    const failure = h("p", { class: "form-error", role: "alert" });
    const listing = entry.listing;
    return h(
      "li",
      { class: "card stack", "aria-labelledby": `group-${id}`, "data-open-group": listing.name },
      h("h3", { class: "card__title", id: `group-${id}`, dir: "auto", text: listing.name }),
      listing.description
        ? h("p", { class: "preserve-lines", dir: "auto", text: listing.description })
        : null,
      h(
        "dl",
        { class: "facts" },
        listing.rhythm ? fact("Meets", listing.rhythm) : null,
        fact("Up to", `${listing.max_members} members`),
      ),
      listing.rules
        ? h("p", { class: "preserve-lines small", dir: "auto", text: listing.rules })
        : null,
      h(
        "form",
        {
          class: "stack",
          novalidate: true,
          "aria-label": `Ask to join ${listing.name}`,
          onSubmit: async (event) => {
            event.preventDefault();
            const ok = await attempt(failure, () =>
              workspace.groups.requestJoin({
                group: entry.group,
                name: name.value.trim(),
                note: note.value,
                directory: workspace.directory,
              }),
            );
            if (ok) announce("Request sent to the moderator.");
          },
        },
        field(
          `join-name-${id}`,
          "Your name in this group",
          name,
          "Used in this group alone; nobody can link it to your account or other groups.",
        ),
        field(`join-note-${id}`, "A note to the moderator (optional)", note),
        failure,
        h(
          "div",
          { class: "row row--end" },
          h("button", { type: "submit", class: "button button--primary", text: "Ask to join" }),
        ),
      ),
    );
  }

  // An invite-only group is listed nowhere: the therapist gives its id in
  // their conversation, and its host must be a therapist of the directory.
  function inviteForm() {
    const id = input("invite-group", { maxLength: 22, spellcheck: false, required: true });
    const name = input("invite-name", { maxLength: 40, required: true });
    const note = h("textarea", { class: "textarea", id: "invite-note", dir: "auto", rows: 2 });
    const failure = h("p", { class: "form-error", role: "alert" });
    return h(
      "form",
      {
        class: "card stack",
        novalidate: true,
        "aria-labelledby": "invite-title",
        onSubmit: async (event) => {
          event.preventDefault();
          const ok = await attempt(failure, () =>
            workspace.groups.requestJoin({
              group: id.value.trim(),
              name: name.value.trim(),
              note: note.value,
              directory: workspace.directory,
            }),
          );
          if (ok) announce("Request sent to the moderator.");
        },
      },
      h("h2", { class: "card__title", id: "invite-title", text: "Invited to a group?" }),
      field("invite-group", "The group's id, as your therapist gave it", id),
      field("invite-name", "Your name in this group", name),
      field("invite-note", "A note to the moderator (optional)", note),
      failure,
      h(
        "div",
        { class: "row row--end" },
        h("button", { type: "submit", class: "button button--secondary", text: "Ask to join" }),
      ),
    );
  }

  function hostForm() {
    const name = input("host-name", { maxLength: 80, required: true });
    const description = h("textarea", {
      class: "textarea",
      id: "host-description",
      dir: "auto",
      rows: 3,
    });
    const rules = h("textarea", { class: "textarea", id: "host-rules", dir: "auto", rows: 3 });
    const rhythm = input("host-rhythm", { maxLength: 200 });
    const max = input("host-max", { type: "number", min: 2, max: 50, value: "12" });
    const privateBox = h("input", { type: "checkbox", class: "checkbox", id: "host-private" });
    const you = input("host-you", { maxLength: 40, required: true });
    const failure = h("p", { class: "form-error", role: "alert" });
    return h(
      "form",
      {
        class: "card stack",
        novalidate: true,
        "aria-labelledby": "host-title",
        onSubmit: async (event) => {
          event.preventDefault();
          let group = null;
          const ok = await attempt(failure, async () => {
            group = await workspace.groups.createGroup({
              fields: {
                name: name.value.trim(),
                description: description.value,
                rules: rules.value,
                rhythm: rhythm.value,
              },
              name: you.value.trim(),
              inviteOnly: privateBox.checked,
              maxMembers: Number(max.value),
            });
          });
          if (ok) go("group", { group });
        },
      },
      h("h2", { class: "card__title", id: "host-title", text: "Host a group" }),
      field("host-name", "Group name", name),
      field("host-description", "Description", description),
      field("host-rules", "Rules", rules),
      field(
        "host-rhythm",
        "Meeting rhythm",
        rhythm,
        "For example “Tuesdays 19:00” or “write any time”.",
      ),
      field("host-max", "Most members", max),
      h(
        "div",
        { class: "field row" },
        privateBox,
        h("label", { htmlFor: "host-private", text: "Invite only (not listed in the directory)" }),
      ),
      field("host-you", "Your name in this group", you),
      failure,
      h(
        "div",
        { class: "row row--end" },
        h("button", { type: "submit", class: "button button--primary", text: "Create group" }),
      ),
    );
  }

  // Groups another therapist named this one co-moderator of: taken up with a
  // name for the group (PROTOCOL.md 15.2, "Co-moderation").
  const offers = h("div", { id: "moderation-offers" });
  function renderOffers(found) {
    clear(offers);
    if (found.length === 0) return;
    offers.append(
      h("h2", { text: "Groups you were asked to co-moderate" }),
      h(
        "ul",
        { class: "stack stack--tight", "aria-label": "Groups you were asked to co-moderate" },
        found.map((offered) => {
          const fieldId = `offer-name-${offered}`;
          const name = input(fieldId, { maxLength: 40, required: true });
          const failure = h("p", { class: "form-error", role: "alert" });
          return h(
            "li",
            { class: "card stack", "data-offer": offered },
            h("p", { class: "small", text: `Group ${offered}` }),
            field(fieldId, "Your name in this group", name),
            failure,
            h("button", {
              type: "button",
              class: "button button--secondary",
              text: "Co-moderate this group",
              onClick: async () => {
                const ok = await attempt(failure, async () => {
                  // The therapist who named this one is checked against the directory as it is now.
                  workspace.directory = await loadDirectory();
                  await workspace.groups.takeUpModeration({
                    group: offered,
                    name: name.value.trim(),
                    directory: workspace.directory,
                  });
                });
                if (ok) go("group", { group: offered });
              },
            }),
          );
        }),
      ),
    );
  }
  if (workspace.role === "therapist") {
    workspace.groups
      .moderationOffers()
      .then(renderOffers)
      .catch((failure) => {
        error.textContent = describe(failure);
      });
  }

  let listed = [];
  const refresh = () => render(listed);
  workspace.events.addEventListener("group", refresh);
  ctx.onLeave(() => workspace.events.removeEventListener("group", refresh));
  loadListedGroups(request, workspace.token)
    .then((found) => {
      listed = found;
      render(listed);
    })
    .catch((failure) => {
      error.textContent = describe(failure);
    });
  render();

  return h(
    "section",
    { class: "page page--wide stack", "aria-labelledby": "groups-title" },
    h(
      "header",
      { class: "page__header" },
      h("h1", { id: "groups-title" }, "Groups"),
      h(
        "p",
        { class: "page__lead" },
        "Peer-support groups hosted by the practice's therapists. In each group you use a name and a key made for it alone.",
      ),
    ),
    error,
    h("h2", { text: "Your groups" }),
    mine,
    offers,
    h("h2", { text: "Open groups" }),
    open,
    workspace.role === "therapist" ? hostForm() : inviteForm(),
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

// One group: conversation, members, requests and moderation tools.
export function groupScreen(ctx, { workspace, go, group }) {
  const groups = workspace.groups;
  const list = h("ol", { class: "messages__list", "aria-label": "Group messages" });
  const messages = h("div", { class: "messages", id: "group-messages", tabIndex: 0 }, list);
  const aside = h("div", { class: "stack", id: "group-aside" });
  const notices = h("div", { class: "stack", id: "group-notices" });
  const error = h("p", { class: "form-error", role: "alert", id: "group-error" });
  const area = h("textarea", {
    class: "textarea composer__input",
    id: "group-composer",
    dir: "auto",
    rows: 3,
  });
  const send = h("button", { type: "submit", class: "button button--primary", text: "Send" });
  const title = h("h1", { id: "group-title", dir: "auto" });
  const sub = h("p", { class: "muted small", id: "group-sub" });
  const invite = h("p", { class: "small", id: "group-invite", hidden: true });

  const run = (work) => attempt(error, work);

  function render() {
    const item = groupItem(workspace.vault, group);
    if (!item) {
      title.textContent = "Group";
      return;
    }
    const data = item.data;
    const moderator = data.role === "moderator";
    title.textContent = data.listing?.name ?? "Group";
    const paused = isPaused(data);
    sub.textContent = [
      moderator ? "You moderate this group" : STATUS_WORDS[data.status],
      `you are ${data.name}`,
      paused ? "paused by the moderator" : null,
      data.muted ? "muted for you" : null,
    ]
      .filter(Boolean)
      .join(" · ");
    // An invite-only group is found by its id alone: the moderator gives it.
    const inviteOnly =
      data.state !== null && (items.heldRoster(data).flags & ROSTER_FLAG_INVITE_ONLY) !== 0;
    invite.hidden = !(moderator && inviteOnly);
    invite.textContent = invite.hidden ? "" : `To invite someone, give them this id: ${group}`;
    clear(notices);
    for (const text of (data.warnings ?? []).slice(-3)) {
      notices.append(
        h(
          "p",
          { class: "notice notice--warning", role: "status" },
          h("strong", { class: "notice__title", text: "Warning" }),
          h("span", { text }),
        ),
      );
    }
    if (data.status === "declined") {
      notices.append(h("p", { class: "notice notice--info", dir: "auto", text: data.declined }));
    }
    renderTimeline(data, moderator);
    renderAside(data, moderator);
    const canWrite = data.status === "member" && (!paused || moderator);
    area.disabled = !canWrite;
    send.disabled = !canWrite;
  }

  function renderTimeline(data, moderator) {
    clear(list);
    const entries = timeline(workspace.vault, group);
    if (entries.length === 0) {
      list.append(h("li", { class: "messages__empty muted", text: "Nothing here yet." }));
    }
    for (const { data: entry } of entries) {
      if (entry.kind === "group_event") {
        list.append(
          h("li", {
            class: "msg__meta small muted",
            "data-event": entry.event,
            text: eventText(entry),
          }),
        );
        continue;
      }
      const mine = entry.dir === "out";
      const actions = [];
      if (!entry.removed && moderator) {
        actions.push(
          h("button", {
            type: "button",
            class: "button button--quiet button--small",
            text: "Remove for everyone",
            onClick: () => run(() => groups.removeMessage(group, entry.id)),
          }),
        );
      }
      if (!entry.removed && !mine && !moderator && data.status === "member") {
        actions.push(
          h("button", {
            type: "button",
            class: "button button--quiet button--small",
            text: "Report to the moderator",
            onClick: async () => {
              if (await run(() => groups.report(group, entry.id))) {
                announce("Reported to the moderator, privately.");
              }
            },
          }),
        );
      }
      list.append(
        h(
          "li",
          { class: `msg msg--${mine ? "out" : "in"}`, "data-message": entry.id },
          h("p", { class: "msg__meta", dir: "auto", text: mine ? "You" : entry.name }),
          entry.removed
            ? h("p", { class: "msg__body muted", text: "The moderator removed this message." })
            : h("p", { class: "msg__body", dir: "auto", text: entry.body }),
          actions.length ? h("div", { class: "row msg__actions" }, actions) : null,
        ),
      );
    }
    messages.scrollTop = messages.scrollHeight;
  }

  // Name a therapist of the signed directory co-moderator, or stop naming one.
  function coModeration(data) {
    if (!data.state) return h("div", { id: "group-co-moderator-none" });
    const named = new Set(items.heldRoster(data).moderators.map((key) => b64uEncode(key)));
    const others = workspace.directory.filter((t) => t.account !== workspace.account);
    const current = others.find((t) => named.has(b64uEncode(t.identityKey)));
    if (current) {
      return h("button", {
        type: "button",
        class: "button button--danger-outline",
        id: "group-co-moderator-remove",
        text: `Remove co-moderator ${current.profile?.display_name ?? ""}`.trim(),
        onClick: () => run(() => groups.setCoModerator(group, current, false)),
      });
    }
    // Two moderators already, the other not in the directory now; or nobody to name.
    if (named.size > 1 || others.length === 0) return h("div", { id: "group-co-moderator-none" });
    const choice = h(
      "select",
      { class: "input", id: "group-co-moderator" },
      others.map((t) =>
        h("option", { value: t.account, text: t.profile?.display_name ?? t.account }),
      ),
    );
    return h(
      "div",
      { class: "stack stack--tight" },
      field("group-co-moderator", "A co-moderator from the directory", choice),
      h("button", {
        type: "button",
        class: "button button--secondary",
        text: "Add a co-moderator",
        onClick: async () => {
          const therapist = others.find((t) => t.account === choice.value);
          if (therapist && (await run(() => groups.setCoModerator(group, therapist, true)))) {
            announce("Co-moderator named.");
          }
        },
      }),
    );
  }

  function renderAside(data, moderator) {
    clear(aside);
    if (data.state) {
      const own = b64uEncode(items.memberKeyOf(data));
      aside.append(
        h("h2", { text: "Members" }),
        h(
          "ul",
          { class: "stack stack--tight", "aria-label": "Members", id: "group-members" },
          members(data).map((member) =>
            h(
              "li",
              { class: "row row--between", "data-member": member.name },
              h("span", {
                dir: "auto",
                text: `${member.name}${member.you ? " (you)" : ""}${member.state === "member" ? "" : ` · ${member.state}`}`,
              }),
              moderator && member.memberKey !== own && ["member", "muted"].includes(member.state)
                ? h(
                    "span",
                    { class: "row" },
                    h("button", {
                      type: "button",
                      class: "button button--secondary button--small",
                      text: member.state === "muted" ? "Unmute" : "Mute",
                      "aria-label": `${member.state === "muted" ? "Unmute" : "Mute"} ${member.name}`,
                      onClick: () =>
                        run(() =>
                          groups.setMember(
                            group,
                            member.memberKey,
                            member.state === "muted" ? "unmute" : "mute",
                          ),
                        ),
                    }),
                    h("button", {
                      type: "button",
                      class: "button button--danger-outline button--small",
                      text: "Remove",
                      "aria-label": `Remove ${member.name}`,
                      onClick: () => run(() => groups.setMember(group, member.memberKey, "remove")),
                    }),
                  )
                : null,
            ),
          ),
        ),
      );
    }
    if (moderator) {
      const waiting = data.requests ?? [];
      aside.append(h("h2", { text: "Requests" }));
      if (waiting.length === 0)
        aside.append(h("p", { class: "muted small", text: "No requests waiting." }));
      for (const entry of waiting) {
        aside.append(
          h(
            "div",
            { class: "card card--flat stack", "data-request": entry.name },
            h("p", { dir: "auto", text: entry.name }),
            entry.note
              ? h("p", { class: "small preserve-lines", dir: "auto", text: entry.note })
              : null,
            h(
              "div",
              { class: "row" },
              h("button", {
                type: "button",
                class: "button button--primary button--small",
                text: "Admit",
                "aria-label": `Admit ${entry.name}`,
                onClick: () => run(() => groups.admit(group, entry.member_key)),
              }),
              h("button", {
                type: "button",
                class: "button button--secondary button--small",
                text: "Decline",
                "aria-label": `Decline ${entry.name}`,
                onClick: () => run(() => groups.decline(group, entry.member_key)),
              }),
            ),
          ),
        );
      }
      const rules = h("textarea", {
        class: "textarea",
        id: "group-rules",
        dir: "auto",
        rows: 3,
        value: data.listing?.rules ?? "",
      });
      aside.append(
        h("h2", { text: "Moderation" }),
        h("button", {
          type: "button",
          class: "button button--secondary",
          id: "group-pause",
          text: isPaused(data) ? "Resume the group" : "Pause the group",
          onClick: () => run(() => groups.setPaused(group, !isPaused(data))),
        }),
        coModeration(data),
        field("group-rules", "Rules", rules),
        h("button", {
          type: "button",
          class: "button button--secondary",
          text: "Save rules",
          onClick: async () => {
            if (await run(() => groups.editListing(group, { rules: rules.value })))
              announce("Rules saved.");
          },
        }),
      );
      const found = reports(workspace.vault, group);
      if (found.length) {
        aside.append(
          h("h2", { text: "Reports" }),
          h(
            "ul",
            { class: "stack stack--tight" },
            found.map(({ data: r }) =>
              h("li", { class: "small preserve-lines", dir: "auto", text: r.body }),
            ),
          ),
        );
      }
    } else {
      aside.append(
        h("h2", { text: "For you" }),
        h("button", {
          type: "button",
          class: "button button--secondary",
          id: "group-mute",
          text: data.muted ? "Unmute this group" : "Mute this group",
          onClick: () => run(() => groups.setMuted(group, !data.muted)),
        }),
        ["member", "requested"].includes(data.status)
          ? h("button", {
              type: "button",
              class: "button button--danger-outline",
              id: "group-leave",
              text: "Leave the group",
              onClick: () => run(() => groups.leave(group)),
            })
          : null,
      );
      if (data.listing?.rules) {
        aside.append(
          h("h2", { text: "Rules" }),
          h("p", { class: "small preserve-lines", dir: "auto", text: data.listing.rules }),
        );
      }
    }
  }

  const composer = h(
    "form",
    {
      class: "composer",
      novalidate: true,
      "aria-label": "Write to the group",
      onSubmit: async (event) => {
        event.preventDefault();
        const body = area.value;
        if (await run(() => groups.sendText(group, body))) area.value = "";
      },
    },
    h("label", {
      class: "field__label",
      htmlFor: "group-composer",
      text: "Your message to the group",
    }),
    area,
    h("div", { class: "composer__bar" }, send),
  );

  const onGroup = (event) => {
    if (event.detail.group === group) render();
  };
  workspace.events.addEventListener("group", onGroup);
  ctx.onLeave(() => workspace.events.removeEventListener("group", onGroup));
  groups.pull(group).catch((failure) => {
    error.textContent = describe(failure);
  });
  if (workspace.role === "therapist") {
    // A colleague to name co-moderator may have joined since the directory loaded.
    loadDirectory()
      .then((therapists) => {
        workspace.directory = therapists;
        render();
      })
      .catch(() => {});
  }
  render();

  return h(
    "section",
    { class: "page page--wide", "aria-labelledby": "group-title" },
    h(
      "header",
      { class: "page__header" },
      h("button", {
        type: "button",
        class: "button button--quiet button--small",
        text: "All groups",
        onClick: () => go("groups"),
      }),
      title,
      sub,
      invite,
    ),
    notices,
    error,
    h(
      "div",
      { class: "split" },
      h("div", { class: "conversation card" }, messages, composer),
      h("aside", { class: "thread__aside", "aria-label": "Group details" }, aside),
    ),
  );
}
