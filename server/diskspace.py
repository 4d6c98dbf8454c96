"""The free-disk guard: growth is refused well before the disk is full.

A full disk stops every write, for everyone: acknowledging a message is a
write, so is logging in. The guard keeps `min_free_disk_mib` free on the data
directory's file system by refusing, while less than that is free, what only
makes the database grow: sign-ups, new envelopes, and vault writes that add
bytes or items. Everything that lets stored messages reach their recipients
goes on in the reserve: logins, delivery, acknowledgements with the vault
writes they carry, deletions. The refusal is `storage_full`
(docs/API.md), and it ends by itself once space is freed.

The free space is asked of the kernel (statvfs) on every check: one system
call, cheaper than anything else a send does, and never stale.
"""

import os
from pathlib import Path

from server.errors import StorageFullError

MIB = 1024 * 1024


class DiskGuard:
    def __init__(self, directory: Path, reserve_mib: int) -> None:
        self._directory = directory
        self._reserve = reserve_mib * MIB

    def low(self) -> bool:
        """True while the data directory's file system has less than the reserve free."""
        if self._reserve == 0:
            return False
        stats = os.statvfs(self._directory)
        return stats.f_bavail * stats.f_frsize < self._reserve

    def refuse_growth(self) -> None:
        if self.low():
            raise StorageFullError()
