"""Databases for benchmarks, built with direct SQL on the server's own schema.

Going through the API would spend an Argon2id hash (tens of milliseconds) per
account and minutes per benchmark, measuring registration instead of what the
benchmark is about. So the schema comes from the server's own code
(`server.serve.prepare_database`: WAL mode and every migration), and rows are
inserted with the same column formats the server writes: the handle as its
HMAC under the installation's key, an Ed25519 identity key, an Argon2id hash
of a login key made by the server's own hasher.

Every seeded account shares one login key and so one hash: that changes no
cost the server pays per login (each verification recomputes Argon2id from the
stored salt) and saves thousands of hashes here.

The devices file (JSON) hands the load generators what a client would hold:
each account's id, role, identity seed and partner.
"""

import json
import os
import secrets
import sqlite3
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from crypto.constants import BUCKETS, CROCKFORD_ALPHABET, HANDLE_SYMBOLS, ID_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.envelope import Header, MessageEnvelope
from crypto.keys import IdentityKeyPair
from server import clock, database, handles, settings_store, tokens
from server.config import Settings
from server.passwords import HASHER
from server.serve import prepare_database

LOGIN_KEY = bytes(range(32))
ENVELOPE_BATCH = 20_000
SEED_CACHE_KIB = 512 * 1024


@dataclass(frozen=True)
class Device:
    """One account's connection as a load generator holds it."""

    account: str  # b64u id
    role: str
    seed: str  # b64u Ed25519 seed
    handle: str
    partner: str  # b64u id of the account it writes to
    token: str = ""  # bearer token of its session, for the websocket's auth

    @property
    def account_bytes(self) -> bytes:
        return b64u_decode(self.account)

    @property
    def seed_bytes(self) -> bytes:
        return b64u_decode(self.seed)


def new_database(data_dir: Path) -> Path:
    """An empty, fully migrated database in `data_dir`, made by the server's own code."""
    prepare_database(Settings(data=str(data_dir)))
    return Settings(data=str(data_dir)).database_path()


def _seeding_connection(path: Path) -> sqlite3.Connection:
    """The server's connection settings, minus durability: a seed is rebuilt, never recovered."""
    conn = database.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(f"PRAGMA cache_size = -{SEED_CACHE_KIB}")
    return conn


def new_handle() -> str:
    return "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(HANDLE_SYMBOLS))


def add_pairs(path: Path, pairs: int) -> list[Device]:
    """`pairs` clients, each paired with its own therapist; both write to each other."""
    login_hash = HASHER.hash(LOGIN_KEY)
    conn = _seeding_connection(path)
    try:
        handle_key = settings_store.get(conn, settings_store.HANDLE_KEY)
        devices: list[Device] = []
        rows = []
        for _ in range(pairs):
            made = []
            for role in ("client", "therapist"):
                identity = IdentityKeyPair.generate()
                account, handle = os.urandom(ID_BYTES), new_handle()
                hashed = handles.handle_hash(handle_key, handle)
                rows.append((account, hashed, role, identity.public, login_hash, clock.today()))
                made.append((account, role, identity.seed, handle))
            (a, a_role, a_seed, a_handle), (b, b_role, b_seed, b_handle) = made
            devices.append(
                Device(b64u_encode(a), a_role, b64u_encode(a_seed), a_handle, b64u_encode(b))
            )
            devices.append(
                Device(b64u_encode(b), b_role, b64u_encode(b_seed), b_handle, b64u_encode(a))
            )
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO accounts (id, handle_hash, role, identity_key, login_hash, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        devices = [
            replace(device, token=tokens.issue(conn, device.account_bytes, "cli")[0])
            for device in devices
        ]
        conn.execute("COMMIT")
    finally:
        conn.close()
    return devices


def random_envelope(bucket: int = BUCKETS[0]) -> bytes:
    """Valid framing around random ciphertext: as opaque to the server as a real one."""
    header = Header(os.urandom(32), 0, secrets.randbelow(2**32))
    return MessageEnvelope(header, os.urandom(bucket + 16)).encode()


def add_envelopes(path: Path, devices: list[Device], count: int) -> None:
    """`count` stored envelopes, spread over the accounts, each from its partner."""
    hour = clock.this_hour()
    conn = _seeding_connection(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        ids = [(d.account_bytes, b64u_decode(d.partner)) for d in devices]
        done = 0
        while done < count:
            batch = min(ENVELOPE_BATCH, count - done)
            conn.executemany(
                "INSERT INTO envelopes (id, recipient, sender, env, ts) VALUES (?, ?, ?, ?, ?)",
                (
                    (os.urandom(ID_BYTES), *ids[(done + i) % len(ids)], random_envelope(), hour)
                    for i in range(batch)
                ),
            )
            done += batch
        conn.execute("COMMIT")
    finally:
        conn.close()


def write_devices(path: Path, devices: list[Device]) -> None:
    path.write_text(json.dumps([asdict(d) for d in devices]))


def read_devices(path: Path) -> list[Device]:
    return [Device(**item) for item in json.loads(Path(path).read_text())]
