"""Typed protocol errors (docs/PROTOCOL.md section 13).

Every input a Quietline implementation rejects raises one of these, never a
library exception, so callers (the server's error mapper, the client's user
interface) can branch on `code` alone. None of them is raised after a session
has been changed: a failed operation leaves every state as it was.
"""


class ProtocolError(Exception):
    """Base class; `code` is the stable machine-readable name of the error."""

    code: str = "protocol_error"
    default_message: str = "The data does not follow the Quietline protocol."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class MalformedError(ProtocolError):
    code = "malformed"
    default_message = (
        "The bytes do not have the shape the protocol gives them "
        "(wrong length, bad encoding, invalid key or signature); check the sender."
    )


class UnsupportedVersionError(ProtocolError):
    code = "unsupported_version"
    default_message = (
        "The data uses a protocol version this software does not know; update the client."
    )


class TamperedError(ProtocolError):
    code = "tampered"
    default_message = (
        "Authentication failed: the data was changed in transit or encrypted "
        "under another key; it was discarded and nothing was changed."
    )


class ReplayedError(ProtocolError):
    code = "replayed"
    default_message = "This message was already received and processed; the copy was ignored."


class TooFarSkippedError(ProtocolError):
    code = "too_far_skipped"
    default_message = (
        "The message is too far ahead of the last one received in its chain; "
        "it cannot be decrypted without discarding too many keys."
    )


class WrongRecipientError(ProtocolError):
    code = "wrong_recipient"
    default_message = (
        "The message names prekeys this account does not hold; it was not "
        "made for this account, or its one-time prekey was already used."
    )


class IdentityChangedError(ProtocolError):
    code = "identity_changed"
    default_message = (
        "The message carries an identity key other than the one this contact's "
        "session was made with; it was not opened. Compare safety numbers with them."
    )


class RosterRollbackError(ProtocolError):
    code = "roster_rollback"
    default_message = (
        "The group's member list offered is not newer than one already verified; "
        "it was refused and the newer list kept."
    )


class RosterOutdatedError(ProtocolError):
    code = "roster_outdated"
    default_message = (
        "The group data was made under a newer member list than this device holds; "
        "fetch the group's member list, then try again."
    )


class NotAMemberError(ProtocolError):
    code = "not_a_member"
    default_message = (
        "The group's signed member list does not admit this member now (removed, "
        "left, muted or never admitted); nothing was opened or sent."
    )


class StaleSenderKeyError(ProtocolError):
    code = "stale_sender_key"
    default_message = (
        "The group message uses a sender key made before someone left or was removed; "
        "it was refused. The sender must share a new key."
    )


class MissingSenderKeyError(ProtocolError):
    code = "missing_sender_key"
    default_message = (
        "No sender key for this group message has been received; it cannot be opened "
        "until the sender shares it with this member."
    )


ALL_ERRORS: tuple[type[ProtocolError], ...] = (
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
)
