"""A therapist's notifications when away (twin of client_web/app/notifications.js).

The server keeps a mail address and a push address for a therapist who turns
notifications on, and sends only the practice's neutral wording to them
(docs/API.md, "Notifications"). Clients have none: the calls refuse them
before anything is sent.
"""

from dataclasses import dataclass
from typing import Any

from client_py.api import field
from client_py.errors import BadInputError, BadResponseError
from client_py.workspace import Workspace

CHANNELS = ("email", "push")


@dataclass(frozen=True)
class Notifications:
    email: str | None
    push_url: str | None
    mail_available: bool
    last_notified: int | None


def _optional(answer: Any, name: str, kind: type) -> Any:
    value = answer.get(name) if isinstance(answer, dict) else None
    if value is not None and not isinstance(value, kind):
        raise BadResponseError(f"The server's answer has an invalid {name!r}; check --server.")
    return value


def _parse(answer: Any) -> Notifications:
    return Notifications(
        email=_optional(answer, "email", str),
        push_url=_optional(answer, "push_url", str),
        mail_available=bool(field(answer, "mail_available", bool)),
        last_notified=_optional(answer, "last_notified", int),
    )


async def load(workspace: Workspace) -> Notifications:
    workspace.require_therapist()
    return _parse(await workspace.http.get("/api/notifications"))


async def save(workspace: Workspace, changes: dict[str, str | None]) -> Notifications:
    """`changes` holds `email` and/or `push_url`: an address, or None to turn it off."""
    workspace.require_therapist()
    if not changes or set(changes) - {"email", "push_url"}:
        raise BadInputError("Give --email and/or --push-url (an empty value turns one off).")
    return _parse(await workspace.http.put("/api/notifications", changes))


async def turn_off(workspace: Workspace) -> Notifications:
    workspace.require_therapist()
    return _parse(await workspace.http.delete("/api/notifications"))


async def send_test(workspace: Workspace, channel: str) -> None:
    workspace.require_therapist()
    if channel not in CHANNELS:
        raise BadInputError('The channel to test is "email" or "push".')
    await workspace.http.post("/api/notifications/test", {"channel": channel})
