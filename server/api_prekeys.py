"""HTTP: prekey upload and status, and bundle fetch (docs/PROTOCOL.md section 3)."""

from starlette.requests import Request
from starlette.responses import Response

from crypto.constants import ID_BYTES, OPK_LOW_WATER
from server import accounts, prekeys
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.errors import ForbiddenError, NotFoundError, RecipientGoneError, UnauthorizedError
from server.validation import decode_b64u
from server.writer import Tx


@endpoint
async def upload(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    body = await read_json(request)
    identity_key = await service.readers.run(accounts.identity_key, caller.account)
    if identity_key is None:
        raise UnauthorizedError("This account no longer exists.")
    batch = prekeys.parse_upload(body, identity_key, service.settings.max_prekeys_per_upload)
    limit = service.settings.max_one_time_prekeys
    count = await service.writer.run(
        lambda tx: prekeys.store(tx.conn, caller.account, batch, limit)
    )
    return json_response({"one_time": count})


@endpoint
async def status(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    return json_response(await service.readers.run(prekeys.status, caller.account))


@endpoint
async def bundle(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    target = decode_b64u(request.path_params["account"], "account", ID_BYTES)
    if target == caller.account:
        raise ForbiddenError("An account cannot start a session with itself.")

    # A few one-time prekeys per requester and target, so that one account
    # cannot drain another's store; beyond that the bundle carries none and
    # the session is set up without one, as X3DH allows (PROTOCOL.md section 3).
    may_take_one_time = not service.rates.one_time_prekeys.take(caller.account + target)

    def operation(tx: Tx) -> dict[str, object]:
        row = tx.conn.execute(
            "SELECT role, identity_key, revoked FROM accounts WHERE id = ?", (target,)
        ).fetchone()
        if row is None:
            raise NotFoundError("There is no account with that id.")
        if row[2] is not None:
            raise RecipientGoneError()
        if caller.role == "client" and row[0] != "therapist":
            raise ForbiddenError("A client account can start sessions only with therapists.")
        taken = prekeys.take_bundle(tx.conn, target, bytes(row[1]), may_take_one_time)
        if taken.one_time_left < OPK_LOW_WATER:
            frame = {"type": "prekeys_low", "one_time": taken.one_time_left}
            tx.after_commit(lambda: service.hub.notify(target, frame))
        return taken.body

    return json_response(await service.writer.run(operation))
