"""The administrator's PostgreSQL work: online backup and restore, and moving a practice there.

`quietline admin backup` on a PostgreSQL practice runs pg_dump while clients
keep sending; `restore` puts the dump into an empty database, and a server
started on it serves every envelope acknowledged before the backup began.
`move-to-postgresql` copies a stopped SQLite practice into an empty
PostgreSQL database, and a server started on that finds everything: the same
installation, every account logging in with its secret, every waiting
envelope with its bytes, every vault item, the therapists' prekeys, profiles,
blocks and notification addresses.
"""

import asyncio
import os
from pathlib import Path
from typing import Any

from admin_helpers import admin, ok, therapist_with_profile
from server_harness import (
    Account,
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
    vault_blob,
    vault_write,
)
from server_process import TEST_SETTINGS, RunningServer

from crypto.encoding import b64u_decode

SENDERS = 3
TABLES = (
    "accounts",
    "tokens",
    "invites",
    "signed_prekeys",
    "one_time_prekeys",
    "profiles",
    "vault_items",
    "envelopes",
    "sent_cmids",
    "blocks",
    "notification_targets",
    "settings",
)


def with_url(account: Account, url: str) -> Account:
    return Account(**{**vars(account), "base_url": url})


async def send_until(client: Any, therapist: Account, stop: asyncio.Event, sent: list[str]) -> None:
    socket = await open_socket(client.base_url, client)
    while not stop.is_set():
        answer = await socket.send_envelope(therapist, random_envelope())
        assert answer["type"] == "sent", answer
        sent.append(answer["id"])
    await socket.close()


async def pending(url: str, account: Account) -> dict[str, bytes]:
    assert account.login().status == 200
    socket = await open_socket(url, account)
    frames = [await socket.expect("envelope") for _ in range(socket.ready["pending"])]
    await socket.close()
    return {frame["id"]: frame["env"] for frame in frames}


async def test_a_postgresql_backup_taken_while_clients_send_restores_them(
    server_factory: Any, postgres: Any, tmp_path: Path
) -> None:
    url = postgres.create_database()
    server = server_factory(database=url)
    therapist = make_therapist(server)
    clients = [make_account(server.url) for _ in range(SENDERS)]
    stop = asyncio.Event()
    sent: list[str] = []
    senders = [asyncio.create_task(send_until(c, therapist, stop, sent)) for c in clients]
    while len(sent) < 50:
        await asyncio.sleep(0.05)
    acknowledged_before = set(sent)
    dump = tmp_path / "during.dump"
    env = {"QUIETLINE_DATABASE": url}
    result = await asyncio.to_thread(admin, server.data_dir, "backup", str(dump), env=env)
    acknowledged_by_then = set(sent)
    stop.set()
    await asyncio.gather(*senders)
    assert "pg_dump's custom format" in ok(result)
    assert dump.stat().st_mode & 0o077 == 0
    again = admin(server.data_dir, "backup", str(dump), env=env)
    assert again.returncode == 1 and "(backup_exists)" in again.stderr

    # Restored into an empty database, the backup serves what it held.
    target = postgres.create_database()
    restored_dir = tmp_path / "restored"
    target_env = {"QUIETLINE_DATABASE": target}
    assert "Restored" in ok(admin(restored_dir, "restore", str(dump), env=target_env))
    # A second restore would replace data: it wants --force.
    refused = admin(restored_dir, "restore", str(dump), env=target_env)
    assert refused.returncode == 1 and "(database_exists)" in refused.stderr
    not_a_dump = tmp_path / "not-a-dump"
    not_a_dump.write_bytes(os.urandom(4096))
    bad = admin(restored_dir, "restore", "--force", str(not_a_dump), env=target_env)
    assert bad.returncode == 1 and "(not_a_backup)" in bad.stderr
    restored = RunningServer(restored_dir, {**TEST_SETTINGS, "database": target}).start()
    try:
        ids = set(await pending(restored.url, with_url(therapist, restored.url)))
        assert (
            restored.get_json("/api/info")["server_id"] == server.get_json("/api/info")["server_id"]
        )
    finally:
        restored.stop()
    assert acknowledged_before <= ids <= acknowledged_by_then


async def test_a_practice_moves_from_sqlite_to_postgresql_with_nothing_lost(
    server_factory: Any, postgres: Any
) -> None:
    server = server_factory()
    assert server.backend == "sqlite"
    therapist = therapist_with_profile(server, "Dr. Moved")
    client = make_account(server.url)
    blocked = make_account(server.url)
    assert therapist.call("PUT", f"/api/blocks/{blocked.id_text}").status == 200
    assert client.call("PUT", "/api/prekeys", client.prekey_upload(5)).status == 200
    item = os.urandom(16)
    blob = vault_blob()
    assert client.call("POST", "/api/vault", {"writes": [vault_write(item, 1, blob)]}).status == 200
    socket = await open_socket(server.url, client)
    waiting = {}
    for _ in range(10):
        env = random_envelope()
        waiting[(await socket.send_envelope(therapist, env))["id"]] = env
    await socket.close()
    # One acknowledged, so that the highest number SQLite gave is not the newest stored.
    inbox = await open_socket(server.url, therapist)
    last = max(waiting, key=list(waiting).index)
    for _ in waiting:
        await inbox.expect("envelope")
    assert (await inbox.ack(last))["type"] == "acked"
    await inbox.close()
    del waiting[last]
    info = server.get_json("/api/info")
    before = {table: server.rows(f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}

    url = postgres.create_database()
    in_use = admin(server.data_dir, "move-to-postgresql", url)
    assert in_use.returncode == 1 and "(data_in_use)" in in_use.stderr
    server.stop()
    moved = ok(admin(server.data_dir, "move-to-postgresql", url))
    assert "every table's count matches" in moved
    again = admin(server.data_dir, "move-to-postgresql", url)
    assert again.returncode == 1 and "(database_exists)" in again.stderr

    server.settings["database"] = url
    server.start()
    assert server.backend == "postgresql"
    after = {table: server.rows(f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}
    assert after == before
    assert server.get_json("/api/info")["server_id"] == info["server_id"]
    for account in (therapist, client, blocked):
        assert account.login().status == 200
    delivered = await pending(server.url, therapist)
    assert {i: b64u_decode(v) for i, v in delivered.items()} == waiting
    synced = client.call("GET", "/api/vault").body["items"]
    assert [(i["version"], i["blob"] is not None) for i in synced] == [(1, True)]
    directory = server.get_json("/api/directory")
    assert any(entry["account"] == therapist.id_text for entry in directory["therapists"])
    bundle = therapist.call("GET", f"/api/bundle/{client.id_text}")
    assert bundle.status == 200 and bundle.body["one_time_prekey"]["id"] == 1000
    # New envelopes take numbers past every one SQLite gave, the acknowledged one included.
    fresh = await open_socket(server.url, client)
    assert (await fresh.send_envelope(therapist, random_envelope()))["type"] == "sent"
    await fresh.close()
    highest = server.rows("SELECT MAX(seq) FROM envelopes")[0][0]
    assert highest == before["envelopes"] + 2
    answer = await open_socket(server.url, blocked)
    refused = await answer.send_envelope(therapist, random_envelope())
    assert (refused["type"], refused["code"]) == ("error", "blocked")
    await answer.close()
