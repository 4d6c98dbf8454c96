// Plain words for every error a person can meet. Server codes come from
// docs/API.md, protocol codes from docs/PROTOCOL.md section 13; anything else
// gets a calm generic sentence rather than a stack trace.

const TEXT = {
  offline: "The service can't be reached. Check your connection; we'll keep trying.",
  timeout: "The service took too long to answer. Please try again.",
  bad_request: "Something in the request was not understood. Please reload the page.",
  malformed: "Something did not have the expected form, so it was not used.",
  unsupported_version: "This page is out of date. Please reload it.",
  unknown_type: "This page sent something the service does not know. Please reload the page.",
  method_not_allowed:
    "This page asked the service for something it does not offer. Please reload the page.",
  bad_signature: "A signature did not check out, so nothing was changed.",
  too_large: "That is too long to send. Please shorten it.",
  invalid_credentials: "That account secret was not recognised. Check each group and try again.",
  unauthorized: "Your sign-in has ended. Please enter your account secret again.",
  forbidden: "This account can't do that.",
  not_found: "That could not be found. It may have been deleted.",
  handle_taken: "That account secret is already in use. A new one has been made for you.",
  invite_required: "An invite code from the practice is needed to join.",
  invalid_invite:
    "That invite code is not valid. It may have been used already; ask the practice for a new one.",
  // Shown once the retries (vaultstore.js) ran out: nothing was saved. The
  // outbox tries again by itself, and its message still shows as sending.
  vault_conflict:
    "Another device keeps changing your account at the same moment. Nothing was saved yet; please try again.",
  blocked: "This conversation has been closed by the therapist. Your message was not sent.",
  inbox_full:
    "The therapist has a lot of unread messages right now. Your message will be sent a little later.",
  rate_limited: "Too many tries in a short time. Please wait a moment.",
  too_many_connections: "This account is open in too many places. Close one and try again.",
  recipient_gone:
    "This therapist no longer works with the practice, so the message was not sent. Choose another therapist from the list.",
  revoked: "This therapist account has been closed by the practice.",
  too_many_devices:
    "This account is open on as many devices as the service allows. Close it on one you no longer use, or sign out the other devices from Settings.",
  signed_out:
    "Another device of this account signed this one out. If that was not you, sign in and change your account secret.",
  queued_offline:
    "Not sent yet: this device is offline. It will be sent as soon as the connection is back.",
  queued_stopped: "Not sent yet: this device is not connected.",
  no_secret_change:
    "The change of your account secret was finished, cancelled or started again elsewhere. Nothing was changed here; start it again if you still want a new secret.",
  secret_change_incomplete:
    "Your account changed on another device while the new secret was being set up. Nothing was switched yet; please try again.",
  read_only:
    "The service can't save anything right now. You can still read; please try again later.",
  unavailable:
    "The service can't reach its storage right now. Nothing was lost; please try again in a minute.",
  storage_full:
    "The service is short of storage space and can't take anything new right now. You can still read; please try again later.",
  invalid_address:
    "That address can't be used for notifications. Check it: a mail address, or a push address beginning with https://.",
  mail_unavailable:
    "The practice has not set up mail notifications. Ask the practice, or use a push address instead.",
  delivery_failed:
    "The test notification did not arrive at that address. Check it, or try again later.",
  group_exists: "That group could not be created this time. Please try again.",
  muted: "The moderator has muted you in this group. You can read, but not write.",
  group_paused:
    "The moderator has paused this group. Your message was not sent; try again when it reopens.",
  member_key_taken:
    "You already take part in this group under another name. Leave it first to join again.",
  internal: "Something went wrong on the service. Nothing was lost; please try again.",
  tampered: "A message could not be opened: it was changed or damaged on the way.",
  replayed: "A message arrived twice; the copy was ignored.",
  too_far_skipped: "A message arrived too far out of order to be opened.",
  wrong_recipient: "A message was not made for this account's keys.",
  identity_changed:
    "A message claimed to come from this contact but under different keys, so it was not opened. Compare safety numbers with them.",
  // Groups (PROTOCOL.md sections 13 and 15): the signed member list decides.
  // Both the server (an upload older than its newest list) and a member's
  // device (a list older than one it verified) refuse a rollback.
  roster_rollback:
    "That member list is older than the newest one, so it was not used and the newest list kept. If you were changing it, please make the change again.",
  roster_outdated:
    "This came from a newer member list than this device has. Fetching the group's list, then trying again.",
  not_a_member:
    "The group's signed member list does not include this member now (or no longer does), so nothing was opened or sent.",
  stale_sender_key:
    "This group message used a key from before someone left or was removed, so it was not opened.",
  missing_sender_key:
    "This group message cannot be opened yet: its sender has not shared their key with you.",
  bad_secret:
    "That doesn't look like an account secret: it has 24 letters and numbers, in six groups of four.",
  not_current:
    "That is not the secret this account uses now. Check each group against your saved copy and try again.",
  incomplete_account:
    "This account was never finished and cannot be opened. Please start a new one.",
};

export function describe(error) {
  const code = error?.code;
  if (code === "rate_limited" && Number.isFinite(error.retryAfter) && error.retryAfter > 0) {
    return `Too many tries in a short time. Please wait ${Math.ceil(error.retryAfter)} seconds.`;
  }
  if (code && TEXT[code]) return TEXT[code];
  return "Something went wrong. Nothing was lost; please try again.";
}
