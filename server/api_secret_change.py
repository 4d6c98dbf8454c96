"""HTTP: changing the account secret (docs/PROTOCOL.md section 9.1, docs/API.md).

`begin` and `commit` ask for the current login key as well as the token, so
that a device left signed in is not enough to take the account away from
the person who knows the secret. Both run one Argon2id verification (two
for a resumed `begin`) and share the login rate limit, which bounds the CPU
they can take.
"""

from starlette.requests import Request
from starlette.responses import Response

from server import handles, secret_change
from server.api_accounts import LOGIN_KEY_BYTES
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.errors import (
    BadRequestError,
    InvalidCredentialsError,
    NoSecretChangeError,
    RateLimitedError,
    SignedOutError,
    UnauthorizedError,
)
from server.services import Services
from server.tokens import Caller
from server.validation import binary, required
from server.writer import Tx

MISTYPED_CURRENT = (
    "The current account secret is wrong; nothing was changed. Check it and try again."
)


async def _verified_hash(service: Services, caller: Caller, login_key: bytes) -> str:
    """The account's login hash, once the current login key verifies against it."""
    wait = service.rates.logins.take()
    if wait:
        raise RateLimitedError(wait, "Too many attempts right now; try again in a moment.")
    stored = await service.readers.run(secret_change.login_hash, caller.account)
    if not await service.passwords.verify_login(stored, login_key):
        raise InvalidCredentialsError(MISTYPED_CURRENT)
    return stored


@endpoint
async def status(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    waiting = await service.readers.run(secret_change.pending, caller.account)
    return json_response({"pending": waiting is not None})


@endpoint
async def begin(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    body = await read_json(request)
    login_key = binary(body, "login_key", LOGIN_KEY_BYTES)
    new_login_key = binary(body, "new_login_key", LOGIN_KEY_BYTES)
    new_handle_hash = handles.handle_hash(service.handle_key, handles.parse_handle(body))
    finishing = body.get("resume", False)
    if not isinstance(finishing, bool):
        raise BadRequestError("The field 'resume' must be true or false when present.")
    verified = await _verified_hash(service, caller, login_key)
    waiting = await service.readers.run(secret_change.pending, caller.account)
    # The same new secret again resumes: its login key verifies against the
    # hash already waiting, which is then kept.
    resume = (
        waiting is not None
        and waiting.handle_hash == new_handle_hash
        and await service.passwords.verify_login(waiting.login_hash, new_login_key)
    )
    if finishing and not resume:
        # Finishing must not switch to a secret the person mistyped.
        raise NoSecretChangeError(
            "That new secret is not the one of the unfinished change (or none waits); "
            "nothing was changed. Check it against your saved copy, or cancel the change."
        )
    new_hash = (
        waiting.login_hash
        if resume and waiting is not None
        else await service.passwords.hash(new_login_key)
    )
    new = secret_change.Pending(new_handle_hash, new_hash)
    staged = await service.writer.run(
        lambda tx: secret_change.begin(tx.conn, caller.account, verified, new, resume)
    )
    return json_response({"staged": staged})


@endpoint
async def stage(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    body = await read_json(request)
    items = secret_change.parse_items(required(body, "items"), service.settings.max_vault_writes)
    service.disk.refuse_growth()
    limit = service.limits(caller.role).max_vault_bytes
    count = await service.writer.run(
        lambda tx: secret_change.stage(tx.conn, caller.account, items, limit)
    )
    return json_response({"staged": count})


@endpoint
async def commit(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    body = await read_json(request)
    verified = await _verified_hash(service, caller, binary(body, "login_key", LOGIN_KEY_BYTES))

    def operation(tx: Tx) -> tuple[str, int, list[bytes]]:
        token, expires, ended = secret_change.commit(tx.conn, caller, verified)
        others = set(ended) - {caller.session}
        tx.after_commit(
            lambda: service.hub.close_sessions(caller.account, others, SignedOutError())
        )
        # This device's own connections were made with the token just ended;
        # it reconnects with the new one.
        tx.after_commit(
            lambda: service.hub.close_sessions(
                caller.account,
                {caller.session},
                UnauthorizedError("The account secret changed; connect with the new session."),
            )
        )
        return token, expires, ended

    token, expires, ended = await service.writer.run(operation)
    return json_response(
        {
            "token": token,
            "expires": expires,
            "signed_out": len([s for s in ended if s != caller.session]),
        }
    )


@endpoint
async def cancel(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    await service.writer.run(lambda tx: secret_change.cancel(tx.conn, caller.account))
    return json_response({})
