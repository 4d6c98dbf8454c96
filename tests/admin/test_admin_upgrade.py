"""Upgrading: a database made by the first schema version, with data, reaches the latest intact.

The old database is built by applying migration 1 alone and inserting rows of
every table the way that version stored them; then the real server starts on
it, applies the rest, and the old therapist logs in and receives the
envelope that was waiting for them.
"""

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from server_harness import Account, new_handle, open_socket, random_envelope
from server_process import TEST_SETTINGS, RunningServer

from crypto import signatures
from crypto.constants import CTX_PROFILE
from crypto.keys import IdentityKeyPair
from server import database, handles, migrations, settings_store
from server.passwords import HASHER

DAY = 86400
ENVELOPE_ID = os.urandom(16)
ENVELOPE = random_envelope()


def first_version_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = database.connect(path)
    try:
        database.enable_wal(conn)
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
            assert migrations.migrate(conn) == [1]
    finally:
        conn.close()


def insert_representative_rows(path: Path, therapist: Account, client_id: bytes) -> None:
    today = int(time.time()) // DAY * DAY
    conn = sqlite3.connect(path)
    try:
        handle_key = settings_store.get(conn, settings_store.HANDLE_KEY)
        rows = {
            "accounts": [
                (
                    therapist.id,
                    handles.handle_hash(handle_key, therapist.handle),
                    "therapist",
                    therapist.identity.public,
                    HASHER.hash(therapist.login_key),
                    today - 90 * DAY,
                    0,
                    0,
                    0,
                    0,  # the inbox counter: the trigger counts the envelope below
                ),
                (
                    client_id,
                    os.urandom(32),
                    "client",
                    IdentityKeyPair.generate().public,
                    HASHER.hash(os.urandom(32)),
                    today - 30 * DAY,
                    1,
                    300,
                    1,
                    0,
                ),
            ],
            # An expiry on the four-hour grain migration 5 rounds to, so it stays as it is.
            "tokens": [(os.urandom(32), client_id, (int(time.time()) + 8 * 3600) // 14400 * 14400)],
            "invites": [(os.urandom(32), "therapist", today)],
            "one_time_prekeys": [(therapist.id, 7, os.urandom(32), os.urandom(64))],
            "vault_items": [(client_id, os.urandom(16), 1, os.urandom(300), 1)],
            "envelopes": [(1, ENVELOPE_ID, therapist.id, client_id, ENVELOPE, today)],
            "sent_cmids": [
                (client_id, os.urandom(16), ENVELOPE_ID, today),
                # Its envelope was acknowledged: migration 5 drops it.
                (client_id, os.urandom(16), os.urandom(16), today),
            ],
            "blocks": [],
        }
        profile = json.dumps({"display_name": "Old Friend"}).encode()
        sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
        rows["profiles"] = [(therapist.id, profile, sig)]
        for table, values in rows.items():
            for value in values:
                marks = ", ".join("?" * len(value))
                conn.execute(f"INSERT INTO {table} VALUES ({marks})", value)
        conn.commit()
    finally:
        conn.close()


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            "settings",
            "invites",
            "one_time_prekeys",
            "profiles",
            "vault_items",
            "sent_cmids",
        ]
        found = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}
        # Migration 7 adds member-key columns, empty for one-to-one envelopes.
        found["envelopes"] = sorted(
            conn.execute("SELECT seq, id, recipient, sender, env, ts FROM envelopes").fetchall()
        )
        found["tokens"] = sorted(conn.execute("SELECT hash, account, expires FROM tokens"))
        # Migration 5 keeps a de-duplication row only while its envelope waits,
        # without an hour of its own.
        found["sent_cmids"] = sorted(
            conn.execute(
                "SELECT sender, cmid, envelope FROM sent_cmids "
                "WHERE envelope IN (SELECT id FROM envelopes)"
            ).fetchall()
        )
        found["accounts"] = sorted(
            conn.execute(
                "SELECT id, handle_hash, role, identity_key, login_hash, created, vault_seq, "
                "vault_bytes, vault_items, inbox FROM accounts"
            ).fetchall()
        )
        return found
    finally:
        conn.close()


async def test_a_first_version_database_upgrades_with_its_data_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    path = data_dir / "quietline.sqlite3"
    first_version_database(path, monkeypatch)
    identity = IdentityKeyPair.generate()
    therapist = Account("", "therapist", new_handle(), os.urandom(32), identity, id=os.urandom(16))
    client_id = os.urandom(16)
    insert_representative_rows(path, therapist, client_id)
    before = snapshot(path)

    server = RunningServer(data_dir, dict(TEST_SETTINGS)).start()
    try:
        assert "applied migration 2" in server.log_text()
        assert snapshot(path) == before
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
            assert versions == [v for v, _, _ in migrations.MIGRATIONS]
            today = int(time.time()) // DAY * DAY
            assert conn.execute("SELECT DISTINCT active, revoked FROM accounts").fetchall() == [
                (today, None)
            ]
            # A session from before migration 4 gets an id and today as its day.
            sessions = conn.execute("SELECT id, kind, active, signed_out FROM tokens").fetchall()
            assert [(len(row[0]), *row[1:]) for row in sessions] == [(16, None, today, None)]
            assert conn.execute("SELECT COUNT(*) FROM sent_cmids").fetchone() == (1,)
            outbox = conn.execute("SELECT outbox_bytes FROM accounts WHERE id = ?", (client_id,))
            assert outbox.fetchone() == (len(ENVELOPE),)
        finally:
            conn.close()
        therapist.base_url = server.url
        assert therapist.login().status == 200
        socket = await open_socket(server.url, therapist)
        assert socket.ready["pending"] == 1
        envelope = await socket.expect("envelope")
        assert envelope["env"] and (await socket.ack(envelope["id"]))["type"] == "acked"
        await socket.close()
        directory = server.get_json("/api/directory")["therapists"]
        assert [entry["account"] for entry in directory] == [therapist.id_text]
    finally:
        server.stop()
