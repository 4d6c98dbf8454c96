// Which screen shows when: signed out, creating an account, signed in,
// locked. It owns the one workspace a page can have and makes sure every way
// out of it (lock, sign-out, deletion, quick exit, an expired sign-in) erases
// it.

import { sodium } from "../lib/sodium.js";
import {
  beginAccount,
  checkInvite,
  deleteAccount,
  endSessionInBackground,
  generateSecret,
  openSession,
  signIn,
  signOut,
} from "./account.js";
import { startIdleLock } from "./autolock.js";
import { loadDirectory } from "./directory.js";
import { browserNotices, idleMinutes } from "./mutations.js";
import { onQuickExit } from "./quickexit.js";
import { changeSecret, checkCurrentSecret } from "./secretchange.js";
import { announce, setLockWarning, setNav, setStatus, show } from "./shell.js";
import { showBrowserNotice, showUnread } from "./signals.js";
import { peerName, threadList, unreadTotal } from "./threads.js";
import { changeSecretScreen } from "./views/changesecret.js";
import { deletedScreen } from "./views/deleted.js";
import { directoryScreen } from "./views/directory.js";
import { groupScreen, groupsScreen } from "./views/groups.js";
import { inboxScreen } from "./views/inbox.js";
import { joinScreen } from "./views/join.js";
import { lockScreen } from "./views/lock.js";
import { profileScreen } from "./views/profile.js";
import { safetyScreen } from "./views/safety.js";
import { secretScreen } from "./views/secret.js";
import { settingsScreen } from "./views/settings.js";
import { threadScreen } from "./views/thread.js";
import { welcomeScreen } from "./views/welcome.js";
import { describe } from "./wording.js";

let info = null;
let workspace = null;
let idle = null;
// While a change of the secret switches, this page's old session ends on
// purpose: its refusals must not lock the page.
let switching = false;

export function startController(practiceInfo) {
  info = practiceInfo;
  const abandon = () => {
    idle?.stop();
    for (const open of [workspace, closing]) {
      if (!open) continue;
      endSessionInBackground(open);
      open.close();
    }
    workspace = null;
    closing = null;
  };
  onQuickExit(abandon);
  // A closed or reloaded tab loses its keys anyway; its sign-in ends too.
  window.addEventListener("pagehide", abandon);
  // On first load focus stays at the top of the page, where the skip link and
  // the exit button come first.
  showWelcome({ focus: false });
}

function workspaceHooks() {
  return {
    onUnauthorized: () => switching || lock("expired"),
    onSignedOut: () => switching || lock("signed_out"),
    onMessage: (peer) => {
      if (!workspace) return;
      const seen = workspace.viewing === peer && document.visibilityState === "visible";
      if (workspace.viewing !== peer) announce(`New message from ${peerName(workspace, peer)}.`);
      if (!seen && browserNotices(workspace)) showBrowserNotice();
      refreshNav();
    },
    // What a group's stream or envelope changed: warnings show, and the rest
    // is announced to screen readers unless the person muted the group.
    onGroupUpdate: (update) => {
      if (!workspace) return;
      if (update.kind === "warning") {
        setStatus(update.text, {
          tone: "danger",
          action: { label: "Dismiss", onSelect: () => setStatus("") },
        });
      } else if (update.text && workspace.viewing !== `group:${update.group}`) {
        announce(update.text);
      }
    },
    onUnreadable: (peer) => {
      if (!workspace) return;
      setStatus(
        `A message from ${peerName(workspace, peer)} could not be opened: ` +
          "it was damaged or not meant for this account.",
        { tone: "danger", action: { label: "Dismiss", onSelect: () => setStatus("") } },
      );
    },
  };
}

// Signed out

function showWelcome({ focus = true } = {}) {
  setNav([]);
  setStatus("");
  show(
    "welcome",
    welcomeScreen,
    {
      crisisText: info.crisis_text,
      onStart: startAnonymously,
      onSignIn: async (secret) => enter(await signIn(info, secret, workspaceHooks())),
      onJoin: () => showJoin("therapist"),
    },
    { focus },
  );
}

function startAnonymously() {
  if (info.intake === "invite-only") showJoin("client");
  else showSecret("client", null);
}

function showJoin(role, error = "") {
  show("join", joinScreen, {
    role,
    error,
    onSubmit: async (code) => {
      await checkInvite(role, code);
      showSecret(role, code);
    },
    onCancel: () => showWelcome(),
  });
}

function showSecret(role, invite, notice = "") {
  const secret = generateSecret();
  const pending = beginAccount(info, secret, role, invite);
  show("secret", secretScreen, {
    secret,
    role,
    notice,
    fileName: `${info.neutral_title || "notes"}.txt`.toLowerCase().replace(/[^a-z0-9.]+/g, "-"),
    onCancel: () => (invite ? showJoin(role) : showWelcome()),
    onLeave: () => pending.discard(),
    onContinue: async () => {
      try {
        enter(await pending.finish(workspaceHooks()), { fresh: true });
      } catch (error) {
        if (error.code === "handle_taken") {
          showSecret(role, invite, describe(error));
          return;
        }
        if (error.code === "invalid_invite" || error.code === "invite_required") {
          showJoin(role, describe(error));
          return;
        }
        throw error;
      }
    },
  });
}

// Signed in

function enter(opened, { fresh = false, resume = null } = {}) {
  workspace = opened;
  idle = startIdleLock(
    idleMinutes(workspace),
    () => lock("idle"),
    (seconds) => setLockWarning(seconds, () => setLockWarning(null)),
  );
  workspace.events.addEventListener("connection", (event) => showConnection(event.detail));
  workspace.events.addEventListener("change", refreshNav);
  setStatus("");
  refreshNav();
  loadDirectory()
    .then((therapists) => {
      if (workspace !== opened) return;
      workspace.directory = therapists;
      workspace.emit(null);
    })
    .catch(() => {});
  if (workspace.role === "therapist" && fresh) go("profile", { first: true });
  else if (resume && resume.account === workspace.account) go(resume.name, resume.params);
  else goHome();
}

function goHome() {
  if (!workspace) return;
  if (workspace.role === "therapist") go("inbox");
  else go(threadList(workspace).length > 0 ? "messages" : "directory");
}

function navItems() {
  const unread = unreadTotal(workspace);
  const lockItem = { name: "lock", label: "Lock", onSelect: () => lock("manual") };
  if (workspace.role === "therapist") {
    return [
      { name: "inbox", label: "Inbox", badge: unread, onSelect: () => go("inbox") },
      { name: "groups", label: "Groups", onSelect: () => go("groups") },
      { name: "profile", label: "Profile", onSelect: () => go("profile") },
      { name: "settings", label: "Settings", onSelect: () => go("settings") },
      lockItem,
    ];
  }
  return [
    { name: "messages", label: "Messages", badge: unread, onSelect: () => go("messages") },
    { name: "directory", label: "Therapists", onSelect: () => go("directory") },
    { name: "groups", label: "Groups", onSelect: () => go("groups") },
    { name: "settings", label: "Settings", onSelect: () => go("settings") },
    lockItem,
  ];
}

let lastNavSignature = "";

function refreshNav() {
  if (!workspace) return;
  showUnread(unreadTotal(workspace));
  const items = navItems();
  const signature = items.map((item) => `${item.name}:${item.badge ?? ""}`).join("|");
  if (signature === lastNavSignature) return;
  lastNavSignature = signature;
  setNav(items);
}

// Where the person is, so unlocking returns there. Only the screen's name
// and the conversation's opaque account id are kept while locked.
let place = null;

function go(name, params = {}) {
  if (!workspace) return;
  // A one-time notice is not shown again after unlocking.
  const { notice: _shownOnce, ...kept } = params;
  place = { account: workspace.account, name, params: kept };
  workspace.setViewing(
    name === "thread" ? params.peer : name === "group" ? `group:${params.group}` : null,
  );
  const common = { workspace, go };
  switch (name) {
    case "groups":
      show(name, groupsScreen, { ...common });
      break;
    case "group":
      show(name, groupScreen, { ...common, group: params.group });
      break;
    case "directory":
      show(name, directoryScreen, { ...common });
      break;
    case "messages":
    case "inbox":
      show(name, inboxScreen, { ...common });
      break;
    case "thread":
      show(name, threadScreen, { ...common, peer: params.peer });
      break;
    case "safety":
      show(name, safetyScreen, { ...common, peer: params.peer });
      break;
    case "profile":
      show(name, profileScreen, { ...common, first: params.first === true });
      break;
    case "settings":
      show(name, settingsScreen, {
        ...common,
        notice: params.notice ?? null,
        onIdleChange: (minutes) => idle?.setMinutes(minutes),
        onChangeSecret: () => go("change-secret"),
        onFinishSecretChange: () => go("change-secret", { finish: true }),
        onSignOut: () => leave(),
        onDelete: async () => {
          await deleteAccount(workspace);
          leave({ deleted: true });
        },
      });
      break;
    case "change-secret":
      show(name, changeSecretScreen, {
        ...common,
        finish: params.finish === true,
        onCancel: () => go("settings"),
        onSubmit: async (current, typedNew) => {
          if (params.finish === true) {
            await switchSecret(current, typedNew, { finish: true });
            return;
          }
          checkCurrentSecret(workspace.vault, current);
          showNewSecret(current);
        },
      });
      break;
    default:
      goHome();
  }
}

// Changing the secret (PROTOCOL.md 9.1): the new one is shown once and
// typed back as at sign-up, then the account switches to it.
function showNewSecret(current) {
  const secret = generateSecret();
  show("secret", secretScreen, {
    secret,
    role: workspace.role,
    change: true,
    fileName: `${info.neutral_title || "notes"}.txt`.toLowerCase().replace(/[^a-z0-9.]+/g, "-"),
    onCancel: () => go("settings"),
    onLeave: () => {},
    onContinue: () => switchSecret(current, secret),
  });
}

async function switchSecret(current, next, { finish = false } = {}) {
  const opened = workspace;
  let result;
  try {
    result = await changeSecret(
      { token: opened.token(), info, currentText: current, newText: next, finish },
      {
        beforeSwitch: () => {
          switching = true;
          opened.conn.close();
        },
        afterRefusal: () => {
          switching = false;
          opened.conn.resume();
        },
      },
    );
  } catch (error) {
    switching = false;
    throw error;
  }
  if (workspace !== opened) {
    // Locked or left (quick exit) while switching: nothing opens again here.
    switching = false;
    sodium.memzero(result.vaultKey);
    return;
  }
  // The old session ended in the switch; this page goes on in the new one.
  // Until it does, refusals of the old token (a request still in flight)
  // are expected and ignored.
  closeWorkspace();
  const others = result.signedOut;
  const done =
    "Your account secret is changed and the old one no longer works. " +
    `${others === 1 ? "1 other device was" : `${others} other devices were`} signed out.`;
  try {
    const fresh = await openSession(
      info,
      { account: opened.account, token: result.token },
      result.vaultKey,
      workspaceHooks(),
    );
    enter(fresh, {
      resume: { account: fresh.account, name: "settings", params: { notice: done } },
    });
  } catch {
    showWelcome();
    setStatus(`${done} Sign in with your new secret.`, { tone: "success" });
  }
}

function showConnection(detail) {
  if (!workspace) return;
  switch (detail.state) {
    case "online":
      setStatus("");
      break;
    case "offline": {
      const seconds = Math.max(1, Math.round((detail.retryInMs ?? 1000) / 1000));
      setStatus(
        `Connection lost. Trying again in ${seconds} s. ` +
          "Anything you write is kept and sent when the connection is back.",
        {
          tone: "warning",
          action: { label: "Retry now", onSelect: () => workspace?.conn.resume() },
        },
      );
      break;
    }
    case "too_many_devices":
    case "too_many_connections":
      setStatus(describe({ code: detail.state }), {
        tone: "warning",
        action: { label: "Try again", onSelect: () => workspace?.conn.resume() },
      });
      break;
    default:
      break;
  }
}

// Leaving the workspace

// A workspace whose keys are kept a moment longer, while what was being
// typed is stored before locking; quick exit erases it at once too.
let closing = null;

// How long locking waits for what is being typed (drafts, notes) to be
// stored in the vault before it erases the keys regardless.
const SAVE_BEFORE_LOCK_MS = 4000;

function closeWorkspace({ deleted = false, saveFirst = false } = {}) {
  idle?.stop();
  idle = null;
  setLockWarning(null);
  const leaving = workspace;
  workspace = null;
  lastNavSignature = "";
  showUnread(0);
  setNav([]);
  setStatus("");
  if (!leaving) return Promise.resolve();
  const finish = () => {
    if (!deleted) signOut(leaving);
    leaving.close();
    if (closing === leaving) closing = null;
  };
  if (!saveFirst) {
    finish();
    return Promise.resolve();
  }
  closing = leaving;
  return Promise.race([
    Promise.allSettled([...leaving.savers].map((save) => save())),
    new Promise((resolve) => setTimeout(resolve, SAVE_BEFORE_LOCK_MS)),
  ]).then(finish);
}

function lock(reason) {
  if (!workspace) return;
  const resume = place;
  const lostUnsent = workspace.sender.hasUnsent();
  // The screen goes at once; the keys stay only until the saves are done.
  const closed = closeWorkspace({ saveFirst: true });
  show("lock", lockScreen, {
    reason,
    lostUnsent,
    onUnlock: async (secret) => {
      await closed;
      enter(await signIn(info, secret, workspaceHooks()), { resume });
    },
    onLeave: () => {
      place = null;
      showWelcome();
    },
  });
}

function leave({ deleted = false } = {}) {
  closeWorkspace({ deleted });
  if (deleted) show("deleted", deletedScreen, { onDone: () => showWelcome() });
  else showWelcome();
}
