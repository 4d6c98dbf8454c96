"""Generate the test vectors in this directory from the Python implementation.

Run `python tests/vectors/generate.py` from the repository root to rewrite
every vector file; the output is byte-identical from run to run, and
tests/crypto/test_crypto_vectors_reproducible.py checks that the committed files equal
a fresh generation. `--record-kem` re-records kem_recordings.json (see below)
and is the only step that uses randomness.

Conventions for every file: bytes are lowercase hex strings; text is a JSON
string; an expected failure is `"error": "<code>"` with a code of
PROTOCOL.md section 13. Key material is derived from labels, never random:
`seed32(label) = SHA256("Quietline test vector " || label)` and
`seed64(label) = SHA512("Quietline test vector " || label)`.

ML-KEM encapsulation takes randomness that no library lets us fix, so its
outputs are recorded once in kem_recordings.json as
`{"<name>": {"pq_seed", "ciphertext", "shared_secret"}}` and replayed; the
generator checks that decapsulating each ciphertext gives its shared secret.

File layouts (each top-level key is a list of cases unless noted):

encoding.json
  valid:   {hex, b64u}
  invalid: {b64u, length (exact decoded length or null), error}

kdf.json
  hkdf:         {ikm, salt, info, length, okm}
  hmac:         {key, data, mac}
  kdf_rk:       {rk, dh_out, root_key, chain_key}
  kdf_ck:       {ck, chain_key, message_key}
  message_keys: {mk, key, nonce}

padding.json
  pad:            {payload, padded}                  (section 6)
  bucket:         {length, bucket} or {length, error}
  unpad_invalid:  {padded, error}
  vpad:           {item, padded}                      (section 10)
  vpad_size:      {length, size} or {length, error}
  vunpad_invalid: {padded, error}

keys.json
  identity:         {seed, ed25519_public, x25519_private, x25519_public}
  x25519:           {private, public}
  dh:               {private, public, shared} or {private, public, error}
  identity_invalid: {public, error}  (Ed25519 keys the conversion rejects)
  mlkem:            {seed, public}
  mlkem_decaps:     {seed, ciphertext, shared_secret, name}

signatures.json
  valid:   {name, seed, identity_key, context (text), data, sig}; the signed
           message is ascii(context) || data
  invalid: {name, identity_key, context, data, sig, error}
  builders: {name, fields..., data}: the `data` part of each signed message
           (prekey: kind, id, key; register: server_id, handle; websocket:
           server_id, nonce, account)

pqxdh.json
  cases: {name, alice {seed, identity_key, x25519_private, x25519_public},
          bob {seed, identity_key, x25519_private, x25519_public,
               spk {id, private, public, sig}, pq {id, seed, public, sig},
               opk {id, private, public, sig} or null},
          bundle (the JSON bundle of section 3, as served),
          ephemeral {private, public}, kem {ciphertext, shared_secret},
          dh1, dh2, dh3, dh4 (or null), ikm, sk, ad}
  invalid_bundles: {name, bundle, error}

ratchet.json (one conversation through crypto/session.py)
  setup: {alice_seed, bob_seed, bundle, bob_prekeys (the `prekeys` vault item
          of section 10), ephemeral_private, kem {ciphertext, shared_secret},
          alice_ratchet_private (Alice's first DHs), sk, ad,
          alice_state (after start)}
  events: in order, each
          {step, actor ("alice"/"bob"), action ("send"/"receive"),
           ratchet_private (the key GENERATE_DH returns in this step, or null;
           a failing step may generate one before failing, then discards it),
           payload (the payload text sent or received, or null),
           envelope (hex), envelope_of (step of the send it delivers, or null
           when `envelope` is a forgery), error (code or null),
           state (the actor's serialised session after the step; unchanged
           when error is set), prekeys_changed (bob's accepted
           {spk_id, opk_id, ek} when a prekey message set up his session, else
           null)}

envelope.json
  valid:   {name, hex, type, fields {identity_key, ephemeral_key, spk_id,
            opk_id, pq_id, kem_ciphertext (type 1), header {dh, pn, n},
            ciphertext_length}}
  invalid: {name, hex, error}

session_state.json
  valid:   {name, hex, fields {dhs_private, dhs_public, dhr, rk, cks, ckr, ns,
            nr, pn, ad, ek, pending {spk_id, opk_id, pq_id, kem_ciphertext} or
            null, skipped [{dh, n, mk}], previous [hex]}}; absent values null
  invalid: {name, hex, error}

session_record.json (both sides set up a session at once, PROTOCOL.md 5.8)
  setup:  {alice, bob: each {seed, account (hex), bundle (as served),
           prekeys (the `prekeys` vault item), ephemeral_private,
           ratchet_private (the first DHs), kem {ciphertext, shared_secret}
           (the encapsulation this party makes to the other's PQ prekey),
           record (the party's record after starting its own session)}}
  events: in order, each {step, actor, action ("send"/"receive"),
           ratchet_private (the key GENERATE_DH returns in this step: every
           attempt in it gets the same one; null if none asked), payload,
           envelope (hex), envelope_of (step of the send, or null for a
           forgery), error (code or null), record (the actor's record after
           the step, hex of 5.8; unchanged when error is set), active_ek (EK
           of its first session), new_session (bool)}
  valid:   {name, hex, states [hex of each 5.7 state, active first]}
  invalid: {name, hex, error}
  merge:   {name, records [hex of 5.8], merged (hex) or error}: several
           records of one peer read as one

payload.json
  text:    {id, sent, body, encoded (text)}
  receipt: {state, ids, encoded}
  group_key:  {key (hex of a sender key distribution), encoded}
  group_join: {group, member_key, name, salt, note, encoded}
  group_listing: {listing (b64u of the signed listing bytes), sig, moderator_key, encoded}
  invalid: {name, encoded (text, or hex_bytes for non-UTF-8), error}

vault.json
  argon2: {opslimit, memlimit, output_bytes} (object)
  normalise: {input, handle, passphrase, formatted} or {input, error}
  derivation: {secret, handle, passphrase, salt, master, vault_key, login_key}
  items: {vault_key, id, version, nonce, item (text), blob}
  items_invalid: {name, vault_key, id, version, blob, error}

secret_change.json (a change of the account secret, section 9.1)
  old, new: {secret, handle, vault_key, login_key} (objects)
  items: {id, base, nonce, item (text), old_blob, new_blob}
    (new_blob = rekey of old_blob: the same item sealed for base + 1 under the new key)
  identity: {id, base, nonce, old_item, new_item (text), new_blob} (object; the
    identity item's `handle` becomes the new handle)
  invalid: {name, vault_key, id, version, blob, error}

safety.json
  cases: {identity_key_a, account_a, identity_key_b, account_b,
          fingerprint_a, fingerprint_b, safety_number, formatted}

groups.json (one group through crypto/group_roster.py and crypto/sender_key.py)
  setup: {group_id, moderator_seed, moderator_key, members {name: {seed,
          member_key, display_name, name_salt, name_commitment}},
          rosters [{name, fields, encoded, signed}]}
  roster_invalid: {name, signed, held (roster name, or null for a first
          roster), error}
  events: in order, each {step, actor, action, error, ...} with action one of
          join {roster}, accept_roster {roster}, create_sender_key {now,
          signing_seed, chain_key, sender_key}, distribute {label, message,
          recipients}, receive_distribution {label, message}, encrypt {label,
          payload, message}, decrypt {label, message, payload, member_key,
          iteration}, needs_rotation {now, result}; and `state`, the actor's
          group state (section 15.8) after the step, unchanged when error
          is set (null while the actor has none)
  tombstones: {name, roster, signed, error, sender_key and iteration if valid}
  state_invalid: {name, hex, error}
"""

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crypto import envelope as envelope_codec  # noqa: E402
from crypto import (  # noqa: E402
    group_roster,
    kdf,
    keys,
    padding,
    payload,
    safety,
    sender_key,
    session,
    signatures,
    vault,
)
from crypto.constants import (  # noqa: E402
    ARGON2_MEMLIMIT,
    ARGON2_OPSLIMIT,
    ARGON2_OUTPUT_BYTES,
    BUCKETS,
    CTX_GROUP_ROSTER,
    CTX_ONE_TIME_PREKEY,
    CTX_PQ_PREKEY,
    CTX_PQXDH_INFO,
    CTX_PROFILE,
    CTX_REGISTER,
    CTX_SIGNED_PREKEY,
    CTX_WEBSOCKET_AUTH,
    GROUP_DISTRIBUTION_MAX_BYTES,
    MAX_ENVELOPE,
    MAX_PREVIOUS_RATCHET_KEYS,
    MAX_SKIPPED_KEYS,
    MEMBER_ADMITTED,
    MEMBER_REMOVED,
    PQXDH_F,
    ROSTER_FLAG_PAUSED,
    SENDER_KEY_ROTATE_SECONDS,
)
from crypto.encoding import b64u_decode, b64u_encode, u8, u16, u32, u64  # noqa: E402
from crypto.errors import ProtocolError  # noqa: E402
from crypto.group_message import parse_group_message  # noqa: E402
from crypto.group_state import decode_group_state, encode_group_state  # noqa: E402
from crypto.keys import IdentityKeyPair, KeyPair, x25519_from_private  # noqa: E402
from crypto.prekeys import PrekeyStore, store_to_item  # noqa: E402
from crypto.ratchet import RatchetState  # noqa: E402
from crypto.session_record import (  # noqa: E402
    SessionRecord,
    decode_record,
    encode_record,
    merge_records,
)
from crypto.session_state import decode_state, encode_state  # noqa: E402
from crypto.x3dh import InitiatorSecret, initiate, parse_bundle  # noqa: E402

HERE = Path(__file__).resolve().parent
KEM_RECORDINGS = HERE / "kem_recordings.json"
KEM_NAMES = ("pqxdh-opk", "pqxdh-no-opk", "ratchet")


def seed32(label: str) -> bytes:
    return hashlib.sha256(b"Quietline test vector " + label.encode()).digest()


def seed64(label: str) -> bytes:
    return hashlib.sha512(b"Quietline test vector " + label.encode()).digest()


def hx(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def error_of(action: Callable[[], object]) -> str:
    try:
        action()
    except ProtocolError as exc:
        return exc.code
    raise AssertionError("expected a protocol error")


def kem_recordings() -> dict[str, dict[str, bytes]]:
    recorded = json.loads(KEM_RECORDINGS.read_text())
    out = {}
    for name in KEM_NAMES:
        entry = {k: bytes.fromhex(v) for k, v in recorded[name].items()}
        assert entry["pq_seed"] == seed64(f"kem {name}")
        decapsulated = keys.mlkem_decapsulate(entry["pq_seed"], entry["ciphertext"])
        assert decapsulated == entry["shared_secret"], f"recording {name} does not decapsulate"
        out[name] = entry
    return out


def record_kem() -> None:
    recorded = {}
    for name in KEM_NAMES:
        pq_seed = seed64(f"kem {name}")
        ciphertext, shared = keys.mlkem_encapsulate(keys.mlkem_public_key(pq_seed))
        recorded[name] = {
            "pq_seed": pq_seed.hex(),
            "ciphertext": ciphertext.hex(),
            "shared_secret": shared.hex(),
        }
    KEM_RECORDINGS.write_text(json.dumps(recorded, indent=1) + "\n")


# ---------------------------------------------------------------- encoding


def encoding_vectors() -> dict[str, Any]:
    samples = [b"", b"\x00", b"\xff", b"\xfb\xff", b"\x00\x01\x02", bytes(range(16)), b"\xfa" * 33]
    valid = [{"hex": s.hex(), "b64u": b64u_encode(s)} for s in samples]
    invalid_inputs: list[tuple[str, int | None]] = [
        ("AA==", None),  # padding
        ("AA=", None),
        ("A", None),  # impossible length
        ("AB", None),  # non-zero trailing bits
        ("AAB", None),
        ("AA A", None),  # whitespace
        ("AA\n", None),
        ("AA+/", None),  # standard alphabet
        ("AA.A", None),
        ("AAE", 1),  # wrong decoded length
        ("AAAA", 2),
        ("", 1),
    ]
    invalid = [
        {
            "b64u": text,
            "length": length,
            "error": error_of(lambda t=text, n=length: b64u_decode(t, n)),
        }
        for text, length in invalid_inputs
    ]
    return {"valid": valid, "invalid": invalid}


# ---------------------------------------------------------------- kdf


def kdf_vectors() -> dict[str, Any]:
    rfc5869_case1 = {
        "ikm": "0b" * 22,
        "salt": "000102030405060708090a0b0c",
        "info": "f0f1f2f3f4f5f6f7f8f9",
        "length": 42,
    }
    hkdf_cases = [
        rfc5869_case1,
        {"ikm": seed32("hkdf ikm").hex(), "salt": "00" * 32, "info": "", "length": 32},
        {"ikm": seed32("hkdf ikm 2").hex(), "salt": "", "info": "01", "length": 100},
    ]
    for case in hkdf_cases:
        okm = kdf.hkdf(
            bytes.fromhex(case["ikm"]),
            bytes.fromhex(case["salt"]),
            bytes.fromhex(case["info"]),
            case["length"],
        )
        case["okm"] = okm.hex()
    hmac_cases = []
    for key, data in [(seed32("hmac key"), b"\x01"), (b"", b""), (b"\x0b" * 20, b"Hi There")]:
        hmac_cases.append(
            {"key": key.hex(), "data": data.hex(), "mac": kdf.hmac_sha256(key, data).hex()}
        )
    kdf_rk_cases = []
    for i in range(2):
        rk, dh_out = seed32(f"rk {i}"), seed32(f"dh out {i}")
        root, chain = kdf.kdf_rk(rk, dh_out)
        kdf_rk_cases.append(
            {
                "rk": rk.hex(),
                "dh_out": dh_out.hex(),
                "root_key": root.hex(),
                "chain_key": chain.hex(),
            }
        )
    kdf_ck_cases = []
    ck = seed32("ck")
    for _ in range(3):
        next_ck, mk = kdf.kdf_ck(ck)
        kdf_ck_cases.append({"ck": ck.hex(), "chain_key": next_ck.hex(), "message_key": mk.hex()})
        ck = next_ck
    message_key_cases = []
    for i in range(2):
        mk = seed32(f"mk {i}")
        key, nonce = kdf.message_aead_key(mk)
        message_key_cases.append({"mk": mk.hex(), "key": key.hex(), "nonce": nonce.hex()})
    return {
        "hkdf": hkdf_cases,
        "hmac": hmac_cases,
        "kdf_rk": kdf_rk_cases,
        "kdf_ck": kdf_ck_cases,
        "message_keys": message_key_cases,
    }


# ---------------------------------------------------------------- padding


def padding_vectors() -> dict[str, Any]:
    pad_cases = []
    for length in (0, 1, 100, 254, 255, 256, 1023):
        data = bytes((7 * i + 1) % 256 for i in range(length))
        pad_cases.append({"payload": data.hex(), "padded": padding.pad(data).hex()})
    bucket_cases: list[dict[str, Any]] = []
    for length in (0, 255, 256, 1023, 1024, 4095, 4096, 16383, 16384, 65535, 65536):
        try:
            bucket_cases.append({"length": length, "bucket": padding.bucket_for(length)})
        except ProtocolError as exc:
            bucket_cases.append({"length": length, "error": exc.code})
    unpad_invalid = [
        {"padded": (b"a" * 255).hex()},  # not a bucket
        {"padded": bytes(256).hex()},  # no marker
        {"padded": (b"a" * 255 + b"\x01").hex()},  # last non-zero byte is not 0x80
        {"padded": (b"a\x80" + bytes(254) + b"\x01").hex()},
        {"padded": (b"\x80" + bytes(256)).hex()},  # 257 bytes
    ]
    for case in unpad_invalid:
        case["error"] = error_of(lambda c=case: padding.unpad(bytes.fromhex(c["padded"])))
    vpad_cases = []
    for length in (0, 1, 255):
        data = bytes((3 * i + 2) % 256 for i in range(length))
        vpad_cases.append({"item": data.hex(), "padded": padding.vpad(data).hex()})
    vpad_size: list[dict[str, Any]] = []
    for length in (0, 255, 256, 511, 512, 70000, 524287, 524288, 1048575, 1048576):
        try:
            vpad_size.append({"length": length, "size": padding.vault_size_for(length)})
        except ProtocolError as exc:
            vpad_size.append({"length": length, "error": exc.code})
    vunpad_invalid = [
        {"padded": (b"\x80" + bytes(127)).hex()},  # below 256
        {"padded": (b"\x80" + bytes(383)).hex()},  # not a power of two
        {"padded": bytes(512).hex()},  # no marker
        {"padded": (b"\x80" + bytes(510) + b"\x02").hex()},
    ]
    for case in vunpad_invalid:
        case["error"] = error_of(lambda c=case: padding.vunpad(bytes.fromhex(c["padded"])))
    return {
        "pad": pad_cases,
        "bucket": bucket_cases,
        "unpad_invalid": unpad_invalid,
        "vpad": vpad_cases,
        "vpad_size": vpad_size,
        "vunpad_invalid": vunpad_invalid,
    }


# ---------------------------------------------------------------- keys

# Encodings of small-order points and of a non-canonical y, which the
# Ed25519-to-X25519 conversion refuses.
SMALL_ORDER_ED25519 = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
]
NOT_ON_CURVE_ED25519 = bytes.fromhex(
    "0200000000000000000000000000000000000000000000000000000000000000"
)
LOW_ORDER_X25519 = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


def identity_entry(identity: IdentityKeyPair) -> dict[str, str]:
    return {
        "seed": identity.seed.hex(),
        "identity_key": identity.public.hex(),
        "x25519_private": identity.dh_private.hex(),
        "x25519_public": identity.dh_public.hex(),
    }


def keys_vectors() -> dict[str, Any]:
    identity_cases = []
    for i in range(3):
        identity = IdentityKeyPair.from_seed(seed32(f"identity {i}"))
        identity_cases.append(
            {
                "seed": identity.seed.hex(),
                "ed25519_public": identity.public.hex(),
                "x25519_private": identity.dh_private.hex(),
                "x25519_public": identity.dh_public.hex(),
            }
        )
    x25519_cases = []
    for i in range(3):
        pair = x25519_from_private(seed32(f"x25519 {i}"))
        x25519_cases.append({"private": pair.private.hex(), "public": pair.public.hex()})
    dh_cases: list[dict[str, Any]] = []
    a, b = x25519_from_private(seed32("x25519 0")), x25519_from_private(seed32("x25519 1"))
    dh_cases.append(
        {
            "private": a.private.hex(),
            "public": b.public.hex(),
            "shared": keys.dh(a.private, b.public).hex(),
        }
    )
    dh_cases.append(
        {
            "private": b.private.hex(),
            "public": a.public.hex(),
            "shared": keys.dh(b.private, a.public).hex(),
        }
    )
    for point in LOW_ORDER_X25519:
        dh_cases.append(
            {
                "private": a.private.hex(),
                "public": point.hex(),
                "error": error_of(lambda p=point: keys.dh(a.private, p)),
            }
        )
    identity_invalid = [
        {"public": p.hex(), "error": error_of(lambda p=p: signatures.check_identity_key(p))}
        for p in [*SMALL_ORDER_ED25519, NOT_ON_CURVE_ED25519]
    ]
    mlkem_cases = []
    for i in range(2):
        seed = seed64(f"mlkem {i}")
        mlkem_cases.append({"seed": seed.hex(), "public": keys.mlkem_public_key(seed).hex()})
    decaps_cases = []
    for name, entry in kem_recordings().items():
        decaps_cases.append(
            {
                "seed": entry["pq_seed"].hex(),
                "ciphertext": entry["ciphertext"].hex(),
                "shared_secret": entry["shared_secret"].hex(),
                "name": name,
            }
        )
    return {
        "identity": identity_cases,
        "x25519": x25519_cases,
        "dh": dh_cases,
        "identity_invalid": identity_invalid,
        "mlkem": mlkem_cases,
        "mlkem_decaps": decaps_cases,
    }


# ---------------------------------------------------------------- signatures


def signatures_vectors() -> dict[str, Any]:
    identity = IdentityKeyPair.from_seed(seed32("identity 0"))
    other = IdentityKeyPair.from_seed(seed32("identity 1"))
    server_id = seed32("server id")[:16]
    nonce = seed32("websocket nonce")
    account = seed32("account 0")[:16]
    spk_public = x25519_from_private(seed32("spk signature")).public
    pq_public = keys.mlkem_public_key(seed64("pq signature"))
    opk_public = x25519_from_private(seed32("opk signature")).public
    profile_bytes = b'{"display_name":"Dr. Ana Ruiz","accepting":true}'
    builders = [
        {
            "name": "signed prekey",
            "kind": "signed",
            "id": 0x01020304,
            "key": spk_public.hex(),
            "data": signatures.prekey_data(signatures.SIGNED_PREKEY, 0x01020304, spk_public).hex(),
        },
        {
            "name": "pq prekey",
            "kind": "pq",
            "id": 7,
            "key": pq_public.hex(),
            "data": signatures.prekey_data(signatures.PQ_PREKEY, 7, pq_public).hex(),
        },
        {
            "name": "one-time prekey",
            "kind": "one_time",
            "id": 0xFFFFFFFF,
            "key": opk_public.hex(),
            "data": signatures.prekey_data(
                signatures.ONE_TIME_PREKEY, 0xFFFFFFFF, opk_public
            ).hex(),
        },
        {
            "name": "register",
            "server_id": server_id.hex(),
            "handle": "7K3QXM2D",
            "data": signatures.registration_data(server_id, "7K3QXM2D").hex(),
        },
        {
            "name": "websocket auth",
            "server_id": server_id.hex(),
            "nonce": nonce.hex(),
            "account": account.hex(),
            "data": signatures.websocket_auth_data(server_id, nonce, account).hex(),
        },
    ]
    contexts = {
        "signed prekey": CTX_SIGNED_PREKEY,
        "pq prekey": CTX_PQ_PREKEY,
        "one-time prekey": CTX_ONE_TIME_PREKEY,
        "register": CTX_REGISTER,
        "websocket auth": CTX_WEBSOCKET_AUTH,
    }
    valid = []
    for builder in builders:
        context = contexts[builder["name"]]
        data = bytes.fromhex(builder["data"])
        valid.append(
            {
                "name": builder["name"],
                "seed": identity.seed.hex(),
                "identity_key": identity.public.hex(),
                "context": context.decode(),
                "data": data.hex(),
                "sig": signatures.sign(identity.seed, context, data).hex(),
            }
        )
    valid.append(
        {
            "name": "profile",
            "seed": identity.seed.hex(),
            "identity_key": identity.public.hex(),
            "context": CTX_PROFILE.decode(),
            "data": profile_bytes.hex(),
            "sig": signatures.sign(identity.seed, CTX_PROFILE, profile_bytes).hex(),
        }
    )
    base = valid[0]
    sig = bytes.fromhex(base["sig"])
    data = bytes.fromhex(base["data"])
    flipped_sig = bytes([sig[0] ^ 1]) + sig[1:]
    flipped_data = data[:-1] + bytes([data[-1] ^ 0x80])
    invalid_inputs = [
        ("bit flipped in signature", identity.public, CTX_SIGNED_PREKEY, data, flipped_sig),
        ("bit flipped in data", identity.public, CTX_SIGNED_PREKEY, flipped_data, sig),
        ("other context", identity.public, CTX_ONE_TIME_PREKEY, data, sig),
        ("other signer", other.public, CTX_SIGNED_PREKEY, data, sig),
        ("short signature", identity.public, CTX_SIGNED_PREKEY, data, sig[:63]),
        ("small-order key", SMALL_ORDER_ED25519[1], CTX_SIGNED_PREKEY, data, sig),
        ("non-canonical S", identity.public, CTX_SIGNED_PREKEY, data, sig[:32] + b"\xff" * 32),
    ]
    invalid = [
        {
            "name": name,
            "identity_key": key.hex(),
            "context": context.decode(),
            "data": d.hex(),
            "sig": s.hex(),
            "error": error_of(lambda k=key, c=context, d=d, s=s: signatures.verify(k, c, d, s)),
        }
        for name, key, context, d, s in invalid_inputs
    ]
    return {"valid": valid, "invalid": invalid, "builders": builders}


# ---------------------------------------------------------------- PQXDH


def prekey_json(prekey: keys.SignedX25519Prekey | keys.SignedKemPrekey) -> dict[str, Any]:
    return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}


class Bob:
    """A responder with deterministic prekeys."""

    def __init__(self, label: str, kem_name: str, with_opk: bool) -> None:
        self.identity = IdentityKeyPair.from_seed(seed32(f"{label} identity"))
        self.account = seed32(f"{label} account")[:16]
        self.spk = keys.make_signed_prekey(self.identity.seed, 0x5A000001, seed32(f"{label} spk"))
        self.pq = keys.make_pq_prekey(self.identity.seed, 0x5A000002, seed64(f"kem {kem_name}"))
        self.opk = (
            keys.make_one_time_prekey(self.identity.seed, 0x5A000003, seed32(f"{label} opk"))
            if with_opk
            else None
        )

    def bundle(self) -> dict[str, Any]:
        return {
            "account": b64u_encode(self.account),
            "identity_key": b64u_encode(self.identity.public),
            "signed_prekey": prekey_json(self.spk),
            "pq_prekey": prekey_json(self.pq),
            "one_time_prekey": None if self.opk is None else prekey_json(self.opk),
        }

    def store(self) -> PrekeyStore:
        opk = {} if self.opk is None else {self.opk.id: self.opk.private}
        return PrekeyStore(
            {self.spk.id: self.spk.private}, {self.pq.id: self.pq.seed}, opk, (), 1767225600
        )


def pqxdh_case(name: str, with_opk: bool, kem: dict[str, bytes]) -> dict[str, Any]:
    alice = IdentityKeyPair.from_seed(seed32(f"{name} alice identity"))
    bob = Bob(f"{name} bob", name, with_opk)
    ephemeral = x25519_from_private(seed32(f"{name} ephemeral"))
    bundle = bob.bundle()
    secret = session_initiate(alice, bundle, ephemeral, kem)
    dh1 = keys.dh(alice.dh_private, bob.spk.public)
    dh2 = keys.dh(ephemeral.private, bob.identity.dh_public)
    dh3 = keys.dh(ephemeral.private, bob.spk.public)
    dh4 = keys.dh(ephemeral.private, bob.opk.public) if bob.opk else None
    ikm = PQXDH_F + dh1 + dh2 + dh3 + (dh4 or b"") + kem["shared_secret"]
    assert kdf.hkdf(ikm, bytes(32), CTX_PQXDH_INFO, 32) == secret.sk
    return {
        "name": name,
        "alice": identity_entry(alice),
        "bob": {
            **identity_entry(bob.identity),
            "spk": {
                "id": bob.spk.id,
                "private": hx(bob.spk.private),
                "public": hx(bob.spk.public),
                "sig": hx(bob.spk.sig),
            },
            "pq": {
                "id": bob.pq.id,
                "seed": hx(bob.pq.seed),
                "public": hx(bob.pq.public),
                "sig": hx(bob.pq.sig),
            },
            "opk": None
            if bob.opk is None
            else {
                "id": bob.opk.id,
                "private": hx(bob.opk.private),
                "public": hx(bob.opk.public),
                "sig": hx(bob.opk.sig),
            },
        },
        "bundle": bundle,
        "ephemeral": {"private": ephemeral.private.hex(), "public": ephemeral.public.hex()},
        "kem": {"ciphertext": kem["ciphertext"].hex(), "shared_secret": kem["shared_secret"].hex()},
        "dh1": dh1.hex(),
        "dh2": dh2.hex(),
        "dh3": dh3.hex(),
        "dh4": hx(dh4),
        "ikm": ikm.hex(),
        "sk": secret.sk.hex(),
        "ad": secret.ad.hex(),
    }


def session_initiate(
    alice: IdentityKeyPair, bundle: dict[str, Any], ephemeral: KeyPair, kem: dict[str, bytes]
) -> InitiatorSecret:
    return initiate(
        alice, parse_bundle(bundle), ephemeral, (kem["ciphertext"], kem["shared_secret"])
    )


def pqxdh_vectors() -> dict[str, Any]:
    recordings = kem_recordings()
    cases = [
        pqxdh_case("pqxdh-opk", True, recordings["pqxdh-opk"]),
        pqxdh_case("pqxdh-no-opk", False, recordings["pqxdh-no-opk"]),
    ]
    good = cases[0]["bundle"]
    other = Bob("pqxdh other", "pqxdh-opk", True)
    bad_sig = dict(good, signed_prekey=dict(good["signed_prekey"], sig=b64u_encode(bytes(64))))
    swapped_spk = dict(good, signed_prekey=prekey_json(other.spk))
    zero_id = dict(good, one_time_prekey=dict(good["one_time_prekey"], id=0))
    wrong_id = dict(good, pq_prekey=dict(good["pq_prekey"], id=good["pq_prekey"]["id"] + 1))
    low_order_identity = dict(good, identity_key=b64u_encode(SMALL_ORDER_ED25519[1]))
    missing_field = {k: v for k, v in good.items() if k != "one_time_prekey"}
    pq_as_spk = dict(good, signed_prekey=dict(good["pq_prekey"]))
    invalid_bundles = [
        ("signature of zeros", bad_sig),
        ("signed prekey of another account", swapped_spk),
        ("zero prekey id", zero_id),
        ("signature over another id", wrong_id),
        ("small-order identity key", low_order_identity),
        ("missing one_time_prekey field", missing_field),
        ("pq prekey in the signed prekey slot", pq_as_spk),
    ]
    return {
        "cases": cases,
        "invalid_bundles": [
            {"name": name, "bundle": bundle, "error": error_of(lambda b=bundle: parse_bundle(b))}
            for name, bundle in invalid_bundles
        ],
    }


# ---------------------------------------------------------------- ratchet conversation


class Injected:
    """A GENERATE_DH that returns one fixed key pair, once, and records whether it did."""

    def __init__(self, private: bytes) -> None:
        self.pair = x25519_from_private(private)
        self.used = False

    def __call__(self) -> KeyPair:
        assert not self.used, "a step generated two ratchet keys"
        self.used = True
        return self.pair


# Who acts, and for a receive which earlier send (by message name) it delivers.
# Alice's a1-a4 go out as prekey messages; a2 arrives first, a1 and a3 late,
# b4 is lost for a while and arrives after newer chains, and there are two
# replays and one forgery.
CONVERSATION: list[tuple[str, str, str]] = [
    ("alice", "send", "a1"),
    ("alice", "send", "a2"),
    ("alice", "send", "a3"),
    ("bob", "receive", "a2"),
    ("bob", "receive", "a1"),
    ("bob", "send", "b1"),
    ("bob", "send", "b2"),
    ("alice", "send", "a4"),
    ("alice", "receive", "b2"),
    ("alice", "send", "a5"),
    ("bob", "receive", "a4"),
    ("bob", "receive", "a5"),
    ("alice", "receive", "b1"),
    ("bob", "receive", "a3"),
    ("bob", "send", "b3"),
    ("bob", "send", "b4"),
    ("bob", "send", "b5"),
    ("alice", "receive", "b3"),
    ("alice", "receive", "b5"),
    ("alice", "send", "a6"),
    ("alice", "send", "a7"),
    ("alice", "send", "a8"),
    ("bob", "receive", "a8"),
    ("bob", "receive", "a6"),
    ("bob", "send", "b6"),
    ("alice", "receive", "b6"),
    ("alice", "receive", "b4"),
    ("bob", "receive", "a7"),
    ("alice", "receive", "b6"),  # replay in the current chain
    ("bob", "receive", "a1"),  # replay of a prekey message from a finished chain
    ("alice", "send", "a9"),
    ("bob", "receive", "forged a9"),  # a9 with one ciphertext bit flipped
    ("bob", "send", "b7"),
    ("bob", "receive", "a9"),
    ("alice", "receive", "b7"),
    ("bob", "send", "b8"),
    ("alice", "receive", "b8"),
    ("alice", "send", "a10"),
    ("bob", "receive", "a10"),
    ("bob", "send", "b9"),
    ("bob", "send", "b10"),
    ("alice", "receive", "b10"),
    ("alice", "receive", "b9"),
]


def text_payload(name: str, step: int) -> bytes:
    message_id = seed32(f"message id {name}")[:16]
    return payload.encode_text(message_id, 1767225600 + 60 * step, f"Message {name}: ça va? 🌱")


def ratchet_vectors() -> dict[str, Any]:
    kem = kem_recordings()["ratchet"]
    alice = IdentityKeyPair.from_seed(seed32("ratchet alice identity"))
    bob_party = Bob("ratchet bob", "ratchet", True)
    bob = bob_party.identity
    bundle = bob_party.bundle()
    ephemeral = x25519_from_private(seed32("ratchet ephemeral"))
    first_ratchet = seed32("ratchet alice ratchet 0")
    secret = session_initiate(alice, bundle, ephemeral, kem)
    states: dict[str, RatchetState | None] = {
        "alice": session.start_session(
            alice,
            parse_bundle(bundle),
            ephemeral,
            (kem["ciphertext"], kem["shared_secret"]),
            Injected(first_ratchet),
        ),
        "bob": None,
    }
    identities = {"alice": alice, "bob": bob}
    store = bob_party.store()
    stores = {"alice": PrekeyStore({}, {}, {}, (), 0), "bob": store}
    setup = {
        "alice_seed": alice.seed.hex(),
        "bob_seed": bob.seed.hex(),
        "bundle": bundle,
        "bob_prekeys": store_to_item(store),
        "ephemeral_private": ephemeral.private.hex(),
        "kem": {"ciphertext": kem["ciphertext"].hex(), "shared_secret": kem["shared_secret"].hex()},
        "alice_ratchet_private": first_ratchet.hex(),
        "sk": secret.sk.hex(),
        "ad": secret.ad.hex(),
        "alice_state": encode_state(states["alice"]).hex(),
    }
    sent: dict[str, tuple[int, bytes, bytes]] = {}
    events = []
    generated = 0
    for step, (actor, action, name) in enumerate(CONVERSATION):
        state = states[actor]
        event: dict[str, Any] = {"step": step, "actor": actor, "action": action}
        if action == "send":
            assert state is not None
            body = text_payload(name, step)
            out = session.encrypt(state, body)
            states[actor] = out.state
            sent[name] = (step, out.envelope, body)
            event.update(
                ratchet_private=None,
                payload=body.decode(),
                envelope=out.envelope.hex(),
                envelope_of=step,
                error=None,
                prekeys_changed=None,
            )
        else:
            if name.startswith("forged "):
                _origin, data, body = sent[name.removeprefix("forged ")]
                data = data[:-20] + bytes([data[-20] ^ 0x04]) + data[-19:]
                origin_step = None
            else:
                origin_step, data, body = sent[name]
            generator = Injected(seed32(f"ratchet {actor} ratchet {generated + 1}"))
            event.update(envelope=hx(data), envelope_of=origin_step)
            try:
                record = None if state is None else (state,)
                received = session.decrypt(
                    identities[actor], data, record, stores[actor], generator
                )
            except ProtocolError as exc:
                # A failed step may have generated a key before failing; it is recorded
                # so that a replay can hand out the same one, and then discarded.
                event.update(
                    ratchet_private=hx(generator.pair.private) if generator.used else None,
                    payload=None,
                    error=exc.code,
                    prekeys_changed=None,
                )
                generated += 1 if generator.used else 0
            else:
                assert received.payload == body
                states[actor] = received.state
                if generator.used:
                    generated += 1
                changed = None
                if received.prekeys is not None:
                    previous_store = stores[actor]
                    stores[actor] = received.prekeys
                    used = set(previous_store.opk) - set(received.prekeys.opk)
                    spk_id, ek = received.prekeys.seen_ek[-1]
                    changed = {
                        "spk_id": spk_id,
                        "opk_id": used.pop() if used else 0,
                        "ek": ek.hex(),
                    }
                event.update(
                    ratchet_private=hx(generator.pair.private) if generator.used else None,
                    payload=body.decode(),
                    error=None,
                    prekeys_changed=changed,
                )
        current = states[actor]
        event["state"] = None if current is None else encode_state(current).hex()
        events.append(event)
    return {"setup": setup, "events": events}


# ---------------------------------------------------------------- envelope


def envelope_vectors() -> dict[str, Any]:
    conversation = ratchet_vectors()["events"]
    prekey_hex = conversation[0]["envelope"]
    message_hex = next(
        e["envelope"] for e in conversation if e["actor"] == "bob" and e["action"] == "send"
    )
    prekey = bytes.fromhex(prekey_hex)
    message = bytes.fromhex(message_hex)
    largest_prekey = prekey[:1206] + bytes(BUCKETS[-1] + 16)
    assert len(largest_prekey) == MAX_ENVELOPE
    valid_bytes = [
        ("first prekey message of ratchet.json", prekey),
        ("first message of ratchet.json", message),
        ("prekey message of the largest size", largest_prekey),
        ("prekey message without one-time prekey", prekey[:70] + u32(0) + prekey[74:]),
    ]
    valid = []
    for name, data in valid_bytes:
        parsed = envelope_codec.parse(data)
        assert parsed.encode() == data
        fields: dict[str, Any] = {
            "header": {"dh": parsed.header.dh.hex(), "pn": parsed.header.pn, "n": parsed.header.n},
            "ciphertext_length": len(parsed.ciphertext),
        }
        if isinstance(parsed, envelope_codec.PrekeyEnvelope):
            fields.update(
                identity_key=parsed.identity_key.hex(),
                ephemeral_key=parsed.ephemeral_key.hex(),
                spk_id=parsed.spk_id,
                opk_id=parsed.opk_id,
                pq_id=parsed.pq_id,
                kem_ciphertext=parsed.kem_ciphertext.hex(),
            )
        valid.append({"name": name, "hex": data.hex(), "type": data[1], "fields": fields})
    invalid_bytes = [
        ("empty", b""),
        ("version only", b"\x01"),
        ("version 2", b"\x02\x02" + message[2:]),
        ("version 0", b"\x00\x02" + message[2:]),
        ("version 2, too short for anything else", b"\x02"),
        ("unknown type 3", b"\x01\x03" + message[2:]),
        ("type 0", b"\x01\x00" + message[2:]),
        ("message without ciphertext", message[:42]),
        ("message with a header cut short", message[:30]),
        ("message ciphertext one byte short", message[:-1]),
        ("message ciphertext one byte long", message + b"\x00"),
        ("message ciphertext of 16 bytes", message[:42] + bytes(16)),
        ("message ciphertext not a bucket", message[:42] + bytes(300)),
        ("prekey message cut in the KEM ciphertext", prekey[:500]),
        ("prekey message ciphertext one byte short", prekey[:-1]),
        ("prekey message with zero spk_id", prekey[:66] + u32(0) + prekey[70:]),
        ("prekey message with zero pq_id", prekey[:74] + u32(0) + prekey[78:]),
        ("prekey message labelled type 2", prekey[:1] + b"\x02" + prekey[2:]),
        ("message labelled type 1", message[:1] + b"\x01" + message[2:]),
        ("one byte over the largest envelope", largest_prekey + b"\x00"),
    ]
    invalid = [
        {"name": name, "hex": data.hex(), "error": error_of(lambda d=data: envelope_codec.parse(d))}
        for name, data in invalid_bytes
    ]
    return {"valid": valid, "invalid": invalid}


# ---------------------------------------------------------------- session state


def state_fields(state: RatchetState) -> dict[str, Any]:
    pending = state.pending
    return {
        "dhs_private": state.dhs.private.hex(),
        "dhs_public": state.dhs.public.hex(),
        "dhr": hx(state.dhr),
        "rk": state.rk.hex(),
        "cks": hx(state.cks),
        "ckr": hx(state.ckr),
        "ns": state.ns,
        "nr": state.nr,
        "pn": state.pn,
        "ad": state.ad.hex(),
        "ek": state.ek.hex(),
        "pending": None
        if pending is None
        else {
            "spk_id": pending.spk_id,
            "opk_id": pending.opk_id,
            "pq_id": pending.pq_id,
            "kem_ciphertext": pending.kem_ciphertext.hex(),
        },
        "skipped": [
            {"dh": dh.hex(), "n": n, "mk": mk.hex()} for (dh, n), mk in state.skipped.items()
        ],
        "previous": [key.hex() for key in state.previous],
    }


def session_state_vectors() -> dict[str, Any]:
    conversation = ratchet_vectors()
    alice_initial = bytes.fromhex(conversation["setup"]["alice_state"])
    events = conversation["events"]
    bob_first = next(e for e in events if e["actor"] == "bob" and e["action"] == "receive")
    with_skipped = next(
        e
        for e in events
        if e["state"]
        and decode_state(bytes.fromhex(e["state"])).skipped
        and decode_state(bytes.fromhex(e["state"])).previous
    )
    samples = [
        ("initiator before any reply (pending prekey header)", alice_initial),
        ("responder after the first prekey message", bytes.fromhex(bob_first["state"])),
        ("with skipped and earlier ratchet keys", bytes.fromhex(with_skipped["state"])),
        ("after the whole conversation", bytes.fromhex(events[-1]["state"])),
    ]
    valid = []
    for name, data in samples:
        state = decode_state(data)
        assert encode_state(state) == data
        valid.append({"name": name, "hex": data.hex(), "fields": state_fields(state)})
    plain = bytes.fromhex(events[-1]["state"])
    decoded = decode_state(plain)
    flags_at = 1 + 64
    skipped_count_at = len(plain) - 1 - 32 * len(decoded.previous) - 68 * len(decoded.skipped) - 2
    previous_count_at = len(plain) - 1 - 32 * len(decoded.previous)
    absent_nonzero = bytearray(alice_initial)
    absent_nonzero[flags_at + 1 + 32 + 32 + 32 + 5] = 1  # inside the absent CKr
    duplicate = bytearray(bytes.fromhex(with_skipped["state"]))
    dup_state = decode_state(bytes(duplicate))
    dup_at = len(duplicate) - 1 - 32 * len(dup_state.previous) - 68 * len(dup_state.skipped)
    entry = bytes(duplicate[dup_at : dup_at + 68])
    count_at = dup_at - 2
    duplicate[count_at : count_at + 2] = u16(len(dup_state.skipped) + 1)
    duplicate[dup_at:dup_at] = entry
    invalid_bytes = [
        ("empty", b""),
        ("version 2", b"\x02" + plain[1:]),
        ("version 0", b"\x00" + plain[1:]),
        (
            "unknown flag bit 4",
            plain[:flags_at] + bytes([plain[flags_at] | 0x10]) + plain[flags_at + 1 :],
        ),
        ("truncated by one byte", plain[:-1]),
        ("one trailing byte", plain + b"\x00"),
        (
            "skipped count over the limit",
            plain[:skipped_count_at] + u16(MAX_SKIPPED_KEYS + 1) + plain[skipped_count_at + 2 :],
        ),
        (
            "earlier-key count over the limit",
            plain[:previous_count_at]
            + u8(MAX_PREVIOUS_RATCHET_KEYS + 1)
            + plain[previous_count_at + 1 :],
        ),
        ("absent CKr not zero", bytes(absent_nonzero)),
        ("the same skipped key twice", bytes(duplicate)),
        (
            "pending flag without the pending header",
            plain[:flags_at] + bytes([plain[flags_at] | 0x08]) + plain[flags_at + 1 :],
        ),
    ]
    invalid = [
        {"name": name, "hex": data.hex(), "error": error_of(lambda d=data: decode_state(d))}
        for name, data in invalid_bytes
    ]
    return {"valid": valid, "invalid": invalid}


# ---------------------------------------------------------------- session record


class Fixed:
    """A GENERATE_DH that returns one fixed key pair on every call, and records whether it did.

    Several sessions may be tried for one message (section 5.8); each attempt
    may generate a key, and only the one that opens the message keeps it.
    """

    def __init__(self, private: bytes) -> None:
        self.pair = x25519_from_private(private)
        self.used = False

    def __call__(self) -> KeyPair:
        self.used = True
        return self.pair


# Both send a first message before either has received the other's; the
# crossed sessions are both kept, and each message opens in the session it
# was sent under. Bob's late copy of Alice's second prekey message brings
# both to the same active session.
SIMULTANEOUS: list[tuple[str, str, str]] = [
    ("alice", "send", "a1"),
    ("bob", "send", "b1"),
    ("alice", "send", "a2"),
    ("alice", "receive", "b1"),
    ("bob", "receive", "a1"),
    ("alice", "send", "a3"),
    ("bob", "send", "b2"),
    ("bob", "receive", "a3"),
    ("alice", "receive", "b2"),
    ("bob", "receive", "a2"),
    ("bob", "send", "b3"),
    ("alice", "receive", "b3"),
    ("alice", "send", "a4"),
    ("bob", "receive", "forged a4"),  # a4 with one ciphertext bit flipped
    ("bob", "receive", "a4"),
    ("alice", "receive", "b1"),  # replay of a prekey message of an earlier session
    ("bob", "send", "b4"),
    ("alice", "receive", "b4"),
]


def simultaneous_conversation() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    recordings = kem_recordings()
    # Each party's PQ prekey is one whose encapsulation was recorded.
    parties = {
        "alice": Bob("simultaneous alice", "pqxdh-no-opk", True),
        "bob": Bob("simultaneous bob", "pqxdh-opk", True),
    }
    kem_to = {"alice": recordings["pqxdh-opk"], "bob": recordings["pqxdh-no-opk"]}
    other = {"alice": "bob", "bob": "alice"}
    records: dict[str, SessionRecord | None] = {}
    stores = {who: party.store() for who, party in parties.items()}
    setup: dict[str, Any] = {}
    for who, party in parties.items():
        ephemeral = x25519_from_private(seed32(f"simultaneous {who} ephemeral"))
        first_ratchet = seed32(f"simultaneous {who} ratchet 0")
        kem = kem_to[who]
        state = session.start_session(
            party.identity,
            parse_bundle(parties[other[who]].bundle()),
            ephemeral,
            (kem["ciphertext"], kem["shared_secret"]),
            Injected(first_ratchet),
        )
        records[who] = (state,)
        setup[who] = {
            "seed": party.identity.seed.hex(),
            "account": party.account.hex(),
            "bundle": party.bundle(),
            "prekeys": store_to_item(stores[who]),
            "ephemeral_private": ephemeral.private.hex(),
            "ratchet_private": first_ratchet.hex(),
            "kem": {
                "ciphertext": kem["ciphertext"].hex(),
                "shared_secret": kem["shared_secret"].hex(),
            },
            "record": encode_record(records[who]).hex(),
        }
    sent: dict[str, tuple[int, bytes, bytes]] = {}
    events = []
    for step, (actor, action, name) in enumerate(SIMULTANEOUS):
        record = records[actor]
        assert record is not None
        event: dict[str, Any] = {"step": step, "actor": actor, "action": action}
        if action == "send":
            body = text_payload(name, step)
            out = session.encrypt(record[0], body)
            records[actor] = (out.state, *record[1:])
            sent[name] = (step, out.envelope, body)
            event.update(
                ratchet_private=None,
                payload=body.decode(),
                envelope=out.envelope.hex(),
                envelope_of=step,
                error=None,
                new_session=False,
            )
        else:
            if name.startswith("forged "):
                _origin, data, body = sent[name.removeprefix("forged ")]
                data = data[:-20] + bytes([data[-20] ^ 0x04]) + data[-19:]
                origin_step = None
            else:
                origin_step, data, body = sent[name]
            generator = Fixed(seed32(f"simultaneous {actor} ratchet step {step}"))
            event.update(envelope=data.hex(), envelope_of=origin_step)
            try:
                received = session.decrypt(
                    parties[actor].identity, data, record, stores[actor], generator
                )
            except ProtocolError as exc:
                event.update(payload=None, error=exc.code, new_session=False)
            else:
                assert received.payload == body
                records[actor] = received.record
                if received.prekeys is not None:
                    stores[actor] = received.prekeys
                event.update(payload=body.decode(), error=None, new_session=received.new_session)
            event["ratchet_private"] = hx(generator.pair.private) if generator.used else None
        current = records[actor]
        assert current is not None
        event["record"] = encode_record(current).hex()
        event["active_ek"] = current[0].ek.hex()
        events.append(event)
    # Both ended on one session, and it is the one Alice set up.
    alice_record, bob_record = records["alice"], records["bob"]
    assert alice_record is not None and bob_record is not None
    assert alice_record[0].ek == bob_record[0].ek
    assert len(alice_record) == len(bob_record) == 2
    return setup, events


def session_record_vectors() -> dict[str, Any]:
    setup, events = simultaneous_conversation()
    single = bytes.fromhex(setup["alice"]["record"])
    double = bytes.fromhex(events[-1]["record"])
    samples = [
        ("one session, before any reply", single),
        ("two sessions after a simultaneous set-up", double),
    ]
    valid = []
    for name, data in samples:
        record = decode_record(data)
        assert encode_record(record) == data
        valid.append(
            {"name": name, "hex": data.hex(), "states": [encode_state(s).hex() for s in record]}
        )
    states = decode_record(double)
    first, second = (encode_state(state) for state in states)

    def framed(*encoded: bytes, count: int | None = None, version: int = 1) -> bytes:
        body = b"".join(u32(len(e)) + e for e in encoded)
        return u8(version) + u8(len(encoded) if count is None else count) + body

    other_pair = bytes.fromhex(ratchet_vectors()["setup"]["alice_state"])
    newer_state = b"\x02" + first[1:]
    invalid_bytes = [
        ("empty", b""),
        ("version 2", framed(first, version=2)),
        ("version 0", framed(first, version=0)),
        ("no session", framed()),
        ("count over the limit", framed(first, second, count=6)),
        ("count larger than the sessions present", framed(first, count=2)),
        ("length prefix one byte long", double[:2] + u32(len(first) + 1) + double[6:]),
        ("length prefix one byte short", double[:2] + u32(len(first) - 1) + double[6:]),
        ("one trailing byte", double + b"\x00"),
        ("the same session twice", framed(first, first)),
        ("sessions between other identity keys", framed(first, other_pair)),
        ("a session of an unknown version inside", framed(newer_state)),
    ]
    invalid = [
        {"name": name, "hex": data.hex(), "error": error_of(lambda d=data: decode_record(d))}
        for name, data in invalid_bytes
    ]
    return {
        "setup": setup,
        "events": events,
        "valid": valid,
        "invalid": invalid,
        "merge": merge_cases(single, bytes.fromhex(events[3]["record"]), other_pair),
    }


def merge_cases(single: bytes, crossed: bytes, other_pair: bytes) -> list[dict[str, Any]]:
    """Two or more records of one peer read as one (section 5.8)."""
    base = decode_record(single)[0]
    many = []
    for i in range(6):
        state = base.copy()
        state.ek = seed32(f"merge ek {i}")
        many.append(state)
    cases = [
        ("a session in both records is taken from the first", [single, crossed]),
        ("the same records in the other order", [crossed, single]),
        (
            "more sessions than a record holds",
            [encode_record(tuple(many[:3])), encode_record(tuple(many[3:]))],
        ),
        ("records between other identity keys", [single, framed_record(other_pair)]),
    ]
    out = []
    for name, encoded in cases:
        case: dict[str, Any] = {"name": name, "records": [e.hex() for e in encoded]}
        records = [decode_record(e) for e in encoded]
        try:
            case["merged"] = encode_record(merge_records(records))
        except ProtocolError as exc:
            case["error"] = exc.code
        else:
            case["merged"] = case["merged"].hex()
        out.append(case)
    return out


def framed_record(state: bytes) -> bytes:
    return u8(1) + u8(1) + u32(len(state)) + state


# ---------------------------------------------------------------- payload


def payload_vectors() -> dict[str, Any]:
    text_cases = []
    for i, (sent, body) in enumerate(
        [(0, ""), (1767225600, "Hello"), (1767225601, 'Quotes " and \\ and\nnewline, é, 🌱, <b>')]
    ):
        message_id = seed32(f"payload id {i}")[:16]
        text_cases.append(
            {
                "id": b64u_encode(message_id),
                "sent": sent,
                "body": body,
                "encoded": payload.encode_text(message_id, sent, body).decode(),
            }
        )
    ids = [seed32(f"payload id {i}")[:16] for i in range(3)]
    receipt_cases = [
        {
            "state": state,
            "ids": [b64u_encode(i) for i in chosen],
            "encoded": payload.encode_receipt(state, chosen).decode(),
        }
        for state, chosen in [("delivered", ids[:1]), ("read", ids)]
    ]
    good_id = b64u_encode(ids[0])
    invalid_texts = [
        ("not JSON", "hello"),
        ("JSON array", "[1]"),
        ("no version", '{"type":"text"}'),
        ("version 2", '{"v":2,"type":"text"}'),
        ("version as string", '{"v":"1","type":"text"}'),
        ("no type", '{"v":1}'),
        ("text without id", '{"v":1,"type":"text","sent":1,"body":"x"}'),
        ("text with short id", '{"v":1,"type":"text","id":"AAAA","sent":1,"body":"x"}'),
        (
            "text with negative sent",
            f'{{"v":1,"type":"text","id":"{good_id}","sent":-1,"body":"x"}}',
        ),
        (
            "text with fractional sent",
            f'{{"v":1,"type":"text","id":"{good_id}","sent":1.5,"body":"x"}}',
        ),
        (
            "text with body too long",
            f'{{"v":1,"type":"text","id":"{good_id}","sent":1,"body":"{"x" * 16001}"}}',
        ),
        (
            "text with lone surrogate",
            f'{{"v":1,"type":"text","id":"{good_id}","sent":1,"body":"\\ud800"}}',
        ),
        (
            "receipt with unknown state",
            f'{{"v":1,"type":"receipt","state":"seen","ids":["{good_id}"]}}',
        ),
        ("receipt without ids", '{"v":1,"type":"receipt","state":"read","ids":[]}'),
        ("NaN", '{"v":1,"type":"text","sent":NaN}'),
    ]
    invalid: list[dict[str, Any]] = [
        {"name": name, "encoded": text, "error": error_of(lambda t=text: payload.parse(t.encode()))}
        for name, text in invalid_texts
    ]
    not_utf8 = b'{"v":1,"type":"text","body":"\xff"}'
    invalid.append(
        {
            "name": "not UTF-8",
            "hex_bytes": not_utf8.hex(),
            "error": error_of(lambda: payload.parse(not_utf8)),
        }
    )
    body_16000 = "🌱" * 16000
    assert payload.parse(payload.encode_text(ids[0], 1, body_16000))["body"] == body_16000
    scene = GroupScene()
    roster = scene.roster(1, [scene.entry(name) for name in GROUP_MEMBERS])
    state = sender_key.join(
        group_roster.sign_roster(scene.moderator.seed, roster),
        scene.group_id,
        scene.moderator.public,
        scene.seeds["bob"],
    )
    state = sender_key.create_sender_key(
        state, GROUP_NOW, seed32("payload signing"), seed32("payload chain")
    )
    distribution = sender_key.distribution_message(state, scene.names["bob"], scene.salts["bob"])
    group_key_cases = [
        {"key": distribution.hex(), "encoded": payload.encode_group_key(distribution).decode()}
    ]
    group_join_cases = []
    for name, note in (("bob", ""), ("alice", 'First time here. "Evenings" suit me; ça va 🌱\n')):
        group_join_cases.append(
            {
                "group": b64u_encode(scene.group_id),
                "member_key": b64u_encode(scene.keys[name]),
                "name": scene.names[name],
                "salt": b64u_encode(scene.salts[name]),
                "note": note,
                "encoded": payload.encode_group_join(
                    scene.group_id, scene.keys[name], scene.names[name], scene.salts[name], note
                ).decode(),
            }
        )
    listing = json.dumps(
        {"group": b64u_encode(scene.group_id), "name": "Closed circle 🌱", "max_members": 8},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    listing_sig = signatures.sign_group_listing(scene.moderator.seed, listing)
    group_listing_cases = [
        {
            "listing": b64u_encode(listing),
            "sig": b64u_encode(listing_sig),
            "moderator_key": b64u_encode(scene.moderator.public),
            "encoded": payload.encode_group_listing(listing, listing_sig).decode(),
        }
    ]
    join = json.loads(group_join_cases[0]["encoded"])
    too_long_key = b64u_encode(bytes(GROUP_DISTRIBUTION_MAX_BYTES + 1))
    invalid_groups = [
        ("group key too long", {"v": 1, "type": "group_key", "key": too_long_key}),
        ("group key not base64url", {"v": 1, "type": "group_key", "key": "a+b"}),
        ("group join with short member key", {**join, "member_key": "AAAA"}),
        ("group join with empty name", {**join, "name": ""}),
        ("group join with control character in name", {**join, "name": "A\u0007"}),
        ("group join with long note", {**join, "note": "x" * 501}),
        ("group join without salt", {k: v for k, v in join.items() if k != "salt"}),
        (
            "group listing with short signature",
            {"v": 1, "type": "group_listing", "listing": b64u_encode(listing), "sig": "AAAA"},
        ),
    ]
    for name, value in invalid_groups:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        invalid.append(
            {
                "name": name,
                "encoded": text,
                "error": error_of(lambda t=text: payload.parse(t.encode())),
            }
        )
    return {
        "text": text_cases,
        "receipt": receipt_cases,
        "group_key": group_key_cases,
        "group_join": group_join_cases,
        "group_listing": group_listing_cases,
        "invalid": invalid,
    }


# ---------------------------------------------------------------- vault


def vault_vectors() -> dict[str, Any]:
    normalise_inputs = [
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0BC",
        "7k3q xm2d 9f4h j8rt v6wy zobc",
        "7K3QXM2D9F4HJ8RTV6WYZ0BC",
        " 7K3Q-XM2D\t9F4H-J8RT-V6WY-ZOBC\n",
        "iL00-0000-0000-0000-0000-0000",
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0B",  # 23 symbols
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0BCD",  # 25 symbols
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0BU",  # U is not in the alphabet
        "7K3Q_XM2D_9F4H_J8RT_V6WY_Z0BC",  # underscore is not a separator
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0BÉ",
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0ß",  # would upper-case to two letters
        "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0B\u0131",  # dotless i would upper-case to I
    ]
    normalise = []
    for text in normalise_inputs:
        try:
            secret = vault.normalise_secret(text)
        except ProtocolError as exc:
            normalise.append({"input": text, "error": exc.code})
        else:
            normalise.append(
                {
                    "input": text,
                    "handle": secret.handle,
                    "passphrase": secret.passphrase,
                    "formatted": secret.formatted(),
                }
            )
    derivation = []
    for text in ("7K3Q-XM2D-9F4H-J8RT-V6WY-Z0BC", "0000-0000-0000-0000-0000-0000"):
        secret = vault.normalise_secret(text)
        master = vault.derive_master(secret)
        derived = vault.keys_from_master(master)
        derivation.append(
            {
                "secret": text,
                "handle": secret.handle,
                "passphrase": secret.passphrase,
                "salt": vault.argon2_salt(secret.handle).hex(),
                "master": master.hex(),
                "vault_key": derived.vault_key.hex(),
                "login_key": derived.login_key.hex(),
            }
        )
    vault_key = bytes.fromhex(derivation[0]["vault_key"])
    items = []
    peer = "AAAAAAAAAAAAAAAAAAAAAA"
    item_texts = [
        json.dumps({"kind": "note", "peer": peer, "body": "Tuesdays are hard.", "updated": 1}),
        json.dumps({"kind": "contact", "peer": peer, "label": "Dr. R", "pad": "x" * 300}),
    ]
    for i, text in enumerate(item_texts):
        item_id = seed32(f"vault item {i}")[:16]
        nonce = seed32(f"vault nonce {i}")[:24]
        version = 1 + 4 * i
        blob = vault.encrypt_item(vault_key, item_id, version, text.encode(), nonce)
        items.append(
            {
                "vault_key": vault_key.hex(),
                "id": item_id.hex(),
                "version": version,
                "nonce": nonce.hex(),
                "item": text,
                "blob": blob.hex(),
            }
        )
    first = items[0]
    blob = bytes.fromhex(first["blob"])
    item_id = bytes.fromhex(first["id"])
    other_id = bytes.fromhex(items[1]["id"])
    invalid_cases = [
        ("next version", vault_key, item_id, 2, blob),
        ("other item id", vault_key, other_id, 1, blob),
        ("other key", seed32("other vault key"), item_id, 1, blob),
        (
            "bit flipped in ciphertext",
            vault_key,
            item_id,
            1,
            blob[:100] + bytes([blob[100] ^ 1]) + blob[101:],
        ),
        ("bit flipped in nonce", vault_key, item_id, 1, blob[:5] + bytes([blob[5] ^ 1]) + blob[6:]),
        ("blob version 2", vault_key, item_id, 1, b"\x02" + blob[1:]),
        ("truncated", vault_key, item_id, 1, blob[:200]),
        ("empty", vault_key, item_id, 1, b""),
    ]
    items_invalid = [
        {
            "name": name,
            "vault_key": key.hex(),
            "id": i.hex(),
            "version": version,
            "blob": b.hex(),
            "error": error_of(lambda k=key, i=i, v=version, b=b: vault.decrypt_item(k, i, v, b)),
        }
        for name, key, i, version, b in invalid_cases
    ]
    return {
        "argon2": {
            "opslimit": ARGON2_OPSLIMIT,
            "memlimit": ARGON2_MEMLIMIT,
            "output_bytes": ARGON2_OUTPUT_BYTES,
        },
        "normalise": normalise,
        "derivation": derivation,
        "items": items,
        "items_invalid": items_invalid,
    }


# ---------------------------------------------------------------- change of the secret


def secret_change_vectors() -> dict[str, Any]:
    sides = {}
    for name, text in (
        ("old", "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0BC"),
        ("new", "M4PA-R9KT-2QXE-7HWD-B3NF-6CJV"),
    ):
        secret = vault.normalise_secret(text)
        derived = vault.derive_keys(secret)
        sides[name] = {
            "secret": text,
            "handle": secret.handle,
            "vault_key": derived.vault_key.hex(),
            "login_key": derived.login_key.hex(),
        }
    old_key = bytes.fromhex(sides["old"]["vault_key"])
    new_key = bytes.fromhex(sides["new"]["vault_key"])
    peer = "AAAAAAAAAAAAAAAAAAAAAA"
    item_texts = [
        json.dumps(
            {
                "kind": "message",
                "peer": peer,
                "id": "m1",
                "dir": "in",
                "sent": 1,
                "body": "Can we talk on Thursday?",
                "state": "read",
            }
        ),
        json.dumps({"kind": "contact", "peer": peer, "label": "Dr. R", "verified": True}),
    ]
    items = []
    for i, text in enumerate(item_texts):
        item_id = seed32(f"secret change item {i}")[:16]
        base = 1 + 6 * i
        old_blob = vault.encrypt_item(
            old_key, item_id, base, text.encode(), seed32(f"secret change old nonce {i}")[:24]
        )
        nonce = seed32(f"secret change new nonce {i}")[:24]
        new_blob = vault.rekey_item(old_key, new_key, item_id, base, old_blob, nonce)
        items.append(
            {
                "id": item_id.hex(),
                "base": base,
                "nonce": nonce.hex(),
                "item": text,
                "old_blob": old_blob.hex(),
                "new_blob": new_blob.hex(),
            }
        )
    identity_id = seed32("secret change identity")[:16]
    identity_base = 3
    old_identity = {
        "kind": "identity",
        "role": "client",
        "account": peer,
        "handle": sides["old"]["handle"],
        "seed": b64u_encode(seed32("identity seed")),
    }
    new_identity = {**old_identity, "handle": sides["new"]["handle"]}
    identity_nonce = seed32("secret change identity nonce")[:24]
    new_identity_text = json.dumps(new_identity)
    identity = {
        "id": identity_id.hex(),
        "base": identity_base,
        "nonce": identity_nonce.hex(),
        "old_item": json.dumps(old_identity),
        "new_item": new_identity_text,
        "new_blob": vault.encrypt_item(
            new_key, identity_id, identity_base + 1, new_identity_text.encode(), identity_nonce
        ).hex(),
    }
    first = items[0]
    item_id, base = bytes.fromhex(first["id"]), first["base"]
    old_blob, new_blob = bytes.fromhex(first["old_blob"]), bytes.fromhex(first["new_blob"])
    invalid_cases = [
        ("new blob under the old key", old_key, item_id, base + 1, new_blob),
        ("new blob at the old version", new_key, item_id, base, new_blob),
        ("old blob under the new key", new_key, item_id, base, old_blob),
        ("old blob at the new version", old_key, item_id, base + 1, old_blob),
    ]
    invalid = [
        {
            "name": name,
            "vault_key": key.hex(),
            "id": i.hex(),
            "version": version,
            "blob": b.hex(),
            "error": error_of(lambda k=key, i=i, v=version, b=b: vault.decrypt_item(k, i, v, b)),
        }
        for name, key, i, version, b in invalid_cases
    ]
    return {
        "old": sides["old"],
        "new": sides["new"],
        "items": items,
        "identity": identity,
        "invalid": invalid,
    }


# ---------------------------------------------------------------- safety numbers


def safety_vectors() -> dict[str, Any]:
    cases = []
    for i in range(2):
        a = IdentityKeyPair.from_seed(seed32(f"safety a {i}"))
        b = IdentityKeyPair.from_seed(seed32(f"safety b {i}"))
        account_a, account_b = (
            seed32(f"safety account a {i}")[:16],
            seed32(f"safety account b {i}")[:16],
        )
        number = safety.safety_number(a.public, account_a, b.public, account_b)
        assert number == safety.safety_number(b.public, account_b, a.public, account_a)
        cases.append(
            {
                "identity_key_a": a.public.hex(),
                "account_a": account_a.hex(),
                "identity_key_b": b.public.hex(),
                "account_b": account_b.hex(),
                "fingerprint_a": safety.fingerprint(a.public, account_a),
                "fingerprint_b": safety.fingerprint(b.public, account_b),
                "safety_number": number,
                "formatted": safety.format_safety_number(number),
            }
        )
    return {"cases": cases}


# ---------------------------------------------------------------- groups

GROUP_MEMBERS = ("alice", "bob", "carol")
GROUP_NOW = 1767225600


class GroupScene:
    """The moderator, the members' per-group keys and the rosters of groups.json."""

    def __init__(self) -> None:
        self.group_id = seed32("group id")[:16]
        self.moderator = IdentityKeyPair.from_seed(seed32("group moderator"))
        self.seeds = {name: seed32(f"group member {name}") for name in GROUP_MEMBERS}
        self.seeds["mallory"] = seed32("group member mallory")
        self.keys = {
            name: IdentityKeyPair.from_seed(seed).public for name, seed in self.seeds.items()
        }
        self.salts = {name: seed32(f"group name salt {name}") for name in self.seeds}
        self.names = {"alice": "Alice", "bob": "Bo \u00e9 🌱", "carol": "Carol", "mallory": "Mal"}

    def entry(
        self, name: str, state: int = MEMBER_ADMITTED, since: int = 1
    ) -> group_roster.RosterEntry:
        commitment = group_roster.name_commitment(
            self.group_id, self.keys[name], self.names[name], self.salts[name]
        )
        return group_roster.RosterEntry(self.keys[name], state, since, commitment)

    def roster(
        self, version: int, entries: list[group_roster.RosterEntry], flags: int = 0
    ) -> group_roster.Roster:
        ordered = tuple(sorted(entries, key=lambda entry: entry.member_key))
        return group_roster.Roster(
            self.group_id, version, flags, 10, (self.moderator.public,), ordered
        )


def roster_json(roster: group_roster.Roster) -> dict[str, Any]:
    return {
        "group_id": roster.group_id.hex(),
        "version": roster.version,
        "flags": roster.flags,
        "max_members": roster.max_members,
        "moderators": [key.hex() for key in roster.moderators],
        "entries": [
            {
                "member_key": entry.member_key.hex(),
                "state": entry.state,
                "since": entry.since,
                "name_commitment": entry.name_commitment.hex(),
            }
            for entry in roster.entries
        ],
    }


def groups_vectors() -> dict[str, Any]:
    scene = GroupScene()
    everyone = [scene.entry(name) for name in GROUP_MEMBERS]
    rosters = {
        "v1": scene.roster(1, everyone),
        "v2 carol removed": scene.roster(
            2, [scene.entry("alice"), scene.entry("bob"), scene.entry("carol", MEMBER_REMOVED, 2)]
        ),
        "v3 paused": scene.roster(
            3,
            [scene.entry("alice"), scene.entry("bob"), scene.entry("carol", MEMBER_REMOVED, 2)],
            ROSTER_FLAG_PAUSED,
        ),
    }
    signed = {
        name: group_roster.sign_roster(scene.moderator.seed, r) for name, r in rosters.items()
    }
    setup = {
        "group_id": scene.group_id.hex(),
        "moderator_seed": scene.moderator.seed.hex(),
        "moderator_key": scene.moderator.public.hex(),
        "members": {
            name: {
                "seed": scene.seeds[name].hex(),
                "member_key": scene.keys[name].hex(),
                "display_name": scene.names[name],
                "name_salt": scene.salts[name].hex(),
                "name_commitment": scene.entry(name).name_commitment.hex(),
            }
            for name in scene.seeds
        },
        "rosters": [
            {
                "name": name,
                "fields": roster_json(roster),
                "encoded": group_roster.encode_roster(roster).hex(),
                "signed": signed[name].hex(),
            }
            for name, roster in rosters.items()
        ],
    }

    impostor = IdentityKeyPair.from_seed(seed32("group impostor moderator"))
    v1_encoded = group_roster.encode_roster(rosters["v1"])
    unsorted = bytearray(v1_encoded)
    first = 1 + 16 + 8 + 1 + 1 + 1 + 32 + 1
    entry_size = 32 + 1 + 8 + 32
    unsorted[first : first + 2 * entry_size] = (
        v1_encoded[first + entry_size : first + 2 * entry_size]
        + v1_encoded[first : first + entry_size]
    )
    other_group = group_roster.Roster(
        seed32("another group")[:16], 4, 0, 10, (scene.moderator.public,), rosters["v1"].entries
    )
    resigned_v2 = scene.roster(2, everyone)

    def forged(
        name: str, data: bytes, held: str | None, seed: bytes = scene.moderator.seed
    ) -> dict[str, Any]:
        signed_bytes = data + signatures.sign(seed, CTX_GROUP_ROSTER, data)
        if held is None:
            action = lambda: group_roster.verify_first_roster(  # noqa: E731
                signed_bytes, scene.group_id, scene.moderator.public
            )
        else:
            action = lambda: group_roster.verify_next_roster(signed_bytes, rosters[held])  # noqa: E731
        return {"name": name, "signed": signed_bytes.hex(), "held": held, "error": error_of(action)}

    roster_invalid = [
        forged("signed by another key", v1_encoded, None, impostor.seed),
        forged(
            "signed by another key, after v1",
            group_roster.encode_roster(rosters["v2 carol removed"]),
            "v1",
            impostor.seed,
        ),
        forged("older version after a newer one", v1_encoded, "v2 carol removed"),
        forged(
            "same version, other content",
            group_roster.encode_roster(resigned_v2),
            "v2 carol removed",
        ),
        forged("another group", group_roster.encode_roster(other_group), "v1"),
        forged("entries not sorted", bytes(unsorted), None),
        forged("unknown format", b"\x02" + v1_encoded[1:], None),
        forged("trailing byte", v1_encoded + b"\x00", None),
        {
            "name": "truncated signature",
            "signed": signed["v1"][:-1].hex(),
            "held": None,
            "error": error_of(
                lambda: group_roster.verify_first_roster(
                    signed["v1"][:-1], scene.group_id, scene.moderator.public
                )
            ),
        },
    ]

    states: dict[str, sender_key.GroupState] = {}
    produced: dict[str, bytes] = {}
    events: list[dict[str, Any]] = []

    def run(actor: str, action: str, **fields: Any) -> None:
        event: dict[str, Any] = {"step": len(events), "actor": actor, "action": action, **fields}
        state = states.get(actor)
        try:
            if action == "join":
                states[actor] = sender_key.join(
                    signed[fields["roster"]],
                    scene.group_id,
                    scene.moderator.public,
                    scene.seeds[actor],
                )
            elif action == "accept_roster":
                data = (
                    bytes.fromhex(fields["signed"])
                    if "signed" in fields
                    else signed[fields["roster"]]
                )
                assert state is not None
                states[actor] = sender_key.accept_roster(state, data)
            elif action == "create_sender_key":
                assert state is not None
                states[actor] = sender_key.create_sender_key(
                    state,
                    fields["now"],
                    bytes.fromhex(fields["signing_seed"]),
                    bytes.fromhex(fields["chain_key"]),
                )
                own = states[actor].own
                assert own is not None
                event["sender_key"] = own.sender_key.hex()
            elif action == "distribute":
                assert state is not None
                data = sender_key.distribution_message(
                    state, scene.names[actor], scene.salts[actor]
                )
                produced[fields["label"]] = data
                event["message"] = data.hex()
                event["recipients"] = [key.hex() for key in sender_key.recipients(state)]
            elif action == "receive_distribution":
                assert state is not None
                event["message"] = produced[fields["label"]].hex()
                states[actor] = sender_key.process_distribution(state, produced[fields["label"]])
            elif action == "encrypt":
                assert state is not None
                body = fields["payload"].encode()
                states[actor], data = sender_key.group_encrypt(state, body)
                produced[fields["label"]] = data
                event["message"] = data.hex()
            elif action == "decrypt":
                assert state is not None
                data = produced[fields["label"]]
                event["message"] = data.hex()
                states[actor], opened = sender_key.group_decrypt(state, data)
                event["payload"] = opened.payload.decode()
                event["member_key"] = opened.member_key.hex()
                event["iteration"] = opened.iteration
            elif action == "needs_rotation":
                assert state is not None
                event["result"] = sender_key.needs_rotation(state, fields["now"])
            else:
                raise AssertionError(action)
        except ProtocolError as exc:
            assert states.get(actor) == state, "a failed step changed the state"
            event["error"] = exc.code
        else:
            event["error"] = None
        current = states.get(actor)
        event["state"] = None if current is None else encode_group_state(current).hex()
        if current is not None:
            assert decode_group_state(encode_group_state(current)) == current
        events.append(event)

    def key_material(actor: str, n: int) -> dict[str, str]:
        return {
            "signing_seed": seed32(f"group {actor} signing {n}").hex(),
            "chain_key": seed32(f"group {actor} chain {n}").hex(),
        }

    for name in GROUP_MEMBERS:
        run(name, "join", roster="v1")
    run("mallory", "join", roster="v1")
    for name in GROUP_MEMBERS:
        run(name, "create_sender_key", now=GROUP_NOW, **key_material(name, 1))
        run(name, "distribute", label=f"{name} key 1")
        for other in GROUP_MEMBERS:
            if other != name:
                run(other, "receive_distribution", label=f"{name} key 1")
    run("bob", "receive_distribution", label="alice key 1")
    for n in (1, 2, 3):
        run("alice", "encrypt", label=f"a{n}", payload=f"Message a{n} from Alice: ça va? 🌱")
    for label in ("a3", "a1", "a2", "a1"):
        run("bob", "decrypt", label=label)
    run("carol", "decrypt", label="a2")
    run("carol", "decrypt", label="a1")
    produced["a1 forged"] = (
        produced["a1"][:70] + bytes([produced["a1"][70] ^ 1]) + produced["a1"][71:]
    )
    run("carol", "decrypt", label="a1 forged")
    run("carol", "encrypt", label="c1", payload="Carol before the removal")
    run(
        "carol", "encrypt", label="c2", payload="Carol, sent before and delivered after the removal"
    )
    run("alice", "decrypt", label="c1")
    run("bob", "decrypt", label="c1")
    for name in GROUP_MEMBERS:
        run(name, "accept_roster", roster="v2 carol removed")
    run("bob", "accept_roster", roster="v1")
    run("alice", "decrypt", label="c2")
    run("carol", "encrypt", label="c3", payload="Carol after the removal")
    run("alice", "needs_rotation", now=GROUP_NOW + 1)
    run("alice", "encrypt", label="a4", payload="Alice under the stale key")
    run("alice", "create_sender_key", now=GROUP_NOW + 60, **key_material("alice", 2))
    run("alice", "needs_rotation", now=GROUP_NOW + 61)
    run("alice", "distribute", label="alice key 2")
    run("bob", "receive_distribution", label="alice key 2")
    run("alice", "encrypt", label="a5", payload="Alice after the removal")
    run("bob", "decrypt", label="a5")
    run("carol", "decrypt", label="a5")
    produced["mallory key"] = forged_distribution(scene, impostor)
    run("bob", "receive_distribution", label="mallory key")
    run("alice", "accept_roster", roster="v3 paused")
    run("alice", "encrypt", label="a6", payload="Alice under roster 3")
    run("bob", "decrypt", label="a6")
    run("bob", "accept_roster", roster="v3 paused")
    run("bob", "decrypt", label="a6")
    run("bob", "create_sender_key", now=GROUP_NOW + 120, **key_material("bob", 2))
    run("bob", "distribute", label="bob key 2")
    run("alice", "receive_distribution", label="bob key 2")
    run("alice", "receive_distribution", label="bob key 2")
    run("bob", "encrypt", label="b1", payload="Bob under his second key")
    run("alice", "decrypt", label="b1")
    run("alice", "needs_rotation", now=GROUP_NOW + 60 + SENDER_KEY_ROTATE_SECONDS - 1)
    run("alice", "needs_rotation", now=GROUP_NOW + 60 + SENDER_KEY_ROTATE_SECONDS)

    a1 = parse_group_message(produced["a1"]).header
    tombstone = group_roster.Tombstone(scene.group_id, a1.sender_key, a1.iteration)
    good = group_roster.sign_tombstone(scene.moderator.seed, tombstone)
    by_impostor = group_roster.sign_tombstone(impostor.seed, tombstone)
    elsewhere = group_roster.sign_tombstone(
        scene.moderator.seed, group_roster.Tombstone(seed32("another group")[:16], a1.sender_key, 0)
    )
    held = rosters["v2 carol removed"]
    tombstones = [
        {
            "name": "removes a1",
            "roster": "v2 carol removed",
            "signed": good.hex(),
            "sender_key": a1.sender_key.hex(),
            "iteration": a1.iteration,
            "error": None,
        },
        {
            "name": "signed by another key",
            "roster": "v2 carol removed",
            "signed": by_impostor.hex(),
            "error": error_of(lambda: group_roster.verify_tombstone(by_impostor, held)),
        },
        {
            "name": "another group",
            "roster": "v2 carol removed",
            "signed": elsewhere.hex(),
            "error": error_of(lambda: group_roster.verify_tombstone(elsewhere, held)),
        },
    ]
    assert group_roster.verify_tombstone(good, held) == tombstone
    return {
        "setup": setup,
        "roster_invalid": roster_invalid,
        "events": events,
        "tombstones": tombstones,
        "state_invalid": group_state_invalid(encode_group_state(states["bob"])),
    }


def group_state_invalid(valid: bytes) -> list[dict[str, Any]]:
    """Departures from section 15.8, each cut from Bob's final state."""
    roster_length = int.from_bytes(valid[41:43], "big")
    after_roster = 43 + roster_length
    own_end = after_roster + 1 + 32 + 32 + 8 + 8 + 8
    first_record = own_end + 2
    record_size = 32 + 32 + 8 + 32 + 8
    skipped_count_at = first_record + record_size
    duplicated = bytearray(valid)
    duplicated[own_end : own_end + 2] = (
        int.from_bytes(valid[own_end : own_end + 2], "big") + 1
    ).to_bytes(2, "big")
    record_bytes = valid[first_record : skipped_count_at + 2]
    assert valid[skipped_count_at : skipped_count_at + 2] == b"\x00\x00"
    duplicated[first_record:first_record] = record_bytes
    cases = [
        ("unknown version", b"\x02" + valid[1:]),
        ("trailing byte", valid + b"\x00"),
        ("removal floor above the roster", valid[:33] + u64(1 << 40) + valid[41:]),
        ("own flag 2", valid[:after_roster] + b"\x02" + valid[after_roster + 1 :]),
        ("sender key stored twice", bytes(duplicated)),
        ("truncated", valid[:-1]),
    ]
    return [
        {"name": name, "hex": data.hex(), "error": error_of(lambda d=data: decode_group_state(d))}
        for name, data in cases
    ]


def forged_distribution(scene: GroupScene, impostor: IdentityKeyPair) -> bytes:
    """Mallory's sender key: her own key, in a roster she signed herself, not the moderator's."""
    roster = group_roster.Roster(
        scene.group_id, 1, 0, 10, (impostor.public,), (scene.entry("mallory"),)
    )
    signed = group_roster.sign_roster(impostor.seed, roster)
    state = sender_key.join(signed, scene.group_id, impostor.public, scene.seeds["mallory"])
    state = sender_key.create_sender_key(
        state, GROUP_NOW, seed32("group mallory signing 1"), seed32("group mallory chain 1")
    )
    return sender_key.distribution_message(state, scene.names["mallory"], scene.salts["mallory"])


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "encoding.json": encoding_vectors,
    "kdf.json": kdf_vectors,
    "padding.json": padding_vectors,
    "keys.json": keys_vectors,
    "signatures.json": signatures_vectors,
    "pqxdh.json": pqxdh_vectors,
    "ratchet.json": ratchet_vectors,
    "envelope.json": envelope_vectors,
    "session_state.json": session_state_vectors,
    "session_record.json": session_record_vectors,
    "payload.json": payload_vectors,
    "vault.json": vault_vectors,
    "secret_change.json": secret_change_vectors,
    "safety.json": safety_vectors,
    "groups.json": groups_vectors,
}


def render(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=1, ensure_ascii=True) + "\n"


def build_all() -> dict[str, str]:
    """Every vector file's exact text, by file name."""
    return {name: render(builder()) for name, builder in BUILDERS.items()}


def main(argv: list[str]) -> int:
    if "--record-kem" in argv:
        record_kem()
    for name, text in build_all().items():
        (HERE / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
