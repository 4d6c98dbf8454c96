"""One running server per data directory, and no restore beneath a running server.

The server holds an exclusive `flock` on `<data>/quietline.lock` for as long
as it runs; the kernel releases it when the process ends, however it ends
(kill -9 included), so a stale lock file never blocks anything.
`quietline admin restore` takes the same lock before it replaces the database.
"""

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE_NAME = "quietline.lock"


class DataDirInUseError(Exception):
    """Another process holds the data directory's lock."""


def acquire(data_dir: Path) -> IO[bytes]:
    """The open, locked lock file; keep it open to keep the lock. Raises DataDirInUseError."""
    fd = os.open(data_dir / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(fd, "r+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirInUseError(
            f"A Quietline server is running on {data_dir}; stop it first."
        ) from None
    return handle
