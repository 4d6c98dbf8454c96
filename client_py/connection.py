"""The device's websocket (docs/API.md "Websocket frames"): JSON frames to and from the server.

`Channel` is one authenticated websocket. A reader task matches `sent`,
`acked`, `group_sent` and `group_acked` answers (and `error` frames with a
`ref`) to the request waiting for them, and queues `envelope` and `group`
frames, in the server's order, for the caller, who decides when to open and
acknowledge each one. An error frame with one of `FINAL_CODES` and no
`ref` ends the connection for good: every waiting request and the caller
waiting for envelopes learn of it.
"""

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from client_py.api import DEFAULT_TIMEOUT, b64u_field, field
from client_py.errors import (
    AnswerTimeoutError,
    BadResponseError,
    ClientError,
    DisconnectedError,
    ServerError,
    UnreachableError,
)
from crypto.encoding import b64u_encode

# An envelope frame is under 90 KB; a frame of vault items may approach the
# server's own limit, which /api/info publishes and the server enforces.
MAX_FRAME_BYTES = 8 * 1024 * 1024
# Error codes after which the server closes the connection; the client does
# not wait for anything more on it (the web client's word, connection.js).
FINAL_CODES = frozenset({"signed_out", "too_many_devices", "unauthorized", "too_many_connections"})


def websocket_url(server_url: str) -> str:
    parsed = urllib.parse.urlsplit(server_url)
    scheme = "wss" if parsed.scheme == "https" else "ws"
    return urllib.parse.urlunsplit((scheme, parsed.netloc, parsed.path + "/ws", "", ""))


_CLOSED = object()


class Channel:
    """One authenticated websocket; create it with `Channel.open`."""

    def __init__(
        self,
        ws: ClientConnection,
        timeout: float,
        on_prekeys_low: Callable[[int], Coroutine[Any, Any, None]] | None,
    ) -> None:
        self._ws = ws
        self._timeout = timeout
        self._on_prekeys_low = on_prekeys_low
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._envelopes: asyncio.Queue[Any] = asyncio.Queue()
        self._failure: ClientError | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self.pending_at_start = 0
        # Set by a `vault_changed` push (another device of the account wrote
        # to the vault); cleared by whoever waits for it.
        self._vault_changed = asyncio.Event()

    @classmethod
    async def open(
        cls,
        server_url: str,
        server_id: bytes,
        account_id: bytes,
        token: str,
        sign_challenge: Callable[[bytes], bytes],
        timeout: float = DEFAULT_TIMEOUT,
        on_prekeys_low: Callable[[int], Coroutine[Any, Any, None]] | None = None,
    ) -> "Channel":
        """Connect and answer the challenge (PROTOCOL.md section 11).

        `sign_challenge(nonce)` returns the signature over the challenge; it is
        a callable so that the identity seed never reaches this module. `token`
        is the session's bearer token, which ties the connection to the session.
        """
        try:
            ws = await connect(
                websocket_url(server_url),
                max_size=MAX_FRAME_BYTES,
                open_timeout=timeout,
                compression=None,
            )
        except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
            raise UnreachableError(
                f"The websocket at {server_url} could not be opened ({exc}); "
                "check the --server address and the network."
            ) from None
        channel = cls(ws, timeout, on_prekeys_low)
        try:
            await channel._authenticate(server_id, account_id, token, sign_challenge)
        except BaseException:
            await ws.close()
            raise
        channel._reader = asyncio.create_task(channel._read())
        return channel

    async def _receive_json(self) -> dict[str, Any]:
        try:
            raw = await asyncio.wait_for(self._ws.recv(), self._timeout)
        except TimeoutError:
            raise AnswerTimeoutError() from None
        except websockets.exceptions.ConnectionClosed:
            raise DisconnectedError() from None
        frame = _parse_frame(raw)
        if frame.get("type") == "error":
            raise _frame_error(frame)
        return frame

    async def _authenticate(
        self,
        server_id: bytes,
        account_id: bytes,
        token: str,
        sign_challenge: Callable[[bytes], bytes],
    ) -> None:
        challenge = await self._receive_json()
        if challenge.get("type") != "challenge":
            raise BadResponseError("The server did not start the websocket with a challenge.")
        if b64u_field(challenge, "server", len(server_id)) != server_id:
            raise BadResponseError(
                "The websocket belongs to a different server installation than the "
                "HTTP API; check --server."
            )
        nonce = b64u_field(challenge, "nonce")
        await self._ws.send(
            json.dumps(
                {
                    "type": "auth",
                    "account": b64u_encode(account_id),
                    "sig": b64u_encode(sign_challenge(nonce)),
                    "token": token,
                }
            )
        )
        ready = await self._receive_json()
        if ready.get("type") != "ready":
            raise BadResponseError("The server did not confirm the websocket authentication.")
        pending = ready.get("pending", 0)
        self.pending_at_start = pending if isinstance(pending, int) else 0

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._dispatch(_parse_frame(raw))
        except websockets.exceptions.ConnectionClosed:
            pass
        except ClientError as exc:
            self._fail(exc)
        self._fail(DisconnectedError())

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in ("envelope", "group"):
            self._envelopes.put_nowait(frame)
        elif kind in ("sent", "acked", "group_sent", "group_acked"):
            ref = frame.get("cmid") if kind in ("sent", "group_sent") else frame.get("id")
            future = self._pending.pop(ref, None) if isinstance(ref, str) else None
            if future is not None and not future.done():
                future.set_result(frame)
        elif kind == "vault_changed":
            self._vault_changed.set()
        elif kind == "error":
            self._dispatch_error(frame)
        elif kind == "prekeys_low" and self._on_prekeys_low is not None and "group" not in frame:
            # A member key's low prekeys name their group; the account's do not.
            count = frame.get("one_time", 0)
            task = asyncio.create_task(self._on_prekeys_low(count if isinstance(count, int) else 0))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _dispatch_error(self, frame: dict[str, Any]) -> None:
        error = _frame_error(frame)
        ref = frame.get("ref")
        if isinstance(ref, str) and ref in self._pending:
            future = self._pending.pop(ref)
            if not future.done():
                future.set_exception(error)
        elif error.code in FINAL_CODES:
            self._fail(error)
        else:
            # An error that names no request cannot be matched; every waiting
            # request learns of it rather than waiting for a timeout.
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()

    def _fail(self, error: ClientError) -> None:
        if self._failure is None:
            self._failure = error
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._failure)
        self._pending.clear()
        self._envelopes.put_nowait(_CLOSED)

    async def _request(self, ref: str, frame: dict[str, Any]) -> dict[str, Any]:
        if self._failure is not None:
            raise self._failure
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await self._ws.send(json.dumps(frame))
        except websockets.exceptions.ConnectionClosed:
            self._pending.pop(ref, None)
            raise self._failure or DisconnectedError() from None
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            self._pending.pop(ref, None)
            raise AnswerTimeoutError() from None

    async def send(
        self,
        cmid: str,
        to: str | None,
        envelope: bytes,
        vault: list[dict[str, Any]],
        *,
        to_key: str | None = None,
        from_key: str | None = None,
    ) -> str:
        """Submit an envelope; returns its id once the server has committed it.

        Within a group (docs/API.md, "Groups") an envelope goes from a member
        key (`from_key`) to a moderator's account or to another member key
        (`to_key`), so that no member's account is named to anyone.
        """
        frame: dict[str, Any] = {"type": "send", "cmid": cmid, "env": b64u_encode(envelope)}
        if to is not None:
            frame["to"] = to
        if to_key is not None:
            frame["to_key"] = to_key
        if from_key is not None:
            frame["from_key"] = from_key
        if vault:
            frame["vault"] = vault
        answer = await self._request(cmid, frame)
        return field(answer, "id", str)

    async def ack(self, envelope_id: str, vault: list[dict[str, Any]]) -> None:
        """Delete a received envelope and commit `vault` in the same transaction."""
        frame: dict[str, Any] = {"type": "ack", "id": envelope_id}
        if vault:
            frame["vault"] = vault
        await self._request(envelope_id, frame)

    async def group_send(self, cmid: str, group: str, message: bytes) -> str:
        """Submit a group message to the group's stream; returns its id once stored."""
        frame = {"type": "group_send", "cmid": cmid, "group": group, "msg": b64u_encode(message)}
        answer = await self._request(cmid, frame)
        return field(answer, "id", str)

    async def group_ack(self, group: str, item_id: str, vault: list[dict[str, Any]]) -> None:
        """Move this member's cursor past a stream item, committing `vault` with it."""
        frame: dict[str, Any] = {"type": "group_ack", "group": group, "id": item_id}
        if vault:
            frame["vault"] = vault
        await self._request(item_id, frame)

    async def vault_changed(self) -> None:
        """Wait until another device has written to the vault since the last call."""
        await self._vault_changed.wait()
        self._vault_changed.clear()

    async def next_envelope(self, timeout: float | None = None) -> dict[str, Any]:
        """The next `envelope` or `group` frame, in the server's order; None waits forever."""
        try:
            item = await asyncio.wait_for(self._envelopes.get(), timeout)
        except TimeoutError:
            raise AnswerTimeoutError("No message arrived in time.") from None
        if item is _CLOSED:
            self._envelopes.put_nowait(_CLOSED)
            raise self._failure or DisconnectedError()
        return item

    @property
    def closed(self) -> bool:
        return self._failure is not None

    async def close(self) -> None:
        await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for task in list(self._tasks):
            task.cancel()


def _parse_frame(raw: str | bytes) -> dict[str, Any]:
    try:
        frame = json.loads(raw)
    except ValueError:
        raise BadResponseError("The server sent a websocket frame that is not JSON.") from None
    if not isinstance(frame, dict):
        raise BadResponseError("The server sent a websocket frame that is not a JSON object.")
    return frame


def _frame_error(frame: dict[str, Any]) -> ServerError:
    code = frame.get("code")
    message = frame.get("message")
    if not isinstance(code, str) or not isinstance(message, str):
        return ServerError("bad_response", "The server sent an error frame without a code.")
    return ServerError(code, message, None, frame)
