"""HTTP: vault sync and all-or-nothing vault writes (docs/PROTOCOL.md section 10)."""

from starlette.requests import Request
from starlette.responses import Response

from server import vault
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.validation import required


@endpoint
async def sync(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    since = vault.parse_cursor(request.query_params.get("since"))
    return json_response(await service.readers.run(vault.changes_since, caller.account, since))


@endpoint
async def write(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    body = await read_json(request)
    writes = vault.parse_writes(required(body, "writes"), service.settings.max_vault_writes)
    limits = service.limits(caller.role)
    cursor = await service.writer.run(
        lambda tx: vault.apply(
            tx.conn,
            caller.account,
            writes,
            limits.max_vault_bytes,
            limits.max_vault_items,
            may_grow=not limits.disk_low,
        )
    )
    return json_response({"cursor": str(cursor)})
