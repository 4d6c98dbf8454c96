"""Test clients for the real server: HTTP over http.client, websockets over `websockets`.

Accounts are made the way a client makes them: a random handle, a random
login key, a real Ed25519 identity whose signature proves possession, real
signed prekeys. Envelopes are real: either encrypted with crypto.session, or
random ciphertext framed with crypto.envelope when only the relay is tested.
"""

import asyncio
import http.client
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from crypto import keys, signatures
from crypto.constants import (
    BUCKETS,
    CROCKFORD_ALPHABET,
    CTX_REGISTER,
    CTX_WEBSOCKET_AUTH,
    HANDLE_SYMBOLS,
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.envelope import Header, MessageEnvelope
from crypto.keys import IdentityKeyPair
from server import admin, invites
from server import database as server_database

FRAME_TIMEOUT = 20.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


def request(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One HTTP request on a fresh connection; never raises for an HTTP error status."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent_headers = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    if token is not None:
        sent_headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=sent_headers)
        response = conn.getresponse()
        content = response.read()
        reply_headers = {k.lower(): v for k, v in response.getheaders()}
        status = response.status
    finally:
        conn.close()
    parsed: Any = None
    if content and reply_headers.get("content-type", "").startswith("application/json"):
        parsed = json.loads(content)
    return Reply(status, reply_headers, parsed, content)


def new_handle() -> str:
    return "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(HANDLE_SYMBOLS))


def server_id(base_url: str) -> bytes:
    return b64u_decode(request(base_url, "GET", "/api/info").body["server_id"])


@dataclass
class Account:
    base_url: str
    role: str
    handle: str
    login_key: bytes = field(repr=False)
    identity: IdentityKeyPair = field(repr=False)
    id: bytes = b""
    token: str = field(default="", repr=False)
    opks: list[keys.SignedX25519Prekey] = field(default_factory=list, repr=False)

    @property
    def id_text(self) -> str:
        return b64u_encode(self.id)

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return request(self.base_url, method, path, body, token=self.token, **kwargs)

    def registration_body(self, invite: str | None = None) -> dict[str, Any]:
        sid = server_id(self.base_url)
        sig = signatures.sign(self.identity.seed, CTX_REGISTER, sid + self.handle.encode())
        body = {
            "role": self.role,
            "handle": self.handle,
            "login_key": b64u_encode(self.login_key),
            "identity_key": b64u_encode(self.identity.public),
            "sig": b64u_encode(sig),
        }
        if invite is not None:
            body["invite"] = invite
        return body

    def login(self) -> Reply:
        reply = request(
            self.base_url,
            "POST",
            "/api/login",
            {"handle": self.handle, "login_key": b64u_encode(self.login_key)},
        )
        if reply.status == 200:
            self.token = reply.body["token"]
        return reply

    def prekey_upload(self, one_time: int = 3, first_id: int = 1000) -> dict[str, Any]:
        """Signed prekey, pq prekey and one-time prekeys `first_id`, `first_id + 1`, ..."""
        seed = self.identity.seed
        spk = keys.make_signed_prekey(seed, keys.new_prekey_id())
        pq = keys.make_pq_prekey(seed, keys.new_prekey_id({spk.id}))
        self.opks = [keys.make_one_time_prekey(seed, first_id + i) for i in range(one_time)]
        return {
            "signed_prekey": public_prekey(spk),
            "pq_prekey": public_prekey(pq),
            "one_time_prekeys": [public_prekey(p) for p in self.opks],
        }


def public_prekey(prekey: Any) -> dict[str, Any]:
    return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}


def make_account(
    base_url: str,
    role: str = "client",
    invite: str | None = None,
    handle: str | None = None,
    login_key: bytes | None = None,
) -> Account:
    """Register and log in an account; therapists need `invite`."""
    account = Account(
        base_url,
        role,
        handle or new_handle(),
        login_key or os.urandom(32),
        IdentityKeyPair.generate(),
    )
    reply = request(base_url, "POST", "/api/accounts", account.registration_body(invite))
    assert reply.status == 201, reply.body
    account.id = b64u_decode(reply.body["account"])
    assert account.login().status == 200
    return account


def random_envelope(bucket: int = BUCKETS[0]) -> bytes:
    """A type-2 envelope with random ciphertext: valid framing, nothing anyone can read."""
    header = Header(os.urandom(32), 0, secrets.randbelow(2**32))
    return MessageEnvelope(header, os.urandom(bucket + 16)).encode()


def auth_signature(identity: IdentityKeyPair, sid: bytes, nonce: bytes, account: bytes) -> bytes:
    return signatures.sign(identity.seed, CTX_WEBSOCKET_AUTH, sid + nonce + account)


def auth_frame(account: Account, sig: bytes) -> dict[str, Any]:
    """The answer to a challenge: the signature, and the session's token."""
    return {
        "type": "auth",
        "account": account.id_text,
        "sig": b64u_encode(sig),
        "token": account.token,
    }


class Socket:
    """An authenticated websocket with helpers to wait for frames."""

    def __init__(self, ws: ClientConnection, ready: dict[str, Any]) -> None:
        self.ws = ws
        self.ready = ready
        self.backlog: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, kind: str, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
        """The next frame of type `kind`; frames of other types are kept for later."""
        for index, frame in enumerate(self.backlog):
            if frame.get("type") == kind:
                return self.backlog.pop(index)
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if frame.get("type") == kind:
                return frame
            self.backlog.append(frame)

    async def send_envelope(
        self, to: Account, env: bytes, cmid: bytes | None = None, vault: Any = None
    ) -> dict[str, Any]:
        """Send and wait for the answer (`sent` or `error`) naming this cmid."""
        cmid_text = b64u_encode(cmid or os.urandom(16))
        frame: dict[str, Any] = {"type": "send", "cmid": cmid_text, "to": to.id_text}
        frame["env"] = b64u_encode(env)
        if vault is not None:
            frame["vault"] = vault
        await self.send(frame)
        return await self.answer_for("cmid", cmid_text)

    async def ack(self, envelope_id: str, vault: Any = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "ack", "id": envelope_id}
        if vault is not None:
            frame["vault"] = vault
        await self.send(frame)
        return await self.answer_for("id", envelope_id)

    async def answer_for(self, name: str, ref: str) -> dict[str, Any]:
        def matches(frame: dict[str, Any]) -> bool:
            if frame.get("type") == "error":
                return frame.get("ref") == ref
            return frame.get("type") in ("sent", "acked") and frame.get(name) == ref

        for index, frame in enumerate(self.backlog):
            if matches(frame):
                return self.backlog.pop(index)
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), FRAME_TIMEOUT))
            if matches(frame):
                return frame
            self.backlog.append(frame)

    async def close(self) -> None:
        await self.ws.close()


async def open_socket(base_url: str, account: Account) -> Socket:
    ws_url = base_url.replace("http://", "ws://", 1) + "/ws"
    ws = await connect(ws_url, max_size=None, compression=None, open_timeout=FRAME_TIMEOUT)
    challenge = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
    assert challenge["type"] == "challenge"
    sid = b64u_decode(challenge["server"])
    nonce = b64u_decode(challenge["nonce"])
    sig = auth_signature(account.identity, sid, nonce, account.id)
    await ws.send(json.dumps(auth_frame(account, sig)))
    ready = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
    assert ready["type"] == "ready", ready
    return Socket(ws, ready)


async def wait_closed(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> list[Any]:
    """Read until the server closes the connection; returns the frames read."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except websockets.ConnectionClosed:
        return frames


def vault_blob(padded: int = 256) -> bytes:
    """A blob with the shape of PROTOCOL.md section 10; random, so opaque to everyone."""
    return b"\x01" + os.urandom(24 + padded + 16)


def vault_write(item_id: bytes, version: int, blob: bytes | None = None) -> dict[str, Any]:
    if blob is None:
        return {"id": b64u_encode(item_id), "version": version, "delete": True}
    return {"id": b64u_encode(item_id), "version": version, "blob": b64u_encode(blob)}


def store_of(where: Any) -> Any:
    """The store of a running server, or of an SQLite file given by its path."""
    if isinstance(where, Path):
        return server_database.SqliteStorage(where)
    return where.storage()


def make_invite(where: Any, kind: str = "therapist") -> str:
    """An invite code, made by the same code as `quietline admin invite-therapist`.

    `where` is a running server (tests/server/server_process.py) or a SQLite file.
    """
    conn = store_of(where).connect()
    try:
        with admin.transaction(conn):
            return invites.create(conn, kind)
    finally:
        conn.close()


def make_therapist(running: Any, **kwargs: Any) -> Account:
    return make_account(running.url, "therapist", invite=make_invite(running), **kwargs)


def count_rows(where: Any, table: str) -> int:
    """The rows of `table`, read from the store the way an intruder would."""
    conn = store_of(where).connect(readonly=True)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
