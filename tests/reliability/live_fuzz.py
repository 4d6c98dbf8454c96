"""A live fuzzer: seeded, structure-aware hostile input against a real server on loopback.

    python tests/reliability/live_fuzz.py --inputs 1000000 --minutes 30 --seed 1

It starts `python -m server` (tests/server/server_process.py) in a temporary
data directory with the rate limits raised (`FUZZ_SETTINGS`), so that inputs
reach the parsers and handlers instead of the limiter, registers real
accounts, and then drives the server with four kinds of input at once:

- `ws`: frames on authenticated websockets, pipelined (`WS_WINDOW` in flight
  per connection): valid `send`, `ack` and `ping` frames built from real
  accounts, real envelope framing and real delivered envelope ids, mutated
  field by field; random JSON, random text, invalid UTF-8 and binary frames;
- `http`: requests on keep-alive connections to every endpoint of
  docs/API.md with real bearer tokens: valid bodies (signed prekeys, signed
  profiles, vault writes, registrations) mutated field by field, broken
  JSON, other methods, paths, queries and headers (`Range`, `Host`,
  `Authorization`, `Upgrade`);
- `opening`: websocket openings whose challenge is answered by a mutated `auth`;
- `raw`: one TCP connection per input: random bytes, byte-flipped requests,
  bodies shorter than declared, upgrades with bodies, broken handshakes,
  raw websocket frames with bad opcodes, lengths or UTF-8.

Every input comes from a `random.Random` seeded from `--seed` and the
worker's number, so a seed gives the same inputs (the answers may differ
with timing, such as which envelope ids exist). A run stops at `--inputs`
or `--minutes`, whichever comes first, and reports inputs by kind and
answers by code.

The run fails on: the server exiting; any 5xx answer or websocket `internal`;
an input without an answer (or a close) within `ANSWER_SECONDS`; an error
whose body, code or status is not in server/errors.py's table; a missing
security header on any HTTP answer or websocket handshake (all of them are
the application's or server/transport.py's); an ERROR or CRITICAL line in
the server's log; a failed health check during the run or the real round
trip after it; resident memory (VmRSS from /proc) that grows by more than
`MEMORY_SLACK` over the last half of the run. tests/reliability/
test_reliability_live_fuzz.py runs a short seeded run on every `make test`;
`make soak` runs a million inputs.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for path in (HERE.parent.parent, HERE.parent / "server"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import websockets  # noqa: E402
from group_harness import FakeSender, Group, register  # noqa: E402
from server_harness import (  # noqa: E402
    Account,
    auth_signature,
    make_account,
    make_therapist,
    open_socket,
)
from server_process import TEST_SETTINGS, RunningServer  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from crypto import signatures  # noqa: E402
from crypto.constants import BUCKETS, CTX_PROFILE, CTX_REGISTER  # noqa: E402
from crypto.encoding import b64u_decode, b64u_encode  # noqa: E402
from crypto.envelope import Header, MessageEnvelope  # noqa: E402
from crypto.keys import IdentityKeyPair  # noqa: E402
from server.errors import ALL_ERRORS  # noqa: E402
from server.headers import SECURITY_HEADERS  # noqa: E402

# Every input is answered, or its connection closed, within this bound; the
# server's own bounds (auth_timeout, the writer) are well below it.
ANSWER_SECONDS = 10.0
# Growth of VmRSS allowed between the middle and the end of a run.
MEMORY_SLACK = 24 * 1024 * 1024
HEALTH_SECONDS = 2.0
PROGRESS_SECONDS = 60.0
WS_WINDOW = 64
ERROR_STATUS = {error.code: error.status for error in ALL_ERRORS}
REQUIRED_HEADERS = [name for name, _ in SECURITY_HEADERS]
WS_ANSWERS = {"sent", "acked", "group_sent", "group_acked", "pong", "error"}
WS_PUSHES = {
    "envelope",
    "group",
    "group_left",
    "prekeys_low",
    "vault_changed",
    "profile_changed",
    "ready",
    "challenge",
}
# Shares of the inputs, as in the hostile run of issue 24.
SHARES = {"ws": 0.80, "http": 0.13, "opening": 0.04, "raw": 0.03}
WORKERS = {"ws": 8, "http": 6, "opening": 2, "raw": 2}
# Limits raised so that inputs reach the parsers, not the rate limiter.
FUZZ_SETTINGS = {
    **TEST_SETTINGS,
    "register_rate": 100_000,
    "register_burst": 100_000,
    "login_rate": 100_000,
    "login_burst": 100_000,
    "api_rate": 1_000_000,
    "api_burst": 1_000_000,
    "ws_rate": 1_000_000,
    "ws_burst": 1_000_000,
    "max_inbox": 1_000_000,
    "max_pending_per_sender": 1_000_000,
    "max_pending_bytes": 1024 * 1024 * 1024,
    # The fuzzer's own reader shares two cores with the server: a deeper
    # queue keeps a busy moment from closing its connections as non-reading.
    # Still bounded: each reconnect replays the backlog into it.
    "send_queue_frames": 4096,
    "send_queue_bytes": 32 * 1024 * 1024,
}


@dataclass
class Report:
    inputs: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    seconds: float = 0.0
    error_lines: list[str] = field(default_factory=list)
    warning_lines: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)
    asked: int = 0

    @property
    def total(self) -> int:
        return sum(self.inputs.values())

    def fail(self, what: str, sample: Any) -> None:
        if len(self.failures) < 50:
            self.failures.append(f"{what}; input: {repr(sample)[:300]}")

    def summary(self) -> str:
        lines = [f"{self.total} of {self.asked} inputs in {self.seconds:.0f} s"]
        if self.total < self.asked:
            lines[0] += ": stopped at the time bound"
        lines.append(
            "each kind done after: "
            + ", ".join(f"{kind} {seconds:.0f} s" for kind, seconds in self.finished.items())
        )
        by_kind = Counter()
        for label, count in self.inputs.items():
            by_kind[label.split(" ", 1)[0]] += count
        lines.append("inputs by kind: " + ", ".join(f"{k} {v}" for k, v in by_kind.most_common()))
        lines += [f"  {count:>8}  {label}" for label, count in sorted(self.inputs.items())]
        lines.append("answers by code:")
        lines += [f"  {count:>8}  {label}" for label, count in sorted(self.answers.items())]
        if self.rss:
            mib = [r / 2**20 for _, r in self.rss]
            tenths = [mib[min(len(mib) - 1, len(mib) * i // 10)] for i in range(11)]
            lines.append(
                "server RSS MiB at each tenth of the run: "
                + " ".join(f"{value:.0f}" for value in tenths)
                + f" (peak {max(mib):.0f}, {len(mib)} samples)"
            )
        lines.append(", ".join(f"{who} CPU {seconds:.0f} s" for who, seconds in self.cpu.items()))
        lines.append(f"server log: {len(self.error_lines)} ERROR, {self.warning_lines} WARNING")
        lines.append(f"failures: {len(self.failures)}")
        lines += ["  " + failure for failure in self.failures]
        return "\n".join(lines)


class Budget:
    """How many inputs of one kind are left, shared by that kind's workers."""

    def __init__(self, count: int, deadline: float) -> None:
        self.left = count
        self.deadline = deadline

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() > self.deadline:
            return False
        self.left -= 1
        return True


# --- Values and mutations -------------------------------------------------------------

EDGE_INTS = [0, -1, 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40]
EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",
    "a\udfffb",
    "\U0001f600",
    "\u202e",
    "é" * 40,
    "A" * 22,
    "A" * 21 + "=",
    "%00",
    "../../etc/passwd",
    "null",
    "9223372036854775808",
    "0" * 30,
]

EDGE_CURSORS = ["", "-1", "1e3", "9223372036854775807", "9223372036854775808", "9" * 40]
EDGE_CURSORS += ["\u0663", "0x10", "1%20", "%00", "%ED%A0%80", "\ud800"]


def b64_noise(rng: random.Random, text: str) -> str:
    """A near miss of a base64url string: one change a parser must notice."""
    if not text:
        return rng.choice(["A", "==", "-_"])
    at = rng.randrange(len(text))
    choice = rng.randrange(7)
    if choice == 0:
        return text[:at]
    if choice == 1:
        return text + rng.choice(["A", "AA", "=", "==", "+", "/"])
    if choice == 2:
        return text[:at] + rng.choice("+/=!.~ \u00e9\ud800") + text[at + 1 :]
    if choice == 3:
        return text[:at] + rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_")
    if choice == 4:
        return base64.b64encode(b64u_decode_loose(text)).decode()
    if choice == 5:
        return text.swapcase()
    return text * rng.randint(2, 40)


def b64u_decode_loose(text: str) -> bytes:
    try:
        return b64u_decode(text)
    except Exception:
        return text.encode("utf-8", "surrogatepass")


def random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 8)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice(EDGE_INTS)
    if choice == 3:
        return rng.uniform(-1e300, 1e300)
    if choice == 4:
        return rng.choice(EDGE_TEXT)
    if choice == 5:
        return b64u_encode(rng.randbytes(rng.choice([0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65])))
    if choice == 6:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(12)))
    if choice == 7:
        return rng.randrange(-1000, 100_000)
    if choice in (8, 9):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice([*EDGE_TEXT, "id", "version", "blob", "type"]): random_value(rng, depth + 1)
        for _ in range(rng.randrange(4))
    }


def mutate_value(rng: random.Random, value: Any) -> tuple[str, Any]:
    """One change to a valid field value; returns its label and the new value."""
    if isinstance(value, str) and rng.random() < 0.6:
        return "b64-noise", b64_noise(rng, value)
    if isinstance(value, bool):
        return "flip", not value
    if isinstance(value, int) and rng.random() < 0.6:
        return "int-edge", rng.choice([*EDGE_INTS, value + 1, value - 1, -value, float(value)])
    if isinstance(value, list) and value and rng.random() < 0.6:
        items = list(value)
        at = rng.randrange(len(items))
        step = rng.randrange(4)
        if step == 0:
            items.append(items[at])
            return "list-duplicate", items
        if step == 1:
            items[at] = mutate_object(rng, items[at])[1] if isinstance(items[at], dict) else None
            return "list-item", items
        if step == 2:
            return "list-many", items * rng.randint(20, 300)
        return "list-drop", items[:at]
    if isinstance(value, dict) and value and rng.random() < 0.7:
        return mutate_object(rng, value)
    return "type", random_value(rng)


def mutate_object(rng: random.Random, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One field-by-field change to a valid JSON object."""
    out = dict(data)
    names = list(out)
    step = rng.randrange(10)
    if step == 0 and names:
        del out[rng.choice(names)]
        return "drop-field", out
    if step == 1:
        out[rng.choice([*EDGE_TEXT, "extra", "Type", "type "])] = random_value(rng)
        return "extra-field", out
    if names:
        name = rng.choice(names)
        label, out[name] = mutate_value(rng, out[name])
        return f"{name}:{label}", out
    return "empty", out


def render(rng: random.Random, data: Any) -> tuple[str, bytes]:
    """JSON bytes of `data`, sometimes broken on the way."""
    step = rng.randrange(20)
    if step == 0:
        text = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
        return "raw-utf8", text
    raw = json.dumps(data).encode()
    if step == 1:
        return "truncated", raw[: rng.randrange(max(1, len(raw)))]
    if step == 2 and raw:
        at = rng.randrange(len(raw))
        return "byte-flip", raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1 :]
    if step == 3:
        return "nested", b"[" * 5000 + raw + b"]" * 5000
    if step == 4:
        return "duplicate-keys", raw[:-1] + b"," + raw[1:] if raw[:1] == b"{" else raw
    if step == 5:
        return "random-bytes", rng.randbytes(rng.randrange(200))
    return "json", raw


# --- The accounts and valid inputs ------------------------------------------------------


@dataclass
class World:
    server: RunningServer
    server_id: bytes
    therapists: list[Account]
    clients: list[Account]
    # Accounts for `opening` inputs: a valid auth there would move a worker's session.
    openers: list[Account]
    blockable: Account
    prekey_uploads: list[dict[str, Any]]
    # A group every therapist and client is a member of (the first therapist moderates).
    group: Group
    # Envelope ids delivered to each account, for its own valid `ack` frames.
    delivered: dict[bytes, deque[str]] = field(default_factory=dict)
    # Group item ids delivered to each account, for its own valid `group_ack` frames.
    group_items: dict[bytes, deque[str]] = field(default_factory=dict)
    spare_tokens: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    spare_logins: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=200))


def make_world(running: RunningServer) -> World:
    therapists = [make_therapist(running) for _ in range(WORKERS["ws"] // 2 + 1)]
    clients = [make_account(running.url) for _ in range(WORKERS["ws"] - WORKERS["ws"] // 2 + 1)]
    openers = [make_account(running.url) for _ in range(2)]
    uploads = []
    for therapist in therapists:
        upload = therapist.prekey_upload(50, first_id=1)
        reply = therapist.call("PUT", "/api/prekeys", upload)
        assert reply.status == 200, reply.body
        uploads.append(upload)
    group = Group(therapists[0])
    assert group.create("Fuzzed circle").status == 201
    group.admit(*(register(group, account) for account in [*therapists[1:], *clients]))
    return World(
        server=running,
        server_id=b64u_decode(running.get_json("/api/info")["server_id"]),
        therapists=therapists,
        clients=clients,
        openers=openers,
        blockable=make_account(running.url),
        prekey_uploads=uploads,
        group=group,
    )


def envelope_text(rng: random.Random) -> str:
    bucket = BUCKETS[0] if rng.random() < 0.9 else rng.choice(BUCKETS[:3])
    header = Header(rng.randbytes(32), 0, rng.randrange(2**32))
    return b64u_encode(MessageEnvelope(header, rng.randbytes(bucket + 16)).encode())


def group_message_text(rng: random.Random, world: World) -> str:
    """A group message with random ciphertext, signed by a fresh sender key: valid framing."""
    sender = FakeSender(rng.randbytes(32), rng.randrange(2**32))
    bucket = BUCKETS[0] if rng.random() < 0.9 else rng.choice(BUCKETS[:3])
    return b64u_encode(sender.message(world.group, world.group.version, bucket))


def vault_writes(rng: random.Random) -> list[dict[str, Any]]:
    writes = []
    for _ in range(rng.choice([0, 1, 1, 2])):
        item = {"id": b64u_encode(rng.randbytes(16)), "version": rng.choice([1, 1, 2])}
        if rng.random() < 0.2:
            item["delete"] = True
        else:
            item["blob"] = b64u_encode(b"\x01" + rng.randbytes(24 + 256 + 16))
        writes.append(item)
    return writes


def profile_body(rng: random.Random, therapist: Account, mutate: bool) -> tuple[str, Any]:
    profile: dict[str, Any] = {
        "display_name": "Dr. " + rng.choice(["Ada", "Bo", "Cy"]),
        "pronouns": "they/them",
        "specialties": ["anxiety", "grief"],
        "languages": ["English", "العربية"],
        "response_time": "a day",
        "accepting": True,
    }
    label = "valid"
    if mutate:
        label, profile = mutate_object(rng, profile)
    text = json.dumps(profile).encode()
    if mutate and rng.random() < 0.3:
        label, text = render(rng, profile)
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, text)
    return f"profile-{label}", {"profile": b64u_encode(text), "sig": b64u_encode(sig)}


def registration(rng: random.Random, world: World) -> dict[str, Any]:
    handle = "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(8))
    identity = IdentityKeyPair.from_seed(rng.randbytes(32))
    sig = signatures.sign(identity.seed, CTX_REGISTER, world.server_id + handle.encode())
    return {
        "role": "client",
        "handle": handle,
        "login_key": b64u_encode(rng.randbytes(32)),
        "identity_key": b64u_encode(identity.public),
        "sig": b64u_encode(sig),
    }


# --- HTTP ----------------------------------------------------------------------------


# How often each endpoint is chosen. Registration and login are rare: each
# valid one costs an Argon2id hash, about what a thousand frames cost.
ENDPOINT_WEIGHTS = {
    "info": 4,
    "health": 3,
    "directory": 4,
    "vault-get": 8,
    "vault-post": 12,
    "prekeys-put": 6,
    "prekeys-get": 3,
    "bundle": 6,
    "profile": 10,
    "blocks-get": 3,
    "block-put": 3,
    "block-delete": 3,
    "register": 0.5,
    "login": 0.5,
    "logout": 2,
    "delete": 2,
    "static": 6,
    "notifications-get": 2,
    "notifications-put": 4,
    "notifications-delete": 1,
    "notifications-test": 2,
    "groups-mine": 1,
    "group-get": 2,
    "group-messages": 2,
    "group-post": 3,
}


@dataclass
class HttpInput:
    label: str
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


def build_http(rng: random.Random, world: World) -> HttpInput:
    """A request to one endpoint of docs/API.md: valid, or valid with one change."""
    therapist = rng.choice(world.therapists)
    client = rng.choice(world.clients)
    caller = therapist if rng.random() < 0.5 else client
    mutate = rng.random() < 0.85
    token = caller.token
    body: Any = None
    query = ""
    endpoint = rng.choices(list(ENDPOINT_WEIGHTS), weights=list(ENDPOINT_WEIGHTS.values()))[0]
    method, path = "GET", "/api/" + endpoint
    label = "valid"
    if endpoint == "vault-get":
        path = "/api/vault"
        since = str(rng.randrange(100))
        if mutate:
            since = rng.choice([*EDGE_CURSORS, str(rng.randrange(2**64))])
            label = "since"
        query = "?since=" + since
    elif endpoint == "vault-post":
        method, path, body = "POST", "/api/vault", {"writes": vault_writes(rng)}
    elif endpoint == "prekeys-put":
        method, path, body = "PUT", "/api/prekeys", rng.choice(world.prekey_uploads)
        if rng.random() < 0.5:
            body = {name: value for name, value in body.items() if name != "one_time_prekeys"}
    elif endpoint == "prekeys-get":
        path = "/api/prekeys"
    elif endpoint == "bundle":
        path = "/api/bundle/" + rng.choice(world.therapists).id_text
        if mutate:
            path = "/api/bundle/" + b64_noise(rng, rng.choice(world.therapists).id_text)
            label = "account"
    elif endpoint == "profile":
        method, path = "PUT", "/api/profile"
        token = therapist.token
        label, body = profile_body(rng, therapist, mutate)
        mutate = mutate and rng.random() < 0.3
    elif endpoint in ("blocks-get", "block-put", "block-delete"):
        token = therapist.token
        path = "/api/blocks"
        if endpoint != "blocks-get":
            method = "PUT" if endpoint == "block-put" else "DELETE"
            target = world.blockable.id_text
            path += "/" + (b64_noise(rng, target) if mutate else target)
    elif endpoint == "register":
        method, path = "POST", "/api/accounts"
        body = registration(rng, world)
        if not mutate:
            world.spare_logins.append((body["handle"], body["login_key"]))
    elif endpoint == "login":
        method, path = "POST", "/api/login"
        if world.spare_logins and rng.random() < 0.7:
            handle, login_key = rng.choice(world.spare_logins)
        else:
            handle, login_key = caller.handle, b64u_encode(caller.login_key)
        body = {"handle": handle, "login_key": login_key}
    elif endpoint in ("logout", "delete"):
        method = "POST" if endpoint == "logout" else "DELETE"
        path = "/api/logout" if endpoint == "logout" else "/api/account"
        # Only tokens of accounts made during the run are ever ended for real.
        token = world.spare_tokens.popleft() if world.spare_tokens else "x" * 43
        if mutate:
            token = b64_noise(rng, token)
    elif endpoint.startswith("notifications"):
        token = therapist.token
        path = "/api/notifications"
        # Channels are only ever turned off: a fuzzed address must never be
        # one the server would deliver to.
        if endpoint == "notifications-put":
            method, body = "PUT", {"email": None, "push_url": None}
        elif endpoint == "notifications-delete":
            method = "DELETE"
        elif endpoint == "notifications-test":
            method, path, body = "POST", "/api/notifications/test", {"channel": "push"}
    elif endpoint == "groups-mine":
        path = "/api/groups"
    elif endpoint.startswith("group-"):
        group = world.group.id_text
        if mutate and rng.random() < 0.5:
            group = b64_noise(rng, group)
            label = "group"
        path = f"/api/groups/{group}"
        if endpoint == "group-messages":
            path += "/messages"
        elif endpoint == "group-post":
            method, path = "POST", path + "/messages"
            body = {"msg": group_message_text(rng, world)}
    elif endpoint == "static":
        path = rng.choice(
            ["/", "/index.html", "/app/main.js", "/css/app.css", "/help.html", "/img/x.png"]
        )
        if rng.random() < 0.02:
            path = "/vendor/libsodium-wrappers.js"
    headers = [("Host", "127.0.0.1")]
    if token is not None and path.startswith("/api/"):
        headers.append(("Authorization", f"Bearer {token}"))
    raw = b""
    if body is not None:
        if mutate and isinstance(body, dict) and endpoint != "profile":
            label, body = mutate_object(rng, body)
        kind, raw = render(rng, body) if mutate else ("json", json.dumps(body).encode())
        if kind != "json":
            label = kind
        headers.append(("Content-Type", "application/json"))
    if mutate and rng.random() < 0.25:
        label, method, path, query, headers, raw = mutate_request(
            rng, method, path, query, headers, raw
        )
    headers.append(("Content-Length", str(len(raw))))
    return HttpInput(f"http {method} {endpoint} {label}", method, path + query, headers, raw)


def mutate_request(
    rng: random.Random,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    raw: bytes,
) -> tuple[str, str, str, str, list[tuple[str, str]], bytes]:
    """One change outside the body: method, path, query or headers."""
    step = rng.randrange(11)
    if step == 0:
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
        return "method", method, path, query, headers, raw
    if step == 1:
        return "trailing-slash", method, path + "/", query, headers, raw
    if step == 2:
        tail = rng.choice(["%2e%2e/%2e%2e/", "..", "%00", "%ff", "%ED%A0%80", "a" * 3000, "//x"])
        return "path", method, path + "/" + tail, query, headers, raw
    if step == 3:
        return (
            "query",
            method,
            path,
            "?" + rng.choice(["since", "=&=&", "a=%ff", "x" * 5000]),
            headers,
            raw,
        )
    if step == 4:
        headers = [(k, v) for k, v in headers if k != "Host"] + [("Host", "evil.example")]
        return "host", method, path, query, headers, raw
    if step == 5:
        auth = rng.choice(
            ["", "Bearer", "Bearer ", "Basic abc", "Bearer " + "A" * 5000, "Bearer é"]
        )
        headers = [(k, v) for k, v in headers if k != "Authorization"] + [("Authorization", auth)]
        return "authorization", method, path, query, headers, raw
    if step == 6:
        ranges = ["bytes=zz", "bytes=99999999-", "bytes=5-1", "bytes=0-0,1-1,2-2", "pages=1-2", ""]
        headers = [*headers, ("Range", rng.choice(ranges))]
        return "range", method, path, query, headers, raw
    if step == 7:
        headers = [
            *headers,
            ("Content-Type", rng.choice(["text/plain", "application/json; x", "é"])),
        ]
        return "content-type", method, path, query, headers, raw
    if step == 8:
        headers = [*headers, ("X-" + "a" * rng.randrange(1, 200), "b" * rng.randrange(3000))]
        return "long-header", method, path, query, headers, raw
    if step == 9:
        headers = [*headers, ("Expect", "100-continue")]
        return "expect", method, path, query, headers, raw
    return "random-body", method, path, query, headers, rng.randbytes(rng.randrange(400))


def encode_request(item: HttpInput) -> bytes:
    head = f"{item.method} {item.target} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in item.headers)
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + item.body


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


async def read_answer(reader: asyncio.StreamReader, head_only: bool) -> HttpAnswer:
    """The final answer; interim ones (`100 Continue`) are skipped."""
    while True:
        answer = await read_one_answer(reader, head_only)
        if not 100 <= answer.status < 200 or answer.status == 101:
            return answer


async def read_one_answer(reader: asyncio.StreamReader, head_only: bool) -> HttpAnswer:
    status_line = await reader.readuntil(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(parts[1])
    body = b""
    if head_only or status in (204, 304) or 100 <= status < 200:
        return HttpAnswer(status, headers, body)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    return HttpAnswer(status, headers, body)


def check_answer(report: Report, answer: HttpAnswer, what: str, sample: Any) -> None:
    """The rules every HTTP answer keeps; tallies it by status and code."""
    code = ""
    missing = [name for name in REQUIRED_HEADERS if name not in answer.headers]
    if missing:
        report.fail(f"{what}: {answer.status} without {', '.join(missing)}", sample)
    if answer.status >= 500:
        report.fail(f"{what}: server error {answer.status} {answer.body[:200]!r}", sample)
    if answer.status >= 400 and answer.body:
        try:
            error = json.loads(answer.body)["error"]
            code = error["code"]
            if ERROR_STATUS.get(code) != answer.status or not error["message"]:
                report.fail(f"{what}: {answer.status} {code} is not in the error table", sample)
        except (ValueError, KeyError, TypeError):
            report.fail(f"{what}: {answer.status} body is not a documented error", sample)
    elif answer.status >= 400:
        code = "(no body)"
        if answer.headers.get("content-type") != "application/json":
            report.fail(f"{what}: {answer.status} is not application/json", sample)
    report.answers[f"http {answer.status} {code}".rstrip()] += 1


async def open_http(world: World) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = "127.0.0.1", world.server.port
    return await asyncio.wait_for(asyncio.open_connection(host, port), ANSWER_SECONDS)


async def http_worker(rng: random.Random, world: World, budget: Budget, report: Report) -> None:
    reader, writer = await open_http(world)
    try:
        while budget.take():
            item = build_http(rng, world)
            report.inputs[item.label] += 1
            try:
                writer.write(encode_request(item))
                answer = await asyncio.wait_for(
                    read_answer(reader, item.method == "HEAD"), ANSWER_SECONDS
                )
            except TimeoutError:
                report.fail(f"{item.label}: no answer within {ANSWER_SECONDS} s", item)
                answer = None
            except (ConnectionError, asyncio.IncompleteReadError, ValueError) as error:
                report.fail(f"{item.label}: connection broke ({type(error).__name__})", item)
                answer = None
            if answer is not None:
                check_answer(report, answer, item.label, item)
                remember_token(world, item, answer)
            if answer is None or answer.headers.get("connection") == "close":
                writer.close()
                reader, writer = await open_http(world)
    finally:
        writer.close()


def remember_token(world: World, item: HttpInput, answer: HttpAnswer) -> None:
    if answer.status == 200 and item.target == "/api/login":
        token = json.loads(answer.body)["token"]
        handle = json.loads(item.body)["handle"]
        if all(handle != account.handle for account in world.clients + world.therapists):
            world.spare_tokens.append(token)


# --- Websocket frames ---------------------------------------------------------------


def build_frame(rng: random.Random, world: World, me: Account) -> tuple[str, str | bytes, bool]:
    """(label, frame, as text) for one authenticated connection."""
    # About as many valid acks as valid sends, so that inboxes do not grow.
    kind = rng.choices(
        ["send", "ack", "group_send", "group_ack", "ping", "junk"], weights=[36, 28, 9, 7, 10, 10]
    )[0]
    if kind == "junk":
        # Step 5, a frame of a mebibyte, is rarer: it costs a thousand small ones.
        step = rng.choices(range(6), weights=[20, 20, 20, 20, 20, 1])[0]
        if step == 0:
            return "ws junk invalid-utf8", b'{"type": "ping", "x": "\xff\xfe"}', True
        if step == 1:
            return "ws junk binary", rng.randbytes(rng.randrange(64)), False
        if step == 2:
            return "ws junk text", "".join(chr(rng.randrange(1, 0x800)) for _ in range(30)), True
        if step == 3:
            return "ws junk json", json.dumps(random_value(rng)), True
        if step == 4:
            frame = {"type": rng.choice(["auth", "envelope", "sent", "", "PING", *EDGE_TEXT])}
            return "ws junk type", json.dumps(frame), True
        return "ws junk oversize", '{"type": "ping", "p": "' + "A" * (1024 * 1024 + 10) + '"}', True
    if kind == "send":
        others = world.therapists if me.role == "client" else world.clients + world.therapists
        frame: dict[str, Any] = {
            "type": "send",
            "cmid": b64u_encode(rng.randbytes(16)),
            "to": rng.choice([a for a in others if a is not me]).id_text,
            "env": envelope_text(rng),
        }
        if rng.random() < 0.2:
            frame["vault"] = vault_writes(rng)
    elif kind == "ack":
        mine = world.delivered.setdefault(me.id, deque(maxlen=2000))
        envelope = mine.popleft() if mine else b64u_encode(rng.randbytes(16))
        frame = {"type": "ack", "id": envelope}
        if rng.random() < 0.2:
            frame["vault"] = vault_writes(rng)
    elif kind == "group_send":
        frame = {
            "type": "group_send",
            "cmid": b64u_encode(rng.randbytes(16)),
            "group": world.group.id_text,
            "msg": group_message_text(rng, world),
        }
    elif kind == "group_ack":
        mine = world.group_items.setdefault(me.id, deque(maxlen=2000))
        item = mine.popleft() if mine else b64u_encode(rng.randbytes(16))
        frame = {"type": "group_ack", "group": world.group.id_text, "id": item}
        if rng.random() < 0.2:
            frame["vault"] = vault_writes(rng)
    else:
        frame = {"type": "ping"}
    label = "valid"
    if rng.random() < 0.6:
        label, frame = mutate_object(rng, frame)
        if rng.random() < 0.2:
            label, raw = render(rng, frame)
            text = raw.decode("utf-8", "surrogateescape")
            try:
                text.encode()
            except UnicodeEncodeError:
                return f"ws {kind} {label}", raw, True
            return f"ws {kind} {label}", text, True
    return f"ws {kind} {label}", json.dumps(frame), True


def check_security_headers(report: Report, headers: Any, what: str) -> None:
    missing = [name for name in REQUIRED_HEADERS if name not in headers]
    if missing:
        report.fail(f"{what}: handshake without {', '.join(missing)}", what)


async def ws_worker(
    rng: random.Random, world: World, me: Account, budget: Budget, report: Report
) -> None:
    while budget.left > 0 and time.monotonic() < budget.deadline:
        socket = await open_socket(world.server.url, me)
        check_security_headers(report, socket.ws.response.headers, "ws handshake")
        await ws_session(rng, world, me, socket.ws, budget, report)


async def ws_session(
    rng: random.Random,
    world: World,
    me: Account,
    ws: ClientConnection,
    budget: Budget,
    report: Report,
) -> None:
    """Pipeline frames on one connection until the budget ends or the server closes it."""
    waiting: deque[tuple[float, str, Any]] = deque()
    room = asyncio.Event()
    room.set()
    closed = asyncio.Event()

    async def read() -> None:
        try:
            async for message in ws:
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "envelope":
                    world.delivered.setdefault(me.id, deque(maxlen=2000)).append(frame["id"])
                if kind == "group":
                    world.group_items.setdefault(me.id, deque(maxlen=2000)).append(frame["id"])
                if kind == "error":
                    code = frame.get("code")
                    report.answers[f"ws error {code}"] += 1
                    if code not in ERROR_STATUS or code == "internal" or not frame.get("message"):
                        sample = waiting[0][2] if waiting else None
                        report.fail(f"ws: error {code} outside the table or internal", sample)
                elif kind in WS_ANSWERS:
                    report.answers[f"ws {kind}"] += 1
                elif kind not in WS_PUSHES:
                    report.fail(f"ws: unknown frame type {kind!r}", frame)
                if kind in WS_ANSWERS and waiting:
                    waiting.popleft()
                    room.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            closed.set()

    reader = asyncio.create_task(read())
    try:
        while not closed.is_set():
            if waiting and time.monotonic() - waiting[0][0] > ANSWER_SECONDS:
                report.fail(f"{waiting[0][1]}: no answer within {ANSWER_SECONDS} s", waiting[0][2])
                break
            if len(waiting) >= WS_WINDOW:
                room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(room.wait(), 1.0)
                continue
            if not budget.take():
                await drain(waiting, closed, report)
                break
            label, frame, text = build_frame(rng, world, me)
            report.inputs[label] += 1
            # Text that is not UTF-8 closes the connection (1007), and a frame
            # over uvicorn's limit may (1009): the frames in flight are
            # answered first, so that every answer is seen and checked.
            closing = (isinstance(frame, bytes) and text) or "oversize" in label
            if closing and not await drain(waiting, closed, report):
                break
            waiting.append((time.monotonic(), label, frame))
            try:
                if isinstance(frame, bytes) and text:
                    await ws.send(frame, text=True)
                else:
                    await ws.send(frame)
            except websockets.ConnectionClosed:
                break
            if closing:
                # Frames sent after it would meet a closed socket, whose reset
                # can destroy the close frame before it is read.
                await wait_close_or_answers(ws, waiting, closed)
    finally:
        await ws.close()
        await reader
    if ws.close_code not in (None, 1000, 1007, 1009, 1008):
        last = waiting[0][1:] if waiting else None
        report.fail(f"ws: closed with code {ws.close_code} {ws.close_reason!r}", last)
    if ws.close_code not in (None, 1000):
        report.answers[f"ws close {ws.close_code}"] += 1


async def wait_close_or_answers(
    ws: ClientConnection, waiting: deque[tuple[float, str, Any]], closed: asyncio.Event
) -> None:
    deadline = time.monotonic() + ANSWER_SECONDS
    while waiting and not closed.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    waiting.clear()


async def drain(
    waiting: deque[tuple[float, str, Any]], closed: asyncio.Event, report: Report
) -> bool:
    """Wait for every frame in flight to be answered; False if the connection ended first."""
    deadline = time.monotonic() + ANSWER_SECONDS
    while waiting and not closed.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    if waiting and not closed.is_set():
        report.fail(f"{waiting[0][1]}: no answer within {ANSWER_SECONDS} s", waiting[0][2])
    return not closed.is_set()


# --- Websocket openings ----------------------------------------------------------------


async def opening_worker(rng: random.Random, world: World, budget: Budget, report: Report) -> None:
    while budget.take():
        me = rng.choice(world.openers)
        mutate = rng.random() < 0.9
        label = "valid"
        try:
            ws = await asyncio.wait_for(
                connect(world.server.ws_url, compression=None, max_size=None), ANSWER_SECONDS
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
            report.inputs["opening connect"] += 1
            report.fail(f"opening: handshake failed ({type(error).__name__})", None)
            continue
        check_security_headers(report, ws.response.headers, "opening")
        try:
            challenge = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_SECONDS))
            sid, nonce = b64u_decode(challenge["server"]), b64u_decode(challenge["nonce"])
            if rng.random() < 0.3:
                nonce = rng.randbytes(len(nonce))
                label = "stale-nonce"
            sig = auth_signature(me.identity, sid, nonce, me.id)
            frame: Any = {
                "type": "auth",
                "account": me.id_text,
                "sig": b64u_encode(sig),
                "token": me.token,
            }
            if mutate:
                label, frame = mutate_object(rng, frame)
            report.inputs[f"opening auth {label}"] += 1
            if rng.random() < 0.05:
                await ws.send(b"\x00\x01", text=False)
            else:
                await ws.send(json.dumps(frame))
            frames = []
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), ANSWER_SECONDS)))
                if frames[-1].get("type") in ("ready", "error"):
                    break
            last = frames[-1]
            if last["type"] == "error":
                report.answers[f"opening error {last.get('code')}"] += 1
                if last.get("code") not in ERROR_STATUS or last.get("code") == "internal":
                    report.fail(f"opening: error {last.get('code')}", frame)
            else:
                report.answers["opening ready"] += 1
        except websockets.ConnectionClosed:
            report.answers[f"opening close {ws.close_code}"] += 1
        except TimeoutError:
            report.fail(f"opening {label}: no answer within {ANSWER_SECONDS} s", label)
        finally:
            await ws.close()


# --- Raw TCP ---------------------------------------------------------------------------


def ws_frame(rng: random.Random, opcode: int, payload: bytes, masked: bool = True) -> bytes:
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    else:
        head += bytes([mask_bit | 126]) + len(payload).to_bytes(2, "big")
    if not masked:
        return head + payload
    mask = rng.randbytes(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


HANDSHAKE = (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


@dataclass
class RawInput:
    label: str
    data: bytes
    # Whether to end the sending side afterwards (so the server sees the end).
    half_close: bool = True
    # Sent after the websocket challenge: uvicorn drops bytes that come with
    # the opening request itself.
    then: bytes = b""


def build_raw(rng: random.Random, world: World) -> RawInput:
    token = rng.choice(world.clients).token
    valid = (
        f"POST /api/vault HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        'Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{"writes": []}'
    ).encode()
    step = rng.randrange(12)
    if step == 0:
        return RawInput("raw random-bytes", rng.randbytes(rng.randrange(1, 300)), True)
    if step == 1:
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return RawInput("raw byte-flip", bytes(data), True)
    if step == 2:
        declared = valid.replace(b"Content-Length: 13", b"Content-Length: 500")
        return RawInput("raw short-body", declared, True)
    if step == 3:
        upgrade = valid.replace(b"Host:", b"Connection: Upgrade\r\nUpgrade: websocket\r\nHost:")
        return RawInput("raw upgrade-with-body", upgrade, False)
    if step == 4:
        headers = HANDSHAKE.split("\r\n")
        del headers[rng.randrange(2, len(headers) - 1)]
        return RawInput(
            "raw handshake-missing-header", ("\r\n".join(headers) + "\r\n").encode(), True
        )
    if step == 5:
        bad = HANDSHAKE.replace("Version: 13", rng.choice(["Version: 8", "Version: x"]))
        bad = bad.replace("GET /ws", rng.choice(["GET /ws", "POST /ws", "GET /api/info"]))
        return RawInput("raw handshake-bad", (bad + "\r\n").encode(), True)
    if step == 6:
        opcode = rng.choice([0x1, 0x2, 0x3, 0x7, 0xB, 0x0, 0x9, 0xA, 0x8])
        frame = ws_frame(rng, opcode, rng.randbytes(rng.randrange(140)), rng.random() < 0.8)
        # A data frame ends the unauthenticated connection at once; after a
        # control frame, one is sent so the input does not wait for auth_timeout.
        frame += ws_frame(rng, 0x1, b"{}")
        return RawInput("raw ws-frame", (HANDSHAKE + "\r\n").encode(), then=frame)
    if step == 7:
        frame = ws_frame(rng, 0x1, b"\xff\xfe\xfd")
        return RawInput("raw ws-invalid-utf8", (HANDSHAKE + "\r\n").encode(), then=frame)
    if step == 8:
        return RawInput("raw pipelined", b"GET /api/health HTTP/1.1\r\nHost: a\r\n\r\n" * 3, True)
    if step == 9:
        line = rng.choice([b"GET / HTTP/9.9", b"GET /\x00 HTTP/1.1", b"G\xffT / HTTP/1.1", b" / "])
        return RawInput("raw request-line", line + b"\r\nHost: a\r\n\r\n", True)
    if step == 10:
        huge = valid.replace(b"Content-Length: 13", b"Content-Length: 99999999")
        return RawInput("raw too-large", huge)
    return RawInput(
        "raw chunked", valid.replace(b"Content-Length: 13", b"Transfer-Encoding: chunked"), True
    )


async def raw_worker(rng: random.Random, world: World, budget: Budget, report: Report) -> None:
    while budget.take():
        item = build_raw(rng, world)
        report.inputs[item.label] += 1
        try:
            reader, writer = await open_http(world)
        except (OSError, TimeoutError):
            report.fail(f"{item.label}: cannot connect", item)
            continue
        received = b""
        try:
            writer.write(item.data)
            if item.then:
                while b"challenge" not in received:
                    chunk = await asyncio.wait_for(reader.read(65536), ANSWER_SECONDS)
                    if not chunk:
                        break
                    received += chunk
                writer.write(item.then)
            if item.half_close:
                writer.write_eof()
            received += await asyncio.wait_for(
                read_until_closed(reader, stop_after_upgrade=not item.then), ANSWER_SECONDS
            )
        except TimeoutError:
            report.fail(
                f"{item.label}: neither answered nor closed within {ANSWER_SECONDS} s", item
            )
        except ConnectionError:
            pass
        finally:
            writer.close()
        await check_raw(report, item.label, received, item.data)


async def read_until_closed(reader: asyncio.StreamReader, stop_after_upgrade: bool) -> bytes:
    out = b""
    while chunk := await reader.read(65536):
        out += chunk
        # A websocket opened by mistake waits auth_timeout for its `auth`:
        # stop reading once the upgrade and the challenge are in.
        if stop_after_upgrade and out.startswith(b"HTTP/1.1 101") and b"challenge" in out:
            return out
    return out


async def check_raw(report: Report, label: str, received: bytes, sample: bytes) -> None:
    """Every answer in what came back keeps the rules; a close without one is allowed."""
    if not received:
        report.answers["raw closed without answer"] += 1
        return
    stream = asyncio.StreamReader()
    stream.feed_data(received)
    stream.feed_eof()
    while not stream.at_eof():
        try:
            answer = await read_answer(stream, False)
        except (asyncio.IncompleteReadError, ValueError) as error:
            report.fail(f"{label}: unreadable answer ({type(error).__name__})", sample)
            return
        if answer.status == 101:
            check_security_headers(report, answer.headers, label)
            report.answers["raw 101"] += 1
            return
        check_answer(report, answer, label, sample)


# --- The run ---------------------------------------------------------------------------


def cpu_of(pid: int) -> float:
    """User and system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def watch(world: World, report: Report, stop: asyncio.Event, progress: bool) -> None:
    """Health checks and memory samples while the run lasts."""
    process = world.server.process
    assert process is not None
    started = time.monotonic()
    shown = started
    while not stop.is_set():
        if progress and time.monotonic() - shown >= PROGRESS_SECONDS:
            shown = time.monotonic()
            rss = report.rss[-1][1] / 2**20 if report.rss else 0
            print(
                f"{shown - started:.0f} s: {report.total} inputs, {len(report.failures)} failures, "
                f"server RSS {rss:.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
        if process.poll() is not None:
            report.fail(f"the server exited with status {process.returncode}", None)
            return
        report.rss.append((time.monotonic() - started, rss_of(process.pid)))
        try:
            reader, writer = await open_http(world)
            writer.write(
                b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            answer = await asyncio.wait_for(read_answer(reader, False), ANSWER_SECONDS)
            writer.close()
            report.answers[f"health {answer.status}"] += 1
            if answer.status != 200:
                report.fail(f"health check answered {answer.status}", None)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
            report.fail(f"health check failed ({type(error).__name__})", None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEALTH_SECONDS)


async def round_trip(world: World) -> None:
    """After the run: a real register, login, send, receive and acknowledge."""
    loop = asyncio.get_running_loop()
    therapist = await loop.run_in_executor(None, make_therapist, world.server)
    client = await loop.run_in_executor(None, make_account, world.server.url)
    receiver = await open_socket(world.server.url, therapist)
    sender = await open_socket(world.server.url, client)
    env = MessageEnvelope(Header(b"\x01" * 32, 0, 0), b"\x02" * (BUCKETS[0] + 16)).encode()
    sent = await sender.send_envelope(therapist, env)
    assert sent["type"] == "sent", sent
    delivered = await receiver.expect("envelope")
    assert delivered["env"] == b64u_encode(env)
    acked = await receiver.ack(delivered["id"])
    assert acked["type"] == "acked", acked
    await sender.close()
    await receiver.close()


async def fuzz(
    world: World, inputs: int, seconds: float, seed: int, report: Report, progress: bool
) -> None:
    deadline = time.monotonic() + seconds
    budgets = {kind: Budget(int(inputs * share), deadline) for kind, share in SHARES.items()}
    budgets["ws"].left += inputs - sum(b.left for b in budgets.values())
    workers: list[Any] = []
    counter = 0

    def rng() -> random.Random:
        nonlocal counter
        counter += 1
        return random.Random(f"{seed}-{counter}")

    me = world.therapists + world.clients
    for index in range(WORKERS["ws"]):
        workers.append(ws_worker(rng(), world, me[index], budgets["ws"], report))
    for _ in range(WORKERS["http"]):
        workers.append(http_worker(rng(), world, budgets["http"], report))
    for _ in range(WORKERS["opening"]):
        workers.append(opening_worker(rng(), world, budgets["opening"], report))
    for _ in range(WORKERS["raw"]):
        workers.append(raw_worker(rng(), world, budgets["raw"], report))
    stop = asyncio.Event()
    started = time.monotonic()
    process = world.server.process
    assert process is not None
    server_cpu, own_cpu = cpu_of(process.pid), time.process_time()
    watcher = asyncio.create_task(watch(world, report, stop, progress))

    async def timed(kind: str, work: Any) -> None:
        try:
            await work
        finally:
            report.finished[kind] = max(report.finished[kind], time.monotonic() - started)

    kinds = [kind for kind in WORKERS for _ in range(WORKERS[kind])]
    results = await asyncio.gather(
        *(timed(kind, work) for kind, work in zip(kinds, workers, strict=True)),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            report.fail(f"a fuzzing worker stopped: {type(result).__name__}: {result}", None)
    report.seconds = time.monotonic() - started
    report.cpu = {
        "server": cpu_of(process.pid) - server_cpu,
        "fuzzer": time.process_time() - own_cpu,
    }
    stop.set()
    await watcher
    await round_trip(world)


def check_log(report: Report, log: str) -> None:
    for line in log.splitlines():
        if " ERROR " in line or " CRITICAL " in line:
            report.error_lines.append(line)
            report.fail("the server logged an ERROR", line)
        elif " WARNING " in line:
            report.warning_lines += 1


def check_memory(report: Report) -> None:
    """Fails when VmRSS grows by more than MEMORY_SLACK over the run's last half."""
    if len(report.rss) < 10:
        return
    values = [rss for _, rss in report.rss]
    half = len(values) // 2
    middle = statistics.median(values[half : half + max(2, len(values) // 10)])
    end = statistics.median(values[-max(2, len(values) // 10) :])
    if end - middle > MEMORY_SLACK:
        report.fail(
            f"memory grew from {middle / 2**20:.0f} to {end / 2**20:.0f} MiB in the last half",
            None,
        )


def run(inputs: int, seconds: float, seed: int, data_dir: Path, progress: bool = False) -> Report:
    """Start a server in `data_dir`, fuzz it, stop it; the report says what was seen."""
    running = RunningServer(data_dir, dict(FUZZ_SETTINGS))
    running.start()
    report = Report(asked=inputs)
    offset = len(running.log_text())
    try:
        world = make_world(running)
        asyncio.run(fuzz(world, inputs, seconds, seed, report, progress))
        check_memory(report)
    finally:
        status = running.stop()
        # uvicorn ends by raising the SIGTERM it caught again, once shut down.
        if status not in (0, -signal.SIGTERM):
            report.fail(f"the server stopped with status {status}", None)
        check_log(report, running.log_text()[offset:])
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--inputs", type=int, default=20_000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", help="data directory (default: a temporary one)")
    parser.add_argument("--progress", action="store_true", help="a line every minute")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quietline-fuzz-") as scratch:
        data = Path(args.data) if args.data else Path(scratch) / "data"
        report = run(args.inputs, args.minutes * 60, args.seed, data, args.progress)
    print(report.summary(), flush=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
