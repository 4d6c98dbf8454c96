"""The account vault (docs/PROTOCOL.md section 10): opaque blobs under compare-and-swap.

The server sees an item's id, version and padded size, never its content. A
write must carry exactly the next version, and a request's writes are applied
all together or not at all. A delete leaves a tombstone (the blob becomes
NULL, the version still advances) so that other devices learn of it on their
next sync. Every write takes the account's next sequence number; a sync
returns the items changed after a cursor, oldest change first.
"""

from dataclasses import dataclass
from typing import Any

from crypto.constants import (
    AEAD_NONCE_BYTES,
    AEAD_TAG_BYTES,
    ID_BYTES,
    MAX_VAULT_ITEM,
    VAULT_BLOB_VERSION,
    VAULT_MIN_PADDED,
)
from crypto.encoding import b64u_encode
from server import wakeup
from server.errors import (
    BadRequestError,
    MalformedApiError,
    StorageFullError,
    TooLargeError,
    UnauthorizedError,
    UnsupportedVersionApiError,
    VaultConflictError,
)
from server.storage import Connection
from server.validation import SQLITE_INT_MAX, binary, integer, require_object

BLOB_OVERHEAD = 1 + AEAD_NONCE_BYTES + AEAD_TAG_BYTES
MAX_BLOB = BLOB_OVERHEAD + MAX_VAULT_ITEM
SYNC_PAGE_BYTES = 4 * 1024 * 1024
SYNC_PAGE_ITEMS = 1000
MAX_CURSOR_DIGITS = 19


@dataclass(frozen=True)
class VaultWrite:
    id: bytes
    version: int
    blob: bytes | None  # None deletes the item


def check_blob(blob: bytes) -> None:
    if blob[:1] != bytes([VAULT_BLOB_VERSION]):
        raise UnsupportedVersionApiError("A vault blob has a version this server does not know.")
    padded = len(blob) - BLOB_OVERHEAD
    if padded < VAULT_MIN_PADDED or padded & (padded - 1):
        raise MalformedApiError(
            "A vault blob must be 1 + 24 + 16 bytes plus a power of two of at least "
            f"{VAULT_MIN_PADDED} bytes (docs/PROTOCOL.md section 10)."
        )


def parse_write(value: Any) -> VaultWrite:
    data = require_object(value, "A vault write")
    item_id = binary(data, "id", ID_BYTES)
    version = integer(data, "version", 1, SQLITE_INT_MAX)
    if data.get("delete") is True:
        if "blob" in data:
            raise BadRequestError("A vault write has either 'blob' or 'delete', not both.")
        return VaultWrite(item_id, version, None)
    if "delete" in data:
        raise BadRequestError("A vault write's 'delete' must be true when present.")
    blob = binary(data, "blob", max_length=MAX_BLOB)
    check_blob(blob)
    return VaultWrite(item_id, version, blob)


def parse_writes(value: Any, max_writes: int) -> list[VaultWrite]:
    if not isinstance(value, list):
        raise BadRequestError("The vault writes must be an array.")
    if len(value) > max_writes:
        raise TooLargeError(f"At most {max_writes} vault writes fit in one request.")
    writes = [parse_write(item) for item in value]
    if len({w.id for w in writes}) != len(writes):
        raise BadRequestError("Two vault writes in one request name the same item.")
    return writes


def parse_cursor(text: str | None) -> int:
    if text is None or text == "":
        return 0
    # 19 digits still reach past SQLite's largest integer (2**63 - 1).
    if (
        not text.isascii()
        or not text.isdigit()
        or len(text) > MAX_CURSOR_DIGITS
        or int(text) > SQLITE_INT_MAX
    ):
        raise BadRequestError("The vault cursor must be a value returned by an earlier sync.")
    return int(text)


def apply(
    conn: Connection,
    account: bytes,
    writes: list[VaultWrite],
    max_bytes: int,
    max_items: int,
    *,
    may_grow: bool,
) -> int:
    """Apply `writes` in the caller's transaction; returns the account's new cursor.

    Without `may_grow` (the disk guard, server/diskspace.py), writes that would
    add bytes or items are refused; replacing, shrinking and deleting go on.
    """
    stored: dict[bytes, tuple[int, int] | None] = {}
    conflicts = []
    for write in writes:
        row = conn.execute(
            "SELECT version, length(blob) FROM vault_items WHERE account = ? AND id = ?",
            (account, write.id),
        ).fetchone()
        stored[write.id] = None if row is None else (row[0], row[1] or 0)
        current = 0 if row is None else row[0]
        if write.version != current + 1 or (write.blob is None and row is None):
            conflicts.append({"id": b64u_encode(write.id), "version": current})
    if conflicts:
        raise VaultConflictError(items=conflicts)
    totals = conn.execute(
        "SELECT vault_seq, vault_bytes, vault_items FROM accounts WHERE id = ?", (account,)
    ).fetchone()
    if totals is None:
        raise UnauthorizedError("This account no longer exists.")
    seq, total_bytes, total_items = totals
    before = (total_bytes, total_items)
    for write in writes:
        old = stored[write.id]
        total_bytes += (0 if write.blob is None else len(write.blob)) - (
            0 if old is None else old[1]
        )
        total_items += 1 if old is None else 0
    if total_bytes > max_bytes or total_items > max_items:
        raise TooLargeError(
            f"The vault would exceed this server's limit of {max_bytes} bytes "
            f"or {max_items} items; delete items you no longer need."
        )
    if not may_grow and (total_bytes > before[0] or total_items > before[1]):
        raise StorageFullError()
    for write in writes:
        seq += 1
        conn.execute(
            "INSERT INTO vault_items (account, id, version, blob, seq) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, id) DO UPDATE SET "
            "version = excluded.version, blob = excluded.blob, seq = excluded.seq",
            (account, write.id, write.version, write.blob, seq),
        )
    conn.execute(
        "UPDATE accounts SET vault_seq = ?, vault_bytes = ?, vault_items = ? WHERE id = ?",
        (seq, total_bytes, total_items, account),
    )
    wakeup.notify(conn, wakeup.VAULT, account)
    return seq


def changes_since(conn: Connection, account: bytes, since: int) -> dict[str, Any]:
    """One page of items changed after `since`, oldest change first."""
    cursor = conn.execute(
        "SELECT id, version, blob, seq FROM vault_items WHERE account = ? AND seq > ? ORDER BY seq",
        (account, since),
    )
    items: list[dict[str, Any]] = []
    size = 0
    last = None
    more = False
    for item_id, version, blob, seq in cursor:
        if items and (len(items) >= SYNC_PAGE_ITEMS or size >= SYNC_PAGE_BYTES):
            more = True
            break
        items.append(
            {
                "id": b64u_encode(bytes(item_id)),
                "version": version,
                "blob": None if blob is None else b64u_encode(bytes(blob)),
            }
        )
        size += 0 if blob is None else len(blob)
        last = seq
    cursor.close()
    if last is None:
        row = conn.execute("SELECT vault_seq FROM accounts WHERE id = ?", (account,)).fetchone()
        last = min(since, row[0] if row else 0)
    return {"items": items, "cursor": str(last), "more": more}
