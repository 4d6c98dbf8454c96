"""HTTP: the therapist directory, therapist profiles and blocks."""

from starlette.requests import Request
from starlette.responses import Response

from crypto.constants import ID_BYTES
from server import accounts, blocks, groups, profiles, wakeup
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.errors import UnauthorizedError
from server.validation import decode_b64u
from server.writer import Tx

THERAPIST = "therapist"


@endpoint
async def directory(request: Request) -> Response:
    readers = services(request).readers
    therapists = await readers.run(profiles.directory)
    return json_response({"therapists": therapists, "groups": await readers.run(groups.directory)})


@endpoint
async def put_profile(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    body = await read_json(request)
    identity_key = await service.readers.run(accounts.identity_key, caller.account)
    if identity_key is None:
        raise UnauthorizedError("This account no longer exists.")
    profile, sig = profiles.parse_upload(body, identity_key)

    def operation(tx: Tx) -> None:
        profiles.store(tx.conn, caller.account, profile, sig)
        # The therapist's other devices show the profile (the inbox's "What
        # clients see", the profile form) and fetch it again on this push;
        # devices connected to other relay processes hear of it through them.
        wakeup.notify(tx.conn, wakeup.PROFILE, caller.account)
        tx.after_commit(lambda: service.hub.notify(caller.account, profiles.PROFILE_CHANGED))

    await service.writer.run(operation)
    return json_response({})


@endpoint
async def put_block(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    client = decode_b64u(request.path_params["client"], "client", ID_BYTES)
    await service.writer.run(lambda tx: blocks.block(tx.conn, caller.account, client))
    return json_response({})


@endpoint
async def delete_block(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    client = decode_b64u(request.path_params["client"], "client", ID_BYTES)
    await service.writer.run(lambda tx: blocks.unblock(tx.conn, caller.account, client))
    return json_response({})


@endpoint
async def list_blocks(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    return json_response({"blocked": await service.readers.run(blocks.blocked, caller.account)})
