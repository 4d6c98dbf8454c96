"""Prekeys: verified on upload, each one-time prekey handed out exactly once."""

import concurrent.futures
import os
from typing import Any

from server_harness import make_account, make_therapist

from crypto.encoding import b64u_encode
from crypto.x3dh import parse_bundle


def test_upload_status_and_replacement(server: Any) -> None:
    therapist = make_therapist(server)
    upload = therapist.prekey_upload(5)
    assert therapist.call("PUT", "/api/prekeys", upload).body == {"one_time": 5}
    status = therapist.call("GET", "/api/prekeys").body
    assert status == {
        "one_time": 5,
        "signed_prekey_id": upload["signed_prekey"]["id"],
        "pq_prekey_id": upload["pq_prekey"]["id"],
    }
    rotated = therapist.prekey_upload(0)
    body = {"signed_prekey": rotated["signed_prekey"]}
    assert therapist.call("PUT", "/api/prekeys", body).body == {"one_time": 5}
    status = therapist.call("GET", "/api/prekeys").body
    assert status["signed_prekey_id"] == rotated["signed_prekey"]["id"]
    assert status["pq_prekey_id"] == upload["pq_prekey"]["id"]


def test_each_one_time_prekey_is_handed_out_once_even_under_concurrency(server: Any) -> None:
    therapist = make_therapist(server)
    clients = [make_account(server.url) for _ in range(8)]
    upload = therapist.prekey_upload(20)
    assert therapist.call("PUT", "/api/prekeys", upload).status == 200
    path = f"/api/bundle/{therapist.id_text}"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: clients[i % 8].call("GET", path), range(24)))
    assert all(r.status == 200 for r in replies)
    bundles = [parse_bundle(r.body) for r in replies]
    given = [b.one_time_prekey.id for b in bundles if b.one_time_prekey is not None]
    assert sorted(given) == sorted(p["id"] for p in upload["one_time_prekeys"])
    assert sum(b.one_time_prekey is None for b in bundles) == 4
    assert all(b.identity_key == therapist.identity.public for b in bundles)
    assert therapist.call("GET", "/api/prekeys").body["one_time"] == 0


def test_upload_refusals_store_nothing(server_factory: Any) -> None:
    server = server_factory(max_one_time_prekeys=6, max_prekeys_per_upload=4)
    therapist = make_therapist(server)
    upload = therapist.prekey_upload(4)
    assert therapist.call("PUT", "/api/prekeys", upload).body == {"one_time": 4}

    def one_time(count: int, first_id: int) -> dict[str, Any]:
        return {"one_time_prekeys": therapist.prekey_upload(count, first_id)["one_time_prekeys"]}

    duplicate = {"one_time_prekeys": [upload["one_time_prekeys"][0]] * 2}
    tampered = dict(upload["signed_prekey"], key=b64u_encode(os.urandom(32)))
    refusals = [
        (duplicate, "bad_request"),
        (one_time(5, 2000), "too_large"),
        (one_time(3, 2000), "too_large"),
        ({"signed_prekey": tampered}, "bad_signature"),
        ({"signed_prekey": dict(upload["signed_prekey"], id=0)}, "bad_request"),
        ({"signed_prekey": dict(upload["signed_prekey"], id=2**32)}, "bad_request"),
        ({"pq_prekey": dict(upload["pq_prekey"], key=b64u_encode(os.urandom(32)))}, "malformed"),
        ({"one_time_prekeys": "all of them"}, "bad_request"),
    ]
    for body, code in refusals:
        assert therapist.call("PUT", "/api/prekeys", body).code == code
    status = therapist.call("GET", "/api/prekeys").body
    assert status == {
        "one_time": 4,
        "signed_prekey_id": upload["signed_prekey"]["id"],
        "pq_prekey_id": upload["pq_prekey"]["id"],
    }
    assert therapist.call("PUT", "/api/prekeys", one_time(2, 2000)).body == {"one_time": 6}


def test_bundles_need_published_prekeys(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    reply = client.call("GET", f"/api/bundle/{therapist.id_text}")
    assert (reply.status, reply.code) == (404, "not_found")
    assert therapist.call("PUT", "/api/prekeys", therapist.prekey_upload(0)).status == 200
    bundle = parse_bundle(client.call("GET", f"/api/bundle/{therapist.id_text}").body)
    assert bundle.one_time_prekey is None
    # A therapist may fetch a client's bundle (to answer after a reset); a client may not.
    assert client.call("PUT", "/api/prekeys", client.prekey_upload(1)).status == 200
    assert therapist.call("GET", f"/api/bundle/{client.id_text}").status == 200
