"""HTTP: a therapist's notification settings, and a test notification.

Only therapists may call these (a client gets `forbidden`): the server sends
to an address or fetches a URL only when a therapist, invited by the
practice, gave it. docs/API.md describes the bodies.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server import delivery, notification_targets
from server.endpoint import authenticate, endpoint, json_response, read_json, services
from server.errors import BadRequestError, MailUnavailableError, RateLimitedError
from server.notification_targets import Target
from server.services import Services
from server.writer import Tx


def _view(service: Services, account: bytes, target: Target | None) -> dict[str, Any]:
    return {
        "email": None if target is None else target.email,
        "push_url": None if target is None else target.push_url,
        "mail_available": delivery.mail_configured(service.settings),
        "last_notified": service.notifier.last_notified(account),
    }


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"The field '{name}' must be text, or null to turn it off.")
    return value


@endpoint
async def get_settings(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, role="therapist")
    target = await service.readers.run(notification_targets.get, caller.account)
    return json_response(_view(service, caller.account, target))


@endpoint
async def put_settings(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, role="therapist")
    body = await read_json(request)
    unknown = set(body) - {"email", "push_url"}
    if unknown or not body:
        raise BadRequestError("Send 'email' and/or 'push_url' (text, or null to turn it off).")
    settings = service.settings
    changes: dict[str, str | None] = {}
    if "email" in body:
        email = _optional_text(body, "email")
        if email is not None:
            if not delivery.mail_configured(settings):
                raise MailUnavailableError()
            email = notification_targets.check_email(email)
        changes["email"] = email
    if "push_url" in body:
        url = _optional_text(body, "push_url")
        if url is not None:
            url = notification_targets.check_push_url(url, settings.notify_allow_http_loopback)
        changes["push_url"] = url
    account = caller.account

    def operation(tx: Tx) -> Target | None:
        old = notification_targets.get(tx.conn, account)
        email = changes.get("email", None if old is None else old.email)
        push_url = changes.get("push_url", None if old is None else old.push_url)
        notification_targets.put(tx.conn, account, email, push_url)
        new = None if email is None and push_url is None else Target(email, push_url)
        tx.after_commit(lambda: service.notifier.set_target(account, new))
        return new

    target = await service.writer.run(operation)
    return json_response(_view(service, account, target))


@endpoint
async def delete_settings(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, role="therapist")
    account = caller.account

    def operation(tx: Tx) -> None:
        notification_targets.put(tx.conn, account, None, None)
        tx.after_commit(lambda: service.notifier.set_target(account, None))

    await service.writer.run(operation)
    return json_response(_view(service, account, None))


@endpoint
async def send_test(request: Request) -> Response:
    service = services(request)
    caller = await authenticate(request, role="therapist")
    body = await read_json(request)
    channel = body.get("channel")
    if channel not in notification_targets.CHANNELS:
        raise BadRequestError('The field \'channel\' must be "email" or "push".')
    # Each test reaches another server, so they are limited on their own.
    wait = service.rates.notification_tests.take(caller.account)
    if wait:
        raise RateLimitedError(wait, "A test was sent a moment ago; wait and try again.")
    await service.notifier.send_test(caller.account, channel)
    return json_response({})
