"""HTTP: peer-support groups (docs/API.md, "Groups"); the rules are in server/groups.py.

Signatures that need no stored state (a new group's first roster, a listing,
member-key prekeys, a group message) are checked here, before the writer;
those that need the stored roster (a newer roster, a tombstone) inside the
operation, so that two uploads cannot both pass against the same version.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    HASH_BYTES,
    ID_BYTES,
    MAX_GROUP_MODERATORS,
    MAX_ROSTER_ENTRIES,
    OPK_LOW_WATER,
    SIGNATURE_BYTES,
)
from crypto.encoding import b64u_encode
from crypto.group_roster import Roster
from server import accounts, group_stream, groups, prekeys, vault
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.errors import UnauthorizedError
from server.services import Services
from server.validation import binary, decode_b64u, identifier
from server.writer import Tx

THERAPIST = "therapist"
_KEY = ED25519_PUBLIC_KEY_BYTES
# PROTOCOL.md 15.6: format, group id, sender key, iteration, signature.
TOMBSTONE_BYTES = 1 + ID_BYTES + _KEY + 4 + SIGNATURE_BYTES
# PROTOCOL.md 15.2, at its largest: the fixed fields, every moderator and
# entry the format allows, and the signature.
MAX_SIGNED_ROSTER = (
    1
    + ID_BYTES
    + 8
    + 1
    + 1
    + 1
    + MAX_GROUP_MODERATORS * _KEY
    + 1
    + MAX_ROSTER_ENTRIES * (_KEY + 1 + 8 + HASH_BYTES)
    + SIGNATURE_BYTES
)


def _group(request: Request) -> bytes:
    return groups.group_id_of(request.path_params["group"])


async def _identity_key(service: Services, account: bytes) -> bytes:
    identity_key = await service.readers.run(accounts.identity_key, account)
    if identity_key is None:
        raise UnauthorizedError("This account no longer exists.")
    return identity_key


def _deliver(service: Services, tx: Tx, group_id: bytes, posted: group_stream.Posted) -> None:
    if posted.item.new:
        text = group_stream.frame(group_id, posted.item)
        seq = posted.item.seq
        tx.after_commit(lambda: service.hub.deliver_group(posted.recipients, seq, text))


@endpoint
async def create(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    body = await read_json(request)
    identity_key = await _identity_key(service, caller.account)
    signed = binary(body, "roster", max_length=MAX_SIGNED_ROSTER)
    roster: Roster = groups.verify_new_group(signed, identity_key)
    listing = None
    if body.get("listing") is not None:
        listing = groups.parse_listing(body, identity_key, roster.group_id)

    def operation(tx: Tx) -> groups.RosterStored:
        stored = groups.create(tx.conn, caller.account, signed, roster, listing)
        _deliver(service, tx, roster.group_id, group_stream.Posted(stored.item, stored.recipients))
        return stored

    stored = await service.writer.run(operation)
    return json_response(
        {"group": b64u_encode(roster.group_id), "version": stored.version}, status=201
    )


@endpoint
async def mine(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    return json_response({"groups": await service.readers.run(groups.mine, caller.account)})


@endpoint
async def show(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)
    return json_response(await service.readers.run(groups.info, caller.account, group_id))


@endpoint
async def delete(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    group_id = _group(request)
    await service.writer.run(lambda tx: groups.delete(tx.conn, caller.account, group_id))
    return json_response({})


@endpoint
async def put_roster(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    group_id = _group(request)
    body = await read_json(request)
    signed = binary(body, "roster", max_length=MAX_SIGNED_ROSTER)

    def operation(tx: Tx) -> groups.RosterStored:
        stored = groups.replace_roster(tx.conn, caller.account, group_id, signed)
        _deliver(service, tx, group_id, group_stream.Posted(stored.item, stored.recipients))
        return stored

    stored = await service.writer.run(operation)
    return json_response({"version": stored.version, "id": b64u_encode(stored.item.id)})


@endpoint
async def put_listing(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    group_id = _group(request)
    body = await read_json(request)
    identity_key = await _identity_key(service, caller.account)
    listing, sig = groups.parse_listing(body, identity_key, group_id)
    await service.writer.run(
        lambda tx: groups.put_listing(tx.conn, caller.account, group_id, listing, sig)
    )
    return json_response({})


def _member_key(request: Request) -> bytes:
    return decode_b64u(request.path_params["member_key"], "member_key", ED25519_PUBLIC_KEY_BYTES)


@endpoint
async def put_member_key(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)
    member_key = _member_key(request)
    body = await read_json(request)
    settings = service.settings
    # The member key's own signatures over its prekeys prove the caller holds it.
    upload = prekeys.parse_upload(body, member_key, settings.max_prekeys_per_upload)
    count = await service.writer.run(
        lambda tx: groups.register_key(
            tx.conn, caller.account, group_id, member_key, upload, settings.max_one_time_prekeys
        )
    )
    return json_response({"one_time": count})


@endpoint
async def member_bundle(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)
    member_key = _member_key(request)
    # As for account bundles: a few one-time prekeys per requester and key.
    may_take_one_time = not service.rates.one_time_prekeys.take(caller.account + member_key)

    def operation(tx: Tx) -> dict[str, Any]:
        taken = groups.take_bundle(tx.conn, caller.account, group_id, member_key, may_take_one_time)
        if taken.one_time_left < OPK_LOW_WATER:
            frame = {
                "type": "prekeys_low",
                "one_time": taken.one_time_left,
                "group": b64u_encode(group_id),
                "member_key": b64u_encode(member_key),
            }
            tx.after_commit(lambda: service.hub.notify(taken.owner, frame))
        return taken.body

    return json_response(await service.writer.run(operation))


@endpoint
async def leave(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)

    def operation(tx: Tx) -> None:
        left = groups.leave(tx.conn, caller.account, group_id)
        if left.member_key is not None:
            frame = {
                "type": "group_left",
                "group": b64u_encode(group_id),
                "member_key": b64u_encode(left.member_key),
            }
            moderators = left.moderators

            def tell() -> None:
                for moderator in moderators:
                    service.hub.notify(moderator, frame)

            tx.after_commit(tell)

    await service.writer.run(operation)
    return json_response({})


@endpoint
async def messages(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)
    after_text = request.query_params.get("after")
    after = None if after_text is None else decode_b64u(after_text, "after", ID_BYTES)
    return json_response(
        await service.readers.run(group_stream.page, caller.account, group_id, after)
    )


@endpoint
async def post_message(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)
    body = await read_json(request)
    data, message = group_stream.parse_message(body, group_id)
    limits = service.limits(caller.role)

    def operation(tx: Tx) -> group_stream.Posted:
        posted = group_stream.post(tx.conn, caller.account, group_id, message, data, limits)
        _deliver(service, tx, group_id, posted)
        return posted

    posted = await service.writer.run(operation)
    return json_response({"id": b64u_encode(posted.item.id)})


@endpoint
async def post_tombstone(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, THERAPIST)
    group_id = _group(request)
    body = await read_json(request)
    signed = binary(body, "tombstone", TOMBSTONE_BYTES)

    def operation(tx: Tx) -> group_stream.Posted:
        posted = groups.remove_message(tx.conn, caller.account, group_id, signed)
        _deliver(service, tx, group_id, posted)
        return posted

    posted = await service.writer.run(operation)
    return json_response({"id": b64u_encode(posted.item.id)})


@endpoint
async def acknowledge(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request)
    group_id = _group(request)
    body = await read_json(request)
    item_id = identifier(body, "id")
    writes = (
        []
        if body.get("vault") is None
        else vault.parse_writes(body["vault"], service.settings.max_vault_writes)
    )
    limits = service.limits(caller.role)

    def operation(tx: Tx) -> int | None:
        cursor = group_stream.acknowledge(
            tx.conn, caller.account, group_id, item_id, writes, limits
        )
        if cursor is not None:
            tx.after_commit(lambda: service.hub.vault_changed(caller.account, cursor))
        return cursor

    cursor = await service.writer.run(operation)
    return json_response({} if cursor is None else {"cursor": str(cursor)})
