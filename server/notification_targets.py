"""Where a therapist wants to be told that something is new: a mail address, a push URL.

The only personal data the server holds, and only for therapists who turn
notifications on (docs/SECURITY.md, "notification_targets"). It is stored as
given, in plain text: the server must read it to deliver, so encrypting it
under a key the server holds would only hide it from someone who does not also
take that key. Clearing a channel sets it to NULL; clearing both deletes the
row; under `secure_delete` the old value is overwritten in the pages SQLite
writes. When a therapist was last notified is kept in memory only
(server/notifier.py), so the file says nothing about when anyone wrote.

A push URL is checked before it is stored and again before every request
(`check_push_url`): https, or http to this machine when the practice allows
it for testing. Only a therapist can store one (the API checks the role), so
the server never fetches an address a client gave it.
"""

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

from server import wakeup
from server.errors import InvalidAddressError
from server.storage import Connection

MAX_EMAIL_CHARS = 254
MAX_URL_CHARS = 2000
CHANNELS = ("email", "push")

# Deliberately plain: one @, no spaces or control characters, a dot in the
# domain. The mail server has the last word; this only keeps header
# injection and obvious typos out.
_PART = r"[^@\s\x00-\x1f\x7f<>,;\"]+"
_EMAIL = re.compile(rf"{_PART}@{_PART}\.{_PART}")


@dataclass(frozen=True)
class Target:
    email: str | None
    push_url: str | None

    def channels(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, value in (("email", self.email), ("push", self.push_url))
            if value is not None
        )


def check_email(text: str) -> str:
    address = text.strip()
    if len(address) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(address):
        raise InvalidAddressError(
            "That is not a mail address this server can send to; check it (name@example.org)."
        )
    return address


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_push_url(text: str, allow_http_loopback: bool) -> str:
    """The URL as it will be requested, or InvalidAddressError saying what is wrong."""
    url = text.strip()
    if len(url) > MAX_URL_CHARS or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidAddressError(
            f"A push address is one line of at most {MAX_URL_CHARS} characters without spaces."
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidAddressError("That push address does not parse; copy it again.") from None
    host = parts.hostname or ""
    has_login = parts.username is not None or parts.password is not None
    if not host or port == 0 or has_login or parts.fragment:
        raise InvalidAddressError(
            "A push address needs a host, and no user name, password or #fragment."
        )
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return url
    raise InvalidAddressError(
        "A push address must begin with https:// (plain http is allowed only to this machine, "
        "and only when the practice turned that on for testing)."
    )


def get(conn: Connection, account: bytes) -> Target | None:
    row = conn.execute(
        "SELECT email, push_url FROM notification_targets WHERE account = ?",
        (account,),
    ).fetchone()
    return None if row is None else Target(*row)


def all_targets(conn: Connection) -> dict[bytes, Target]:
    """Every therapist with notifications on (revoked therapists are left out)."""
    rows = conn.execute(
        "SELECT t.account, t.email, t.push_url FROM notification_targets t "
        "JOIN accounts a ON a.id = t.account WHERE a.revoked IS NULL"
    ).fetchall()
    return {bytes(row[0]): Target(*row[1:]) for row in rows}


def put(conn: Connection, account: bytes, email: str | None, push_url: str | None) -> None:
    """Store both channels as given; both None deletes the row (notifications off)."""
    wakeup.notify(conn, wakeup.TARGET, account)
    if email is None and push_url is None:
        conn.execute("DELETE FROM notification_targets WHERE account = ?", (account,))
        return
    conn.execute(
        "INSERT INTO notification_targets (account, email, push_url) VALUES (?, ?, ?) "
        "ON CONFLICT (account) DO UPDATE SET email = excluded.email, "
        "push_url = excluded.push_url",
        (account, email, push_url),
    )


def with_waiting_envelopes(conn: Connection) -> set[bytes]:
    """The therapists with notifications on and envelopes not yet fetched by any device."""
    rows = conn.execute(
        "SELECT account FROM notification_targets t WHERE EXISTS "
        "(SELECT 1 FROM envelopes e WHERE e.recipient = t.account)"
    ).fetchall()
    return {bytes(row[0]) for row in rows}
