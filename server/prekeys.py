"""Prekeys (docs/PROTOCOL.md section 3): verified on upload, handed out one at a time.

Every uploaded prekey's signature is checked against the owner's identity key
before it is stored. A bundle fetch takes the oldest one-time prekey and
deletes it in the same transaction, so no one-time prekey is ever given out
twice; when fewer than `OPK_LOW_WATER` remain the owner's live connections are
told with a `prekeys_low` frame. One requester gets only a few of one target's
one-time prekeys (`one_time_prekeys_per_requester`); its later bundles carry
none, the path X3DH already has for an exhausted store.
"""

from dataclasses import dataclass
from typing import Any

from crypto import signatures
from crypto.constants import PREKEY_ID_MAX, SIGNATURE_BYTES
from crypto.encoding import b64u_encode
from crypto.errors import MalformedError
from server.errors import BadRequestError, BadSignatureError, NotFoundError, TooLargeError
from server.storage import Connection
from server.validation import array, binary, integer, require_object

SIGNED = "signed"
PQ = "pq"


@dataclass(frozen=True)
class Prekey:
    id: int
    key: bytes
    sig: bytes

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "key": b64u_encode(self.key), "sig": b64u_encode(self.sig)}


@dataclass(frozen=True)
class Upload:
    signed: Prekey | None
    pq: Prekey | None
    one_time: list[Prekey]


def parse_prekey(value: Any, name: str, kind: signatures.PrekeyKind, identity_key: bytes) -> Prekey:
    data = require_object(value, f"The field {name!r}")
    prekey = Prekey(
        integer(data, "id", 1, PREKEY_ID_MAX),
        binary(data, "key", kind.key_length),
        binary(data, "sig", SIGNATURE_BYTES),
    )
    try:
        signatures.verify_prekey(identity_key, kind, prekey.id, prekey.key, prekey.sig)
    except MalformedError:
        raise BadSignatureError(f"The signature of {name!r} does not verify.") from None
    return prekey


def parse_upload(body: dict[str, Any], identity_key: bytes, max_per_upload: int) -> Upload:
    signed = pq = None
    if body.get("signed_prekey") is not None:
        signed = parse_prekey(
            body["signed_prekey"], "signed_prekey", signatures.SIGNED_PREKEY, identity_key
        )
    if body.get("pq_prekey") is not None:
        pq = parse_prekey(body["pq_prekey"], "pq_prekey", signatures.PQ_PREKEY, identity_key)
    one_time: list[Prekey] = []
    if body.get("one_time_prekeys") is not None:
        for index, item in enumerate(array(body, "one_time_prekeys", max_per_upload)):
            one_time.append(
                parse_prekey(
                    item, f"one_time_prekeys[{index}]", signatures.ONE_TIME_PREKEY, identity_key
                )
            )
    if len({p.id for p in one_time}) != len(one_time):
        raise BadRequestError("Two one-time prekeys in the upload have the same id.")
    return Upload(signed, pq, one_time)


def one_time_count(conn: Connection, account: bytes) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM one_time_prekeys WHERE account = ?", (account,)
    ).fetchone()[0]


def store(conn: Connection, account: bytes, upload: Upload, max_one_time: int) -> int:
    """Store the upload in the caller's transaction; returns the one-time prekeys now held."""
    for kind, prekey in ((SIGNED, upload.signed), (PQ, upload.pq)):
        if prekey is not None:
            conn.execute(
                "INSERT INTO signed_prekeys (account, kind, id, key, sig) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (account, kind) DO UPDATE SET "
                "id = excluded.id, key = excluded.key, sig = excluded.sig",
                (account, kind, prekey.id, prekey.key, prekey.sig),
            )
    conn.executemany(
        "INSERT INTO one_time_prekeys (account, id, key, sig) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account, id) DO UPDATE SET key = excluded.key, sig = excluded.sig",
        [(account, p.id, p.key, p.sig) for p in upload.one_time],
    )
    count = one_time_count(conn, account)
    if count > max_one_time:
        raise TooLargeError(
            f"An account may hold at most {max_one_time} one-time prekeys; "
            f"it would hold {count}. Upload fewer."
        )
    return count


def status(conn: Connection, account: bytes) -> dict[str, Any]:
    ids = dict(
        conn.execute("SELECT kind, id FROM signed_prekeys WHERE account = ?", (account,)).fetchall()
    )
    return {
        "one_time": one_time_count(conn, account),
        "signed_prekey_id": ids.get(SIGNED),
        "pq_prekey_id": ids.get(PQ),
    }


def _signed(conn: Connection, account: bytes, kind: str) -> Prekey | None:
    row = conn.execute(
        "SELECT id, key, sig FROM signed_prekeys WHERE account = ? AND kind = ?", (account, kind)
    ).fetchone()
    return None if row is None else Prekey(row[0], bytes(row[1]), bytes(row[2]))


@dataclass(frozen=True)
class Bundle:
    body: dict[str, Any]
    one_time_left: int


_OLDEST_ONE_TIME = {
    "sqlite": "SELECT id, key, sig FROM one_time_prekeys WHERE account = ? ORDER BY rowid LIMIT 1",
    "postgresql": (
        "SELECT id, key, sig FROM one_time_prekeys WHERE account = ? ORDER BY added LIMIT 1"
    ),
}


def take_bundle(conn: Connection, target: bytes, identity_key: bytes, one_time: bool) -> Bundle:
    """The target's bundle, in the caller's transaction; with `one_time`, consuming one."""
    signed = _signed(conn, target, SIGNED)
    pq = _signed(conn, target, PQ)
    if signed is None or pq is None:
        raise NotFoundError("This account has not published its prekeys yet; try again later.")
    row = None
    if one_time:
        # The oldest first: SQLite's rowid orders rows as they were added,
        # PostgreSQL's table has an identity column, `added`, for it.
        row = conn.execute(_OLDEST_ONE_TIME[conn.engine], (target,)).fetchone()
    taken = None
    if row is not None:
        conn.execute("DELETE FROM one_time_prekeys WHERE account = ? AND id = ?", (target, row[0]))
        taken = Prekey(row[0], bytes(row[1]), bytes(row[2]))
    body = {
        "account": b64u_encode(target),
        "identity_key": b64u_encode(identity_key),
        "signed_prekey": signed.to_json(),
        "pq_prekey": pq.to_json(),
        "one_time_prekey": None if taken is None else taken.to_json(),
    }
    return Bundle(body, one_time_count(conn, target))
