"""Online backup while clients send, restore into a fresh data directory, and the refusals."""

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

from admin_helpers import admin, ok, table_rows
from server_harness import Account, make_account, make_therapist, open_socket, random_envelope
from server_process import TEST_SETTINGS, RunningServer

SENDERS = 4


async def send_until(client: Any, therapist: Account, stop: asyncio.Event, sent: list[str]) -> None:
    socket = await open_socket(client.base_url, client)
    while not stop.is_set():
        answer = await socket.send_envelope(therapist, random_envelope())
        assert answer["type"] == "sent", answer
        sent.append(answer["id"])
    await socket.close()


async def received_ids(url: str, therapist: Account) -> set[str]:
    assert therapist.login().status == 200
    socket = await open_socket(url, therapist)
    ids = {(await socket.expect("envelope"))["id"] for _ in range(socket.ready["pending"])}
    await socket.close()
    return ids


async def test_a_backup_taken_while_clients_send_restores_every_acknowledged_envelope(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory()
    therapist = make_therapist(server)
    clients = [make_account(server.url) for _ in range(SENDERS)]
    stop = asyncio.Event()
    sent: list[str] = []
    senders = [asyncio.create_task(send_until(c, therapist, stop, sent)) for c in clients]
    while len(sent) < 50:
        await asyncio.sleep(0.05)
    acknowledged_before = set(sent)
    during = tmp_path / "during.sqlite3"
    result = await asyncio.to_thread(admin, server.data_dir, "backup", str(during))
    acknowledged_by_then = set(sent)
    while len(sent) < len(acknowledged_by_then) + 20:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*senders)
    assert "integrity check ok" in ok(result)
    after = tmp_path / "after.sqlite3"
    ok(admin(server.data_dir, "backup", str(after)))
    assert after.stat().st_mode & 0o077 == 0

    # Restored into fresh data directories, each backup serves what it held.
    for backup, must_hold, may_hold in (
        (during, acknowledged_before, acknowledged_by_then),
        (after, set(sent), set(sent)),
    ):
        data_dir = tmp_path / f"restored-{backup.stem}"
        assert "integrity check ok" in ok(admin(data_dir, "restore", str(backup)))
        restored = RunningServer(data_dir, dict(TEST_SETTINGS)).start()
        try:
            ids = await received_ids(
                restored.url, Account(**{**vars(therapist), "base_url": restored.url})
            )
        finally:
            restored.stop()
        assert must_hold <= ids <= may_hold
    assert len(set(sent)) == len(sent)


def test_restore_refuses_a_running_server_an_existing_database_and_a_bad_file(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory()
    make_therapist(server)
    backup = tmp_path / "backup.sqlite3"
    ok(admin(server.data_dir, "backup", str(backup)))
    again = admin(server.data_dir, "backup", str(backup))
    assert again.returncode == 1 and "(backup_exists)" in again.stderr
    ok(admin(server.data_dir, "backup", "--force", str(backup)))

    in_use = admin(server.data_dir, "restore", "--force", str(backup))
    assert in_use.returncode == 1 and "(data_in_use)" in in_use.stderr
    server.stop()
    before = table_rows(server.database)
    exists = admin(server.data_dir, "restore", str(backup))
    assert exists.returncode == 1 and "(database_exists)" in exists.stderr

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_bytes(os.urandom(8192))
    damaged = tmp_path / "damaged.sqlite3"
    data = bytearray(backup.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    # Every b-tree page header after the first gets a page type SQLite does not know.
    for start in range(page, len(data), page):
        data[start] = 0x55
    damaged.write_bytes(bytes(data))
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    for bad in (not_sqlite, damaged, other, tmp_path / "missing.sqlite3"):
        refused = admin(server.data_dir, "restore", "--force", str(bad))
        assert refused.returncode == 1 and "(not_a_backup)" in refused.stderr, bad
    assert table_rows(server.database) == before

    replaced = ok(admin(server.data_dir, "restore", "--force", str(backup)))
    assert "quietline.sqlite3.before-restore" in replaced
    assert table_rows(server.database) == table_rows(backup)
    server.start()
    assert server.get_json("/api/health") == {"ok": True}


def test_a_backup_into_a_missing_folder_names_the_folder(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory()
    missing = tmp_path / "backups" / "nightly"
    refused = admin(server.data_dir, "backup", str(missing / "quietline.sqlite3"))
    assert refused.returncode == 1 and "(backup_folder)" in refused.stderr
    assert f"The folder {missing} does not exist" in refused.stderr
    assert "data directory" not in refused.stderr
    assert not missing.exists()
    missing.mkdir(parents=True)
    ok(admin(server.data_dir, "backup", str(missing / "quietline.sqlite3")))
