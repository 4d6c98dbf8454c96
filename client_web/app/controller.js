// Which screen shows when: signed out, creating an account, signed in,
// locked. It owns the one workspace a page can have and makes sure every way
// out of it (lock, sign-out, deletion, quick exit, an expired sign-in) erases
// it.

import { beginAccount, deleteAccount, generateSecret, signIn, signOut } from "./account.js";
import { startIdleLock } from "./autolock.js";
import { loadDirectory } from "./directory.js";
import { browserNotices, idleMinutes } from "./mutations.js";
import { onQuickExit } from "./quickexit.js";
import { announce, setNav, setStatus, show } from "./shell.js";
import { showBrowserNotice, showUnread } from "./signals.js";
import { peerName, threadList, unreadTotal } from "./threads.js";
import { deletedScreen } from "./views/deleted.js";
import { directoryScreen } from "./views/directory.js";
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

export function startController(practiceInfo) {
  info = practiceInfo;
  onQuickExit(() => {
    idle?.stop();
    workspace?.close();
    workspace = null;
  });
  // On first load focus stays at the top of the page, where the skip link and
  // the exit button come first.
  showWelcome({ focus: false });
}

function workspaceHooks() {
  return {
    onUnauthorized: () => lock("expired"),
    onMessage: (peer) => {
      if (!workspace) return;
      const seen = workspace.viewing === peer && document.visibilityState === "visible";
      if (workspace.viewing !== peer) announce(`New message from ${peerName(workspace, peer)}.`);
      if (!seen && browserNotices(workspace)) showBrowserNotice();
      refreshNav();
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
    onSubmit: (code) => showSecret(role, code),
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

function enter(opened, { fresh = false } = {}) {
  workspace = opened;
  idle = startIdleLock(idleMinutes(workspace), () => lock("idle"));
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
      { name: "profile", label: "Profile", onSelect: () => go("profile") },
      { name: "settings", label: "Settings", onSelect: () => go("settings") },
      lockItem,
    ];
  }
  return [
    { name: "messages", label: "Messages", badge: unread, onSelect: () => go("messages") },
    { name: "directory", label: "Therapists", onSelect: () => go("directory") },
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

function go(name, params = {}) {
  if (!workspace) return;
  workspace.setViewing(name === "thread" ? params.peer : null);
  const common = { workspace, go };
  switch (name) {
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
        onIdleChange: (minutes) => idle?.setMinutes(minutes),
        onSignOut: () => leave(),
        onDelete: async () => {
          await deleteAccount(workspace);
          leave({ deleted: true });
        },
      });
      break;
    default:
      goHome();
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
    case "session_moved":
    case "too_many_connections":
      setStatus(describe({ code: detail.state }), {
        tone: "warning",
        action: { label: "Use it here", onSelect: () => workspace?.conn.resume() },
      });
      break;
    default:
      break;
  }
}

// Leaving the workspace

function closeWorkspace({ deleted = false } = {}) {
  idle?.stop();
  idle = null;
  if (workspace) {
    if (!deleted) signOut(workspace);
    workspace.close();
  }
  workspace = null;
  lastNavSignature = "";
  showUnread(0);
  setNav([]);
  setStatus("");
}

function lock(reason) {
  if (!workspace) return;
  const lostUnsent = workspace.sender.hasUnsent();
  closeWorkspace();
  show("lock", lockScreen, {
    reason,
    lostUnsent,
    onUnlock: async (secret) => enter(await signIn(info, secret, workspaceHooks())),
    onLeave: () => showWelcome(),
  });
}

function leave({ deleted = false } = {}) {
  closeWorkspace({ deleted });
  if (deleted) show("deleted", deletedScreen, { onDone: () => showWelcome() });
  else showWelcome();
}
