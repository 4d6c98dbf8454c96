"""uvicorn's HTTP and websocket protocols, answering what they refuse as the API does.

uvicorn refuses some requests itself, before the application sees them: a
request h11 cannot parse, and a websocket opening that is not a valid
handshake (no `Sec-WebSocket-Key`, a method other than GET, a body). Left as
they are, these answers are plain text without the security headers of
server/headers.py, and an opening with a body is never answered at all: the
websocket parser refuses it, queues only the end of the stream, and nothing
writes that or closes the socket. These two subclasses give every such
refusal the documented JSON error (docs/API.md, "Error codes") with the
security headers, then close the connection.

What still answers below the application is listed in docs/SECURITY.md
("Answers the application does not write").
"""

import email.utils
import http
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.server import ServerProtocol
from websockets.typing import StatusLike

from server.errors import ApiError, BadRequestError, MethodNotAllowedError, TooLargeError
from server.headers import security_headers

TOO_LARGE = {
    http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    http.HTTPStatus.REQUEST_URI_TOO_LONG,
    http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
}


def refusal(error: ApiError) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of a refusal written below the application; it closes the connection."""
    body = json.dumps({"error": error.body()}).encode()
    headers = [
        ("date", email.utils.formatdate(usegmt=True)),
        ("connection", "close"),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        *security_headers(),
    ]
    return headers, body


def handshake_error(status: StatusLike) -> ApiError:
    """The documented error for a status the websocket handshake refuses with."""
    status = http.HTTPStatus(status)
    if status == http.HTTPStatus.METHOD_NOT_ALLOWED:
        return MethodNotAllowedError("A websocket opens with GET /ws; see docs/API.md.")
    if status in TOO_LARGE:
        return TooLargeError("The websocket opening request is larger than this server accepts.")
    return BadRequestError("This is not a valid websocket opening request; see docs/API.md.")


class HttpProtocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        headers, body = refusal(BadRequestError("The request is not valid HTTP/1.1."))
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


class _Handshake(ServerProtocol):
    def reject(self, status: StatusLike, text: str) -> Response:
        error = handshake_error(status)
        headers, body = refusal(error)
        phrase = http.HTTPStatus(error.status).phrase
        return Response(error.status, phrase, Headers(headers), body)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.conn = _Handshake(
            extensions=self.conn.available_extensions,
            max_size=self.config.ws_max_size,
            logger=self.conn.logger,
        )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if (
            not self.handshake_initiated
            and self.conn.handshake_exc is not None
            and not self.transport.is_closing()
        ):
            # The opening request did not parse (a body, a bad header line):
            # websockets then only marks its end of the stream, which
            # nothing here writes. Its parser is done, so the answer is
            # written directly.
            self.transport.write(self.conn.reject(http.HTTPStatus.BAD_REQUEST, "").serialize())
            self.transport.close()
