"""The outermost layer: no exception escapes to uvicorn, whose log would quote it.

Endpoints answer their own errors; this catches what happens outside them
(a file that disappears while being sent, a bug in a middleware) and answers
`internal` if nothing was sent yet.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import InternalError
from server.logs import log_unexpected


class Guard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            log_unexpected(error, "request")
            if started:
                return
            body = json.dumps({"error": InternalError().body()}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
