"""The websocket relay at /ws (docs/API.md "Websocket frames", PROTOCOL.md section 11).

A connection starts with a challenge and must answer it with a valid `auth`
within `auth_timeout` seconds, or it is closed; until then it holds one of
`max_unauthenticated` admission slots, not one of `max_connections`
(server/admission.py). Afterwards each frame is
checked (size, rate, JSON shape) before anything is stored; a bad frame gets
an `error` answer and the connection stays open. `send` and `ack` go to the
writer without waiting for the previous one to commit, so a client may have
several in flight (at most `MAX_IN_FLIGHT`); their answers come after their
commits, in the order the frames arrived.
"""

import asyncio
import dataclasses
import functools
import json
import secrets
from asyncio import FIRST_COMPLETED
from typing import Any

from starlette.types import Message
from starlette.websockets import WebSocket

from crypto import signatures
from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    OPK_LOW_WATER,
    SIGNATURE_BYTES,
    TOKEN_BYTES,
    WS_NONCE_BYTES,
)
from crypto.encoding import b64u_encode
from crypto.errors import MalformedError
from server import (
    accounts,
    envelopes,
    group_stream,
    groups,
    prekeys,
    retention,
    tokens,
    vault,
)
from server.connection import (
    CLIENT_GONE,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    Connection,
    error_frame,
)
from server.errors import (
    ApiError,
    BadRequestError,
    InternalError,
    RateLimitedError,
    TooLargeError,
    TooManyConnectionsError,
    TooManyDevicesError,
    UnauthorizedError,
    UnknownTypeError,
)
from server.logs import log_unexpected
from server.ratelimit import TokenBucket
from server.services import Services
from server.validation import binary, identifier, parse_json, require_object
from server.writer import Tx

MAX_IN_FLIGHT = 64
MAX_REF_CHARS = 64
WAITING_FULL = "Too many connections are waiting to log in; try again in a moment."


def _services(ws: WebSocket) -> Services:
    return ws.app.state.services


def _parse_frame(text: str | None, max_bytes: int) -> dict[str, Any]:
    if text is None:
        raise BadRequestError("Frames are JSON text, not binary.")
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode()) > max_bytes):
        raise TooLargeError(f"A frame may be at most {max_bytes} bytes.")
    frame = require_object(parse_json(text), "A frame")
    if not isinstance(frame.get("type"), str):
        raise BadRequestError("A frame needs a string 'type'.")
    return frame


def _ref(frame: dict[str, Any], name: str) -> str | None:
    value = frame.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_REF_CHARS else None


async def _close_with(ws: WebSocket, error: ApiError, code: int = CLOSE_POLICY) -> None:
    try:
        await ws.send_text(json.dumps(error_frame(error)))
        await ws.close(code)
    except CLIENT_GONE:
        pass


async def _answer(ws: WebSocket, evicted: asyncio.Event, timeout: float) -> Message | None:
    """The first message, or None when the time is up or the socket had to give way."""
    received = asyncio.ensure_future(ws.receive())
    pushed_out = asyncio.ensure_future(evicted.wait())
    try:
        await asyncio.wait({received, pushed_out}, timeout=timeout, return_when=FIRST_COMPLETED)
    finally:
        pushed_out.cancel()
        if not received.done():
            received.cancel()
            await asyncio.gather(received, return_exceptions=True)
    return received.result() if received.done() and not received.cancelled() else None


async def _authenticate(
    ws: WebSocket, service: Services, evicted: asyncio.Event
) -> tuple[bytes, str, bytes] | None:
    """Run the challenge; the account, its role and the session, or None after closing.

    The answer carries the session's bearer token beside the signature: the
    signature proves the identity key, the token ties the connection to a
    session, so that signing that session out closes it and keeps it out.
    """
    nonce = secrets.token_bytes(WS_NONCE_BYTES)
    await ws.send_text(
        json.dumps(
            {
                "type": "challenge",
                "server": b64u_encode(service.server_id),
                "nonce": b64u_encode(nonce),
            }
        )
    )
    message = await _answer(ws, evicted, service.settings.auth_timeout)
    if message is None:
        if evicted.is_set():
            await _close_with(ws, TooManyConnectionsError(WAITING_FULL), CLOSE_TRY_AGAIN)
        else:
            await _close_with(ws, UnauthorizedError("The connection did not authenticate in time."))
        return None
    if message["type"] == "websocket.disconnect":
        return None
    try:
        frame = _parse_frame(message.get("text"), service.settings.max_frame_bytes)
        if frame["type"] != "auth":
            raise UnauthorizedError("Answer the challenge with an 'auth' frame first.")
        account = identifier(frame, "account")
        sig = binary(frame, "sig", SIGNATURE_BYTES)
        token = binary(frame, "token", TOKEN_BYTES)
        caller = await service.readers.run(tokens.lookup, token)
        if caller is None or caller.account != account:
            raise UnauthorizedError("The session expired or is another account's; log in again.")
        found = await service.readers.run(accounts.identity_and_role, account)
        if found is None:
            raise UnauthorizedError("The authentication does not verify; log in again.")
        identity_key, role = found
        try:
            signatures.verify_websocket_auth(identity_key, service.server_id, nonce, account, sig)
        except MalformedError:
            raise UnauthorizedError("The authentication does not verify; log in again.") from None
    except ApiError as error:
        await _close_with(ws, error)
        return None
    return account, role, caller.session


class Session:
    """The authenticated part of one connection: frames in, answers out."""

    def __init__(
        self, ws: WebSocket, service: Services, account: bytes, role: str, session: bytes
    ) -> None:
        settings = service.settings
        self.service = service
        self.account = account
        self.role = role
        self.conn = Connection(
            ws, account, session, settings.send_queue_frames, settings.send_queue_bytes
        )
        self.rate = TokenBucket(settings.ws_rate, settings.ws_burst)
        # A count and an event rather than asyncio.Semaphore: this runs for
        # every frame, and the semaphore's bookkeeping showed in profiles.
        self.in_flight = 0
        self.room = asyncio.Event()

    async def run(self) -> None:
        service = self.service
        pending = await service.readers.run(envelopes.pending, self.account)
        # No await between the check, registering and queueing `ready`: the
        # cap holds, and nothing pushed to this connection can come before it.
        if not service.hub.has_room(self.account):
            await _close_with(self.conn.ws, TooManyDevicesError())
            return
        service.hub.add(self.conn)
        self.conn.send({"type": "ready", "account": b64u_encode(self.account), "pending": pending})
        tasks: list[asyncio.Task[None]] = []
        try:
            tasks = [
                asyncio.create_task(self.conn.run_sender()),
                asyncio.create_task(self._deliver()),
                asyncio.create_task(self._receive()),
            ]
            await self.conn.done.wait()
        finally:
            service.hub.remove(self.conn)
            self.conn.done.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self) -> None:
        try:
            await self.conn.catch_up(self.service.readers)
            left = await self.service.readers.run(prekeys.one_time_count, self.account)
            if left < OPK_LOW_WATER:
                self.conn.send({"type": "prekeys_low", "one_time": left})
        except Exception as error:
            log_unexpected(error, "backlog delivery")
            self.conn.done.set()

    async def _receive(self) -> None:
        ws = self.conn.ws
        try:
            while not self.conn.closing:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._handle(message.get("text"))
        except CLIENT_GONE:
            pass
        finally:
            self.conn.done.set()

    async def _handle(self, text: str | None) -> None:
        frame: dict[str, Any] = {}
        try:
            wait = self.rate.take()
            # Parsed even when over the limit, so that the refusal carries the
            # frame's ref and the client knows which send to retry, and when.
            # Parsing costs about what receiving and decoding the frame did.
            frame = _parse_frame(text, self.service.settings.max_frame_bytes)
            if wait:
                raise RateLimitedError(wait, "Too many frames; slow down.")
            kind = frame["type"]
            if kind == "send":
                await self._send(frame)
            elif kind == "ack":
                await self._ack(frame)
            elif kind == "group_send":
                await self._group_send(frame)
            elif kind == "group_ack":
                await self._group_ack(frame)
            elif kind == "ping":
                self.conn.send({"type": "pong"})
            elif kind == "auth":
                raise BadRequestError("This connection is already authenticated.")
            else:
                raise UnknownTypeError(
                    "Unknown frame type; expected send, ack, group_send, group_ack or ping."
                )
        except ApiError as error:
            ref = _ref(frame, "cmid" if frame.get("type") in ("send", "group_send") else "id")
            self.conn.send(error_frame(error, ref))
        except Exception as error:
            log_unexpected(error, "websocket frame")
            self.conn.send(error_frame(InternalError()))

    def _vault_writes(self, frame: dict[str, Any]) -> list[vault.VaultWrite]:
        if frame.get("vault") is None:
            return []
        return vault.parse_writes(frame["vault"], self.service.settings.max_vault_writes)

    async def _submit(self, operation: Any, answer: Any, ref: str) -> None:
        while self.in_flight >= MAX_IN_FLIGHT:
            self.room.clear()
            await self.room.wait()
        self.in_flight += 1
        future = self.service.writer.submit(operation, quick=True)
        future.add_done_callback(functools.partial(self._answered, answer, ref))

    def _answered(self, answer: Any, ref: str, future: asyncio.Future[Any]) -> None:
        self.in_flight -= 1
        self.room.set()
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.conn.send(answer(future.result()))
        elif isinstance(error, ApiError):
            self.conn.send(error_frame(error, ref))
        else:
            log_unexpected(error, "websocket answer")
            self.conn.send(error_frame(InternalError(), ref))

    async def _send(self, frame: dict[str, Any]) -> None:
        from_key = _member_key(frame, "from_key")
        to_key = _member_key(frame, "to_key")
        if (frame.get("to") is None) == (to_key is None):
            raise BadRequestError("A send names its recipient with exactly one of 'to', 'to_key'.")
        unrouted = envelopes.Send(
            sender=self.account,
            sender_role=self.role,
            recipient=b"" if to_key is not None else identifier(frame, "to"),
            cmid=identifier(frame, "cmid"),
            env=envelopes.parse_envelope(frame),
            writes=self._vault_writes(frame),
        )
        cmid = frame["cmid"]
        limits = self.service.limits(self.role)
        hub = self.service.hub
        notifier = self.service.notifier

        conn = self.conn

        def operation(tx: Tx) -> envelopes.Stored:
            send = unrouted
            if from_key is not None or to_key is not None:
                route = groups.route_envelope(
                    tx.conn, unrouted.sender, unrouted.recipient or None, from_key, to_key
                )
                send = dataclasses.replace(
                    unrouted,
                    recipient=route.recipient,
                    group=route.group,
                    sender_key=route.sender_key,
                    recipient_key=route.recipient_key,
                )
            stored = envelopes.store(tx.conn, send, limits)
            if stored.vault_cursor is not None:
                cursor = stored.vault_cursor
                tx.after_commit(lambda: hub.vault_changed(unrouted.sender, cursor, conn))
            if stored.seq is not None:
                seq = stored.seq
                # The received text is the envelope's one canonical spelling
                # (b64u_decode checked it), so it is relayed as it came.
                text = envelopes.frame(
                    stored.id,
                    send.sender,
                    frame["env"],
                    stored.ts,
                    send.group,
                    send.sender_key,
                    send.recipient_key,
                )
                recipient = send.recipient
                tx.after_commit(lambda: hub.deliver(recipient, seq, text))
                if recipient in notifier.targets:
                    # Only schedules: sending is the notifier's own task.
                    tx.after_commit(lambda: notifier.stored_for(recipient))
            return stored

        def answer(stored: envelopes.Stored) -> dict[str, Any]:
            return {"type": "sent", "cmid": cmid, "id": b64u_encode(stored.id)}

        await self._submit(operation, answer, cmid)

    async def _ack(self, frame: dict[str, Any]) -> None:
        envelope_id = identifier(frame, "id")
        writes = self._vault_writes(frame)
        ref = frame["id"]
        limits = self.service.limits(self.role)
        account = self.account
        hub = self.service.hub
        conn = self.conn

        def operation(tx: Tx) -> None:
            cursor = envelopes.acknowledge(tx.conn, account, envelope_id, writes, limits)
            if cursor is not None:
                tx.after_commit(lambda: hub.vault_changed(account, cursor, conn))

        await self._submit(operation, lambda _: {"type": "acked", "id": ref}, ref)

    async def _group_send(self, frame: dict[str, Any]) -> None:
        identifier(frame, "cmid")
        cmid = frame["cmid"]
        group_id = identifier(frame, "group")
        body, message = group_stream.parse_message(frame, group_id)
        limits = self.service.limits(self.role)
        hub = self.service.hub
        account = self.account

        def operation(tx: Tx) -> group_stream.Posted:
            posted = group_stream.post(tx.conn, account, group_id, message, body, limits)
            if posted.item.new:
                text = group_stream.frame(group_id, posted.item)
                seq = posted.item.seq
                tx.after_commit(lambda: hub.deliver_group(posted.recipients, seq, text))
            return posted

        def answer(posted: group_stream.Posted) -> dict[str, Any]:
            return {
                "type": "group_sent",
                "cmid": cmid,
                "group": frame["group"],
                "id": b64u_encode(posted.item.id),
            }

        await self._submit(operation, answer, cmid)

    async def _group_ack(self, frame: dict[str, Any]) -> None:
        group_id = identifier(frame, "group")
        item_id = identifier(frame, "id")
        writes = self._vault_writes(frame)
        ref = frame["id"]
        limits = self.service.limits(self.role)
        account = self.account
        hub = self.service.hub
        conn = self.conn

        def operation(tx: Tx) -> None:
            cursor = group_stream.acknowledge(tx.conn, account, group_id, item_id, writes, limits)
            if cursor is not None:
                tx.after_commit(lambda: hub.vault_changed(account, cursor, conn))

        answer = {"type": "group_acked", "group": frame["group"], "id": ref}
        await self._submit(operation, lambda _: answer, ref)


def _member_key(frame: dict[str, Any], name: str) -> bytes | None:
    if frame.get(name) is None:
        return None
    return binary(frame, name, ED25519_PUBLIC_KEY_BYTES)


def _ignore_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def relay(ws: WebSocket) -> None:
    service = _services(ws)
    counted = False
    try:
        await ws.accept()
        # Until it authenticates a socket holds only an admission slot, never
        # one of `max_connections` (server/admission.py).
        slot = service.admission.arrive()
        try:
            authenticated = await _authenticate(ws, service, slot)
        finally:
            service.admission.leave(slot)
        if authenticated is not None:
            if service.hub.sockets >= service.settings.max_connections:
                await _close_with(ws, TooManyConnectionsError(), CLOSE_TRY_AGAIN)
                return
            service.hub.sockets += 1
            counted = True
            account, _, session = authenticated

            def touch(tx: Tx) -> None:
                retention.touch(tx.conn, account)
                tokens.touch(tx.conn, session)

            # Not awaited: a database that cannot be written must not stop delivery.
            touched = service.writer.submit(touch, quick=True)
            touched.add_done_callback(_ignore_outcome)
            await Session(ws, service, *authenticated).run()
    except CLIENT_GONE:
        # The client left during the handshake or the challenge.
        pass
    except Exception as error:
        log_unexpected(error, "websocket")
    finally:
        if counted:
            service.hub.sockets -= 1
