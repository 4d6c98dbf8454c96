"""What a million hostile inputs against the live server found, one test each (issue 24).

Each input here once broke a rule of docs/API.md: a 500, a request never
answered, a client-caused ERROR line, an answer outside the documented
format, a redirect that reflected the Host header. The live fuzzer
(tests/reliability/live_fuzz.py) keeps looking for more of the same.
"""

import asyncio
import json
import socket
import threading
import time
from typing import Any

import pytest
from server_harness import Account, make_account, make_therapist, open_socket, request

from crypto import signatures
from crypto.constants import CTX_PROFILE
from crypto.encoding import b64u_encode
from server import passwords
from server.headers import SECURITY_HEADERS
from server.vault import parse_cursor

PROMPT_SECONDS = 5.0
HANDSHAKE = (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


def exchange(
    running: Any, data: bytes, half_close: bool = False, then: bytes = b""
) -> tuple[bytes, float]:
    """Send raw bytes on a new connection; what came back until the server closed, and when.

    `then` is sent once the server has said something (a websocket's challenge).
    """
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", running.port), timeout=PROMPT_SECONDS) as conn:
        conn.sendall(data)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        received = b""
        try:
            if then:
                while b"challenge" not in received:
                    received += conn.recv(65536)
                conn.sendall(then)
            while chunk := conn.recv(65536):
                received += chunk
        except TimeoutError:
            pytest.fail(f"no close within {PROMPT_SECONDS} s; received {received[:200]!r}")
    return received, time.monotonic() - started


def parse_answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def assert_documented_refusal(raw: bytes, status: int, code: str) -> dict[str, str]:
    got, headers, body = parse_answer(raw)
    assert got == status, raw[:300]
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]
    for name, value in SECURITY_HEADERS:
        assert headers[name] == value, name
    assert headers["cache-control"] == "no-store"
    return headers


@pytest.fixture(scope="module")
def client(server: Any) -> Account:
    return make_account(server.url)


def test_a_vault_cursor_past_sqlite_range_is_bad_request(server: Any, client: Account) -> None:
    reply = client.call("GET", "/api/vault?since=9223372036854775808")
    assert (reply.status, reply.code) == (400, "bad_request")
    assert client.call("GET", "/api/vault?since=9223372036854775807").status == 200
    assert parse_cursor("9223372036854775807") == 2**63 - 1


def test_a_lone_surrogate_echoed_in_an_error_is_answered_as_json(server: Any) -> None:
    therapist = make_therapist(server)
    # The profile's JSON has the key "\ud800", which the error message quotes.
    profile = b'{"display_name": "A", "\\ud800": 1}'
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
    body = {"profile": b64u_encode(profile), "sig": b64u_encode(sig)}
    reply = therapist.call("PUT", "/api/profile", body)
    assert (reply.status, reply.code) == (400, "bad_request")
    assert reply.raw.decode("utf-8")
    assert "unknown fields: ?" in reply.body["error"]["message"]


def test_an_upgrade_request_with_a_body_is_answered_at_once(server: Any, client: Account) -> None:
    data = (
        "POST /api/vault HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
        f"Upgrade: websocket\r\nAuthorization: Bearer {client.token}\r\n"
        'Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{"writes": []}'
    ).encode()
    raw, seconds = exchange(server, data)
    assert seconds < PROMPT_SECONDS
    assert_documented_refusal(raw, 400, "bad_request")


def test_refusals_below_the_application_are_documented_json(server: Any) -> None:
    raw, _ = exchange(server, b"GARBAGE\r\n\r\n")
    assert_documented_refusal(raw, 400, "bad_request")
    raw, _ = exchange(server, HANDSHAKE.replace("Sec-WebSocket-Key", "X-Key").encode())
    assert_documented_refusal(raw, 400, "bad_request")
    raw, _ = exchange(server, HANDSHAKE.replace("GET /ws", "POST /ws").encode())
    assert_documented_refusal(raw, 405, "method_not_allowed")


@pytest.mark.parametrize("value", ["bytes=zz", "bytes=99999999-", "bytes=5-1", "pages=1-2"])
def test_a_range_header_is_ignored_and_the_whole_file_sent(server: Any, value: str) -> None:
    whole = request(server.url, "GET", "/index.html")
    reply = request(server.url, "GET", "/index.html", headers={"Range": value})
    assert reply.status == 200 and reply.raw == whole.raw
    assert reply.headers["accept-ranges"] == "none"
    for name, expected in SECURITY_HEADERS:
        assert reply.headers[name] == expected


def test_a_trailing_slash_is_not_found_and_never_reflects_the_host(server: Any) -> None:
    for path in ("/api/info/", "/api/vault/", "/api/bundle/x/"):
        reply = request(server.url, "GET", path, headers={"Host": "evil.example"})
        assert (reply.status, reply.code) == (404, "not_found")
        assert "location" not in reply.headers
        assert b"evil.example" not in reply.raw


def test_inputs_that_only_a_client_causes_write_no_error_line(server_factory: Any) -> None:
    running = server_factory()
    client = make_account(running.url)
    # A text frame that is not UTF-8, on an open websocket: closed with 1007.
    frame = bytes([0x81, 0x83]) + b"\x00\x00\x00\x00" + b"\xff\xfe\xfd"
    raw, _ = exchange(running, HANDSHAKE.encode(), then=frame)
    assert raw.startswith(b"HTTP/1.1 101")
    assert raw.endswith(bytes([0x88, 0x02]) + (1007).to_bytes(2, "big"))
    # A body shorter than its declared length, then the client hangs up.
    short = (
        "POST /api/vault HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {client.token}\r\nContent-Length: 500\r\n\r\n" + '{"writes"'
    ).encode()
    exchange(running, short, half_close=True)
    # A request h11 cannot parse.
    exchange(running, b"G\xffT / HTTP/1.1\r\n\r\n")

    async def still_serving() -> None:
        socket = await open_socket(running.url, client)
        await socket.send({"type": "ping"})
        assert (await socket.expect("pong"))["type"] == "pong"
        await socket.close()

    asyncio.run(still_serving())
    running.stop()
    log = running.log_text()
    assert " ERROR " not in log and " WARNING " not in log, log


async def test_argon2_runs_on_a_fixed_number_of_threads() -> None:
    """What grew: each thread that ran a hash kept a 19 MiB glibc arena after it.

    On the shared pool of the event loop that was up to six threads, about
    110 MiB never returned; now the hashes run on exactly `concurrency`
    threads, whatever the number of logins at once.
    """
    checker = passwords.Passwords(2)
    stored = passwords.HASHER.hash(b"k" * 32)
    results = await asyncio.gather(
        *(checker.verify_login(stored if i % 2 else None, b"k" * 32) for i in range(12)),
        *(asyncio.to_thread(sum, range(10)) for _ in range(12)),
    )
    hashing = {t.name for t in threading.enumerate() if t.name.startswith(passwords.THREAD_PREFIX)}
    checker.close()
    assert results[:12] == [i % 2 == 1 for i in range(12)]
    assert len(hashing) == 2
