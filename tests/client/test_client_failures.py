"""The Python client when things go wrong: each typed error, and a server killed mid-way.

Every failure is real: a server that is not Quietline (a plain HTTP server),
a server process killed with SIGKILL, a second device taking the websocket
over, an account whose vault lacks its identity item.
"""

import http.server
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from client_harness import close_all, new_client, new_therapist

from client_py import upkeep
from client_py.client import Client
from client_py.errors import (
    AnswerTimeoutError,
    BadInputError,
    BadResponseError,
    DisconnectedError,
    NotLoggedInError,
    ServerError,
    UnreachableError,
    VaultCorruptError,
)
from crypto.constants import (
    MAX_PROFILE_BYTES,
    PROFILE_LIST_ITEM_CHARS,
    PROFILE_LIST_ITEMS,
    PROFILE_TEXT_CHARS,
)
from crypto.encoding import b64u_decode, b64u_encode

WAIT = 20.0


class _NotQuietline(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = b"<!doctype html><title>A blog</title><p>Hello.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def other_site() -> Iterator[str]:
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotQuietline)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


async def test_a_server_that_is_not_quietline_is_named_as_such(other_site: str) -> None:
    with pytest.raises(BadResponseError) as caught:
        await Client(other_site).directory()
    assert "--server" in caught.value.message
    # POST is not implemented there: an HTTP error without a Quietline error body.
    with pytest.raises(BadResponseError) as caught:
        await Client.login(other_site, "0000-0000-0000-0000-0000-0000")
    assert caught.value.code == "bad_response"


async def test_bad_addresses() -> None:
    with pytest.raises(BadInputError):
        Client("ftp://example.invalid")
    with pytest.raises(UnreachableError) as caught:
        await Client("http://127.0.0.1:9").directory()
    assert "--server" in caught.value.message


async def test_nothing_works_before_login(server: Any) -> None:
    client = Client(server.url)
    with pytest.raises(NotLoggedInError):
        client.history("anyone")
    with pytest.raises(NotLoggedInError):
        await client.connect()
    assert (await client.info())["version"] == 1


async def test_a_vault_without_identity_is_reported(server: Any) -> None:
    client, secret = await new_client(server)
    identity = client.vault.find("identity")
    assert identity is not None
    batch = client.vault.batch()
    batch.delete(identity.id)
    await client.commit(batch)
    await client.close()
    with pytest.raises(VaultCorruptError):
        await Client.login(server.url, secret)


async def test_timeouts_and_a_killed_server(server_factory: Any) -> None:
    running = server_factory()
    client, _ = await new_client(running)
    try:
        await client.connect()
        with pytest.raises(AnswerTimeoutError):
            await client.next_envelope(0.2)
        running.kill()
        with pytest.raises(DisconnectedError):
            await client.next_envelope(WAIT)
        with pytest.raises(DisconnectedError):
            await client.channel.send(b64u_encode(secrets.token_bytes(16)), client.account, b"", [])
    finally:
        await client.close()


async def test_a_device_beyond_the_cap_is_refused_and_the_others_stay_live(
    server_factory: Any,
) -> None:
    running = server_factory(max_connections_per_account=2)
    client, secret = await new_client(running)
    second = await Client.login(running.url, secret)
    third = await Client.login(running.url, secret)
    try:
        await client.connect()
        await second.connect()
        with pytest.raises(ServerError) as caught:
            await third.connect()
        assert caught.value.code == "too_many_devices"
        # Both earlier devices are still connected and nothing arrived.
        for device in (client, second):
            with pytest.raises(AnswerTimeoutError):
                await device.next_envelope(0.2)
    finally:
        for device in (third, second, client):
            await device.close()


async def test_acknowledged_messages_survive_kill_9(server_factory: Any) -> None:
    running = server_factory()
    therapist, therapist_secret = await new_therapist(running, "Dr. Durable")
    client, client_secret = await new_client(running)
    await therapist.connect()
    await client.connect()
    await client.send(therapist.account, "acknowledged before the crash")
    incoming = await therapist.receive(WAIT)
    assert incoming.message is not None
    # Stored (the server said `sent`) but not yet delivered when the server dies.
    therapist_id = therapist.account
    await therapist.close()
    await client.send(therapist_id, "stored before the crash")
    await client.close()
    running.kill()
    running.start()

    again = await Client.login(running.url, therapist_secret)
    try:
        assert [m.body for m in again.history(client.account)] == ["acknowledged before the crash"]
        await again.connect()
        pending = await again.receive_pending()
        assert [p.message.body for p in pending if p.message] == ["stored before the crash"]
    finally:
        await again.close()
    client_again = await Client.login(running.url, client_secret)
    try:
        sent = [m.body for m in client_again.history(therapist_id)]
        assert sent == ["acknowledged before the crash", "stored before the crash"]
    finally:
        await client_again.close()


async def test_a_refused_token_means_a_fresh_login(server: Any) -> None:
    client, _ = await new_client(server)
    try:
        old_token = client.http.token
        revoker = Client(server.url)
        revoker.http.token = old_token
        await revoker.http.post("/api/logout")
        # The next request is refused, the client logs in again and carries on.
        await client.sync()
        assert client.http.token not in (None, old_token)
        assert client.vault.find("identity") is not None
    finally:
        await client.close()


async def test_a_profile_changed_on_the_server_is_left_out(server: Any) -> None:
    honest, _ = await new_therapist(server, "Dr. Honest")
    altered, _ = await new_therapist(server, "Dr. Altered")
    try:
        # Someone with the database changes a stored profile after it was signed.
        conn = sqlite3.connect(server.database)
        try:
            with conn:
                row = conn.execute(
                    "SELECT profile FROM profiles WHERE account = ?",
                    (b64u_decode(altered.account),),
                ).fetchone()
                changed = bytes(row[0]).replace(b"Dr. Altered", b"Dr. Trusted")
                conn.execute(
                    "UPDATE profiles SET profile = ? WHERE account = ?",
                    (changed, b64u_decode(altered.account)),
                )
        finally:
            conn.close()
        names = {t.profile["display_name"] for t in await honest.directory()}
        assert "Dr. Honest" in names
        assert "Dr. Trusted" not in names and "Dr. Altered" not in names
    finally:
        await close_all(honest, altered)


async def test_a_profile_over_the_shared_limits_is_refused_before_signing(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Within Limits")
    try:
        too_long = "x" * (PROFILE_TEXT_CHARS["display_name"] + 1)
        too_many = [f"topic {i}" for i in range(PROFILE_LIST_ITEMS + 1)]
        # Within every field limit, yet over the byte limit: JSON spells each
        # control character in six bytes.
        control = "\u0001" * PROFILE_LIST_ITEM_CHARS
        too_big = {
            "display_name": "Dr. Big",
            "away_message": "\u0001" * PROFILE_TEXT_CHARS["away_message"],
            "specialties": [control] * PROFILE_LIST_ITEMS,
            "languages": [control] * PROFILE_LIST_ITEMS,
        }
        for profile, words in (
            ({"display_name": too_long}, "display_name"),
            ({"display_name": "Dr. Many", "specialties": too_many}, "specialties"),
            (too_big, f"{MAX_PROFILE_BYTES} bytes"),
        ):
            with pytest.raises(BadInputError, match=words):
                await therapist.publish_profile(profile)
        # Nothing reached the server: the directory still shows the first profile.
        (listed,) = [t for t in await therapist.directory() if t.account == therapist.account]
        assert listed.profile["display_name"] == "Dr. Within Limits"
    finally:
        await close_all(therapist)


async def test_a_lost_prekey_upload_is_made_good(server: Any) -> None:
    therapist, secret = await new_therapist(server, "Dr. Lost Upload")
    try:
        # The rotated item is committed, then the upload never happens (a crash).
        item = therapist.vault.find("prekeys")
        rotated, _upload = upkeep.rotate(therapist.identity.seed, item.value)
        batch = therapist.vault.batch()
        batch.put(rotated, item.id)
        await therapist.commit(batch)
        status = await therapist.http.get("/api/prekeys")
        assert status["signed_prekey_id"] != rotated["spk"][-1]["id"]
    finally:
        await therapist.close()
    # The next login notices and publishes the keys the vault holds.
    again = await Client.login(server.url, secret)
    try:
        status = await again.http.get("/api/prekeys")
        assert status["signed_prekey_id"] == rotated["spk"][-1]["id"]
        assert status["pq_prekey_id"] == rotated["pq"][-1]["id"]
    finally:
        await again.close()
