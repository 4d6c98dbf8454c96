"""The live connections of every account, for pushing frames and closing sessions.

Memory only. An account may be live on several devices at once (at most
`max_per_account` connections): every frame for the account goes to each of
them. The writer calls `deliver` after an envelope's commit, in commit order;
a recipient with no live connection simply finds the envelope stored the next
time it connects. Whichever device acknowledges an envelope first deletes it;
the others learn of it from the vault (`vault_changed`, then a sync).
A group item goes the same way to every connection of every account the
group routes to (`deliver_group`): stored once, pushed to each.

Each connection belongs to a session (the token it authenticated with), so
that signing out a session closes exactly its connections.
"""

import json
from typing import Any

from server.connection import Connection
from server.errors import ApiError
from server.readers import Readers


class Hub:
    def __init__(self, max_per_account: int) -> None:
        self._max_per_account = max_per_account
        self._by_account: dict[bytes, list[Connection]] = {}
        self.sockets = 0

    def has_room(self, account: bytes) -> bool:
        """Whether one more connection of `account` fits under the per-account cap."""
        return len(self._by_account.get(account, ())) < self._max_per_account

    def add(self, conn: Connection) -> None:
        """Register `conn`; the caller checked `has_room` with no await in between."""
        self._by_account.setdefault(conn.account, []).append(conn)

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

    def deliver_group(self, accounts: list[bytes], seq: int, text: str) -> None:
        """One group item to every live connection of every account routed to it."""
        for account in accounts:
            for conn in self._by_account.get(account, ()):
                conn.push_group(seq, text)

    def notify(self, account: bytes, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        for conn in list(self._by_account.get(account, ())):
            conn.send(text)

    def vault_changed(self, account: bytes, cursor: int, source: Connection | None = None) -> None:
        """Tell the account's connections, except the one that wrote, the vault's new cursor."""
        text = json.dumps({"type": "vault_changed", "cursor": str(cursor)})
        for conn in list(self._by_account.get(account, ())):
            if conn is not source:
                conn.send(text)

    def is_live(self, account: bytes) -> bool:
        return account in self._by_account

    def wake(self, account: bytes, readers: Readers) -> None:
        """Another process stored envelopes for `account`: its connections read the backlog."""
        for conn in list(self._by_account.get(account, ())):
            conn.wake(readers)

    def accounts(self) -> list[bytes]:
        """The accounts with at least one live connection."""
        return list(self._by_account)

    def close_account(self, account: bytes, error: ApiError) -> None:
        for conn in self._by_account.pop(account, []):
            conn.close_with(error)

    def close_sessions_except(self, account: bytes, kept: set[bytes], error: ApiError) -> None:
        """Close the account's connections whose session is not in `kept` (it was ended)."""
        ended = {conn.session for conn in self._by_account.get(account, ())} - kept
        if ended:
            self.close_sessions(account, ended, error)

    def close_sessions(self, account: bytes, sessions: set[bytes], error: ApiError) -> None:
        """Close the account's connections that belong to one of `sessions`."""
        for conn in list(self._by_account.get(account, ())):
            if conn.session in sessions:
                self.remove(conn)
                conn.close_with(error)
