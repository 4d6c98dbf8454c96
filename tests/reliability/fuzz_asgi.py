"""Coverage-guided fuzzing of the whole application in process: handlers, relay and writer.

    python tests/reliability/fuzz_asgi.py -max_total_time=300 -artifact_prefix=/tmp/

Needs the `fuzz` optional dependencies; `make soak` runs it after
fuzz_atheris.py, which covers the frame and envelope parsers alone. Here
atheris drives the Starlette application itself, over ASGI, with no socket:
its lifespan runs once against a real SQLite database in a temporary
directory, with a therapist and a client registered through the API, and
each input becomes one HTTP request (endpoint, caller and body chosen by
the input) or one frame on a websocket authenticated as one of them. Only
server/ and crypto/ are instrumented, so the edge count libFuzzer prints
(`cov:`) counts the project's own code.

The seed corpus is a set of valid requests and frames, written to a
temporary directory and passed to libFuzzer, so that mutation starts from
inputs that reach the handlers and the writer rather than the first check.
A crash is an answer of 5xx or `internal`, an error outside the table of
server/errors.py, or an exception out of the application; libFuzzer then
keeps the input in a `crash-*` file.
"""

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for path in (HERE.parent.parent, HERE.parent / "server"):
    sys.path.insert(0, str(path))

import atheris  # noqa: E402

with atheris.instrument_imports(include=["server", "crypto"]):
    from crypto import keys, signatures
    from crypto.constants import BUCKETS, CTX_PROFILE, CTX_REGISTER, CTX_WEBSOCKET_AUTH
    from crypto.encoding import b64u_decode, b64u_encode
    from crypto.envelope import Header, MessageEnvelope
    from server import admin, database, invites
    from server.app import create_app
    from server.config import Settings
    from server.errors import ALL_ERRORS
    from server.serve import prepare_database

ERROR_STATUS = {error.code: error.status for error in ALL_ERRORS}
# (method, path, who calls): who is 0 nobody, 1 the client, 2 the therapist.
ENDPOINTS: list[tuple[str, str]] = [
    ("GET", "/api/info"),
    ("GET", "/api/health"),
    ("POST", "/api/accounts"),
    ("POST", "/api/login"),
    ("GET", "/api/vault"),
    ("POST", "/api/vault"),
    ("PUT", "/api/prekeys"),
    ("GET", "/api/prekeys"),
    ("GET", "/api/bundle/"),
    ("GET", "/api/directory"),
    ("PUT", "/api/profile"),
    ("GET", "/api/blocks"),
    ("PUT", "/api/blocks/"),
    ("DELETE", "/api/blocks/"),
    ("GET", "/"),
    ("WS", "/ws"),
]
SETTINGS = {
    "register_rate": 1e6,
    "register_burst": 10**6,
    "login_rate": 1e6,
    "login_burst": 10**6,
    "api_rate": 1e6,
    "api_burst": 10**6,
    "ws_rate": 1e6,
    "ws_burst": 10**6,
}


class Identity:
    def __init__(self, role: str) -> None:
        self.role = role
        self.identity = keys.IdentityKeyPair.generate()
        self.handle = "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[b % 32] for b in os.urandom(8))
        self.login_key = os.urandom(32)
        self.id = b""
        self.token = ""


class Application:
    """The app under its lifespan, on one event loop, called one request at a time."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(data=str(data_dir), **SETTINGS)  # type: ignore[arg-type]
        prepare_database(self.settings)
        self.app = create_app(self.settings)
        self.loop = asyncio.new_event_loop()
        self.lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        started: asyncio.Future[None] = self.loop.create_future()

        async def receive() -> dict[str, Any]:
            return await self.lifespan_in.get()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set_result(None)

        self.lifespan_in.put_nowait({"type": "lifespan.startup"})
        self.lifespan = self.loop.create_task(self.app({"type": "lifespan"}, receive, send))
        self.loop.run_until_complete(started)
        self.server_id = b64u_decode(self.http("GET", "/api/info", None, b"")[1]["server_id"])

    def http(self, method: str, path: str, token: str | None, body: bytes) -> tuple[int, Any]:
        return self.loop.run_until_complete(self._http(method, path, token, body))

    async def _http(
        self, method: str, target: str, token: str | None, body: bytes
    ) -> tuple[int, Any]:
        path, _, query = target.partition("?")
        headers = [(b"host", b"fuzz"), (b"content-length", str(len(body)).encode())]
        if token is not None:
            headers.append((b"authorization", b"Bearer " + token.encode("latin-1", "replace")))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogateescape"),
            "query_string": query.encode("utf-8", "surrogateescape"),
            "root_path": "",
            "headers": headers,
            "server": ("127.0.0.1", 80),
            "client": None,
        }
        sent = False
        answer: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        status = answer["status"]
        parsed = None
        if answer["body"][:1] == b"{":
            parsed = json.loads(answer["body"])
        return status, parsed

    def frames(self, who: Identity, texts: list[str]) -> list[dict[str, Any]]:
        """Authenticate on /ws as `who`, send `texts`, then disconnect; what came back."""
        return self.loop.run_until_complete(self._frames(who, texts))

    async def _frames(self, who: Identity, texts: list[str]) -> list[dict[str, Any]]:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        out: list[dict[str, Any]] = []
        closed = asyncio.Event()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": "/ws",
            "raw_path": b"/ws",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"fuzz")],
            "scheme": "ws",
            "server": ("127.0.0.1", 80),
            "client": None,
            "subprotocols": [],
        }
        inbox.put_nowait({"type": "websocket.connect"})

        async def receive() -> dict[str, Any]:
            return await inbox.get()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.close":
                closed.set()
            elif message["type"] == "websocket.send":
                frame = json.loads(message["text"])
                out.append(frame)
                if frame["type"] == "challenge":
                    nonce = b64u_decode(frame["nonce"])
                    data = self.server_id + nonce + who.id
                    sig = signatures.sign(who.identity.seed, CTX_WEBSOCKET_AUTH, data)
                    auth = {
                        "type": "auth",
                        "account": b64u_encode(who.id),
                        "sig": b64u_encode(sig),
                        "token": who.token,
                    }
                    inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(auth)})
                elif frame["type"] == "ready":
                    for text in texts:
                        inbox.put_nowait({"type": "websocket.receive", "text": text})
                    inbox.put_nowait({"type": "websocket.receive", "text": '{"type":"ping"}'})
                elif frame["type"] == "pong":
                    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

        await asyncio.wait_for(self.app(scope, receive, send), 30)
        return out

    def register(self, who: Identity, invite: str | None = None) -> None:
        data = self.server_id + who.handle.encode()
        body = {
            "role": who.role,
            "handle": who.handle,
            "login_key": b64u_encode(who.login_key),
            "identity_key": b64u_encode(who.identity.public),
            "sig": b64u_encode(signatures.sign(who.identity.seed, CTX_REGISTER, data)),
        }
        if invite is not None:
            body["invite"] = invite
        status, answer = self.http("POST", "/api/accounts", None, json.dumps(body).encode())
        assert status == 201, answer
        who.id = b64u_decode(answer["account"])
        login = {"handle": who.handle, "login_key": b64u_encode(who.login_key)}
        status, answer = self.http("POST", "/api/login", None, json.dumps(login).encode())
        assert status == 200, answer
        who.token = answer["token"]


def make_invite(settings: Settings) -> str:
    conn = database.connect(settings.database_path())
    try:
        with admin.transaction(conn):
            return invites.create(conn, "therapist")
    finally:
        conn.close()


def seeds(app: Application, client: Identity, therapist: Identity) -> list[bytes]:
    """Valid inputs, encoded as `one_input` reads them."""

    def encode(endpoint: str, who: int, tail: str, body: Any) -> bytes:
        index = next(i for i, e in enumerate(ENDPOINTS) if " ".join(e) == endpoint)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return bytes([index, who]) + tail.encode() + b"\n" + raw

    seed = therapist.identity.seed
    spk = keys.make_signed_prekey(seed, 7)
    pq = keys.make_pq_prekey(seed, 8)
    opk = keys.make_one_time_prekey(seed, 9)
    prekey = lambda p: {"id": p.id, "key": b64u_encode(p.public), "sig": b64u_encode(p.sig)}  # noqa: E731
    profile = json.dumps({"display_name": "A", "languages": ["en"], "accepting": True}).encode()
    blob = b64u_encode(b"\x01" + bytes(24 + 256 + 16))
    write = {"id": b64u_encode(bytes(16)), "version": 1, "blob": blob}
    envelope = MessageEnvelope(Header(bytes(32), 0, 0), bytes(BUCKETS[0] + 16)).encode()
    send = {
        "type": "send",
        "cmid": b64u_encode(bytes(16)),
        "to": b64u_encode(therapist.id),
        "env": b64u_encode(envelope),
    }
    return [
        encode("GET /api/info", 0, "", b""),
        encode("GET /api/vault", 1, "?since=0", b""),
        encode("POST /api/vault", 1, "", {"writes": [write]}),
        encode("PUT /api/prekeys", 2, "", {"signed_prekey": prekey(spk), "pq_prekey": prekey(pq)}),
        encode("PUT /api/prekeys", 2, "", {"one_time_prekeys": [prekey(opk)]}),
        encode("GET /api/bundle/", 1, b64u_encode(therapist.id), b""),
        encode(
            "PUT /api/profile",
            2,
            "",
            {
                "profile": b64u_encode(profile),
                "sig": b64u_encode(signatures.sign(seed, CTX_PROFILE, profile)),
            },
        ),
        encode("PUT /api/blocks/", 2, b64u_encode(client.id), b""),
        encode("DELETE /api/blocks/", 2, b64u_encode(client.id), b""),
        encode("POST /api/login", 0, "", {"handle": client.handle, "login_key": "A" * 43}),
        encode("WS /ws", 1, "", send),
        encode("WS /ws", 2, "", {"type": "ack", "id": b64u_encode(bytes(16)), "vault": [write]}),
    ]


def check(status: int, body: Any) -> None:
    if status >= 500:
        raise AssertionError(f"answered {status}: {body}")
    if status >= 400 and isinstance(body, dict):
        code = body["error"]["code"]
        if ERROR_STATUS.get(code) != status:
            raise AssertionError(f"{status} {code} is not in the error table")


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="quietline-asgi-fuzz-"))
    app = Application(scratch / "data")
    client, therapist = Identity("client"), Identity("therapist")
    app.register(client)
    app.register(therapist, make_invite(app.settings))
    callers = [None, client, therapist]

    def one_input(data: bytes) -> None:
        if len(data) < 2:
            return
        method, path = ENDPOINTS[data[0] % len(ENDPOINTS)]
        who = callers[data[1] % 3]
        tail, _, body = data[2:].partition(b"\n")
        if method == "WS":
            if who is None:
                return
            texts = [body.decode("utf-8", "replace")]
            for frame in app.frames(who, texts):
                code = frame.get("code") if frame["type"] == "error" else None
                if code is not None and (code not in ERROR_STATUS or code == "internal"):
                    raise AssertionError(f"websocket error {code}")
            return
        token = None if who is None else who.token
        target = path + tail.decode("utf-8", "replace")
        check(*app.http(method, target, token, body))

    corpus = scratch / "corpus"
    corpus.mkdir()
    for number, seed in enumerate(seeds(app, client, therapist)):
        (corpus / f"seed-{number}").write_bytes(seed)
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
