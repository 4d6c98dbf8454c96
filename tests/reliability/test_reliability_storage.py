"""When the disk refuses writes: `read_only` for every write, reads go on, and it all comes back.

The disk filling up (or the file system being remounted read-only after an
I/O error) is simulated without root and without a special mount: the
running server's soft RLIMIT_FSIZE is lowered to 0 with prlimit(2), so the
kernel refuses every write the process makes to a regular file (EFBIG, where
a full disk says ENOSPC and a read-only mount EROFS; SQLite reports all
three as a failed write). Raising the limit again is the space coming back.
Nothing in the server knows about the test.

What a real full disk adds, and this does not show: writes that happen to fit
in blocks already allocated (the WAL is reused after a checkpoint) may still
succeed there, so on a real disk some writes keep working for a while. A
read-only data directory at start-up is another case: the server then refuses
to start, with a message (SQLite cannot open a WAL database in a directory
it cannot write).
"""

import asyncio
import contextlib
import os
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from reliability_harness import integrity
from server_harness import (
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
    request,
    vault_blob,
    vault_write,
)
from server_process import fill_disk, small_disk_server

from crypto.encoding import b64u_encode

STORED_BEFORE = 20


@contextlib.contextmanager
def _writes_refused(server: Any) -> Iterator[None]:
    """SQLite: the process's soft file-size limit is 0. PostgreSQL: the database is read-only.

    A PostgreSQL database turned read-only (`default_transaction_read_only`)
    applies to new sessions: the relay's connections are ended, as a
    failover to a read-only standby would end them, and it connects again.
    """
    if server.backend == "postgresql":
        _set_read_only(server, True)
        try:
            yield
        finally:
            _set_read_only(server, False)
        return
    pid = server.process.pid
    before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, before[1]))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, before)


def _set_read_only(server: Any, read_only: bool) -> None:
    url = server.settings["database"]
    cluster, name = url.rsplit("/", 1)
    # From the cluster's maintenance database: the read-only one refuses ALTER.
    with psycopg.connect(f"{cluster}/postgres", autocommit=True) as conn:
        setting = "SET default_transaction_read_only = on" if read_only else "RESET ALL"
        conn.execute(f"ALTER DATABASE {name} {setting}")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid != pg_backend_pid()",
            (name,),
        )


async def test_a_disk_that_refuses_writes_gives_read_only_and_recovers(server_factory: Any) -> None:
    server = server_factory()
    therapist = make_therapist(server)
    client = make_account(server.url)
    item = os.urandom(16)
    assert (
        client.call("POST", "/api/vault", {"writes": [vault_write(item, 1, vault_blob())]}).status
        == 200
    )
    sender = await open_socket(server.url, client)
    stored = []
    for _ in range(STORED_BEFORE):
        answer = await sender.send_envelope(therapist, random_envelope())
        assert answer["type"] == "sent"
        stored.append(answer["id"])

    with _writes_refused(server):
        # Every kind of write is refused with the documented error ...
        refused_cmid = os.urandom(16)
        refused_env = random_envelope()
        answer = await sender.send_envelope(therapist, refused_env, refused_cmid)
        assert (answer["type"], answer["code"]) == ("error", "read_only")
        assert answer["ref"] == b64u_encode(refused_cmid)
        reply = client.call("POST", "/api/vault", {"writes": [vault_write(item, 2, vault_blob())]})
        assert (reply.status, reply.code) == (503, "read_only")
        assert client.login().code == "read_only"

        # ... while reads go on: the vault, the directory, and the inbox,
        # delivered over a newly authenticated websocket.
        synced = client.call("GET", "/api/vault")
        assert synced.status == 200
        assert [(i["id"], i["version"]) for i in synced.body["items"]] == [(b64u_encode(item), 1)]
        assert request(server.url, "GET", "/api/directory").status == 200
        inbox = await open_socket(server.url, therapist)
        assert inbox.ready["pending"] == STORED_BEFORE
        delivered = [(await inbox.expect("envelope"))["id"] for _ in stored]
        assert delivered == stored
        # Acknowledging deletes, which is a write too: refused, and kept.
        answer = await inbox.ack(stored[0])
        assert (answer["type"], answer["code"]) == ("error", "read_only")
        await sender.send({"type": "ping"})
        assert (await sender.expect("pong"))["type"] == "pong"

    # Space is back: the same connections write again, nothing was lost, and
    # the refused send, repeated with its cmid, is stored once.
    answer = await sender.send_envelope(therapist, refused_env, refused_cmid)
    assert answer["type"] == "sent"
    repeated = await sender.send_envelope(therapist, refused_env, refused_cmid)
    assert repeated["id"] == answer["id"]
    live = await inbox.expect("envelope")
    assert live["id"] == answer["id"]
    for envelope_id in [*stored, answer["id"]]:
        assert (await inbox.ack(envelope_id))["type"] == "acked"
    reply = client.call("POST", "/api/vault", {"writes": [vault_write(item, 2, vault_blob())]})
    assert reply.status == 200
    assert client.login().status == 200
    await asyncio.gather(sender.close(), inbox.close())
    again = await open_socket(server.url, therapist)
    assert again.ready["pending"] == 0
    await again.close()

    server.stop()
    assert integrity(server) == ("ok", [])
    # Refusals were expected conditions, never bugs.
    assert "unexpected" not in server.log_text()


def test_an_outage_is_logged_once_at_each_end_not_per_write(tmp_path: Path) -> None:
    """A really full disk (a tmpfs, not a file-size limit, so that the log can be written)."""
    # No reserve: the guard would refuse vault growth before the disk is full.
    with small_disk_server(tmp_path, 16, min_free_disk_mib=0) as server:
        client = make_account(server.url)
        item = os.urandom(16)
        version = 0

        def write() -> int:
            blob = vault_blob(256 * 1024)
            body = {"writes": [vault_write(item, version + 1, blob)]}
            return client.call("POST", "/api/vault", body).status

        for outage in (1, 2):
            filler = fill_disk(server.data_dir)
            assert [write() for _ in range(10)] == [503] * 10
            filler.unlink()
            assert write() == 200
            version += 1
            log = server.log_text()
            assert log.count("the database cannot be written") == outage
            assert log.count("the database can be written again") == outage
        assert "unexpected" not in server.log_text()
