"""The server's HTTP API (docs/API.md): JSON requests with the bearer token.

HTTP uses the standard library (urllib in a worker thread) so that the client
adds no dependency beyond `websockets`. Every server error becomes a
`ServerError` carrying the documented code (docs/API.md); anything that is not
the documented shape becomes `BadResponseError`, and a network failure
`UnreachableError`. The token lives in memory only.
"""

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from client_py.errors import (
    BadInputError,
    BadResponseError,
    ClientError,
    ServerError,
    UnreachableError,
)
from crypto.encoding import b64u_decode
from crypto.errors import MalformedError

DEFAULT_TIMEOUT = 30.0


def normalize_server_url(url: str) -> str:
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadInputError(
            f"The server address {url!r} must start with http:// or https:// "
            "(for example https://practice.example)."
        )
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))


def _error_from_body(status: int, raw: bytes) -> ClientError:
    try:
        error = json.loads(raw)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        return BadResponseError(
            f"The server answered HTTP {status} without a Quietline error; check --server."
        )
    if not isinstance(code, str) or not isinstance(message, str):
        return BadResponseError()
    return ServerError(code, message, status, error)


class Http:
    """Authenticated JSON requests; `token` is set after login and kept in memory only."""

    def __init__(self, server_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server_url = normalize_server_url(server_url)
        self.timeout = timeout
        self.token: str | None = None
        # Called once when the server refuses the token (it expired): logs in
        # again so that a long-running client keeps working.
        self.on_unauthorized: Callable[[], Awaitable[None]] | None = None

    def _request_sync(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self.server_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise _error_from_body(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise UnreachableError(
                f"The server at {self.server_url} could not be reached ({exc}); "
                "check the --server address and the network."
            ) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise BadResponseError() from None

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return await asyncio.to_thread(self._request_sync, method, path, body)
        except ServerError as exc:
            if exc.code != "unauthorized" or self.token is None or self.on_unauthorized is None:
                raise
        await self.on_unauthorized()
        return await asyncio.to_thread(self._request_sync, method, path, body)

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.request("POST", path, {} if body is None else body)

    async def put(self, path: str, body: Any = None) -> Any:
        return await self.request("PUT", path, {} if body is None else body)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)


def field(frame: Any, name: str, kind: type) -> Any:
    """A field of a server answer, of the documented type, or BadResponseError."""
    if not isinstance(frame, dict) or not isinstance(frame.get(name), kind):
        raise BadResponseError(f"The server's answer lacks a valid {name!r}; check --server.")
    return frame[name]


def b64u_field(frame: Any, name: str, length: int | None = None) -> bytes:
    try:
        return b64u_decode(field(frame, name, str), length)
    except MalformedError:
        raise BadResponseError(f"The server's {name!r} is not valid base64url.") from None
