"""One-time invite codes for therapists and, when intake is invite-only, for clients.

A code is 20 symbols of Crockford's base32 alphabet (100 bits), printed once by
`quietline admin invite-therapist` or `invite-client` as five groups of four.
It is read the way an account secret is (docs/PROTOCOL.md section 9):
upper-cased, `-` and whitespace removed, `O` as `0`, `I` and `L` as `1`.
The database keeps only SHA-256 of the normalised code, and the row is deleted
in the transaction that uses it.
"""

import hashlib
import secrets

from crypto.constants import CROCKFORD_ALPHABET
from server import clock
from server.errors import InvalidInviteError
from server.storage import Connection

CODE_SYMBOLS = 20
GROUP = 4
KINDS = ("therapist", "client")
_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None, "\t": None})


def new_code() -> str:
    symbols = "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(CODE_SYMBOLS))
    return "-".join(symbols[i : i + GROUP] for i in range(0, CODE_SYMBOLS, GROUP))


def normalise(code: str) -> str | None:
    """The canonical symbols of `code`, or None if it cannot be an invite code."""
    text = code.upper().translate(_TRANSLATE)
    if len(text) != CODE_SYMBOLS or not set(text) <= set(CROCKFORD_ALPHABET):
        return None
    return text


def code_hash(normalised: str) -> bytes:
    return hashlib.sha256(normalised.encode("ascii")).digest()


def create(conn: Connection, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown invite kind {kind!r}")
    code = new_code()
    conn.execute(
        "INSERT INTO invites (hash, kind, created) VALUES (?, ?, ?)",
        (code_hash(code.replace("-", "")), kind, clock.today()),
    )
    return code


def check(conn: Connection, code: str, kind: str) -> None:
    """Raise `invalid_invite` unless the invite exists, without using it up.

    Lets a person hear about a mistyped code before an account secret is made
    for them; `consume` decides, in the registration's transaction.
    """
    normalised = normalise(code)
    if normalised is None:
        raise InvalidInviteError()
    found = conn.execute(
        "SELECT 1 FROM invites WHERE hash = ? AND kind = ?", (code_hash(normalised), kind)
    ).fetchone()
    if found is None:
        raise InvalidInviteError()


def consume(conn: Connection, code: str, kind: str) -> None:
    """Delete the invite in the caller's transaction, or raise `invalid_invite`."""
    normalised = normalise(code)
    if normalised is None:
        raise InvalidInviteError()
    deleted = conn.execute(
        "DELETE FROM invites WHERE hash = ? AND kind = ?", (code_hash(normalised), kind)
    ).rowcount
    if deleted != 1:
        raise InvalidInviteError()
