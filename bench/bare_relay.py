"""The baseline the real relay is compared with: the same frames, no storage.

`python -m bench.bare_relay --port 0` serves /ws on the same stack as the
server (uvicorn on uvloop with the sans-I/O websockets protocol, no
per-message compression, Starlette's websocket, the same garbage-collector
threshold, what exists at start frozen) and speaks the same frames: a challenge
answered by `auth` and `ready`, then `send` answered by `sent` with the
envelope pushed to the recipient as an `envelope` frame, `ack` answered by
`acked`, `ping` by `pong`. It parses each frame's JSON and the envelope's
framing as the server does, and builds outgoing frames the same way (the
envelope frame with the server's own `envelopes.frame`).

What it leaves out is what the comparison measures: no database, no
durability, no signature check, no queues or limits. An envelope for a
recipient who is not connected is dropped.
"""

import argparse
import asyncio
import gc
import json
import os
import time

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from crypto import envelope as framing
from crypto.encoding import b64u_decode, b64u_encode
from server import envelopes
from server.serve import tune_garbage_collector

SERVER_ID = os.urandom(16)
live: dict[str, WebSocket] = {}


async def _deliver(recipient: str, text: str) -> None:
    target = live.get(recipient)
    if target is None:
        return
    try:
        await target.send_text(text)
    except (OSError, RuntimeError, WebSocketDisconnect):
        live.pop(recipient, None)


async def relay(ws: WebSocket) -> None:
    await ws.accept()
    nonce = os.urandom(32)
    await ws.send_text(
        json.dumps(
            {"type": "challenge", "server": b64u_encode(SERVER_ID), "nonce": b64u_encode(nonce)}
        )
    )
    account = ""
    try:
        auth = json.loads(await ws.receive_text())
        account = auth["account"]
        live[account] = ws
        await ws.send_text(json.dumps({"type": "ready", "account": account, "pending": 0}))
        while True:
            frame = json.loads(await ws.receive_text())
            kind = frame.get("type")
            if kind == "send":
                env = b64u_decode(frame["env"])
                framing.parse(env)
                envelope_id = os.urandom(16)
                text = envelopes.frame(
                    envelope_id, b64u_decode(account), frame["env"], int(time.time()) // 3600 * 3600
                )
                await _deliver(frame["to"], text)
                await ws.send_text(
                    json.dumps(
                        {"type": "sent", "cmid": frame["cmid"], "id": b64u_encode(envelope_id)}
                    )
                )
            elif kind == "ack":
                await ws.send_text(json.dumps({"type": "acked", "id": frame["id"]}))
            elif kind == "ping":
                await ws.send_text(json.dumps({"type": "pong"}))
    except WebSocketDisconnect:
        pass
    finally:
        if live.get(account) is ws:
            del live[account]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    config = uvicorn.Config(
        Starlette(routes=[WebSocketRoute("/ws", relay)]),
        host="127.0.0.1",
        port=args.port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        log_level="warning",
        lifespan="off",
    )
    tune_garbage_collector()
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            # As the server does once it is up (server/serve.py).
            gc.collect()
            gc.freeze()
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            print(f"Bare relay serving on http://{host}:{port}/", flush=True)
        await task

    uvloop.run(serve())


if __name__ == "__main__":
    main()
