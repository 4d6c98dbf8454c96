"""The server's building blocks on their own: writer, rate limits, invite codes, file lookup."""

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crypto.encoding import b64u_encode
from server import envelopes, invites, static
from server.config import Settings
from server.database import SqliteStorage
from server.errors import ForbiddenError, InternalError, ReadOnlyError
from server.postgres import PostgresStorage
from server.ratelimit import KeyedBuckets, TokenBucket
from server.serve import prepare_database
from server.storage import Storage
from server.writer import Tx, Writer


@pytest.fixture
def database(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> Iterator[Storage]:
    """A migrated store of the module's backend, as a server start leaves it."""
    if backend == "sqlite":
        settings = Settings(data=str(tmp_path / "data"))
        prepare_database(settings)
        yield SqliteStorage(settings.database_path())
        return
    cluster: Any = request.getfixturevalue("postgres")
    url = cluster.create_database()
    storage = PostgresStorage(url)
    storage.prepare()
    yield storage
    cluster.drop_database(url)


def outside_sees(database: Storage, key: str) -> bool:
    conn = database.connect(readonly=True)
    try:
        return conn.execute("SELECT 1 FROM settings WHERE key = ?", (key,)).fetchone() is not None
    finally:
        conn.close()


# Quick operations run on the event loop, the others in the writer's thread;
# both paths keep the same promises.
@pytest.mark.parametrize("quick", [False, True], ids=["in-thread", "on-loop"])
async def test_the_writer_groups_operations_into_one_transaction(
    database: Storage, quick: bool
) -> None:
    writer = Writer(database)
    await writer.start()
    effects: list[str] = []

    def insert(key: str) -> object:
        def operation(tx: Tx) -> bool:
            tx.conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, b"\0"))
            tx.after_commit(lambda: effects.append(key) if outside_sees(database, key) else None)
            # The first row of the batch is visible here, in the same transaction,
            # but not yet to anyone else: nothing is committed until the batch is.
            return outside_sees(database, "k0")

        return operation

    def refuse(tx: Tx) -> None:
        tx.conn.execute("INSERT INTO settings (key, value) VALUES ('refused', ?)", (b"\0",))
        raise ForbiddenError()

    def crash(tx: Tx) -> None:
        tx.conn.execute("INSERT INTO settings (key, value) VALUES ('crashed', ?)", (b"\0",))
        raise ZeroDivisionError

    futures = [writer.submit(insert(f"k{i}"), quick=quick) for i in range(20)]
    futures.insert(5, writer.submit(refuse, quick=quick))
    futures.insert(9, writer.submit(crash, quick=quick))
    results = await asyncio.gather(*futures, return_exceptions=True)
    await writer.stop()

    assert isinstance(results[5], ForbiddenError)
    assert isinstance(results[9], InternalError)
    seen_outside = [r for i, r in enumerate(results) if i not in (5, 9)]
    assert seen_outside == [False] * 20
    # Effects ran after the commit (the rows were visible then), in order.
    assert effects == [f"k{i}" for i in range(20)]
    assert not outside_sees(database, "refused") and not outside_sees(database, "crashed")


async def test_a_quick_batch_waits_for_another_process_write_lock(database: Storage) -> None:
    """The admin command may hold the write lock: a quick batch waits in the thread.

    On PostgreSQL the lock is the writers' turn (server/postgres.py), which
    another relay process or the admin command may hold.
    """
    writer = Writer(database)
    await writer.start()
    other = database.connect()
    database.begin(other)
    stored = writer.submit(
        lambda tx: tx.conn.execute(
            "INSERT INTO settings (key, value) VALUES ('late', ?)", (b"\0",)
        ),
        quick=True,
    )
    ticks = 0
    while ticks < 20 and not stored.done():
        # The event loop keeps running while the batch waits for the lock.
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20 and not stored.done()
    other.execute("COMMIT")
    other.close()
    await stored
    await writer.stop()
    assert outside_sees(database, "late")


def test_an_envelope_frame_is_the_json_it_spells_out() -> None:
    envelope_id, sender, env = os.urandom(16), os.urandom(16), b64u_encode(os.urandom(1082))
    text = envelopes.frame(envelope_id, sender, env, 1_764_000_000)
    assert json.loads(text) == {
        "type": "envelope",
        "id": b64u_encode(envelope_id),
        "from": b64u_encode(sender),
        "env": env,
        "ts": 1_764_000_000,
    }


async def test_the_writer_refuses_work_after_stopping(database: Storage) -> None:
    writer = Writer(database)
    await writer.start()
    assert await writer.run(lambda tx: tx.conn.execute("SELECT 7").fetchone()[0]) == 7
    await writer.stop()
    with pytest.raises(ReadOnlyError):
        await writer.run(lambda tx: None)


def test_token_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=0.1, burst=3)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take()
    assert 0 < wait <= 10


def test_keyed_buckets_are_independent_and_bounded() -> None:
    buckets = KeyedBuckets(rate=0.1, burst=1, max_keys=100)
    assert buckets.take(b"a") == 0.0
    assert buckets.take(b"a") > 0
    assert buckets.take(b"b") == 0.0
    for i in range(1000):
        buckets.take(i.to_bytes(4, "big"))
    assert len(buckets) <= 100


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ABCD-EFGH-JKMN-PQRS-TVWX", "ABCDEFGHJKMNPQRSTVWX"),
        ("abcd efgh jkmn pqrs tvwx", "ABCDEFGHJKMNPQRSTVWX"),
        ("O0Il-0000-0000-0000-0000", "0011" + "0" * 16),
        ("ABCD-EFGH-JKMN-PQRS-TVW", None),
        ("ABCD-EFGH-JKMN-PQRS-TVWU", None),
        ("ÄBCD-EFGH-JKMN-PQRS-TVWX", None),
    ],
)
def test_invite_codes_are_read_like_account_secrets(typed: str, expected: str | None) -> None:
    assert invites.normalise(typed) == expected


def test_new_invite_codes_normalise_to_themselves() -> None:
    code = invites.new_code()
    assert invites.normalise(code) == code.replace("-", "")


def test_file_lookup_stays_inside_the_client_directories(tmp_path: Path) -> None:
    root = tmp_path / "client_web"
    (root / "app").mkdir(parents=True)
    assert static.resolve(root, "") == root / "index.html"
    assert static.resolve(root, "app/x/y.js") == (root / "app" / "x" / "y.js").resolve()
    assert (
        static.resolve(root, "vendor/libsodium-sumo.js")
        == root / static.VENDOR["libsodium-sumo.js"]
    )
    for path in (
        "app/../x.js",
        "app/.x.js",
        "node_modules/a.js",
        "test/t.mjs",
        "a/b.html",
        "app\\x",
    ):
        assert static.resolve(root, path) is None
