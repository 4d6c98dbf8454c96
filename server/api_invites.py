"""HTTP: checking an invite code before an account is made with it.

The web client asks this before it shows a new account secret, so that a
mistyped code is reported while the person can still correct it, not after
they have saved a secret that cannot be used. Checking does not use the
code up: registration (`POST /api/accounts`) does, in its own transaction.

Guessing codes through this endpoint is as hopeless as through registration
(100-bit codes), and it shares registration's rate limit, so it is no faster.
"""

from starlette.requests import Request
from starlette.responses import Response

from server import accounts, invites
from server.api_accounts import MAX_INVITE_CHARS
from server.endpoint import endpoint, json_response, read_json, services
from server.errors import BadRequestError, RateLimitedError
from server.validation import string


@endpoint
async def check(request: Request) -> Response:
    service = services(request)
    wait = service.rates.registrations.take()
    if wait:
        raise RateLimitedError(wait, "Too many sign-ups right now; try again in a minute.")
    body = await read_json(request)
    role = body.get("role")
    if role not in accounts.ROLES:
        raise BadRequestError('The field \'role\' must be "client" or "therapist".')
    code = string(body, "invite", MAX_INVITE_CHARS)
    await service.readers.run(invites.check, code, role)
    return json_response({})
