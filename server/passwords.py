"""The server-side Argon2id hash of the login key (docs/PROTOCOL.md section 9).

The hash runs on a worker thread (it takes tens of milliseconds and 19 MiB),
at most `argon2_concurrency` at a time, so that logins cannot starve the
event loop or exhaust memory.

An unknown handle costs exactly what a known one costs: `verify_login`
always runs one Argon2id verification, against the account's hash when there
is one and against `DUMMY_HASH` (made with the same parameters from a random
key nobody knows) when there is none, and both outcomes of a failure are the
same answer. `hash_to_verify` is that choice, kept apart so tests can see it.
"""

import asyncio
import secrets

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


class Passwords:
    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, login_key: bytes) -> str:
        async with self._slots:
            return await asyncio.to_thread(HASHER.hash, login_key)

    async def verify_login(self, stored_hash: str | None, login_key: bytes) -> bool:
        """One Argon2id verification whether or not the account exists."""
        async with self._slots:
            verified = await asyncio.to_thread(_verify, hash_to_verify(stored_hash), login_key)
        return verified and stored_hash is not None
