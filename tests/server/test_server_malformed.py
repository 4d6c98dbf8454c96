"""Random and structured garbage at every endpoint and every frame type.

Every answer must be a documented error code with its documented HTTP status
(or a success, when the garbage happens to be valid), never a crash or an
undocumented answer, and the server must keep serving: a health request
works after each batch.
"""

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_harness import (
    Account,
    auth_frame,
    auth_signature,
    make_account,
    make_therapist,
    request,
)
from websockets.sync.client import ClientConnection, connect

from crypto.encoding import b64u_decode, b64u_encode

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def documented_errors() -> dict[str, str]:
    """code -> HTTP status column of the error table of docs/API.md."""
    table = API_DOC.read_text().split("## Error codes", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+)` \| *([0-9]*) *\|", table, re.MULTILINE)
    return dict(rows)


DOCUMENTED = documented_errors()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
b64_strings = st.binary(max_size=80).map(b64u_encode) | st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ", max_size=60
)
field_values = json_values | b64_strings | st.integers(min_value=0, max_value=2**32 + 1)

ENDPOINT_FIELDS: dict[tuple[str, str], list[str]] = {
    ("POST", "/api/accounts"): ["role", "handle", "login_key", "identity_key", "sig", "invite"],
    ("POST", "/api/login"): ["handle", "login_key", "kind"],
    ("POST", "/api/vault"): ["writes"],
    ("PUT", "/api/prekeys"): ["signed_prekey", "pq_prekey", "one_time_prekeys"],
    ("PUT", "/api/profile"): ["profile", "sig"],
    ("POST", "/api/logout"): [],
    ("DELETE", "/api/account"): [],
}
GET_PATHS = [
    "/api/vault?since=",
    "/api/bundle/",
    "/api/blocks/",
    "/api/prekeys?x=",
    "/api/sessions?",
    "/api/directory?",
    "/api/info?",
    "/",
    "/app/",
    "/vendor/",
]


def structured(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={name: field_values for name in fields})


def nested_items() -> st.SearchStrategy[Any]:
    prekey = st.fixed_dictionaries(
        {}, optional={"id": field_values, "key": b64_strings, "sig": b64_strings}
    )
    write = st.fixed_dictionaries(
        {},
        optional={
            "id": b64_strings,
            "version": field_values,
            "blob": b64_strings,
            "delete": json_values,
        },
    )
    return st.lists(prekey | write, max_size=4)


def assert_documented(status: int, body: Any) -> None:
    assert status < 500 or status == 503, f"server error {status}: {body}"
    if status >= 400:
        code = body["error"]["code"]
        assert code in DOCUMENTED, f"undocumented code {code}"
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        if DOCUMENTED[code]:
            assert int(DOCUMENTED[code]) == status, (code, status)


@pytest.fixture(scope="module")
def accounts(server: Any) -> dict[str, Account]:
    therapist = make_therapist(server)
    client = make_account(server.url)
    assert therapist.call("PUT", "/api/prekeys", therapist.prekey_upload(50)).status == 200
    return {"therapist": therapist, "client": client}


@EXAMPLES
@given(
    endpoint=st.sampled_from(sorted(ENDPOINT_FIELDS)),
    who=st.sampled_from(["therapist", "client", "nobody"]),
    data=st.data(),
)
def test_http_bodies(
    server: Any, accounts: dict[str, Account], endpoint: Any, who: str, data: Any
) -> None:
    method, path = endpoint
    shape = data.draw(st.sampled_from(["structured", "json", "bytes", "nested"]))
    if shape == "structured":
        raw = json.dumps(data.draw(structured(ENDPOINT_FIELDS[endpoint]))).encode()
    elif shape == "nested":
        name = data.draw(st.sampled_from(ENDPOINT_FIELDS[endpoint] or ["x"]))
        raw = json.dumps({name: data.draw(nested_items())}).encode()
    elif shape == "json":
        raw = json.dumps(data.draw(json_values)).encode()
    else:
        raw = data.draw(st.binary(max_size=200))
    if endpoint == ("DELETE", "/api/account"):
        who = "nobody"
    token = None if who == "nobody" else accounts[who].token
    reply = request(server.url, method, path, raw=raw, token=token)
    assert_documented(reply.status, reply.body)
    assert request(server.url, "GET", "/api/health").status == 200


@EXAMPLES
@given(
    base=st.sampled_from(GET_PATHS),
    tail=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#?"),
        max_size=40,
    ),
    method=st.sampled_from(["GET", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]),
)
def test_http_paths_and_methods(
    server: Any, accounts: dict[str, Account], base: str, tail: str, method: str
) -> None:
    path = base + quote(tail, safe="/=&")
    reply = request(server.url, method, path, token=accounts["client"].token)
    if reply.status >= 400 and method != "HEAD":
        assert_documented(reply.status, reply.body)
    assert reply.status < 500
    assert request(server.url, "GET", "/api/health").status == 200


def authenticate(ws: ClientConnection, account: Account) -> None:
    challenge = json.loads(ws.recv(timeout=20))
    sig = auth_signature(
        account.identity,
        b64u_decode(challenge["server"]),
        b64u_decode(challenge["nonce"]),
        account.id,
    )
    ws.send(json.dumps(auth_frame(account, sig)))
    assert json.loads(ws.recv(timeout=20))["type"] == "ready"


def answer(ws: ClientConnection) -> dict[str, Any]:
    """The next answer to a frame of ours, skipping pushes."""
    while True:
        frame = json.loads(ws.recv(timeout=20))
        if frame["type"] not in ("prekeys_low", "envelope"):
            return frame


FRAME_FIELDS = {
    "send": ["cmid", "to", "env", "vault"],
    "ack": ["id", "vault"],
    "ping": [],
    "auth": ["account", "sig", "token"],
}


@pytest.fixture(scope="module")
def socket(server: Any, accounts: dict[str, Account]) -> Any:
    # A session of its own: the HTTP cases may log the accounts' sessions out.
    device = dataclasses.replace(accounts["client"])
    assert device.login().status == 200
    with connect(server.ws_url, compression=None, max_size=None) as ws:
        authenticate(ws, device)
        yield ws


@EXAMPLES
@given(data=st.data())
def test_websocket_frames(
    server: Any, accounts: dict[str, Account], socket: ClientConnection, data: Any
) -> None:
    shape = data.draw(st.sampled_from(["structured", "json", "text", "bytes", "envelope"]))
    kind = data.draw(st.sampled_from([*FRAME_FIELDS, "unknown"]) | st.text(max_size=8))
    if shape == "structured":
        frame = data.draw(structured(FRAME_FIELDS.get(kind, ["id"])))
        frame["type"] = kind
        socket.send(json.dumps(frame))
    elif shape == "envelope":
        body = bytes([1, data.draw(st.integers(0, 3))]) + data.draw(st.binary(max_size=300))
        frame = {
            "type": "send",
            "cmid": b64u_encode(os.urandom(16)),
            "to": accounts["therapist"].id_text,
        }
        frame["env"] = b64u_encode(body)
        socket.send(json.dumps(frame))
    elif shape == "json":
        socket.send(json.dumps(data.draw(json_values)))
    elif shape == "text":
        socket.send(data.draw(st.text(max_size=200)))
    else:
        socket.send(data.draw(st.binary(max_size=200)))
    reply = answer(socket)
    assert reply["type"] in ("error", "pong", "sent", "acked"), reply
    if reply["type"] == "error":
        assert reply["code"] in DOCUMENTED, reply
        assert reply["message"]
    assert request(server.url, "GET", "/api/health").status == 200
