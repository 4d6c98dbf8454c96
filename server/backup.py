"""Online backup and restore of the database, through SQLite's backup API.

`backup` copies the live database page by page inside one read transaction
(`sqlite3.Connection.backup`), so the copy is one consistent state, every
transaction the server committed before it included; the server keeps reading
and writing meanwhile. The copy is a single self-contained file (rollback
journal mode, no WAL beside it), checked with `PRAGMA integrity_check` before
it takes its final name.

`restore` checks a backup the same way, refuses while a server holds the data
directory (server.datalock) and refuses to replace an existing database
without `force`; a replaced database is kept beside the new one as
`quietline.sqlite3.before-restore`. The restored database is switched back to
WAL and brought to the latest schema, as a server start would.
"""

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from server import database, datalock, migrations
from server.admin_errors import (
    BackupExistsError,
    BackupFolderError,
    DatabaseExistsError,
    DataInUseError,
    NotABackupError,
)

REPLACED_SUFFIX = ".before-restore"
_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Checked:
    version: int
    size: int


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _remove_with_side_files(path: Path) -> None:
    for suffix in ("", *_SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            (path.with_name(path.name + suffix)).unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check(path: Path) -> Checked:
    """The schema version of a sound Quietline database file, or NotABackupError."""
    if not path.is_file():
        raise NotABackupError(f"{path} is not a file; give the path of a backup.")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise NotABackupError(f"{path} cannot be opened as a database: {error}.") from None
    try:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            raise NotABackupError(
                f"{path} is damaged (integrity check: {'; '.join(result[:3])}); "
                "use an older backup."
            )
        versions = migrations.applied_versions(conn)
    except sqlite3.DatabaseError as error:
        raise NotABackupError(f"{path} is not a SQLite database ({error}).") from None
    finally:
        conn.close()
    if not versions:
        raise NotABackupError(f"{path} is a SQLite file but not a Quietline database.")
    latest = max(version for version, _, _ in migrations.MIGRATIONS)
    if max(versions) > latest:
        raise NotABackupError(
            f"{path} was made by a newer Quietline (schema {max(versions)}); "
            "upgrade this installation first."
        )
    return Checked(max(versions), path.stat().st_size)


def _copy(source: sqlite3.Connection, target: Path, journal_mode: str) -> None:
    """Copy `source` into a new file at `target` and make it durable."""
    _remove_with_side_files(target)
    destination = sqlite3.connect(str(target), isolation_level=None)
    try:
        source.backup(destination)
        mode = destination.execute(f"PRAGMA journal_mode = {journal_mode}").fetchone()[0]
        if str(mode).lower() != journal_mode.lower():
            raise sqlite3.OperationalError(f"the copy refused journal mode {journal_mode}")
    finally:
        destination.close()
    _fsync(target)


def _check_folder(folder: Path) -> None:
    """Name the backup's folder when it is the problem: SQLite would blame the database."""
    if not folder.is_dir():
        raise BackupFolderError(
            f"The folder {folder} does not exist: create it (mkdir -p {folder}) "
            "or give a path in an existing folder."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupFolderError(
            f"The folder {folder} cannot be written by this user: run as its owner, "
            "or give a path in another folder."
        )


def backup(database_path: Path, target: Path, *, force: bool = False) -> Checked:
    """Write a consistent copy of the live database to `target`."""
    if target.exists() and not force:
        raise BackupExistsError(
            f"{target} exists already; choose a new name, or add --force to replace it."
        )
    if not database_path.is_file():
        raise NotABackupError(f"There is no database at {database_path}; check --data.")
    _check_folder(target.parent)
    partial = _partial(target)
    source = database.connect(database_path, readonly=True)
    try:
        _copy(source, partial, "DELETE")
    except BaseException:
        _remove_with_side_files(partial)
        raise
    finally:
        source.close()
    try:
        checked = check(partial)
    except BaseException:
        _remove_with_side_files(partial)
        raise
    os.replace(partial, target)
    return checked


def _set_aside(database_path: Path) -> Path:
    """Fold the old database's WAL into it and move it out of the way."""
    conn = database.connect(database_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    aside = database_path.with_name(database_path.name + REPLACED_SUFFIX)
    _remove_with_side_files(aside)
    os.replace(database_path, aside)
    for suffix in _SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            database_path.with_name(database_path.name + suffix).unlink()
    return aside


def restore(backup_path: Path, data_dir: Path, *, force: bool = False) -> Path | None:
    """Put a checked copy of `backup_path` in place; returns where the old database went."""
    checked_backup = check(backup_path)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        lock = datalock.acquire(data_dir)
    except datalock.DataDirInUseError:
        raise DataInUseError(
            f"A Quietline server is running on {data_dir}; stop it, then restore."
        ) from None
    try:
        database_path = data_dir / "quietline.sqlite3"
        if database_path.exists() and not force:
            raise DatabaseExistsError(
                f"{database_path} exists; add --force to replace it "
                f"(it will be kept as {database_path.name}{REPLACED_SUFFIX})."
            )
        partial = _partial(database_path)
        source = sqlite3.connect(f"{backup_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            _copy(source, partial, "DELETE")
        except BaseException:
            _remove_with_side_files(partial)
            raise
        finally:
            source.close()
        if check(partial).version != checked_backup.version:
            _remove_with_side_files(partial)
            raise NotABackupError(f"{backup_path} changed while it was being restored.")
        aside = _set_aside(database_path) if database_path.exists() else None
        os.replace(partial, database_path)
        conn = database.connect(database_path)
        try:
            database.enable_wal(conn)
            migrations.migrate(conn)
        finally:
            conn.close()
        return aside
    finally:
        lock.close()
