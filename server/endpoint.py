"""What every HTTP endpoint shares: bounded JSON bodies, bearer auth, error answers.

`endpoint` wraps a handler so that an `ApiError` becomes the documented JSON
error and anything unexpected becomes `internal`, logged without content. A
client that hangs up before its body is complete is not a bug: it is logged
at DEBUG without anything that names it, and the answer goes nowhere.

Every JSON answer is rendered by `ApiJSONResponse`, the one place where text
becomes bytes: error messages quote input (a field name, an unknown key),
and input decoded from JSON may hold a lone surrogate (`"\\ud800"`), which
has no UTF-8 form. It is written as `?` rather than failing the answer.
"""

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from server import tokens
from server.errors import (
    ApiError,
    BadRequestError,
    ForbiddenError,
    InternalError,
    RateLimitedError,
    TooLargeError,
    UnauthorizedError,
)
from server.logs import log_unexpected
from server.services import Services
from server.tokens import Caller
from server.validation import parse_json, require_object

Handler = Callable[[Request], Awaitable[Response]]

logger = logging.getLogger("quietline.endpoint")


class ApiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8", "replace")


def services(request: Request) -> Services:
    return request.app.state.services


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return ApiJSONResponse(body, status_code=status)


def error_response(error: ApiError) -> JSONResponse:
    response = ApiJSONResponse({"error": error.body()}, status_code=error.status)
    if isinstance(error, RateLimitedError):
        response.headers["Retry-After"] = str(error.details["retry_after"])
    return response


def endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except ClientDisconnect:
            logger.debug("a client left before sending its whole request body")
            return error_response(BadRequestError("The request body ended early."))
        except Exception as error:
            log_unexpected(error, handler.__name__)
            return error_response(InternalError())

    return wrapped


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, refused unread when over `max_request_bytes`."""
    limit = services(request).settings.max_request_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"A request body may be at most {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLargeError(f"A request body may be at most {limit} bytes.")
    if not body:
        raise BadRequestError("The request needs a JSON body.")
    return require_object(parse_json(bytes(body)))


async def authenticate(request: Request, role: str | None = None) -> Caller:
    """The caller of a bearer-authenticated request, rate limited per account."""
    service = services(request)
    token = tokens.parse_bearer(request.headers.get("authorization"))
    caller = None if token is None else await service.readers.run(tokens.lookup, token)
    if caller is None:
        raise UnauthorizedError()
    wait = service.rates.api.take(caller.account)
    if wait:
        raise RateLimitedError(wait)
    if role is not None and caller.role != role:
        raise ForbiddenError(f"Only a {role} account may do that.")
    return caller
