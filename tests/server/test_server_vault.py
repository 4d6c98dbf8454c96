"""The vault over HTTP: compare-and-swap, all-or-nothing, tombstones, paged sync, limits."""

import os
from typing import Any

from server_harness import make_account, vault_blob, vault_write

from crypto.encoding import b64u_decode, b64u_encode


def sync_all(account: Any, since: str | None = None) -> tuple[list[dict[str, Any]], str, int]:
    """Every page after `since`; returns the items, the final cursor and the page count."""
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = since
    while True:
        path = "/api/vault" if cursor is None else f"/api/vault?since={cursor}"
        reply = account.call("GET", path)
        assert reply.status == 200
        pages += 1
        items += reply.body["items"]
        cursor = reply.body["cursor"]
        if not reply.body["more"]:
            return items, cursor, pages


def test_versions_advance_by_exactly_one_and_deletes_leave_tombstones(server: Any) -> None:
    device_a = make_account(server.url)
    item = os.urandom(16)
    first, second = vault_blob(), vault_blob(1024)
    assert (
        device_a.call("POST", "/api/vault", {"writes": [vault_write(item, 1, first)]}).status == 200
    )
    items, cursor, _ = sync_all(device_a)
    assert items == [{"id": b64u_encode(item), "version": 1, "blob": b64u_encode(first)}]

    for stale in (1, 3):
        reply = device_a.call("POST", "/api/vault", {"writes": [vault_write(item, stale, second)]})
        assert reply.code == "vault_conflict"
        assert reply.body["error"]["items"] == [{"id": b64u_encode(item), "version": 1}]
    reply = device_a.call("POST", "/api/vault", {"writes": [vault_write(item, 2, second)]})
    assert reply.status == 200
    # A second device that synced before learns of the change, then of the delete.
    changed, cursor, _ = sync_all(device_a, cursor)
    assert changed == [{"id": b64u_encode(item), "version": 2, "blob": b64u_encode(second)}]
    assert device_a.call("POST", "/api/vault", {"writes": [vault_write(item, 3)]}).status == 200
    changed, cursor, _ = sync_all(device_a, cursor)
    assert changed == [{"id": b64u_encode(item), "version": 3, "blob": None}]
    assert sync_all(device_a, cursor)[0] == []
    # Deleting what does not exist is a conflict, not a silent success.
    reply = device_a.call("POST", "/api/vault", {"writes": [vault_write(os.urandom(16), 1)]})
    assert reply.code == "vault_conflict"


def test_a_request_is_applied_all_or_nothing(server: Any) -> None:
    account = make_account(server.url)
    existing = os.urandom(16)
    assert (
        account.call(
            "POST", "/api/vault", {"writes": [vault_write(existing, 1, vault_blob())]}
        ).status
        == 200
    )
    _, cursor, _ = sync_all(account)
    fresh = [os.urandom(16) for _ in range(5)]
    writes = [vault_write(i, 1, vault_blob()) for i in fresh] + [
        vault_write(existing, 1, vault_blob())
    ]
    reply = account.call("POST", "/api/vault", {"writes": writes})
    assert reply.code == "vault_conflict"
    assert reply.body["error"]["items"] == [{"id": b64u_encode(existing), "version": 1}]
    assert sync_all(account, cursor)[0] == []
    writes[-1] = vault_write(existing, 2, vault_blob())
    reply = account.call("POST", "/api/vault", {"writes": writes})
    assert reply.status == 200
    assert {i["id"] for i in sync_all(account, cursor)[0]} == {
        b64u_encode(i) for i in [*fresh, existing]
    }


def test_sync_pages_large_vaults_and_the_cursor_resumes(server: Any) -> None:
    account = make_account(server.url)
    ids = [os.urandom(16) for _ in range(6)]
    writes = [vault_write(i, 1, vault_blob(1024 * 1024)) for i in ids[:5]]
    assert account.call("POST", "/api/vault", {"writes": writes}).status == 200
    assert (
        account.call(
            "POST", "/api/vault", {"writes": [vault_write(ids[5], 1, vault_blob())]}
        ).status
        == 200
    )
    items, cursor, pages = sync_all(account)
    assert [i["id"] for i in items] == [b64u_encode(i) for i in ids]
    assert pages >= 2
    assert sync_all(account, cursor)[0] == []
    assert sync_all(account, "0")[0] == items
    # A cursor from the future (another account, another server) restarts safely.
    reply = account.call("GET", "/api/vault?since=999999999")
    assert reply.body["items"] == [] and int(reply.body["cursor"]) <= int(cursor)


def test_size_and_count_limits(server_factory: Any) -> None:
    server = server_factory(
        max_client_vault_bytes=1024 * 1024, max_vault_items=16, max_vault_writes=20
    )
    account = make_account(server.url)
    big = vault_write(os.urandom(16), 1, vault_blob(1024 * 1024))
    assert account.call("POST", "/api/vault", {"writes": [big]}).code == "too_large"
    many = [vault_write(os.urandom(16), 1, vault_blob()) for _ in range(17)]
    assert account.call("POST", "/api/vault", {"writes": many}).code == "too_large"
    too_many = [vault_write(os.urandom(16), 1, vault_blob()) for _ in range(21)]
    reply = account.call("POST", "/api/vault", {"writes": too_many})
    assert (reply.status, reply.code) == (413, "too_large")
    assert account.call("POST", "/api/vault", {"writes": many[:16]}).status == 200
    # Replacing an item with a smaller one is always possible.
    smaller = vault_write(b64u_decode(many[0]["id"]), 2, vault_blob())
    assert account.call("POST", "/api/vault", {"writes": [smaller]}).status == 200
