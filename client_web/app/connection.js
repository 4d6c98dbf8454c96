// The device's websocket (docs/API.md): challenge and signed answer
// (PROTOCOL.md section 11), requests matched to their answers, pings, and
// reconnection with exponential backoff and jitter. A request that is still
// waiting when the connection drops is refused with code `offline`; the
// caller decides whether to send it again (a `send` repeated with the same
// cmid is stored once).

import { SERVER_ID_BYTES, WS_NONCE_BYTES } from "../lib/constants.js";
import { b64uDecode, b64uEncode, bytesEqual } from "../lib/encoding.js";
import { signWebsocketAuth } from "../lib/signatures.js";
import { ApiError } from "./api.js";
import { idBytes } from "./ids.js";

const ANSWER_TIMEOUT_MS = 20000;
const PING_EVERY_MS = 25000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;

// Codes after which reconnecting by itself would be wrong.
const FINAL_CODES = new Set([
  "signed_out",
  "too_many_devices",
  "unauthorized",
  "too_many_connections",
]);

export function createConnection({
  serverId,
  account,
  token,
  identity,
  onEnvelope,
  onGroup,
  onPrekeysLow,
  onVaultChanged,
  onProfileChanged,
  onState,
}) {
  const pending = new Map();
  let socket = null;
  let ready = false;
  let closed = false;
  let attempt = 0;
  let retryTimer = null;
  let pingTimer = null;
  let lastHeard = 0;

  function setState(state, detail = {}) {
    onState({ state, ...detail });
  }

  function connect() {
    if (closed) return;
    // A connection still being set up is replaced, never left dangling.
    teardown();
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    setState("connecting");
    socket = new WebSocket(`${scheme}://${window.location.host}/ws`);
    const thisSocket = socket;
    thisSocket.addEventListener("message", (event) => {
      if (thisSocket === socket) receive(event.data);
    });
    thisSocket.addEventListener("close", () => {
      if (thisSocket === socket) lost();
    });
  }

  function receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    lastHeard = Date.now();
    switch (frame.type) {
      case "challenge":
        answerChallenge(frame);
        break;
      case "ready":
        ready = true;
        attempt = 0;
        startPings();
        setState("online");
        break;
      case "envelope":
        onEnvelope(frame);
        break;
      case "group":
      case "group_left":
        // An item of a group's stream, or (to a moderator) a member who left
        // (docs/API.md, "Groups").
        onGroup?.(frame);
        break;
      case "sent":
      case "group_sent":
        settle(frame.cmid, frame);
        break;
      case "acked":
      case "group_acked":
        settle(frame.id, frame);
        break;
      case "prekeys_low":
        // A member key's low prekeys name their group; the account's do not.
        if (frame.group === undefined) onPrekeysLow(frame.one_time);
        break;
      case "vault_changed":
        // Another device of this account wrote to the vault (docs/API.md).
        if (typeof frame.cursor === "string") onVaultChanged(frame.cursor);
        break;
      case "profile_changed":
        // This therapist's profile was published, here or on another device.
        onProfileChanged();
        break;
      case "error":
        failed(frame);
        break;
      default:
        break;
    }
  }

  function answerChallenge(frame) {
    try {
      const challengeServer = b64uDecode(frame.server, { length: SERVER_ID_BYTES });
      if (!bytesEqual(challengeServer, serverId)) throw new Error("another server");
      const nonce = b64uDecode(frame.nonce, { length: WS_NONCE_BYTES });
      const sig = signWebsocketAuth(identity, serverId, nonce, idBytes(account));
      // The token ties this connection to the session, so that signing the
      // session out from another device closes it (docs/API.md).
      socket.send(JSON.stringify({ type: "auth", account, sig: b64uEncode(sig), token: token() }));
    } catch {
      // A challenge that does not name this server is not answered.
      socket.close();
    }
  }

  function failed(frame) {
    const error = new ApiError(frame.code ?? "internal", frame.message ?? "", {
      retryAfter: Number.isFinite(frame.retry_after) ? frame.retry_after : null,
    });
    if (frame.ref !== undefined && pending.has(frame.ref)) {
      const waiting = pending.get(frame.ref);
      pending.delete(frame.ref);
      clearTimeout(waiting.timer);
      waiting.reject(error);
      return;
    }
    if (FINAL_CODES.has(error.code)) {
      stop(error.code);
    }
  }

  function settle(ref, frame) {
    const waiting = pending.get(ref);
    if (!waiting) return;
    pending.delete(ref);
    clearTimeout(waiting.timer);
    waiting.resolve(frame);
  }

  function rejectAll(code) {
    for (const waiting of pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new ApiError(code, ""));
    }
    pending.clear();
  }

  // The one way a socket is let go, whoever lets it go: requests still
  // waiting are refused with `offline`, the timers stop, and the socket is
  // closed; its own close event is ignored, as it is no longer `socket`.
  function teardown() {
    const old = socket;
    socket = null;
    ready = false;
    clearTimeout(retryTimer);
    retryTimer = null;
    stopPings();
    rejectAll("offline");
    old?.close();
  }

  function lost() {
    teardown();
    if (closed) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
    const jittered = Math.round(delay / 2 + Math.random() * (delay / 2));
    attempt += 1;
    setState("offline", { retryInMs: jittered });
    retryTimer = setTimeout(connect, jittered);
  }

  // Stops for good after a final error: the person chooses to come back.
  function stop(code) {
    closed = true;
    teardown();
    setState(code);
  }

  // A connection that stays silent through two pings is dead even if the
  // browser has not noticed yet; it is closed and rebuilt.
  function startPings() {
    stopPings();
    lastHeard = Date.now();
    pingTimer = setInterval(() => {
      if (!ready) return;
      if (Date.now() - lastHeard > 2 * PING_EVERY_MS) socket.close();
      else socket.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
  }

  function stopPings() {
    clearInterval(pingTimer);
    pingTimer = null;
  }

  // Sends a frame and waits for the answer that names `ref`.
  function request(frame, ref) {
    if (!ready) return Promise.reject(new ApiError("offline", ""));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // No answer in time: the connection is treated as lost and rebuilt.
        socket?.close();
      }, ANSWER_TIMEOUT_MS);
      pending.set(ref, { resolve, reject, timer });
      socket.send(JSON.stringify(frame));
    });
  }

  function reconnectNow() {
    if (closed || ready || socket) return;
    attempt = 0;
    connect();
  }

  function resume() {
    closed = false;
    attempt = 0;
    connect();
  }

  function close() {
    closed = true;
    window.removeEventListener("online", reconnectNow);
    teardown();
  }

  window.addEventListener("online", reconnectNow);

  return {
    connect,
    request,
    close,
    resume,
    get ready() {
      return ready;
    },
  };
}
