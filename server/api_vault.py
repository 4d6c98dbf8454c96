"""HTTP: vault sync and all-or-nothing vault writes (docs/PROTOCOL.md section 10)."""

from starlette.requests import Request
from starlette.responses import Response

from server import vault
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.validation import required
from server.writer import Tx


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

    def operation(tx: Tx) -> int:
        cursor = vault.apply(
            tx.conn,
            caller.account,
            writes,
            limits.max_vault_bytes,
            limits.max_vault_items,
            may_grow=not limits.disk_low,
        )
        # Every live connection hears of it, the writer's own included: an
        # HTTP write does not say which connection (if any) is its device's,
        # and a client ignores a cursor it has already reached.
        tx.after_commit(lambda: service.hub.vault_changed(caller.account, cursor))
        return cursor

    cursor = await service.writer.run(operation)
    return json_response({"cursor": str(cursor)})
