"""The Python implementation reproduces every vector file, value by value.

The JavaScript implementation checks the same files; a case here and there
agreeing means both implement docs/PROTOCOL.md the same way.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from crypto import envelope, kdf, keys, padding, payload, safety, session, signatures, vault
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from crypto.keys import IdentityKeyPair, KeyPair, x25519_from_private
from crypto.prekeys import PrekeyStore, store_from_item
from crypto.ratchet import RatchetState
from crypto.session_record import SessionRecord, decode_record, encode_record, merge_records
from crypto.session_state import decode_state, encode_state
from crypto.x3dh import derive_sk, initiate, parse_bundle, respond

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def b(value: str) -> bytes:
    return bytes.fromhex(value)


def error_code(action) -> str:
    with pytest.raises(ProtocolError) as caught:
        action()
    return caught.value.code


def test_encoding() -> None:
    data = load("encoding.json")
    assert data["valid"] and data["invalid"]
    for case in data["valid"]:
        assert b64u_encode(b(case["hex"])) == case["b64u"]
        assert b64u_decode(case["b64u"]) == b(case["hex"])
    for case in data["invalid"]:
        code = error_code(lambda c=case: b64u_decode(c["b64u"], c["length"]))
        assert code == case["error"], case


def test_kdf() -> None:
    data = load("kdf.json")
    for case in data["hkdf"]:
        okm = kdf.hkdf(b(case["ikm"]), b(case["salt"]), b(case["info"]), case["length"])
        assert okm.hex() == case["okm"]
    for case in data["hmac"]:
        assert kdf.hmac_sha256(b(case["key"]), b(case["data"])).hex() == case["mac"]
    for case in data["kdf_rk"]:
        root, chain = kdf.kdf_rk(b(case["rk"]), b(case["dh_out"]))
        assert (root.hex(), chain.hex()) == (case["root_key"], case["chain_key"])
    for case in data["kdf_ck"]:
        chain, message = kdf.kdf_ck(b(case["ck"]))
        assert (chain.hex(), message.hex()) == (case["chain_key"], case["message_key"])
    for case in data["message_keys"]:
        key, nonce = kdf.message_aead_key(b(case["mk"]))
        assert (key.hex(), nonce.hex()) == (case["key"], case["nonce"])


def test_rfc5869_case_1_is_in_the_hkdf_vectors() -> None:
    first = load("kdf.json")["hkdf"][0]
    assert first["okm"] == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_padding() -> None:
    data = load("padding.json")
    for case in data["pad"]:
        assert padding.pad(b(case["payload"])).hex() == case["padded"]
        assert padding.unpad(b(case["padded"])).hex() == case["payload"]
    for case in data["bucket"]:
        if "error" in case:
            assert error_code(lambda c=case: padding.bucket_for(c["length"])) == case["error"]
        else:
            assert padding.bucket_for(case["length"]) == case["bucket"]
    for case in data["unpad_invalid"]:
        assert error_code(lambda c=case: padding.unpad(b(c["padded"]))) == case["error"]
    for case in data["vpad"]:
        assert padding.vpad(b(case["item"])).hex() == case["padded"]
        assert padding.vunpad(b(case["padded"])).hex() == case["item"]
    for case in data["vpad_size"]:
        if "error" in case:
            assert error_code(lambda c=case: padding.vault_size_for(c["length"])) == case["error"]
        else:
            assert padding.vault_size_for(case["length"]) == case["size"]
    for case in data["vunpad_invalid"]:
        assert error_code(lambda c=case: padding.vunpad(b(c["padded"]))) == case["error"]


def test_keys() -> None:
    data = load("keys.json")
    for case in data["identity"]:
        identity = IdentityKeyPair.from_seed(b(case["seed"]))
        assert identity.public.hex() == case["ed25519_public"]
        assert identity.dh_private.hex() == case["x25519_private"]
        assert identity.dh_public.hex() == case["x25519_public"]
        assert keys.ed25519_public_to_x25519(identity.public).hex() == case["x25519_public"]
    for case in data["x25519"]:
        assert x25519_from_private(b(case["private"])).public.hex() == case["public"]
    for case in data["dh"]:
        if "error" in case:
            code = error_code(lambda c=case: keys.dh(b(c["private"]), b(c["public"])))
            assert code == case["error"]
        else:
            assert keys.dh(b(case["private"]), b(case["public"])).hex() == case["shared"]
    for case in data["identity_invalid"]:
        code = error_code(lambda c=case: signatures.check_identity_key(b(c["public"])))
        assert code == case["error"]
    for case in data["mlkem"]:
        assert keys.mlkem_public_key(b(case["seed"])).hex() == case["public"]
    for case in data["mlkem_decaps"]:
        shared = keys.mlkem_decapsulate(b(case["seed"]), b(case["ciphertext"]))
        assert shared.hex() == case["shared_secret"]


PREKEY_KINDS = {
    "signed": signatures.SIGNED_PREKEY,
    "pq": signatures.PQ_PREKEY,
    "one_time": signatures.ONE_TIME_PREKEY,
}


def test_signatures() -> None:
    data = load("signatures.json")
    for case in data["valid"]:
        context = case["context"].encode()
        sig = signatures.sign(b(case["seed"]), context, b(case["data"]))
        assert sig.hex() == case["sig"]
        signatures.verify(b(case["identity_key"]), context, b(case["data"]), sig)
    for case in data["invalid"]:
        code = error_code(
            lambda c=case: signatures.verify(
                b(c["identity_key"]), c["context"].encode(), b(c["data"]), b(c["sig"])
            )
        )
        assert code == case["error"], case["name"]
    for case in data["builders"]:
        if "kind" in case:
            built = signatures.prekey_data(PREKEY_KINDS[case["kind"]], case["id"], b(case["key"]))
        elif "handle" in case:
            built = signatures.registration_data(b(case["server_id"]), case["handle"])
        else:
            built = signatures.websocket_auth_data(
                b(case["server_id"]), b(case["nonce"]), b(case["account"])
            )
        assert built.hex() == case["data"], case["name"]


def test_pqxdh() -> None:
    data = load("pqxdh.json")
    for case in data["cases"]:
        alice = IdentityKeyPair.from_seed(b(case["alice"]["seed"]))
        bob = IdentityKeyPair.from_seed(b(case["bob"]["seed"]))
        assert alice.public.hex() == case["alice"]["identity_key"]
        ephemeral = x25519_from_private(b(case["ephemeral"]["private"]))
        assert ephemeral.public.hex() == case["ephemeral"]["public"]
        kem = (b(case["kem"]["ciphertext"]), b(case["kem"]["shared_secret"]))
        secret = initiate(alice, parse_bundle(case["bundle"]), ephemeral, kem)
        assert secret.sk.hex() == case["sk"]
        assert secret.ad.hex() == case["ad"]
        dh_outputs = [case[name] for name in ("dh1", "dh2", "dh3", "dh4") if case[name]]
        assert (case["dh4"] is None) == (case["bob"]["opk"] is None)
        assert derive_sk([b(x) for x in dh_outputs], kem[1]).hex() == case["sk"]
        assert (bytes(32 * [0xFF]) + b"".join(b(x) for x in dh_outputs) + kem[1]).hex() == case[
            "ikm"
        ]
        opk = case["bob"]["opk"]
        sk, ad = respond(
            bob,
            alice.public,
            ephemeral.public,
            kem[0],
            b(case["bob"]["spk"]["private"]),
            b(case["bob"]["pq"]["seed"]),
            None if opk is None else b(opk["private"]),
        )
        assert (sk.hex(), ad.hex()) == (case["sk"], case["ad"])
    for case in data["invalid_bundles"]:
        assert error_code(lambda c=case: parse_bundle(c["bundle"])) == case["error"], case["name"]


class Replay:
    """GENERATE_DH returning the key a vector event recorded, and nothing else."""

    def __init__(self, private: str | None) -> None:
        self.private = private

    def __call__(self) -> KeyPair:
        assert self.private is not None, "this step must not generate a ratchet key"
        pair = x25519_from_private(b(self.private))
        self.private = None
        return pair


def test_ratchet_conversation_step_by_step() -> None:
    data = load("ratchet.json")
    setup = data["setup"]
    alice = IdentityKeyPair.from_seed(b(setup["alice_seed"]))
    bob = IdentityKeyPair.from_seed(b(setup["bob_seed"]))
    kem = (b(setup["kem"]["ciphertext"]), b(setup["kem"]["shared_secret"]))
    ephemeral = x25519_from_private(b(setup["ephemeral_private"]))
    start = session.start_session(
        alice,
        parse_bundle(setup["bundle"]),
        ephemeral,
        kem,
        Replay(setup["alice_ratchet_private"]),
    )
    assert encode_state(start).hex() == setup["alice_state"]
    assert start.ad.hex() == setup["ad"]
    states: dict[str, RatchetState | None] = {"alice": start, "bob": None}
    stores = {"alice": PrekeyStore({}, {}, {}, (), 0), "bob": store_from_item(setup["bob_prekeys"])}
    identities = {"alice": alice, "bob": bob}
    envelopes: dict[int, str] = {}
    counts = {"send": 0, "receive": 0, "error": 0}
    for event in data["events"]:
        actor = event["actor"]
        before = states[actor]
        if event["action"] == "send":
            assert before is not None
            out = session.encrypt(before, event["payload"].encode())
            assert out.envelope.hex() == event["envelope"], event["step"]
            envelopes[event["step"]] = event["envelope"]
            states[actor] = out.state
        else:
            if event["envelope_of"] is not None:
                assert envelopes[event["envelope_of"]] == event["envelope"]
            generator = Replay(event["ratchet_private"])
            record = None if before is None else (before,)
            if event["error"]:
                before_bytes = None if before is None else encode_state(before)
                code = error_code(
                    lambda: session.decrypt(
                        identities[actor], b(event["envelope"]), record, stores[actor], generator
                    )
                )
                assert code == event["error"], event["step"]
                assert before is None or encode_state(before) == before_bytes
                counts["error"] += 1
            else:
                received = session.decrypt(
                    identities[actor], b(event["envelope"]), record, stores[actor], generator
                )
                assert generator.private is None, "the recorded ratchet key was not used"
                assert received.payload.decode() == event["payload"], event["step"]
                payload.parse(received.payload)
                states[actor] = received.state
                changed = event["prekeys_changed"]
                assert (received.prekeys is None) == (changed is None)
                if received.prekeys is not None:
                    assert received.prekeys.seen_ek[-1] == (changed["spk_id"], b(changed["ek"]))
                    assert changed["opk_id"] not in received.prekeys.opk
                    assert changed["opk_id"] in stores[actor].opk
                    stores[actor] = received.prekeys
        counts[event["action"]] += 1
        after = states[actor]
        assert after is not None
        assert encode_state(after).hex() == event["state"], event["step"]
    assert counts["send"] >= 20 and counts["error"] >= 3


class Always:
    """GENERATE_DH for a step of session_record.json: the recorded key, to every attempt."""

    def __init__(self, private: str | None) -> None:
        self.private = private
        self.used = False

    def __call__(self) -> KeyPair:
        assert self.private is not None, "this step must not generate a ratchet key"
        self.used = True
        return x25519_from_private(b(self.private))


def test_simultaneous_session_set_up_step_by_step() -> None:
    data = load("session_record.json")
    setup = data["setup"]
    identities = {who: IdentityKeyPair.from_seed(b(p["seed"])) for who, p in setup.items()}
    other = {"alice": "bob", "bob": "alice"}
    records: dict[str, SessionRecord] = {}
    stores = {who: store_from_item(p["prekeys"]) for who, p in setup.items()}
    for who, party in setup.items():
        start = session.start_session(
            identities[who],
            parse_bundle(setup[other[who]]["bundle"]),
            x25519_from_private(b(party["ephemeral_private"])),
            (b(party["kem"]["ciphertext"]), b(party["kem"]["shared_secret"])),
            Replay(party["ratchet_private"]),
        )
        records[who] = (start,)
        assert encode_record(records[who]).hex() == party["record"]
    counts = {"send": 0, "receive": 0, "error": 0, "promoted": 0, "new": 0}
    for event in data["events"]:
        actor = event["actor"]
        record = records[actor]
        where = event["step"]
        if event["action"] == "send":
            out = session.encrypt(record[0], event["payload"].encode())
            assert out.envelope.hex() == event["envelope"], where
            records[actor] = (out.state, *record[1:])
        else:
            generator = Always(event["ratchet_private"])
            envelope_bytes = b(event["envelope"])
            if event["error"]:
                before = encode_record(record)
                code = error_code(
                    lambda: session.decrypt(
                        identities[actor], envelope_bytes, record, stores[actor], generator
                    )
                )
                assert code == event["error"], where
                assert encode_record(record) == before
                counts["error"] += 1
            else:
                received = session.decrypt(
                    identities[actor], envelope_bytes, record, stores[actor], generator
                )
                assert received.payload.decode() == event["payload"], where
                assert received.new_session == event["new_session"], where
                counts["new"] += received.new_session
                counts["promoted"] += received.record[0].ek != record[0].ek
                records[actor] = received.record
                if received.prekeys is not None:
                    stores[actor] = received.prekeys
            assert generator.used == (event["ratchet_private"] is not None), where
        counts[event["action"]] += 1
        assert encode_record(records[actor]).hex() == event["record"], where
        assert records[actor][0].ek.hex() == event["active_ek"], where
    # Both set up a session, both kept both, and earlier sessions took over.
    assert counts["new"] == 2 and counts["promoted"] >= 3 and counts["error"] == 2
    assert records["alice"][0].ek == records["bob"][0].ek


def test_session_record_encoding() -> None:
    data = load("session_record.json")
    for case in data["valid"]:
        record = decode_record(b(case["hex"]))
        assert encode_record(record).hex() == case["hex"]
        assert [encode_state(state).hex() for state in record] == case["states"]
    for case in data["invalid"]:
        assert error_code(lambda c=case: decode_record(b(c["hex"]))) == case["error"], case["name"]
    assert data["merge"]
    for case in data["merge"]:
        records = [decode_record(b(r)) for r in case["records"]]
        if "error" in case:
            assert error_code(lambda r=records: merge_records(r)) == case["error"], case["name"]
        else:
            assert encode_record(merge_records(records)).hex() == case["merged"], case["name"]


def test_envelope() -> None:
    data = load("envelope.json")
    for case in data["valid"]:
        raw = b(case["hex"])
        parsed = envelope.parse(raw)
        assert envelope.encode(parsed) == raw
        fields = case["fields"]
        assert parsed.header.dh.hex() == fields["header"]["dh"]
        assert (parsed.header.pn, parsed.header.n) == (
            fields["header"]["pn"],
            fields["header"]["n"],
        )
        assert len(parsed.ciphertext) == fields["ciphertext_length"]
        if case["type"] == 1:
            assert isinstance(parsed, envelope.PrekeyEnvelope)
            assert parsed.identity_key.hex() == fields["identity_key"]
            assert parsed.ephemeral_key.hex() == fields["ephemeral_key"]
            assert (parsed.spk_id, parsed.opk_id, parsed.pq_id) == (
                fields["spk_id"],
                fields["opk_id"],
                fields["pq_id"],
            )
            assert parsed.kem_ciphertext.hex() == fields["kem_ciphertext"]
        else:
            assert isinstance(parsed, envelope.MessageEnvelope)
    for case in data["invalid"]:
        assert error_code(lambda c=case: envelope.parse(b(c["hex"]))) == case["error"], case["name"]


def test_session_state() -> None:
    data = load("session_state.json")
    for case in data["valid"]:
        state = decode_state(b(case["hex"]))
        assert encode_state(state).hex() == case["hex"]
        fields = case["fields"]
        assert state.dhs.private.hex() == fields["dhs_private"]
        assert state.dhs.public.hex() == fields["dhs_public"]
        for name in ("dhr", "cks", "ckr"):
            value = getattr(state, name)
            assert (None if value is None else value.hex()) == fields[name]
        assert state.rk.hex() == fields["rk"]
        assert (state.ns, state.nr, state.pn) == (fields["ns"], fields["nr"], fields["pn"])
        assert (state.ad.hex(), state.ek.hex()) == (fields["ad"], fields["ek"])
        pending = fields["pending"]
        if pending is None:
            assert state.pending is None
        else:
            assert state.pending is not None
            assert state.pending.kem_ciphertext.hex() == pending["kem_ciphertext"]
            assert (state.pending.spk_id, state.pending.opk_id, state.pending.pq_id) == (
                pending["spk_id"],
                pending["opk_id"],
                pending["pq_id"],
            )
        skipped = [
            {"dh": dh.hex(), "n": n, "mk": mk.hex()} for (dh, n), mk in state.skipped.items()
        ]
        assert skipped == fields["skipped"]
        assert [key.hex() for key in state.previous] == fields["previous"]
    for case in data["invalid"]:
        assert error_code(lambda c=case: decode_state(b(c["hex"]))) == case["error"], case["name"]


def test_payload() -> None:
    data = load("payload.json")
    for case in data["text"]:
        encoded = payload.encode_text(b64u_decode(case["id"], 16), case["sent"], case["body"])
        assert encoded.decode() == case["encoded"]
        parsed = payload.parse(encoded)
        assert (parsed["id"], parsed["sent"], parsed["body"]) == (
            case["id"],
            case["sent"],
            case["body"],
        )
    for case in data["receipt"]:
        ids = [b64u_decode(i, 16) for i in case["ids"]]
        assert payload.encode_receipt(case["state"], ids).decode() == case["encoded"]
        assert payload.parse(case["encoded"].encode())["ids"] == case["ids"]
    for case in data["group_key"]:
        assert payload.encode_group_key(b(case["key"])).decode() == case["encoded"]
        assert b64u_decode(payload.parse(case["encoded"].encode())["key"]) == b(case["key"])
    for case in data["group_join"]:
        encoded = payload.encode_group_join(
            b64u_decode(case["group"], 16),
            b64u_decode(case["member_key"], 32),
            case["name"],
            b64u_decode(case["salt"], 32),
            case["note"],
        )
        assert encoded.decode() == case["encoded"]
        parsed = payload.parse(encoded)
        assert {k: parsed[k] for k in ("group", "member_key", "name", "salt", "note")} == {
            k: case[k] for k in ("group", "member_key", "name", "salt", "note")
        }
    assert data["group_listing"]
    for case in data["group_listing"]:
        listing, sig = b64u_decode(case["listing"]), b64u_decode(case["sig"], 64)
        assert payload.encode_group_listing(listing, sig).decode() == case["encoded"]
        parsed = payload.parse(case["encoded"].encode())
        assert (parsed["listing"], parsed["sig"]) == (case["listing"], case["sig"])
        signatures.verify_group_listing(b64u_decode(case["moderator_key"], 32), listing, sig)
    for case in data["invalid"]:
        raw = b(case["hex_bytes"]) if "hex_bytes" in case else case["encoded"].encode()
        assert error_code(lambda r=raw: payload.parse(r)) == case["error"], case["name"]


def test_vault() -> None:
    data = load("vault.json")
    assert data["argon2"] == {"opslimit": 3, "memlimit": 67108864, "output_bytes": 32}
    for case in data["normalise"]:
        if "error" in case:
            code = error_code(lambda c=case: vault.normalise_secret(c["input"]))
            assert code == case["error"], case["input"]
        else:
            secret = vault.normalise_secret(case["input"])
            assert (secret.handle, secret.passphrase) == (case["handle"], case["passphrase"])
            assert secret.formatted() == case["formatted"]
    for case in data["derivation"]:
        secret = vault.normalise_secret(case["secret"])
        assert vault.argon2_salt(secret.handle).hex() == case["salt"]
        master = vault.derive_master(secret)
        assert master.hex() == case["master"]
        derived = vault.keys_from_master(master)
        assert derived.vault_key.hex() == case["vault_key"]
        assert derived.login_key.hex() == case["login_key"]
    for case in data["items"]:
        key, item_id = b(case["vault_key"]), b(case["id"])
        blob = vault.encrypt_item(
            key, item_id, case["version"], case["item"].encode(), b(case["nonce"])
        )
        assert blob.hex() == case["blob"]
        assert vault.decrypt_item(key, item_id, case["version"], blob).decode() == case["item"]
    for case in data["items_invalid"]:
        code = error_code(
            lambda c=case: vault.decrypt_item(
                b(c["vault_key"]), b(c["id"]), c["version"], b(c["blob"])
            )
        )
        assert code == case["error"], case["name"]


def test_safety_numbers() -> None:
    for case in load("safety.json")["cases"]:
        a = (b(case["identity_key_a"]), b(case["account_a"]))
        other = (b(case["identity_key_b"]), b(case["account_b"]))
        assert safety.fingerprint(*a) == case["fingerprint_a"]
        assert safety.fingerprint(*other) == case["fingerprint_b"]
        assert safety.safety_number(*a, *other) == case["safety_number"]
        assert safety.safety_number(*other, *a) == case["safety_number"]
        assert safety.format_safety_number(case["safety_number"]) == case["formatted"]


def test_secret_change() -> None:
    data = load("secret_change.json")
    keys = {}
    for side in ("old", "new"):
        case = data[side]
        secret = vault.normalise_secret(case["secret"])
        assert secret.handle == case["handle"]
        derived = vault.derive_keys(secret)
        assert (derived.vault_key.hex(), derived.login_key.hex()) == (
            case["vault_key"],
            case["login_key"],
        )
        keys[side] = derived.vault_key
    assert keys["old"] != keys["new"]
    assert data["items"]
    for case in data["items"]:
        item_id, base = b(case["id"]), case["base"]
        old_blob = b(case["old_blob"])
        assert vault.decrypt_item(keys["old"], item_id, base, old_blob).decode() == case["item"]
        new_blob = vault.rekey_item(
            keys["old"], keys["new"], item_id, base, old_blob, b(case["nonce"])
        )
        assert new_blob.hex() == case["new_blob"]
        assert vault.decrypt_item(keys["new"], item_id, base + 1, new_blob).decode() == case["item"]
    identity = data["identity"]
    old_item, new_item = json.loads(identity["old_item"]), json.loads(identity["new_item"])
    assert new_item == {**old_item, "handle": data["new"]["handle"]}
    sealed = vault.encrypt_item(
        keys["new"],
        b(identity["id"]),
        identity["base"] + 1,
        identity["new_item"].encode(),
        b(identity["nonce"]),
    )
    assert sealed.hex() == identity["new_blob"]
    assert data["invalid"]
    for case in data["invalid"]:
        code = error_code(
            lambda c=case: vault.decrypt_item(
                b(c["vault_key"]), b(c["id"]), c["version"], b(c["blob"])
            )
        )
        assert code == case["error"], case["name"]
