"""HTTP: server information, registration, login, logout and account deletion."""

from starlette.requests import Request
from starlette.responses import Response

from crypto import signatures
from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    MAX_ENVELOPE,
    MAX_VAULT_ITEM,
    OPK_BATCH,
    OPK_LOW_WATER,
    SIGNATURE_BYTES,
)
from crypto.encoding import b64u_encode
from crypto.errors import MalformedError
from server import accounts, handles, retention, revocation, settings_store, tokens
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.errors import (
    BadRequestError,
    BadSignatureError,
    InvalidCredentialsError,
    MalformedApiError,
    RateLimitedError,
    RevokedError,
    SignedOutError,
    UnauthorizedError,
)
from server.tokens import KINDS
from server.validation import binary, string
from server.writer import Tx

LOGIN_KEY_BYTES = 32
MAX_INVITE_CHARS = 64


@endpoint
async def info(request: Request) -> Response:
    service = services(request)
    settings = service.settings
    intake = await service.readers.run(settings_store.intake)
    return json_response(
        {
            "server_id": b64u_encode(service.server_id),
            "version": 1,
            "intake": intake,
            "limits": {
                "max_request_bytes": settings.max_request_bytes,
                "max_frame_bytes": settings.max_frame_bytes,
                "max_envelope": MAX_ENVELOPE,
                "max_vault_item": MAX_VAULT_ITEM,
                "max_vault_writes": settings.max_vault_writes,
                "max_vault_bytes": settings.max_vault_bytes,
                "max_client_vault_bytes": settings.max_client_vault_bytes,
                "max_vault_items": settings.max_vault_items,
                "max_one_time_prekeys": settings.max_one_time_prekeys,
                "max_prekeys_per_upload": settings.max_prekeys_per_upload,
                "max_inbox": settings.max_inbox,
                "max_pending_per_sender": settings.max_pending_per_sender,
                "max_pending_bytes": settings.max_pending_bytes,
                "max_connections_per_account": settings.max_connections_per_account,
                "opk_low_water": OPK_LOW_WATER,
                "opk_batch": OPK_BATCH,
            },
            "neutral_title": settings.neutral_title,
            "exit_url": settings.exit_url,
            "idle_lock_minutes": settings.idle_lock_minutes,
            "crisis_text": settings.crisis_text,
            "title_marker": settings.title_marker,
            "specialties": settings.vocabulary("specialties"),
            "languages": settings.vocabulary("languages"),
        }
    )


@endpoint
async def health(request: Request) -> Response:
    await services(request).readers.run(settings_store.intake)
    return json_response({"ok": True})


@endpoint
async def register(request: Request) -> Response:
    service = services(request)
    wait = service.rates.registrations.take()
    if wait:
        raise RateLimitedError(wait, "Too many sign-ups right now; try again in a minute.")
    service.disk.refuse_growth()
    body = await read_json(request)
    role = body.get("role")
    if role not in accounts.ROLES:
        raise BadRequestError('The field \'role\' must be "client" or "therapist".')
    handle = handles.parse_handle(body)
    login_key = binary(body, "login_key", LOGIN_KEY_BYTES)
    identity_key = binary(body, "identity_key", ED25519_PUBLIC_KEY_BYTES)
    sig = binary(body, "sig", SIGNATURE_BYTES)
    invite = None
    if body.get("invite") is not None:
        invite = string(body, "invite", MAX_INVITE_CHARS)
    try:
        signatures.check_identity_key(identity_key)
    except MalformedError:
        raise MalformedApiError("The identity key is not a valid Ed25519 public key.") from None
    try:
        signatures.verify_registration(identity_key, service.server_id, handle, sig)
    except MalformedError:
        raise BadSignatureError(
            "The registration signature does not verify for this server and handle."
        ) from None
    registration = accounts.Registration(
        role=role,
        handle_hash=handles.handle_hash(service.handle_key, handle),
        login_hash=await service.passwords.hash(login_key),
        identity_key=identity_key,
        invite=invite,
    )
    account = await service.writer.run(lambda tx: accounts.register(tx.conn, registration))
    return json_response({"account": b64u_encode(account)}, status=201)


@endpoint
async def login(request: Request) -> Response:
    service = services(request)
    wait = service.rates.logins.take()
    if wait:
        raise RateLimitedError(wait, "Too many logins right now; try again in a moment.")
    body = await read_json(request)
    handle = handles.parse_handle(body)
    login_key = binary(body, "login_key", LOGIN_KEY_BYTES)
    kind = body.get("kind")
    if kind is not None and kind not in KINDS:
        raise BadRequestError('The field \'kind\' must be "browser" or "cli" when present.')
    handle_hash = handles.handle_hash(service.handle_key, handle)
    # No limit per handle: anyone who knows a handle could then keep its owner
    # out, and guessing an 80-bit passphrase through Argon2id is hopeless
    # anyway. The global bucket above and `argon2_concurrency` bound the CPU
    # that login attempts can take (docs/SECURITY.md, "Limits").
    row = await service.readers.run(accounts.login_row, handle_hash)
    verified = await service.passwords.verify_login(None if row is None else row[1], login_key)
    if row is None or not verified:
        raise InvalidCredentialsError()
    account = row[0]

    def operation(tx: Tx) -> tuple[str, int]:
        if revocation.is_revoked(tx.conn, account):
            raise RevokedError()
        retention.touch(tx.conn, account)
        return tokens.issue(tx.conn, account, kind)

    token, expires = await service.writer.run(operation)
    return json_response({"account": b64u_encode(account), "token": token, "expires": expires})


@endpoint
async def logout(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    token = tokens.parse_bearer(request.headers.get("authorization"))
    assert token is not None

    def operation(tx: Tx) -> None:
        tokens.revoke(tx.conn, token)
        tx.after_commit(
            lambda: service.hub.close_sessions(
                caller.account, {caller.session}, UnauthorizedError("This session logged out.")
            )
        )

    await service.writer.run(operation)
    return json_response({})


@endpoint
async def list_sessions(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    return json_response({"sessions": await service.readers.run(tokens.sessions, caller)})


@endpoint
async def sign_out_others(request: Request) -> Response:
    """Sign out every other session of the account and close their live connections now."""
    service = services(request)
    caller = await authenticate(request)

    def operation(tx: Tx) -> int:
        ended = tokens.sign_out_others(tx.conn, caller)
        tx.after_commit(
            lambda: service.hub.close_sessions(caller.account, set(ended), SignedOutError())
        )
        return len(ended)

    count = await service.writer.run(operation)
    return json_response({"signed_out": count})


@endpoint
async def delete_account(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)

    def operation(tx: Tx) -> None:
        if not accounts.delete(tx.conn, caller.account):
            raise UnauthorizedError("This account no longer exists.")
        tx.after_commit(lambda: service.notifier.set_target(caller.account, None))
        tx.after_commit(
            lambda: service.hub.close_account(
                caller.account, UnauthorizedError("This account was deleted; log in again.")
            )
        )

    await service.writer.run(operation)
    return json_response({})
