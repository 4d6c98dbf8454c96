"""Typed errors of the Python client.

The client meets three kinds of failure: the server refused something (it
sends a documented code, docs/API.md), the server could not be reached or
answered nonsense, and the person asked for something the account cannot do
(an unknown peer, a client editing a profile). Each is a `ClientError` with a
stable `code` and a message a person can act on; protocol failures stay the
`ProtocolError`s of `crypto.errors`.
"""

from typing import Any


class ClientError(Exception):
    code: str = "client_error"
    default_message: str = "The client could not complete the request."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ServerError(ClientError):
    """The server answered with a documented error (docs/API.md, "Error codes")."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.details = details or {}

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class VaultConflictError(ServerError):
    """Another device kept changing the vault while this one retried (`retry_on_conflict`).

    The server refused the last compare-and-swap write with `vault_conflict`
    VAULT_CONFLICT_RETRIES times after the first attempt; nothing was written
    and nothing was lost. Running the command again starts from the synced vault.
    """

    def __init__(self, last: ServerError) -> None:
        super().__init__(
            "vault_conflict",
            "Another device keeps changing this account at the same moment; "
            "nothing was saved, try again.",
            last.status,
            last.details,
        )


class UnreachableError(ClientError):
    code = "unreachable"
    default_message = "The server could not be reached; check the --server address and the network."


class BadResponseError(ClientError):
    code = "bad_response"
    default_message = (
        "The server's answer does not follow docs/API.md; check that --server "
        "points at a Quietline server of a compatible version."
    )


class DisconnectedError(ClientError):
    code = "disconnected"
    default_message = "The connection to the server closed; run the command again."


class AnswerTimeoutError(ClientError):
    code = "timeout"
    default_message = "The server did not answer in time; try again."


class NotLoggedInError(ClientError):
    code = "not_logged_in"
    default_message = "Log in first (quietline client login)."


class UnknownPeerError(ClientError):
    code = "unknown_peer"
    default_message = (
        "No such conversation partner; use an account id from `quietline client "
        "directory` or `quietline client inbox`."
    )


class NotTherapistError(ClientError):
    code = "not_therapist"
    default_message = "Only a therapist account can do that."


class InvalidSecretError(ClientError):
    code = "invalid_secret"
    default_message = (
        "The account secret must be 24 symbols of 0-9 and A-Z without I, L, O, U "
        "(dashes and spaces are ignored)."
    )


class BadInputError(ClientError):
    code = "bad_input"
    default_message = "The input is not valid; see --help."


class VaultCorruptError(ClientError):
    code = "vault_corrupt"
    default_message = (
        "The account's vault has no identity item; log in with the secret that "
        "created this account."
    )
