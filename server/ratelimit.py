"""Token buckets held in memory only, never keyed by an IP address.

The server limits registrations and logins with one global bucket each, login
attempts per handle, authenticated requests per account and websocket frames
per connection. Keyed buckets forget keys whose bucket is full again, and
never keep more than `max_keys`, so memory stays bounded whatever arrives.
"""

import time
from collections import OrderedDict


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        self._refill(time.monotonic())
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def is_full(self) -> bool:
        self._refill(time.monotonic())
        return self._tokens >= self.burst


class KeyedBuckets:
    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[bytes, TokenBucket] = OrderedDict()

    def take(self, key: bytes) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
        else:
            self._buckets.move_to_end(key)
        return bucket.take()

    def _make_room(self) -> None:
        if len(self._buckets) < self.max_keys:
            return
        for key in [k for k, bucket in self._buckets.items() if bucket.is_full()]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
