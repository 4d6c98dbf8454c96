"""Retention: what is kept only for a while is deleted on schedule.

Undelivered envelopes older than the retention period, the (sender, cmid)
pairs remembered for de-duplication, and expired tokens. The server runs
`purge` through its writer every `purge_interval` seconds; the admin command
can call it on the database directly.
"""

import sqlite3
from dataclasses import dataclass

from server import clock


@dataclass(frozen=True)
class Purged:
    envelopes: int
    cmids: int
    tokens: int


def purge(conn: sqlite3.Connection, envelope_ttl_days: float) -> Purged:
    """Delete expired rows in the caller's transaction."""
    cutoff = clock.now() - int(envelope_ttl_days * clock.DAY)
    envelopes = conn.execute("DELETE FROM envelopes WHERE ts < ?", (cutoff,)).rowcount
    cmids = conn.execute("DELETE FROM sent_cmids WHERE ts < ?", (cutoff,)).rowcount
    tokens = conn.execute("DELETE FROM tokens WHERE expires <= ?", (clock.now(),)).rowcount
    return Purged(envelopes, cmids, tokens)
