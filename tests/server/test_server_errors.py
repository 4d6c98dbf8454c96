"""Every documented error code, provoked through the real server.

Each test makes the server refuse something for one reason and checks the
code, the HTTP status of docs/API.md, that the message tells a person what to
do, and that the server keeps serving afterwards. The first tests check the
list itself: every code the server can send is documented, and tested here.
"""

import contextlib
import http.client
import json
import os
import re
import resource
from pathlib import Path
from typing import Any

import pytest
from postgres_cluster import small_tablespace
from server_harness import (
    Account,
    auth_frame,
    auth_signature,
    make_account,
    make_invite,
    make_therapist,
    new_handle,
    open_socket,
    random_envelope,
    request,
    vault_blob,
    vault_write,
    wait_closed,
)
from websockets.asyncio.client import connect

from crypto.encoding import b64u_decode, b64u_encode
from crypto.keys import IdentityKeyPair
from server.errors import ALL_ERRORS

HERE = Path(__file__).resolve().parent
API_DOC = HERE.parents[1] / "docs" / "API.md"


def documented() -> dict[str, str]:
    table = API_DOC.read_text().split("## Error codes", 1)[1]
    return dict(re.findall(r"^\| `([a-z_]+)` \| *([0-9]*) *\|", table, re.MULTILINE))


def test_every_server_error_is_documented_with_its_status() -> None:
    docs = documented()
    assert {cls.code for cls in ALL_ERRORS} == set(docs)
    for cls in ALL_ERRORS:
        if docs[cls.code]:
            assert int(docs[cls.code]) == cls.status, cls.code
        assert len(cls.default_message) > 20 and cls.default_message.endswith("."), cls.code


def test_every_error_code_is_provoked_by_a_test() -> None:
    tests = [*HERE.glob("test_server_*.py"), *(HERE.parent / "admin").glob("test_admin_*.py")]
    sources = "".join(path.read_text() for path in tests)
    for cls in ALL_ERRORS:
        assert f'"{cls.code}"' in sources, f"no test provokes {cls.code}"


def assert_error(reply: Any, code: str, status: int) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert reply.body["error"]["message"]


def test_bad_request_malformed_and_bad_signature_on_registration(server: Any) -> None:
    account = Account(server.url, "client", new_handle(), os.urandom(32), make_account_identity())
    body = account.registration_body()
    cases = [
        (b"{not json", "bad_request"),
        (json.dumps([body]).encode(), "bad_request"),
        (json.dumps({**body, "role": "admin"}).encode(), "bad_request"),
        (json.dumps({**body, "handle": "abcdefgh"}).encode(), "bad_request"),
        (json.dumps({**body, "login_key": b64u_encode(os.urandom(31))}).encode(), "malformed"),
        (json.dumps({**body, "sig": body["sig"] + "="}).encode(), "malformed"),
        (json.dumps({**body, "identity_key": b64u_encode(bytes(32))}).encode(), "malformed"),
        (json.dumps({**body, "handle": new_handle()}).encode(), "bad_signature"),
    ]
    for raw, code in cases:
        assert_error(request(server.url, "POST", "/api/accounts", raw=raw), code, 400)
    assert request(server.url, "POST", "/api/accounts", body).status == 201


def make_account_identity() -> IdentityKeyPair:
    return IdentityKeyPair.generate()


def test_handle_taken(server: Any) -> None:
    first = make_account(server.url)
    second = Account(server.url, "client", first.handle, os.urandom(32), make_account_identity())
    reply = request(server.url, "POST", "/api/accounts", second.registration_body())
    assert_error(reply, "handle_taken", 409)


def test_invites(server: Any) -> None:
    therapist = Account(
        server.url, "therapist", new_handle(), os.urandom(32), make_account_identity()
    )
    reply = request(server.url, "POST", "/api/accounts", therapist.registration_body())
    assert_error(reply, "invite_required", 403)
    for invite in ("", "AAAA-BBBB", "0" * 20, "Ü" * 20):
        reply = request(server.url, "POST", "/api/accounts", therapist.registration_body(invite))
        assert_error(reply, "invalid_invite", 403)
    # A client invite does not make a therapist.
    code = make_invite(server, "client")
    reply = request(server.url, "POST", "/api/accounts", therapist.registration_body(code))
    assert_error(reply, "invalid_invite", 403)
    code = make_invite(server, "therapist")
    # Read like an account secret: lower case, no dashes, O for 0 and L for 1.
    typed = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    assert (
        request(server.url, "POST", "/api/accounts", therapist.registration_body(typed)).status
        == 201
    )
    again = Account(server.url, "therapist", new_handle(), os.urandom(32), make_account_identity())
    reply = request(server.url, "POST", "/api/accounts", again.registration_body(code))
    assert_error(reply, "invalid_invite", 403)


def test_invalid_credentials_and_unauthorized(server: Any) -> None:
    account = make_account(server.url)
    wrong = {"handle": account.handle, "login_key": b64u_encode(os.urandom(32))}
    assert_error(request(server.url, "POST", "/api/login", wrong), "invalid_credentials", 401)
    assert_error(request(server.url, "GET", "/api/vault"), "unauthorized", 401)


def test_forbidden_not_found_and_method_not_allowed(server: Any) -> None:
    client = make_account(server.url)
    assert_error(client.call("PUT", "/api/profile", {}), "forbidden", 403)
    assert_error(client.call("GET", f"/api/bundle/{client.id_text}"), "forbidden", 403)
    unknown = b64u_encode(os.urandom(16))
    assert_error(client.call("GET", f"/api/bundle/{unknown}"), "not_found", 404)
    assert_error(client.call("GET", "/api/bundle/short"), "malformed", 400)
    assert_error(request(server.url, "GET", "/api/nothing"), "not_found", 404)
    assert_error(request(server.url, "POST", "/api/info", {}), "method_not_allowed", 405)
    therapist = make_therapist(server)
    assert_error(therapist.call("GET", f"/api/bundle/{unknown}"), "not_found", 404)
    assert_error(client.call("GET", f"/api/bundle/{therapist.id_text}"), "not_found", 404)


def test_vault_errors(server: Any) -> None:
    account = make_account(server.url)
    item = os.urandom(16)
    bad_version = b"\x02" + os.urandom(24 + 256 + 16)
    cases = [
        ({"writes": [vault_write(item, 1, bad_version)]}, "unsupported_version", 400),
        ({"writes": [vault_write(item, 1, b"\x01" + os.urandom(300))]}, "malformed", 400),
        ({"writes": [vault_write(item, 0, vault_blob())]}, "bad_request", 400),
        (
            {"writes": [vault_write(item, 1, vault_blob()), vault_write(item, 1)]},
            "bad_request",
            400,
        ),
        ({"writes": [{**vault_write(item, 1, vault_blob()), "delete": True}]}, "bad_request", 400),
        ({"writes": {}}, "bad_request", 400),
        ({}, "bad_request", 400),
        ({"writes": [vault_write(item, 2, vault_blob())]}, "vault_conflict", 409),
    ]
    for body, code, status in cases:
        assert_error(account.call("POST", "/api/vault", body), code, status)
    assert_error(account.call("GET", "/api/vault?since=x"), "bad_request", 400)
    assert account.call("GET", "/api/vault").body["items"] == []


def test_request_too_large(server_factory: Any) -> None:
    server = server_factory(max_request_bytes=4096)
    account = make_account(server.url)
    big = {"writes": [vault_write(os.urandom(16), 1, vault_blob(4096))]}
    assert_error(account.call("POST", "/api/vault", big), "too_large", 413)
    # Without a Content-Length the body is counted as it streams in.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST",
        "/api/vault",
        body=iter([json.dumps(big).encode()]),
        headers={"Authorization": f"Bearer {account.token}"},
        encode_chunked=True,
    )
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["error"]["code"]) == (413, "too_large")
    conn.close()
    assert account.call("GET", "/api/vault").status == 200


def test_rate_limited_registrations_and_logins(server_factory: Any) -> None:
    server = server_factory(register_rate=0.01, register_burst=2, login_rate=0.01, login_burst=4)
    account = make_account(server.url)
    make_account(server.url)
    spare = Account(server.url, "client", new_handle(), os.urandom(32), make_account_identity())
    reply = request(server.url, "POST", "/api/accounts", spare.registration_body())
    assert_error(reply, "rate_limited", 429)
    assert reply.body["error"]["retry_after"] >= 1
    assert reply.headers["retry-after"] == str(reply.body["error"]["retry_after"])
    # Logins share one budget (two were spent above); a known handle and an
    # unknown one are answered alike until it is used up.
    for handle in (account.handle, new_handle()):
        attempt = {"handle": handle, "login_key": b64u_encode(os.urandom(32))}
        assert request(server.url, "POST", "/api/login", attempt).code == "invalid_credentials"
    reply = account.login()
    assert_error(reply, "rate_limited", 429)
    assert reply.headers["retry-after"] == str(reply.body["error"]["retry_after"])


async def test_websocket_errors_keep_the_connection_open(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)
    cmid = b64u_encode(os.urandom(16))

    async def answer(frame: Any) -> dict[str, Any]:
        await socket.send(frame)
        reply = await socket.expect("error")
        assert reply["message"]
        return reply

    assert (await answer("not json"))["code"] == "bad_request"
    assert (await answer("[1, 2]"))["code"] == "bad_request"
    assert (await answer({"kind": "send"}))["code"] == "bad_request"
    assert (await answer({"type": "subscribe"}))["code"] == "unknown_type"
    assert (await answer({"type": "auth", "account": "x", "sig": "y"}))["code"] == "bad_request"
    send = {"type": "send", "cmid": cmid, "to": therapist.id_text}
    reply = await answer({**send, "env": b64u_encode(b"\x01\x02" + os.urandom(10))})
    assert (reply["code"], reply["ref"]) == ("malformed", cmid)
    reply = await answer({**send, "env": b64u_encode(b"\x07\x02" + os.urandom(10))})
    assert reply["code"] == "unsupported_version"
    reply = await answer({**send, "env": b64u_encode(os.urandom(70000))})
    assert reply["code"] == "too_large"
    reply = await answer({**send, "env": "not base64!"})
    assert reply["code"] == "malformed"
    reply = await answer(
        {**send, "to": b64u_encode(os.urandom(16)), "env": b64u_encode(random_envelope())}
    )
    assert reply["code"] == "not_found"
    reply = await answer({**send, "to": client.id_text, "env": b64u_encode(random_envelope())})
    assert reply["code"] == "forbidden"
    reply = await answer({"type": "ack", "id": b64u_encode(os.urandom(16))})
    assert reply["code"] == "not_found"
    await socket.ws.send(b"\x00binary")
    assert (await socket.expect("error"))["code"] == "bad_request"
    await socket.send({"type": "ping"})
    assert (await socket.expect("pong")) == {"type": "pong"}
    assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
    await socket.close()


async def test_frames_over_the_limits(server_factory: Any) -> None:
    server = server_factory(max_frame_bytes=100 * 1024)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)
    await socket.send({"type": "ping", "padding": "x" * (110 * 1024)})
    assert (await socket.expect("error"))["code"] == "too_large"
    await socket.send({"type": "ping"})
    assert (await socket.expect("pong"))["type"] == "pong"
    # Beyond uvicorn's own limit the frame is not even read: the connection closes.
    await socket.send({"type": "ping", "padding": "x" * (200 * 1024)})
    frames = await wait_closed(socket.ws)
    assert [f for f in frames if f["type"] != "prekeys_low"] == []
    assert socket.ws.close_code == 1009
    assert request(server.url, "GET", "/api/health").status == 200


async def test_blocked_and_inbox_full(server_factory: Any) -> None:
    server = server_factory(max_inbox=2)
    therapist = make_therapist(server)
    blocked, other = make_account(server.url), make_account(server.url)
    assert therapist.call("PUT", f"/api/blocks/{blocked.id_text}").status == 200
    socket = await open_socket(server.url, blocked)
    reply = await socket.send_envelope(therapist, random_envelope())
    assert (reply["type"], reply["code"]) == ("error", "blocked")
    await socket.close()
    socket = await open_socket(server.url, other)
    for _ in range(2):
        assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
    reply = await socket.send_envelope(therapist, random_envelope())
    assert (reply["type"], reply["code"]) == ("error", "inbox_full")
    assert therapist.call("DELETE", f"/api/blocks/{blocked.id_text}").status == 200
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 2
    first = await inbox.expect("envelope")
    assert (await inbox.ack(first["id"]))["type"] == "acked"
    assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
    await socket.close()
    await inbox.close()


async def test_websocket_rate_limited(server_factory: Any) -> None:
    server = server_factory(ws_rate=0.1, ws_burst=5)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)
    for _ in range(8):
        await socket.send({"type": "ping"})
    # A refused send names its cmid, so the client knows which one to retry.
    cmid = b64u_encode(os.urandom(16))
    await socket.send({"type": "send", "cmid": cmid, "to": cmid, "env": "AA"})
    answers: list[dict[str, Any]] = []
    while len(answers) < 9:
        frame = await socket.recv()
        if frame["type"] != "prekeys_low":
            answers.append(frame)
    kinds = [a["type"] if a["type"] == "pong" else a.get("code") for a in answers]
    assert kinds[:5] == ["pong"] * 5
    assert set(kinds[5:]) == {"rate_limited"}
    limited = [a for a in answers if a.get("code") == "rate_limited"]
    assert all(a["retry_after"] >= 1 for a in limited)
    assert [a.get("ref") for a in limited] == [None, None, None, cmid]
    await socket.close()
    assert request(server.url, "GET", "/api/health").status == 200


async def test_too_many_connections(server_factory: Any) -> None:
    """`max_connections` counts authenticated sockets; the next account is told to retry."""
    server = server_factory(max_connections=1)
    first = await open_socket(server.url, make_account(server.url))
    second = await connect(server.ws_url, compression=None)
    challenge = json.loads(await second.recv())
    assert challenge["type"] == "challenge"
    other = make_account(server.url)
    sig = auth_signature(
        other.identity, b64u_decode(challenge["server"]), b64u_decode(challenge["nonce"]), other.id
    )
    await second.send(json.dumps(auth_frame(other, sig)))
    frames = await wait_closed(second)
    assert [f["code"] for f in frames] == ["too_many_connections"]
    assert second.close_code == 1013
    await first.close()


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, 2 * 1024 * 1024))


async def test_read_only_when_the_disk_is_full(
    server_factory: Any, request: pytest.FixtureRequest
) -> None:
    """SQLite: a file-size limit on the server process makes writes fail as on a full disk.

    PostgreSQL: the tables written here move to a tablespace on a tiny tmpfs,
    a real full disk, on which PostgreSQL's writes fail with its disk-full error.
    """
    with contextlib.ExitStack() as stack:
        server = server_factory(preexec=_limit_file_size)
        therapist = make_therapist(server)
        account = make_account(server.url)
        if server.backend == "postgresql":
            stack.enter_context(
                small_tablespace(
                    request.getfixturevalue("postgres"),
                    server.settings["database"],
                    ["vault_items", "envelopes"],
                    3,
                )
            )
        await _writes_refused_reads_served(server, therapist, account)
        server.stop()


async def _writes_refused_reads_served(server: Any, therapist: Any, account: Any) -> None:
    kept = []
    reply = None
    for _ in range(20):
        item = os.urandom(16)
        reply = account.call(
            "POST", "/api/vault", {"writes": [vault_write(item, 1, vault_blob(256 * 1024))]}
        )
        if reply.status != 200:
            break
        kept.append(b64u_encode(item))
    assert reply is not None
    assert_error(reply, "read_only", 503)
    assert kept, "the limit was hit before the first write"
    # Reads still work, and show everything that was committed.
    synced = account.call("GET", "/api/vault")
    assert [i["id"] for i in synced.body["items"]] == kept
    assert request(server.url, "GET", "/api/directory").status == 200
    socket = await open_socket(server.url, account)
    answer = await socket.send_envelope(therapist, random_envelope(65536))
    assert (answer["type"], answer["code"]) == ("error", "read_only")
    await socket.send({"type": "ping"})
    assert (await socket.expect("pong"))["type"] == "pong"
    await socket.close()
    assert request(server.url, "GET", "/api/health").status == 200


def test_internal_error_is_answered_logged_without_content_and_survived(
    server_factory: Any,
) -> None:
    server = server_factory()
    therapist = make_therapist(server)
    client_id = make_account(server.url).id_text
    # Break the schema behind the server's back: the next use of the table fails.
    server.execute("DROP TABLE blocks")
    assert_error(therapist.call("GET", "/api/blocks"), "internal", 500)
    assert_error(therapist.call("PUT", f"/api/blocks/{client_id}"), "internal", 500)
    assert request(server.url, "GET", "/api/health").status == 200
    log = server.log_text()
    missing_table = {"sqlite": "OperationalError", "postgresql": "UndefinedTable"}
    assert f"unexpected {missing_table[server.backend]}" in log
    assert "no such table" not in log and client_id not in log
