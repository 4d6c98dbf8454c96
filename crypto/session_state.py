"""Byte encoding of a ratchet session (docs/PROTOCOL.md section 5.7).

The encoding is canonical: absent optional fields must be zero bytes, so a
state has exactly one encoding and a decoded state re-encodes to the same
bytes. Decoding checks every length and limit before building anything.
"""

from crypto.constants import (
    AD_BYTES,
    MAX_PREVIOUS_RATCHET_KEYS,
    MAX_SKIPPED_KEYS,
    MLKEM_CIPHERTEXT_BYTES,
    SESSION_STATE_VERSION,
    X25519_KEY_BYTES,
)
from crypto.encoding import Reader, u8, u16, u32
from crypto.errors import MalformedError, UnsupportedVersionError
from crypto.keys import KeyPair
from crypto.ratchet import PendingPrekey, RatchetState

_FLAG_DHR = 1
_FLAG_CKS = 2
_FLAG_CKR = 4
_FLAG_PENDING = 8
_KNOWN_FLAGS = _FLAG_DHR | _FLAG_CKS | _FLAG_CKR | _FLAG_PENDING
_ABSENT = bytes(32)


def encode_state(state: RatchetState) -> bytes:
    if len(state.skipped) > MAX_SKIPPED_KEYS or len(state.previous) > MAX_PREVIOUS_RATCHET_KEYS:
        raise MalformedError("The session holds more keys than the protocol allows.")
    flags = (
        (_FLAG_DHR if state.dhr is not None else 0)
        | (_FLAG_CKS if state.cks is not None else 0)
        | (_FLAG_CKR if state.ckr is not None else 0)
        | (_FLAG_PENDING if state.pending is not None else 0)
    )
    parts = [
        u8(SESSION_STATE_VERSION),
        state.dhs.private,
        state.dhs.public,
        u8(flags),
        state.dhr or _ABSENT,
        state.rk,
        state.cks or _ABSENT,
        state.ckr or _ABSENT,
        u32(state.ns),
        u32(state.nr),
        u32(state.pn),
        state.ad,
        state.ek,
    ]
    if state.pending is not None:
        pending = state.pending
        parts += [u32(pending.spk_id), u32(pending.opk_id), u32(pending.pq_id)]
        parts.append(pending.kem_ciphertext)
    parts.append(u16(len(state.skipped)))
    for (dh_public, n), mk in state.skipped.items():
        parts += [dh_public, u32(n), mk]
    parts.append(u8(len(state.previous)))
    parts += state.previous
    encoded = b"".join(parts)
    # Re-decoding proves every field had its fixed length.
    decode_state(encoded)
    return encoded


def _optional(value: bytes, present: bool, what: str) -> bytes | None:
    if present:
        return value
    if value != _ABSENT:
        raise MalformedError(f"An absent {what} must be encoded as zero bytes.")
    return None


def decode_state(data: bytes) -> RatchetState:
    reader = Reader(data, "session state")
    version = reader.u8()
    if version != SESSION_STATE_VERSION:
        raise UnsupportedVersionError(f"Session state version {version} is not supported.")
    dhs = KeyPair(reader.take(X25519_KEY_BYTES), reader.take(X25519_KEY_BYTES))
    flags = reader.u8()
    if flags & ~_KNOWN_FLAGS:
        raise MalformedError("The session state has unknown flags.")
    dhr = _optional(reader.take(X25519_KEY_BYTES), bool(flags & _FLAG_DHR), "DHr")
    rk = reader.take(32)
    cks = _optional(reader.take(32), bool(flags & _FLAG_CKS), "sending chain key")
    ckr = _optional(reader.take(32), bool(flags & _FLAG_CKR), "receiving chain key")
    ns, nr, pn = reader.u32(), reader.u32(), reader.u32()
    ad = reader.take(AD_BYTES)
    ek = reader.take(X25519_KEY_BYTES)
    pending = None
    if flags & _FLAG_PENDING:
        spk_id, opk_id, pq_id = reader.u32(), reader.u32(), reader.u32()
        pending = PendingPrekey(spk_id, opk_id, pq_id, reader.take(MLKEM_CIPHERTEXT_BYTES))
        if spk_id == 0 or pq_id == 0:
            raise MalformedError("The pending prekey ids must be non-zero.")
    skipped_count = reader.u16()
    if skipped_count > MAX_SKIPPED_KEYS:
        raise MalformedError("The session state stores too many skipped keys.")
    skipped: dict[tuple[bytes, int], bytes] = {}
    for _ in range(skipped_count):
        dh_public, n, mk = reader.take(X25519_KEY_BYTES), reader.u32(), reader.take(32)
        if (dh_public, n) in skipped:
            raise MalformedError("The session state stores a skipped key twice.")
        skipped[(dh_public, n)] = mk
    previous_count = reader.u8()
    if previous_count > MAX_PREVIOUS_RATCHET_KEYS:
        raise MalformedError("The session state remembers too many earlier ratchet keys.")
    previous = [reader.take(X25519_KEY_BYTES) for _ in range(previous_count)]
    reader.finish()
    return RatchetState(
        dhs=dhs,
        dhr=dhr,
        rk=rk,
        cks=cks,
        ckr=ckr,
        ns=ns,
        nr=nr,
        pn=pn,
        ad=ad,
        ek=ek,
        pending=pending,
        skipped=skipped,
        previous=previous,
    )
