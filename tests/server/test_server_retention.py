"""Retention: old undelivered envelopes, old de-duplication rows and expired tokens go away.

The rows are aged by rewriting their coarse timestamps in the database file
(the server keeps nothing else that would notice); the real server then
purges them on its schedule, and `retention.purge` does the same on demand.
"""

import time
from typing import Any

from server_harness import make_account, make_therapist, open_socket, random_envelope

from server import clock, retention

DEADLINE = 30.0


def count(server: Any, sql: str, *parameters: Any) -> int:
    return server.rows(sql, parameters)[0][0]


async def test_the_server_purges_on_its_schedule(server_factory: Any) -> None:
    server = server_factory(purge_interval=1, envelope_ttl_days=1)
    therapist = make_therapist(server)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)
    for _ in range(3):
        assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
    await socket.close()
    stale = make_account(server.url)
    assert count(server, "SELECT COUNT(*) FROM envelopes") == 3
    two_days = 2 * 86400
    server.execute(
        f"UPDATE envelopes SET ts = ts - {two_days} WHERE seq IN "
        "(SELECT seq FROM envelopes ORDER BY seq LIMIT 2)"
    )
    server.execute(
        f"UPDATE tokens SET expires = expires - {two_days} WHERE account = ?", (stale.id,)
    )
    # An expired token is refused at once, before any purge.
    assert stale.call("GET", "/api/vault").code == "unauthorized"
    deadline = time.monotonic() + DEADLINE
    while count(server, "SELECT COUNT(*) FROM envelopes") != 1:
        assert time.monotonic() < deadline, "the periodic purge did not run"
        time.sleep(0.1)
    while count(server, "SELECT COUNT(*) FROM tokens WHERE expires < ?", clock.now()) != 0:
        assert time.monotonic() < deadline, "expired tokens were not purged"
        time.sleep(0.1)
    # The de-duplication rows went with their envelopes.
    assert count(server, "SELECT COUNT(*) FROM sent_cmids") == 1
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 1
    await inbox.close()
    assert "retention purge removed 2 envelopes" in server.log_text()


async def test_purge_can_be_called_on_the_database_directly(server_factory: Any) -> None:
    server = server_factory()
    therapist = make_therapist(server)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)
    assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
    await socket.close()
    conn = server.storage().connect()
    try:
        server.storage().begin(conn)
        kept = retention.purge(conn, envelope_ttl_days=30)
        conn.execute("UPDATE envelopes SET ts = ts - 31 * 86400")
        gone = retention.purge(conn, envelope_ttl_days=30)
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert (kept.envelopes, gone.envelopes) == (0, 1)
    assert count(server, "SELECT COUNT(*) FROM sent_cmids") == 0
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 0
    await inbox.close()
