"""Slots for websockets that have not authenticated yet, apart from the accounts' slots.

A socket that has not answered its challenge proves nothing, costs nothing to
open, and could otherwise hold a place that an account needs. So such sockets
never count toward `max_connections`: they wait here, at most
`max_unauthenticated` of them and each for at most `auth_timeout` seconds,
and when a new one arrives with every slot taken, the one that has waited
longest gives way. An account's client answers the challenge within one round
trip, so silent sockets cannot keep it out: they would have to be opened
faster than that round trip, and each of them is pushed out in turn.
"""

import asyncio


class Admission:
    def __init__(self, max_waiting: int) -> None:
        self._max_waiting = max_waiting
        # Insertion order is arrival order; the value is unused.
        self._waiting: dict[asyncio.Event, None] = {}

    def arrive(self) -> asyncio.Event:
        """A slot for a new socket; the event is set if it must give way to a newer one."""
        evicted = asyncio.Event()
        self._waiting[evicted] = None
        while len(self._waiting) > self._max_waiting:
            oldest = next(iter(self._waiting))
            del self._waiting[oldest]
            oldest.set()
        return evicted

    def leave(self, slot: asyncio.Event) -> None:
        """The socket authenticated, failed or closed: its slot is free."""
        self._waiting.pop(slot, None)

    def __len__(self) -> int:
        return len(self._waiting)
