"""The live connections of every account, for pushing frames and closing sessions.

Memory only. The writer calls `deliver` after an envelope's commit, in commit
order; a recipient with no live connection simply finds the envelope stored
the next time it connects.
"""

import json
from typing import Any

from server.connection import Connection
from server.errors import ApiError, SessionMovedError


class Hub:
    def __init__(self, max_per_account: int) -> None:
        self._max_per_account = max_per_account
        self._by_account: dict[bytes, list[Connection]] = {}
        self.sockets = 0

    def add(self, conn: Connection) -> None:
        """Register `conn`; the account's oldest connections beyond the limit give way."""
        live = self._by_account.setdefault(conn.account, [])
        live.append(conn)
        while len(live) > self._max_per_account:
            live.pop(0).close_with(SessionMovedError())

    def remove(self, conn: Connection) -> None:
        live = self._by_account.get(conn.account)
        if live is None:
            return
        if conn in live:
            live.remove(conn)
        if not live:
            del self._by_account[conn.account]

    def deliver(self, account: bytes, seq: int, text: str) -> None:
        for conn in list(self._by_account.get(account, ())):
            conn.push_envelope(seq, text)

    def notify(self, account: bytes, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        for conn in list(self._by_account.get(account, ())):
            conn.send(text)

    def accounts(self) -> list[bytes]:
        """The accounts with at least one live connection."""
        return list(self._by_account)

    def close_account(self, account: bytes, error: ApiError) -> None:
        for conn in self._by_account.pop(account, []):
            conn.close_with(error)
