"""Retention: what is kept only for a while is deleted on schedule.

Undelivered envelopes older than `envelope_ttl_days` (their de-duplication
rows go with them, by a foreign key cascade), group items as old (and the
memberships of removed members left with nothing to read), expired tokens,
and, when `client_inactive_days` is set, client accounts that have neither
logged in nor connected for that many days (with everything they own,
through the accounts table's cascading deletes). The server runs `purge`
through its writer every `purge_interval` seconds; `quietline admin purge`
calls it on the database directly.
"""

from dataclasses import dataclass

from server import clock, group_stream
from server.storage import Connection


@dataclass(frozen=True)
class Purged:
    envelopes: int
    tokens: int
    clients: int = 0
    group_items: int = 0


def touch(conn: Connection, account: bytes) -> None:
    """Record that `account` was used today: one write per account per day at most."""
    today = clock.today()
    conn.execute(
        "UPDATE accounts SET active = ? WHERE id = ? AND active < ?", (today, account, today)
    )


# The later of two columns: SQLite's two-argument MAX, PostgreSQL's GREATEST.
_IDLE_CLIENTS = {
    "sqlite": "DELETE FROM accounts WHERE role = 'client' AND MAX(created, active) < ?",
    "postgresql": "DELETE FROM accounts WHERE role = 'client' AND GREATEST(created, active) < ?",
}


def purge(conn: Connection, envelope_ttl_days: float, client_inactive_days: int = 0) -> Purged:
    """Delete expired rows in the caller's transaction."""
    cutoff = clock.now() - int(envelope_ttl_days * clock.DAY)
    clients = 0
    if client_inactive_days > 0:
        # An account counts as used on the day it was made, before its first login.
        idle_since = clock.today() - client_inactive_days * clock.DAY
        clients = conn.execute(_IDLE_CLIENTS[conn.engine], (idle_since,)).rowcount
    envelopes = conn.execute("DELETE FROM envelopes WHERE ts < ?", (cutoff,)).rowcount
    group_items = group_stream.purge(conn, cutoff)
    tokens = conn.execute("DELETE FROM tokens WHERE expires <= ?", (clock.now(),)).rowcount
    return Purged(envelopes, tokens, clients, group_items)
