"""Changing the account secret through the real server (docs/PROTOCOL.md section 9.1).

The server cannot tell a blob of one key from one of the other, so these
tests use opaque random blobs and check what the server promises: the vault
is not touched until the switch; the switch refuses until every live item is
staged from its current version; then, in one step, every item takes its
staged blob at the next version, the handle and login key are the new ones,
every session is signed out (the committing device gets a new token) and the
old secret no longer signs in. The clients' tests (tests/client,
tests/browser) change real secrets over real keys.
"""

import os
from typing import Any

from server_harness import (
    Account,
    make_account,
    new_handle,
    open_socket,
    request,
    vault_blob,
    vault_write,
    wait_closed,
)
from test_server_devices import second_device

from crypto.encoding import b64u_encode


def staged(item_id: bytes, base: int, blob: bytes) -> dict[str, Any]:
    return {"id": b64u_encode(item_id), "base": base, "blob": b64u_encode(blob)}


def begin(account: Account, handle: str, new_login_key: bytes, login_key: bytes | None = None):
    return account.call(
        "POST",
        "/api/secret-change",
        {
            "login_key": b64u_encode(login_key or account.login_key),
            "handle": handle,
            "new_login_key": b64u_encode(new_login_key),
        },
    )


def commit(account: Account, login_key: bytes | None = None):
    return account.call(
        "POST",
        "/api/secret-change/commit",
        {"login_key": b64u_encode(login_key or account.login_key)},
    )


def vault_items(account: Account) -> dict[str, tuple[int, str | None]]:
    items = account.call("GET", "/api/vault").body["items"]
    return {i["id"]: (i["version"], i["blob"]) for i in items}


def login(account: Account, handle: str, login_key: bytes):
    return request(
        account.base_url,
        "POST",
        "/api/login",
        {"handle": handle, "login_key": b64u_encode(login_key)},
    )


async def test_the_switch_replaces_every_item_handle_login_key_and_session(server: Any) -> None:
    account = make_account(server.url)
    ids = [os.urandom(16) for _ in range(3)]
    gone = os.urandom(16)
    writes = [vault_write(i, 1, vault_blob()) for i in [*ids, gone]]
    assert account.call("POST", "/api/vault", {"writes": writes}).status == 200
    deleted = account.call("POST", "/api/vault", {"writes": [vault_write(gone, 2)]})
    assert deleted.status == 200
    other = second_device(account, "browser")
    other_socket = await open_socket(server.url, other)
    own_socket = await open_socket(server.url, account)
    before = vault_items(account)

    new, new_key = new_handle(), os.urandom(32)
    wrong = begin(account, new, new_key, login_key=os.urandom(32))
    assert (wrong.status, wrong.code) == (401, "invalid_credentials")
    assert "nothing was changed" in wrong.body["error"]["message"]
    assert account.call("GET", "/api/secret-change").body == {"pending": False}
    started = begin(account, new, new_key)
    assert (started.status, started.body) == (200, {"staged": []})
    assert account.call("GET", "/api/secret-change").body == {"pending": True}

    # Two of three items staged: the switch refuses and names the third.
    new_blobs = {i: vault_blob() for i in ids}
    reply = account.call(
        "POST",
        "/api/secret-change/items",
        {"items": [staged(i, 1, new_blobs[i]) for i in ids[:2]]},
    )
    assert reply.body == {"staged": 2}
    refused = commit(account)
    assert (refused.status, refused.code) == (409, "secret_change_incomplete")
    assert refused.body["error"]["items"] == [{"id": b64u_encode(ids[2]), "version": 1}]
    # Meanwhile another device writes the first item: staged from version 1,
    # it is stale now and named too, with the version to re-encrypt from.
    assert other.call("POST", "/api/vault", {"writes": [vault_write(ids[0], 2, vault_blob())]})
    account.call(
        "POST", "/api/secret-change/items", {"items": [staged(ids[2], 1, new_blobs[ids[2]])]}
    )
    refused = commit(account)
    assert refused.body["error"]["items"] == [{"id": b64u_encode(ids[0]), "version": 2}]
    # Nothing was switched by the refusals: the old secret still signs in.
    assert login(account, account.handle, account.login_key).status == 200

    account.call(
        "POST", "/api/secret-change/items", {"items": [staged(ids[0], 2, new_blobs[ids[0]])]}
    )
    cursor_before = account.call("GET", "/api/vault").body["cursor"]
    wrong_commit = commit(account, login_key=os.urandom(32))
    assert wrong_commit.code == "invalid_credentials"
    done = commit(account)
    assert done.status == 200, done.body
    assert done.body["signed_out"] == 2  # the other device and the check login above
    assert done.body["token"] != account.token and done.body["expires"] > 0

    # Every device is disconnected: the others signed out, this one to reconnect.
    assert [f["code"] for f in await wait_closed(other_socket.ws) if f["type"] == "error"] == [
        "signed_out"
    ]
    assert [f["code"] for f in await wait_closed(own_socket.ws) if f["type"] == "error"] == [
        "unauthorized"
    ]
    for token in (account.token, other.token):
        refused_token = request(server.url, "GET", "/api/vault", token=token)
        assert refused_token.code == "signed_out"
    assert login(account, account.handle, account.login_key).code == "invalid_credentials"
    fresh = login(account, new, new_key)
    assert fresh.status == 200 and fresh.body["account"] == account.id_text

    account.token, account.handle, account.login_key = done.body["token"], new, new_key
    after = vault_items(account)
    assert after == {
        **{b64u_encode(i): (2 if i != ids[0] else 3, b64u_encode(new_blobs[i])) for i in ids},
        b64u_encode(gone): before[b64u_encode(gone)],
    }
    assert account.call("GET", "/api/secret-change").body == {"pending": False}
    # A device syncing from its last cursor sees every switched item once.
    since = account.call("GET", f"/api/vault?since={cursor_before}").body["items"]
    assert sorted(i["id"] for i in since) == sorted(b64u_encode(i) for i in ids)
    for table in ("secret_changes", "secret_change_items"):
        count = f"SELECT COUNT(*) FROM {table} WHERE account = ?"
        assert server.rows(count, (account.id,)) == [(0,)]
    ((total,),) = server.rows("SELECT vault_bytes FROM accounts WHERE id = ?", (account.id,))
    assert total == sum(len(b) for b in new_blobs.values())


def test_the_same_new_secret_resumes_and_another_starts_over(server: Any) -> None:
    account = make_account(server.url)
    item = os.urandom(16)
    account.call("POST", "/api/vault", {"writes": [vault_write(item, 1, vault_blob())]})
    new, new_key = new_handle(), os.urandom(32)
    assert begin(account, new, new_key).status == 200
    account.call("POST", "/api/secret-change/items", {"items": [staged(item, 1, vault_blob())]})
    resumed = begin(account, new, new_key)
    assert resumed.body == {"staged": [{"id": b64u_encode(item), "base": 1}]}
    # Finishing insists on the waiting change's secret: a mistyped one is refused.
    body = {
        "login_key": b64u_encode(account.login_key),
        "handle": new,
        "new_login_key": b64u_encode(os.urandom(32)),
        "resume": True,
    }
    mistyped = account.call("POST", "/api/secret-change", body)
    assert (mistyped.status, mistyped.code) == (409, "no_secret_change")
    assert "not the one of the unfinished change" in mistyped.body["error"]["message"]
    not_bool = account.call("POST", "/api/secret-change", {**body, "resume": "yes"})
    assert not_bool.code == "bad_request"
    finished = account.call(
        "POST", "/api/secret-change", {**body, "new_login_key": b64u_encode(new_key)}
    )
    assert finished.body == resumed.body
    # The same handle with another login key is another secret: start over.
    assert begin(account, new, os.urandom(32)).body == {"staged": []}
    # Cancelling rolls back: nothing to stage into or switch.
    assert account.call("DELETE", "/api/secret-change").status == 200
    gone = commit(account)
    assert (gone.status, gone.code) == (409, "no_secret_change")
    items = account.call(
        "POST", "/api/secret-change/items", {"items": [staged(item, 1, vault_blob())]}
    )
    assert items.code == "no_secret_change"
    assert login(account, account.handle, account.login_key).status == 200


def test_a_handle_in_use_or_reserved_is_taken(server: Any) -> None:
    account = make_account(server.url)
    someone = make_account(server.url)
    taken = begin(account, someone.handle, os.urandom(32))
    assert (taken.status, taken.code) == (409, "handle_taken")
    reserved = new_handle()
    assert begin(account, reserved, os.urandom(32)).status == 200
    assert begin(someone, reserved, os.urandom(32)).code == "handle_taken"
    late = Account(server.url, "client", reserved, os.urandom(32), account.identity)
    signup = request(server.url, "POST", "/api/accounts", late.registration_body())
    assert (signup.status, signup.code) == (409, "handle_taken")


def test_bad_staging_is_refused_with_its_code(server: Any) -> None:
    account = make_account(server.url)
    bad_handle = begin(account, "lower123", os.urandom(32))
    assert (bad_handle.status, bad_handle.code) == (400, "bad_request")
    assert begin(account, new_handle(), os.urandom(32)).status == 200
    item = os.urandom(16)
    cases = [
        ({"items": "no"}, "bad_request"),
        ({"items": [staged(item, 0, vault_blob())]}, "bad_request"),
        ({"items": [staged(item, 1, b"\x01" + os.urandom(100))]}, "malformed"),
        ({"items": [staged(item, 1, b"\x07" + vault_blob()[1:])]}, "unsupported_version"),
        ({"items": [staged(item, 1, vault_blob()), staged(item, 2, vault_blob())]}, "bad_request"),
    ]
    for body, code in cases:
        reply = account.call("POST", "/api/secret-change/items", body)
        assert reply.code == code, (body, reply.body)
    assert request(server.url, "POST", "/api/secret-change/commit", {}).code == "unauthorized"


def test_deleting_the_account_deletes_a_pending_change(server: Any) -> None:
    account = make_account(server.url)
    item = os.urandom(16)
    account.call("POST", "/api/vault", {"writes": [vault_write(item, 1, vault_blob())]})
    assert begin(account, new_handle(), os.urandom(32)).status == 200
    account.call("POST", "/api/secret-change/items", {"items": [staged(item, 1, vault_blob())]})
    assert account.call("DELETE", "/api/account").status == 200
    for table in ("secret_changes", "secret_change_items"):
        count = f"SELECT COUNT(*) FROM {table} WHERE account = ?"
        assert server.rows(count, (account.id,)) == [(0,)]
