"""The server's typed errors, one per documented code (docs/API.md, "Error codes").

Every refusal the server sends is one of these: HTTP answers carry `status`,
websocket answers only the code and message. A protocol error raised by the
verifying modules of `crypto/` is translated with `from_protocol_error`.
"""

from typing import Any

from crypto.errors import ProtocolError, UnsupportedVersionError
from crypto.errors import RosterRollbackError as RosterRollbackProtocolError


class ApiError(Exception):
    code: str = "internal"
    status: int = 500
    default_message: str = "Something went wrong."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class BadRequestError(ApiError):
    code = "bad_request"
    status = 400
    default_message = "The request is not valid JSON of the documented shape; see docs/API.md."


class MalformedApiError(ApiError):
    code = "malformed"
    status = 400
    default_message = "A key, signature or envelope does not parse; check the client."


class UnsupportedVersionApiError(ApiError):
    code = "unsupported_version"
    status = 400
    default_message = "This server does not know that version; update the client."


class BadSignatureError(ApiError):
    code = "bad_signature"
    status = 400
    default_message = (
        "A signature does not verify; the data was changed or signed with another key."
    )


class TooLargeError(ApiError):
    code = "too_large"
    status = 413
    default_message = "The request is larger than this server accepts; send less at once."


class UnknownTypeError(ApiError):
    code = "unknown_type"
    status = 400
    default_message = "This server does not know that frame type; see docs/API.md."


class InvalidCredentialsError(ApiError):
    code = "invalid_credentials"
    status = 401
    default_message = "The handle or the account secret is wrong; check it and try again."


class UnauthorizedError(ApiError):
    code = "unauthorized"
    status = 401
    default_message = "You are not logged in, or your session has expired; log in again."


class ForbiddenError(ApiError):
    code = "forbidden"
    status = 403
    default_message = "This account may not do that."


class NotFoundError(ApiError):
    code = "not_found"
    status = 404
    default_message = "There is no such account, message or item for this account."


class MethodNotAllowedError(ApiError):
    code = "method_not_allowed"
    status = 405
    default_message = "This address does not accept that method; see docs/API.md."


class HandleTakenError(ApiError):
    code = "handle_taken"
    status = 409
    default_message = "This handle is taken; generate a new account secret and try again."


class InviteRequiredError(ApiError):
    code = "invite_required"
    status = 403
    default_message = "An invite code from the practice is needed to sign up."


class InvalidInviteError(ApiError):
    code = "invalid_invite"
    status = 403
    default_message = "The invite code is unknown or already used; ask the practice for a new one."


class RevokedError(ApiError):
    code = "revoked"
    status = 403
    default_message = (
        "The practice has closed this therapist account; ask the practice administrator."
    )


class RecipientGoneError(ApiError):
    code = "recipient_gone"
    status = 410
    default_message = (
        "This therapist no longer works with the practice; the message was not stored. "
        "Choose another therapist from the directory."
    )


class VaultConflictError(ApiError):
    code = "vault_conflict"
    status = 409
    default_message = (
        "Another device changed these vault items first; sync the vault and try again."
    )


class BlockedError(ApiError):
    code = "blocked"
    status = 403
    default_message = "The therapist has closed this thread; the message was not stored."


class InboxFullError(ApiError):
    code = "inbox_full"
    status = 429
    default_message = (
        "The recipient has too many undelivered messages; nothing was stored, try again later."
    )


class RateLimitedError(ApiError):
    code = "rate_limited"
    status = 429
    default_message = "Too many requests; wait a moment and try again."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message or f"Too many requests; try again in {seconds} s.")
        self.details = {"retry_after": seconds}


class TooManyConnectionsError(ApiError):
    code = "too_many_connections"
    status = 503
    default_message = "The server has too many open connections; try again in a minute."


class TooManyDevicesError(ApiError):
    code = "too_many_devices"
    status = 409
    default_message = (
        "This account is already connected on as many devices as this server allows; "
        "close it on a device you no longer use, or sign out the other devices."
    )


class SignedOutError(ApiError):
    code = "signed_out"
    status = 401
    default_message = (
        "Another device of this account signed this one out; log in again with the "
        "account secret, and change the secret if you did not do this."
    )


class NoSecretChangeError(ApiError):
    code = "no_secret_change"
    status = 409
    default_message = (
        "No change of the account secret is under way (it was finished, cancelled or "
        "replaced); nothing was changed. Start the change again."
    )


class SecretChangeIncompleteError(ApiError):
    code = "secret_change_incomplete"
    status = 409
    default_message = (
        "Some vault items changed while the new secret was being set up; nothing was "
        "switched yet. Re-encrypt the listed items and finish again."
    )


class ReadOnlyError(ApiError):
    code = "read_only"
    status = 503
    default_message = (
        "The server cannot write right now (disk full or read-only); "
        "nothing was stored, reading still works. Try again later."
    )


class UnavailableError(ApiError):
    code = "unavailable"
    status = 503
    default_message = (
        "The server cannot reach its database right now; nothing was stored. Try again in a minute."
    )


class StorageFullError(ApiError):
    code = "storage_full"
    status = 507
    default_message = (
        "The server is short of disk space and takes no new data; nothing was stored. "
        "Reading, delivery and acknowledgements still work. Try again later."
    )


class InvalidAddressError(ApiError):
    code = "invalid_address"
    status = 400
    default_message = "That mail or push address cannot be used; check it and try again."


class MailUnavailableError(ApiError):
    code = "mail_unavailable"
    status = 409
    default_message = (
        "This practice has not set up a mail server; ask the administrator, or use a push address."
    )


class DeliveryFailedError(ApiError):
    code = "delivery_failed"
    status = 502
    default_message = (
        "The test notification could not be delivered; check the address, or try again later."
    )


class GroupExistsError(ApiError):
    code = "group_exists"
    status = 409
    default_message = "A group with this id exists already; create the group again with a new id."


class RosterRollbackError(ApiError):
    code = "roster_rollback"
    status = 409
    default_message = (
        "The group has this roster version or a newer one already; fetch the group and sign "
        "a newer version."
    )


class NotAMemberError(ApiError):
    code = "not_a_member"
    status = 403
    default_message = "This account is not a member of that group, or no longer is."


class MutedError(ApiError):
    code = "muted"
    status = 403
    default_message = (
        "The moderator has muted you in this group; you can read but not write. "
        "Ask the moderator if you think this is a mistake."
    )


class GroupPausedError(ApiError):
    code = "group_paused"
    status = 403
    default_message = (
        "The moderator has paused this group; nothing was sent. Try again when it reopens."
    )


class MemberKeyTakenError(ApiError):
    code = "member_key_taken"
    status = 409
    default_message = (
        "That member key is registered already, or you already take part in this group under "
        "another key; use the key you have."
    )


class InternalError(ApiError):
    code = "internal"
    status = 500
    default_message = "The server hit a bug; nothing was stored. Try again."


ALL_ERRORS: tuple[type[ApiError], ...] = (
    BadRequestError,
    MalformedApiError,
    UnsupportedVersionApiError,
    BadSignatureError,
    TooLargeError,
    UnknownTypeError,
    InvalidCredentialsError,
    UnauthorizedError,
    ForbiddenError,
    NotFoundError,
    MethodNotAllowedError,
    HandleTakenError,
    InviteRequiredError,
    InvalidInviteError,
    RevokedError,
    RecipientGoneError,
    VaultConflictError,
    BlockedError,
    InboxFullError,
    RateLimitedError,
    TooManyConnectionsError,
    TooManyDevicesError,
    SignedOutError,
    NoSecretChangeError,
    SecretChangeIncompleteError,
    ReadOnlyError,
    UnavailableError,
    StorageFullError,
    InvalidAddressError,
    MailUnavailableError,
    DeliveryFailedError,
    GroupExistsError,
    RosterRollbackError,
    NotAMemberError,
    MutedError,
    GroupPausedError,
    MemberKeyTakenError,
    InternalError,
)


def from_protocol_error(error: ProtocolError) -> ApiError:
    """A framing or encoding failure reported by crypto/, as the server answers it."""
    if isinstance(error, RosterRollbackProtocolError):
        return RosterRollbackError()
    if isinstance(error, UnsupportedVersionError):
        return UnsupportedVersionApiError(error.message)
    return MalformedApiError(error.message)
