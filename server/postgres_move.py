"""Moving a practice from SQLite to PostgreSQL: every row, in one transaction, checked.

`quietline admin move-to-postgresql URL` copies the data directory's SQLite
database into an empty PostgreSQL database. The server must be stopped (the
command takes the data directory's lock, as `restore` does), so the copy is
of one state that nothing changes meanwhile. Both databases are first
brought to the latest schema; then every table is copied, parents before the
tables whose foreign keys point at them, in a single PostgreSQL transaction:
the target ends up with everything or with nothing.

What must survive exactly survives exactly: the installation's keys (the
handle key, without which no handle would log in again), every id, and the
envelopes' numbers (`seq`), with PostgreSQL's counter set past the highest
number SQLite ever gave, so that a number is never reused. One-time prekeys
keep the order they are handed out in. The counters that triggers keep
(inbox, pending bytes) are computed again from the copied rows. At the end
the row count of every table is compared, and the SQLite file is left
untouched: moving back is pointing the server at it again.
"""

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from server import database, postgres_schema
from server.admin_errors import DatabaseExistsError, MoveFailedError
from server.postgres import PostgresConnection, PostgresStorage, begin_write

BATCH_ROWS = 1000
# Table and column names in the statements below come from the SQLite
# schema itself (sqlite_master, table_info), never from input: hence the
# S608 exemptions.
# Tables each engine keeps for itself: its own record of migrations.
_NOT_COPIED = {"schema_migrations"}


@dataclass(frozen=True)
class Moved:
    tables: dict[str, int]  # rows copied per table


def _tables_in_order(source: sqlite3.Connection) -> list[str]:
    """Every table, each after the tables its foreign keys refer to."""
    names = [
        row[0]
        for row in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        if row[0] not in _NOT_COPIED
    ]
    parents = {
        name: {row[2] for row in source.execute(f"PRAGMA foreign_key_list({name})")} - {name}
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise MoveFailedError("The SQLite schema's foreign keys form a cycle.")
        ordered.extend(ready)
    return ordered


def _columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in source.execute(f"PRAGMA table_info({table})")]


def _rows(
    source: sqlite3.Connection, table: str, columns: list[str]
) -> Iterator[list[tuple[object, ...]]]:
    # rowid order: the order rows were added in, which one-time prekeys are handed out in.
    names = ", ".join(f'"{column}"' for column in columns)
    sql = source.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()[0]
    # A table WITHOUT ROWID has no insertion order to keep, and no rowid to ask for.
    order = "" if "WITHOUT ROWID" in sql.upper() else " ORDER BY rowid"
    cursor = source.execute(f"SELECT {names} FROM {table}{order}")  # noqa: S608
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield batch


def _target_is_empty(target: PostgresConnection) -> bool:
    return target.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0


def move(sqlite_path: Path, url: str) -> Moved:
    """Copy the SQLite database at `sqlite_path` into the empty PostgreSQL database at `url`."""
    storage = PostgresStorage(url)
    storage.prepare()
    source = database.connect(sqlite_path, readonly=True)
    target = storage.connect()
    try:
        source_versions = {
            row[0] for row in source.execute("SELECT version FROM schema_migrations")
        }
        target_versions = postgres_schema.applied_versions(target)
        if source_versions != target_versions:
            raise MoveFailedError(
                f"The SQLite database is at schema {max(source_versions)} and PostgreSQL at "
                f"{max(target_versions)}: upgrade this installation first."
            )
        if not _target_is_empty(target):
            raise DatabaseExistsError(
                "The PostgreSQL database holds accounts already; move into an empty one."
            )
        source.execute("BEGIN")
        begin_write(target)
        try:
            copied = _copy_all(source, target)
            target.execute("COMMIT")
        except BaseException:
            target.execute("ROLLBACK")
            raise
        finally:
            source.execute("ROLLBACK")
    finally:
        source.close()
        target.close()
    return Moved(copied)


def _identity_columns(target: PostgresConnection, table: str) -> set[str]:
    rows = target.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = ? AND is_identity = 'YES'",
        (table,),
    )
    return {row[0] for row in rows}


def _copy_all(source: sqlite3.Connection, target: PostgresConnection) -> dict[str, int]:
    copied: dict[str, int] = {}
    given = dict(source.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    # The installation's keys replace the ones PostgreSQL's first migration made.
    target.execute("DELETE FROM settings")
    for table in _tables_in_order(source):
        columns = _columns(source, table)
        # Numbers SQLite gave (envelopes', group items' `seq`) are kept as they
        # are; PostgreSQL's counter then continues past the highest it gave.
        kept = _identity_columns(target, table) & set(columns)
        overriding = " OVERRIDING SYSTEM VALUE" if kept else ""
        marks = ", ".join("?" for _ in columns)
        # Quoted: a column may be a word PostgreSQL reserves (member_keys."left").
        names = ", ".join(f'"{column}"' for column in columns)
        statement = f"INSERT INTO {table} ({names}){overriding} VALUES ({marks})"  # noqa: S608
        count = 0
        for batch in _rows(source, table, columns):
            target.executemany(statement, batch)
            count += len(batch)
        copied[table] = count
        for column in kept:
            stored = target.execute(
                f"SELECT COALESCE(MAX({column}), 0) FROM {table}"  # noqa: S608
            ).fetchone()[0]
            highest = max(given.get(table, 0), stored)
            if highest:
                target.execute(
                    "SELECT setval(pg_get_serial_sequence(?, ?), ?)", (table, column, highest)
                )
    # The counters the triggers keep, counted again from the copied rows
    # (the triggers counted each copied row once more on top of the copy).
    target.execute(
        "UPDATE accounts SET "
        "inbox = (SELECT COUNT(*) FROM envelopes e WHERE e.recipient = accounts.id), "
        "outbox_bytes = (SELECT COALESCE(SUM(length(e.env)), 0) FROM envelopes e "
        "WHERE e.sender = accounts.id) "
        "+ (SELECT COALESCE(SUM(length(m.body)), 0) FROM group_messages m "
        "WHERE m.sender = accounts.id)"
    )
    target.execute(
        "UPDATE groups SET stored = (SELECT COUNT(*) FROM group_messages m "
        "WHERE m.group_id = groups.id)"
    )
    for table, count in copied.items():
        found = target.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
        if found != count:
            raise MoveFailedError(f"{table}: {count} rows read, {found} in PostgreSQL.")
    return copied
