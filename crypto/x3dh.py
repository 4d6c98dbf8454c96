"""PQXDH session set-up (docs/PROTOCOL.md sections 3 and 4).

`parse_bundle` turns the server's JSON bundle into verified keys; `initiate`
and `respond` compute the shared secret `SK` and the associated data `AD` on
each side. The initiator's ephemeral key and KEM encapsulation can be passed
in, so that test vectors are reproducible; in use both are left to chance.
"""

from dataclasses import dataclass
from typing import Any

from crypto.constants import (
    AD_BYTES,
    CTX_PQXDH_INFO,
    ED25519_PUBLIC_KEY_BYTES,
    ID_BYTES,
    MLKEM_CIPHERTEXT_BYTES,
    MLKEM_SHARED_SECRET_BYTES,
    PQXDH_F,
    PQXDH_SALT,
    PREKEY_ID_MAX,
    SIGNATURE_BYTES,
    X25519_KEY_BYTES,
)
from crypto.encoding import b64u_decode
from crypto.errors import MalformedError
from crypto.kdf import hkdf
from crypto.keys import (
    IdentityKeyPair,
    KeyPair,
    dh,
    ed25519_public_to_x25519,
    generate_x25519,
    mlkem_decapsulate,
    mlkem_encapsulate,
    x25519_from_private,
)
from crypto.signatures import (
    ONE_TIME_PREKEY,
    PQ_PREKEY,
    SIGNED_PREKEY,
    PrekeyKind,
    check_identity_key,
    verify_prekey,
)


@dataclass(frozen=True)
class PublicPrekey:
    id: int
    key: bytes
    sig: bytes


@dataclass(frozen=True)
class Bundle:
    """A responder's published keys, with every signature already verified."""

    account: bytes
    identity_key: bytes
    signed_prekey: PublicPrekey
    pq_prekey: PublicPrekey
    one_time_prekey: PublicPrekey | None


def _parse_prekey(value: Any, kind: PrekeyKind, identity_key: bytes) -> PublicPrekey:
    if not isinstance(value, dict) or set(value) != {"id", "key", "sig"}:
        raise MalformedError('A prekey must be {"id", "key", "sig"}.')
    prekey_id = value["id"]
    if not isinstance(prekey_id, int) or isinstance(prekey_id, bool):
        raise MalformedError("A prekey id must be an integer.")
    if not 0 < prekey_id <= PREKEY_ID_MAX:
        raise MalformedError("A prekey id must be a non-zero 32-bit unsigned integer.")
    prekey = PublicPrekey(
        prekey_id,
        b64u_decode(value["key"], kind.key_length),
        b64u_decode(value["sig"], SIGNATURE_BYTES),
    )
    verify_prekey(identity_key, kind, prekey.id, prekey.key, prekey.sig)
    return prekey


def parse_bundle(value: Any) -> Bundle:
    """Decode and verify a bundle (section 3); any defect is MalformedError."""
    keys = {"account", "identity_key", "signed_prekey", "pq_prekey", "one_time_prekey"}
    if not isinstance(value, dict) or set(value) != keys:
        raise MalformedError("A bundle must have exactly the fields of PROTOCOL.md section 3.")
    identity_key = b64u_decode(value["identity_key"], ED25519_PUBLIC_KEY_BYTES)
    check_identity_key(identity_key)
    one_time = value["one_time_prekey"]
    return Bundle(
        account=b64u_decode(value["account"], ID_BYTES),
        identity_key=identity_key,
        signed_prekey=_parse_prekey(value["signed_prekey"], SIGNED_PREKEY, identity_key),
        pq_prekey=_parse_prekey(value["pq_prekey"], PQ_PREKEY, identity_key),
        one_time_prekey=(
            None if one_time is None else _parse_prekey(one_time, ONE_TIME_PREKEY, identity_key)
        ),
    )


def derive_sk(dh_outputs: list[bytes], kem_shared_secret: bytes) -> bytes:
    """SK = HKDF(F || DH1 || DH2 || DH3 [|| DH4] || SS, 32 zero bytes, info, 32)."""
    ikm = PQXDH_F + b"".join(dh_outputs) + kem_shared_secret
    return hkdf(ikm=ikm, salt=PQXDH_SALT, info=CTX_PQXDH_INFO, length=32)


def associated_data(initiator_identity: bytes, responder_identity: bytes) -> bytes:
    ad = initiator_identity + responder_identity
    if len(ad) != AD_BYTES:
        raise MalformedError("Associated data is two 32-byte identity keys.")
    return ad


@dataclass(frozen=True)
class InitiatorSecret:
    """What the initiator keeps from PQXDH: SK, AD and what the prekey message carries."""

    sk: bytes
    ad: bytes
    ephemeral_public: bytes
    kem_ciphertext: bytes
    spk_id: int
    opk_id: int
    pq_id: int
    responder_spk: bytes


def initiate(
    identity: IdentityKeyPair,
    bundle: Bundle,
    ephemeral: KeyPair | None = None,
    kem_encapsulation: tuple[bytes, bytes] | None = None,
) -> InitiatorSecret:
    """Alice's side of section 4; `kem_encapsulation` is (CT, SS) when injected."""
    ek = generate_x25519() if ephemeral is None else x25519_from_private(ephemeral.private)
    responder_dh = ed25519_public_to_x25519(bundle.identity_key)
    spk = bundle.signed_prekey.key
    dh_outputs = [dh(identity.dh_private, spk), dh(ek.private, responder_dh), dh(ek.private, spk)]
    if bundle.one_time_prekey is not None:
        dh_outputs.append(dh(ek.private, bundle.one_time_prekey.key))
    if kem_encapsulation is None:
        kem_ciphertext, kem_shared = mlkem_encapsulate(bundle.pq_prekey.key)
    else:
        kem_ciphertext, kem_shared = kem_encapsulation
        if (
            len(kem_ciphertext) != MLKEM_CIPHERTEXT_BYTES
            or len(kem_shared) != MLKEM_SHARED_SECRET_BYTES
        ):
            raise MalformedError("An injected ML-KEM encapsulation has the wrong size.")
    return InitiatorSecret(
        sk=derive_sk(dh_outputs, kem_shared),
        ad=associated_data(identity.public, bundle.identity_key),
        ephemeral_public=ek.public,
        kem_ciphertext=kem_ciphertext,
        spk_id=bundle.signed_prekey.id,
        opk_id=0 if bundle.one_time_prekey is None else bundle.one_time_prekey.id,
        pq_id=bundle.pq_prekey.id,
        responder_spk=spk,
    )


def respond(
    identity: IdentityKeyPair,
    initiator_identity: bytes,
    ephemeral_public: bytes,
    kem_ciphertext: bytes,
    spk_private: bytes,
    pq_seed: bytes,
    opk_private: bytes | None,
) -> tuple[bytes, bytes]:
    """Bob's side of section 4, step 4: (SK, AD). The caller has looked up the private keys."""
    initiator_dh = ed25519_public_to_x25519(initiator_identity)
    if len(ephemeral_public) != X25519_KEY_BYTES:
        raise MalformedError("The ephemeral key must be 32 bytes.")
    dh_outputs = [
        dh(spk_private, initiator_dh),
        dh(identity.dh_private, ephemeral_public),
        dh(spk_private, ephemeral_public),
    ]
    if opk_private is not None:
        dh_outputs.append(dh(opk_private, ephemeral_public))
    kem_shared = mlkem_decapsulate(pq_seed, kem_ciphertext)
    return derive_sk(dh_outputs, kem_shared), associated_data(initiator_identity, identity.public)
