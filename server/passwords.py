"""The server-side Argon2id hash of the login key (docs/PROTOCOL.md section 9).

The hash runs on a worker thread (it takes tens of milliseconds and 19 MiB),
at most `argon2_concurrency` at a time, so that logins cannot starve the
event loop or exhaust memory. The threads are this module's own, exactly
`argon2_concurrency` of them: glibc gives each thread that allocates its own
memory arena, and an arena keeps its 19 MiB once a hash has freed it. On
the event loop's shared pool (up to six threads here) that was six arenas,
about 110 MiB the server never gave back (issue 24's memory growth).

An unknown handle costs exactly what a known one costs: `verify_login`
always runs one Argon2id verification, against the account's hash when there
is one and against `DUMMY_HASH` (made with the same parameters from a random
key nobody knows) when there is none, and both outcomes of a failure are the
same answer. `hash_to_verify` is that choice, kept apart so tests can see it.
"""

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from crypto.constants import (
    SERVER_LOGIN_HASH_MEMORY_KIB,
    SERVER_LOGIN_HASH_PARALLELISM,
    SERVER_LOGIN_HASH_TIME_COST,
)

HASHER = PasswordHasher(
    time_cost=SERVER_LOGIN_HASH_TIME_COST,
    memory_cost=SERVER_LOGIN_HASH_MEMORY_KIB,
    parallelism=SERVER_LOGIN_HASH_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
DUMMY_HASH = HASHER.hash(secrets.token_bytes(32))


def hash_to_verify(stored_hash: str | None) -> str:
    return DUMMY_HASH if stored_hash is None else stored_hash


def _verify(encoded: str, login_key: bytes) -> bool:
    try:
        return HASHER.verify(encoded, login_key)
    except (VerificationError, InvalidHashError):
        return False


THREAD_PREFIX = "quietline-argon2"


class Passwords:
    def __init__(self, concurrency: int) -> None:
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix=THREAD_PREFIX)

    async def hash(self, login_key: bytes) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, HASHER.hash, login_key)

    async def verify_login(self, stored_hash: str | None, login_key: bytes) -> bool:
        """One Argon2id verification whether or not the account exists."""
        loop = asyncio.get_running_loop()
        encoded = hash_to_verify(stored_hash)
        verified = await loop.run_in_executor(self._threads, _verify, encoded, login_key)
        return verified and stored_hash is not None

    def close(self) -> None:
        self._threads.shutdown(wait=True)
