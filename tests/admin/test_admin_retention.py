"""`quietline admin purge`: exactly the expired rows go, and nothing else.

Rows are aged by rewriting their coarse timestamps in the real database of a
real server; the purge runs as the administrator would run it, beside that
server, with the policy from the data directory's quietline.toml.
"""

import sqlite3
from typing import Any

from admin_helpers import admin, ok, table_rows, therapist_with_profile
from server_harness import make_account, open_socket, random_envelope, vault_blob, vault_write

DAY = 86400
# The counters the envelope triggers keep: `inbox`, and `outbox_bytes` (the last).
INBOX_COLUMN = 9


def without_inbox(rows: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    return {row[:INBOX_COLUMN] + row[INBOX_COLUMN + 1 : -1] for row in rows}


def execute(database: Any, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    conn = sqlite3.connect(database, timeout=10)
    try:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def owned_by(rows: dict[str, set[tuple[Any, ...]]], account: bytes) -> dict[str, set[Any]]:
    """The rows that cascade from deleting `account`, table by table."""
    columns = {
        "accounts": (0,),
        "tokens": (1,),
        "signed_prekeys": (0,),
        "one_time_prekeys": (0,),
        "vault_items": (0,),
        "envelopes": (2, 3),
        "sent_cmids": (0,),
        "blocks": (0, 1),
        "profiles": (0,),
    }
    return {
        table: {row for row in rows[table] if any(row[i] == account for i in indexes)}
        for table, indexes in columns.items()
    }


async def test_purge_removes_exactly_the_expired_rows(server_factory: Any) -> None:
    server = server_factory()
    (server.data_dir / "quietline.toml").write_text(
        "envelope_ttl_days = 10\nclient_inactive_days = 30\n"
    )
    therapist = therapist_with_profile(server, "Therapist")
    idle, recent, fresh = (make_account(server.url) for _ in range(3))
    for client in (idle, recent, fresh):
        assert client.call("PUT", "/api/prekeys", client.prekey_upload()).status == 200
        write = vault_write(b"\x01" * 16, 1, vault_blob())
        assert client.call("POST", "/api/vault", {"writes": [write]}).status == 200
        socket = await open_socket(server.url, client)
        for _ in range(2):
            assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
        await socket.close()
    assert therapist.call("PUT", f"/api/blocks/{idle.id_text}").status == 200
    inbox = await open_socket(server.url, therapist)
    await inbox.expect("envelope")
    assert (await inbox.send_envelope(recent, random_envelope()))["type"] == "sent"
    await inbox.close()

    old = 40 * DAY
    execute(
        server.database,
        [
            # idle: made and last used 40 days ago -> deleted with all it owns.
            (
                "UPDATE accounts SET created = created - ?, active = active - ? WHERE id = ?",
                (old, old, idle.id),
            ),
            # recent: made 40 days ago but used today -> kept.
            ("UPDATE accounts SET created = created - ? WHERE id = ?", (old, recent.id)),
            # the therapist is never deleted for inactivity.
            (
                "UPDATE accounts SET created = created - ?, active = active - ? WHERE id = ?",
                (old, old, therapist.id),
            ),
            # one of fresh's envelopes is 11 days old -> deleted, with its cmid.
            (
                "UPDATE envelopes SET ts = ts - ? WHERE seq = "
                "(SELECT MIN(seq) FROM envelopes WHERE sender = ?)",
                (11 * DAY, fresh.id),
            ),
            # one 9 days old -> kept.
            (
                "UPDATE envelopes SET ts = ts - ? WHERE seq = "
                "(SELECT MAX(seq) FROM envelopes WHERE sender = ?)",
                (9 * DAY, fresh.id),
            ),
            # recent's token has expired -> deleted.
            ("UPDATE tokens SET expires = expires - ? WHERE account = ?", (DAY, recent.id)),
        ],
    )
    before = table_rows(server.database)
    expected = {table: set(rows) for table, rows in before.items()}
    for table, rows in owned_by(before, idle.id).items():
        expected[table] -= rows
    conn = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
    try:
        old_envelope = conn.execute(
            "SELECT * FROM envelopes WHERE sender = ? AND ts < strftime('%s') - ?",
            (fresh.id, 10 * DAY),
        ).fetchall()
        old_cmid = conn.execute(
            "SELECT * FROM sent_cmids WHERE envelope IN "
            "(SELECT id FROM envelopes WHERE ts < strftime('%s') - ?)",
            (10 * DAY,),
        ).fetchall()
        expired = conn.execute("SELECT * FROM tokens WHERE expires <= strftime('%s')").fetchall()
    finally:
        conn.close()
    assert len(old_envelope) == 1 and len(old_cmid) == 1 and len(expired) == 1
    expected["envelopes"] -= set(old_envelope)
    expected["sent_cmids"] -= set(old_cmid)
    expected["tokens"] -= set(expired)

    text = ok(admin(server.data_dir, "purge"))
    assert text.startswith("Removed 1 expired envelopes (with their de-duplication records)")
    assert text.rstrip().endswith("1 expired tokens and 1 inactive client accounts.")
    after = table_rows(server.database)
    # The inbox counters follow the envelopes (a trigger); compare them separately.
    assert without_inbox(after.pop("accounts")) == without_inbox(expected.pop("accounts"))
    assert after == expected
    counts = {row[0]: row[INBOX_COLUMN] for row in table_rows(server.database)["accounts"]}
    pending: dict[bytes, int] = {}
    for row in table_rows(server.database)["envelopes"]:
        pending[row[2]] = pending.get(row[2], 0) + 1
    assert counts == {account: pending.get(account, 0) for account in counts}

    # What the idle client sees: its secret no longer logs in.
    assert idle.login().code == "invalid_credentials"
    assert recent.login().status == 200 and fresh.login().status == 200
    assert "Removed 0 expired envelopes" in ok(admin(server.data_dir, "purge"))
