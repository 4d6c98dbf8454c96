"""Signal's Double Ratchet (docs/PROTOCOL.md section 5), without header encryption.

The functions follow the pseudocode of the specification's section 3.5 and
keep its names. `encrypt` and `decrypt` never change the state they are given:
they work on a copy and return the new state, which the caller stores only
once the message has been fully handled. An exception therefore always leaves
the session exactly as it was, as section 5.4 requires.

`generate_dh` is injectable so that test vectors can fix the ratchet keys; in
use it is `generate_x25519`, a fresh random key pair.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from crypto.constants import (
    AD_BYTES,
    MAX_PREVIOUS_RATCHET_KEYS,
    MAX_SKIP,
    MAX_SKIPPED_KEYS,
)
from crypto.envelope import Header
from crypto.errors import MalformedError, ReplayedError, TamperedError, TooFarSkippedError
from crypto.kdf import kdf_ck, kdf_rk, message_aead_key
from crypto.keys import KeyPair, dh, generate_x25519

DhGenerator = Callable[[], KeyPair]


@dataclass(frozen=True)
class PendingPrekey:
    """What the initiator repeats in every prekey message until the responder answers."""

    spk_id: int
    opk_id: int
    pq_id: int
    kem_ciphertext: bytes


@dataclass
class RatchetState:
    """The state variables of the specification's section 3.2, plus AD, EK and replay memory."""

    dhs: KeyPair
    dhr: bytes | None
    rk: bytes
    cks: bytes | None
    ckr: bytes | None
    ns: int
    nr: int
    pn: int
    ad: bytes
    ek: bytes
    pending: PendingPrekey | None = None
    skipped: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    previous: list[bytes] = field(default_factory=list)

    def copy(self) -> "RatchetState":
        return RatchetState(
            dhs=self.dhs,
            dhr=self.dhr,
            rk=self.rk,
            cks=self.cks,
            ckr=self.ckr,
            ns=self.ns,
            nr=self.nr,
            pn=self.pn,
            ad=self.ad,
            ek=self.ek,
            pending=self.pending,
            skipped=dict(self.skipped),
            previous=list(self.previous),
        )


def init_sender(
    sk: bytes,
    ad: bytes,
    ek: bytes,
    responder_spk: bytes,
    pending: PendingPrekey | None,
    generate_dh: DhGenerator = generate_x25519,
) -> RatchetState:
    """RatchetInitAlice (section 5.3)."""
    if len(ad) != AD_BYTES:
        raise MalformedError("Associated data is two 32-byte identity keys.")
    dhs = generate_dh()
    rk, cks = kdf_rk(sk, dh(dhs.private, responder_spk))
    return RatchetState(
        dhs=dhs,
        dhr=responder_spk,
        rk=rk,
        cks=cks,
        ckr=None,
        ns=0,
        nr=0,
        pn=0,
        ad=ad,
        ek=ek,
        pending=pending,
    )


def init_receiver(sk: bytes, ad: bytes, ek: bytes, spk: KeyPair) -> RatchetState:
    """RatchetInitBob (section 5.3)."""
    if len(ad) != AD_BYTES:
        raise MalformedError("Associated data is two 32-byte identity keys.")
    return RatchetState(
        dhs=spk, dhr=None, rk=sk, cks=None, ckr=None, ns=0, nr=0, pn=0, ad=ad, ek=ek
    )


def _aead_encrypt(mk: bytes, plaintext: bytes, ad: bytes) -> bytes:
    key, nonce = message_aead_key(mk)
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def _aead_decrypt(mk: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    key, nonce = message_aead_key(mk)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise TamperedError() from exc


def encrypt(state: RatchetState, plaintext: bytes) -> tuple[RatchetState, Header, bytes]:
    """RatchetEncrypt: (new state, header, ciphertext)."""
    if state.cks is None:
        raise MalformedError("This session has no sending chain yet: it must receive first.")
    new = state.copy()
    new.cks, mk = kdf_ck(state.cks)
    header = Header(new.dhs.public, new.pn, new.ns)
    new.ns += 1
    ciphertext = _aead_encrypt(mk, plaintext, new.ad + header.encode())
    return new, header, ciphertext


def _skip_message_keys(state: RatchetState, until: int) -> None:
    if state.nr + MAX_SKIP < until:
        raise TooFarSkippedError()
    if state.ckr is None or state.dhr is None:
        return
    while state.nr < until:
        state.ckr, mk = kdf_ck(state.ckr)
        state.skipped[(state.dhr, state.nr)] = mk
        if len(state.skipped) > MAX_SKIPPED_KEYS:
            del state.skipped[next(iter(state.skipped))]
        state.nr += 1


def _dh_ratchet(state: RatchetState, header: Header, generate_dh: DhGenerator) -> None:
    if state.dhr is not None:
        state.previous.append(state.dhr)
        del state.previous[:-MAX_PREVIOUS_RATCHET_KEYS]
    state.pn = state.ns
    state.ns = 0
    state.nr = 0
    state.dhr = header.dh
    state.rk, state.ckr = kdf_rk(state.rk, dh(state.dhs.private, state.dhr))
    state.dhs = generate_dh()
    state.rk, state.cks = kdf_rk(state.rk, dh(state.dhs.private, state.dhr))


def decrypt(
    state: RatchetState,
    header: Header,
    ciphertext: bytes,
    generate_dh: DhGenerator = generate_x25519,
) -> tuple[RatchetState, bytes]:
    """RatchetDecrypt with replay detection (section 5.6): (new state, plaintext)."""
    ad = state.ad + header.encode()
    new = state.copy()
    mk = new.skipped.pop((header.dh, header.n), None)
    if mk is not None:
        plaintext = _aead_decrypt(mk, ciphertext, ad)
        new.pending = None
        return new, plaintext
    if header.dh == new.dhr:
        if header.n < new.nr:
            raise ReplayedError()
        if new.ckr is None:
            # Only the responder's signed prekey is ever DHr without a receiving
            # chain, and no honest message is sent under a prekey.
            raise TamperedError()
    elif header.dh in new.previous:
        raise ReplayedError()
    else:
        _skip_message_keys(new, header.pn)
        _dh_ratchet(new, header, generate_dh)
    _skip_message_keys(new, header.n)
    assert new.ckr is not None
    new.ckr, mk = kdf_ck(new.ckr)
    new.nr += 1
    plaintext = _aead_decrypt(mk, ciphertext, ad)
    new.pending = None
    return new, plaintext
