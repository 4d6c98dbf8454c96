// Typed protocol errors (docs/PROTOCOL.md section 13).
//
// Every input the client rejects raises one of these, never a library
// exception, so the interface can branch on `code` alone. None is raised after
// a session has been changed: a failed operation leaves every state as it was.

export class ProtocolError extends Error {
  static code = "protocol_error";
  static defaultMessage = "The data does not follow the Quietline protocol.";

  constructor(message) {
    const defaults = new.target;
    super(message ?? defaults.defaultMessage);
    this.name = defaults.name;
    this.code = defaults.code;
  }
}

export class MalformedError extends ProtocolError {
  static code = "malformed";
  static defaultMessage =
    "The bytes do not have the shape the protocol gives them " +
    "(wrong length, bad encoding, invalid key or signature); check the sender.";
}

export class UnsupportedVersionError extends ProtocolError {
  static code = "unsupported_version";
  static defaultMessage =
    "The data uses a protocol version this software does not know; " + "update the client.";
}

export class TamperedError extends ProtocolError {
  static code = "tampered";
  static defaultMessage =
    "Authentication failed: the data was changed in transit or " +
    "encrypted under another key; it was discarded and nothing was changed.";
}

export class ReplayedError extends ProtocolError {
  static code = "replayed";
  static defaultMessage =
    "This message was already received and processed; " + "the copy was ignored.";
}

export class TooFarSkippedError extends ProtocolError {
  static code = "too_far_skipped";
  static defaultMessage =
    "The message is too far ahead of the last one received in its " +
    "chain; it cannot be decrypted without discarding too many keys.";
}

export class WrongRecipientError extends ProtocolError {
  static code = "wrong_recipient";
  static defaultMessage =
    "The message names prekeys this account does not hold; it was " +
    "not made for this account, or its one-time prekey was already used.";
}

export class IdentityChangedError extends ProtocolError {
  static code = "identity_changed";
  static defaultMessage =
    "The message carries an identity key other than the one this " +
    "contact's session was made with; it was not opened. Compare safety numbers with them.";
}

export class RosterRollbackError extends ProtocolError {
  static code = "roster_rollback";
  static defaultMessage =
    "The group's member list offered is not newer than one already verified; " +
    "it was refused and the newer list kept.";
}

export class RosterOutdatedError extends ProtocolError {
  static code = "roster_outdated";
  static defaultMessage =
    "The group data was made under a newer member list than this device holds; " +
    "fetch the group's member list, then try again.";
}

export class NotAMemberError extends ProtocolError {
  static code = "not_a_member";
  static defaultMessage =
    "The group's signed member list does not admit this member now (removed, " +
    "left, muted or never admitted); nothing was opened or sent.";
}

export class StaleSenderKeyError extends ProtocolError {
  static code = "stale_sender_key";
  static defaultMessage =
    "The group message uses a sender key made before someone left or was removed; " +
    "it was refused. The sender must share a new key.";
}

export class MissingSenderKeyError extends ProtocolError {
  static code = "missing_sender_key";
  static defaultMessage =
    "No sender key for this group message has been received; it cannot be opened " +
    "until the sender shares it with this member.";
}

export const ALL_ERRORS = [
  MalformedError,
  UnsupportedVersionError,
  TamperedError,
  ReplayedError,
  TooFarSkippedError,
  WrongRecipientError,
  IdentityChangedError,
  RosterRollbackError,
  RosterOutdatedError,
  NotAMemberError,
  StaleSenderKeyError,
  MissingSenderKeyError,
];

const BY_CODE = new Map(ALL_ERRORS.map((error) => [error.code, error]));

export function errorForCode(code) {
  const error = BY_CODE.get(code);
  if (error === undefined) {
    throw new Error(`Unknown protocol error code: ${code}`);
  }
  return error;
}
