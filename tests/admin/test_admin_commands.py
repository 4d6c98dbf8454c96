"""Each `quietline admin` command against a real running server and its real database."""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.request
from typing import Any

import websockets
from admin_helpers import admin, invite, ok, therapist_with_profile
from server_harness import (
    Account,
    auth_signature,
    make_account,
    new_handle,
    open_socket,
    random_envelope,
    request,
    wait_closed,
)
from server_process import REPO_ROOT, TEST_SETTINGS, RunningServer, require_web_packages

from crypto.encoding import b64u_decode, b64u_encode
from crypto.keys import IdentityKeyPair
from server import admin as admin_module
from server.config import SETTING_FIELDS


def prefix_of(account: Any) -> str:
    return account.id.hex()[: admin_module.ACCOUNT_PREFIX_CHARS]


async def test_revoking_a_therapist_ends_everything_a_running_server_gave_them(
    server_factory: Any,
) -> None:
    server = server_factory()
    leaving = therapist_with_profile(server, "Dr Leaving")
    staying = therapist_with_profile(server, "Sam Staying")
    client = make_account(server.url)
    listed = ok(admin(server.data_dir, "list-therapists"))
    assert re.search(rf"^{re.escape(prefix_of(leaving))} .* active +Dr Leaving$", listed, re.M)
    assert re.search(rf"^{re.escape(prefix_of(staying))} .* active +Sam Staying$", listed, re.M)

    client_socket = await open_socket(server.url, client)
    assert (await client_socket.send_envelope(leaving, random_envelope()))["type"] == "sent"
    therapist_socket = await open_socket(server.url, leaving)
    await therapist_socket.expect("envelope")

    revoked = admin(server.data_dir, "revoke-therapist", prefix_of(leaving))
    assert "Revoked therapist" in ok(revoked)
    # The running server notices on its own and closes the therapist's session.
    frames = await wait_closed(therapist_socket.ws)
    assert any(f.get("type") == "error" and f.get("code") == "revoked" for f in frames)

    assert leaving.call("GET", "/api/vault").code == "unauthorized"
    login = leaving.login()
    assert (login.status, login.code) == (403, "revoked")
    directory = request(server.url, "GET", "/api/directory").body["therapists"]
    assert [entry["account"] for entry in directory] == [staying.id_text]
    answer = await client_socket.send_envelope(leaving, random_envelope())
    assert (answer["type"], answer["code"]) == ("error", "recipient_gone")
    bundle = client.call("GET", f"/api/bundle/{leaving.id_text}")
    assert (bundle.status, bundle.code) == (410, "recipient_gone")
    # The other therapist is untouched.
    assert (await client_socket.send_envelope(staying, random_envelope()))["type"] == "sent"
    await client_socket.close()
    refused = await authenticate_once(server, leaving)
    assert (refused["type"], refused["code"]) == ("error", "unauthorized")

    listed = ok(admin(server.data_dir, "list-therapists"))
    assert re.search(
        rf"^{re.escape(prefix_of(leaving))} .* revoked \d{{4}}-\d\d-\d\d", listed, re.M
    )
    assert "Dr Leaving" not in listed  # the profile is gone with the revocation
    assert "revoked already" in ok(admin(server.data_dir, "revoke-therapist", prefix_of(leaving)))


def test_revoke_names_its_errors(server_factory: Any) -> None:
    server = server_factory()
    therapist_with_profile(server, "One")
    unknown = admin(server.data_dir, "revoke-therapist", "zzzzzzzz")
    assert unknown.returncode == 1 and "(unknown_account)" in unknown.stderr
    short = admin(server.data_dir, "revoke-therapist", "ab")
    assert short.returncode == 1 and "(unknown_account)" in short.stderr
    # Two therapist ids with the same first bytes, written as the server would store them.
    conn = sqlite3.connect(server.database, timeout=10)
    try:
        for last in (1, 2):
            conn.execute(
                "INSERT INTO accounts (id, handle_hash, role, identity_key, login_hash, created) "
                "VALUES (?, ?, 'therapist', ?, 'unused', 0)",
                (bytes(15) + bytes([last]), os.urandom(32), os.urandom(32)),
            )
        conn.commit()
    finally:
        conn.close()
    ambiguous = admin(server.data_dir, "revoke-therapist", "00000000")
    assert ambiguous.returncode == 1 and "(ambiguous_account)" in ambiguous.stderr
    assert "revoked" not in ok(admin(server.data_dir, "list-therapists"))


async def authenticate_once(server: Any, account: Any) -> dict[str, Any]:
    """The server's answer to a correctly signed websocket authentication."""
    async with websockets.connect(server.ws_url, compression=None) as ws:
        challenge = json.loads(await ws.recv())
        sig = auth_signature(
            account.identity,
            b64u_decode(challenge["server"]),
            b64u_decode(challenge["nonce"]),
            account.id,
        )
        frame = {
            "type": "auth",
            "account": account.id_text,
            "sig": b64u_encode(sig),
            "token": account.token,
        }
        await ws.send(json.dumps(frame))
        return json.loads(await ws.recv())


def test_intake_and_client_invites_change_a_running_server(server_factory: Any) -> None:
    server = server_factory()
    assert "invite-only" in ok(admin(server.data_dir, "intake", "invite-only"))
    assert request(server.url, "GET", "/api/info").body["intake"] == "invite-only"
    stranger = Account(
        server.url, "client", new_handle(), os.urandom(32), IdentityKeyPair.generate()
    )
    refused = request(server.url, "POST", "/api/accounts", stranger.registration_body())
    assert (refused.status, refused.code) == (403, "invite_required")
    code = invite(server.data_dir, "client")
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", code)
    make_account(server.url, invite=code)
    ok(admin(server.data_dir, "intake", "open"))
    make_account(server.url)


async def test_stats_prints_counts_and_nothing_that_identifies(server_factory: Any) -> None:
    server = server_factory()
    therapists = [therapist_with_profile(server, f"T{i}") for i in range(2)]
    clients = [make_account(server.url) for _ in range(3)]
    for index, client in enumerate(clients):
        socket = await open_socket(server.url, client)
        for _ in range(index + 1):
            answer = await socket.send_envelope(therapists[index % 2], random_envelope())
            assert answer["type"] == "sent"
        await socket.close()
    ok(admin(server.data_dir, "revoke-therapist", prefix_of(therapists[1])))
    invite(server.data_dir)
    text = ok(admin(server.data_dir, "stats"))
    counts = dict(re.findall(r"^([a-z ]+): (\d+)", text, re.M))
    # Client 1's two envelopes went to the revoked therapist and were deleted with it.
    assert counts == {
        "client accounts": "3",
        "therapist accounts": "1",
        "revoked therapist accounts": "1",
        "threads with undelivered messages": "2",
        "undelivered envelopes": "4",
        "groups": "0",
        "group memberships": "0",
        "stored group items": "0",
        "unused therapist invites": "1",
        "unused client invites": "0",
        "database size": counts["database size"],
    }
    assert int(counts["database size"]) >= server.database.stat().st_size
    for account in [*therapists, *clients]:
        assert account.id_text[:6] not in text
        assert account.id.hex()[:6] not in text


def test_config_names_the_source_of_every_value(server_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "practice"
    data.mkdir()
    (data / "quietline.toml").write_text(
        'crisis_text = "Call 112 in an emergency."\nenvelope_ttl_days = 14\n'
    )
    env = {"QUIETLINE_MAX_INBOX": "77", "QUIETLINE_ENVELOPE_TTL_DAYS": "9"}
    text = ok(admin(data, "config", env=env))
    values = dict(re.findall(r"^(\w+) = (.*)$", text, re.M))
    assert values["crisis_text"] == '"Call 112 in an emergency."  # file'
    assert values["envelope_ttl_days"] == "9.0  # env"
    assert values["max_inbox"] == "77  # env"
    assert values["data"] == f"{json.dumps(str(data))}  # flag"
    assert values["port"] == "8000  # default"
    assert set(values) == {item.name for item in SETTING_FIELDS}
    broken = admin(data, "config", env={"QUIETLINE_PORT": "many"})
    assert broken.returncode == 2 and "port" in broken.stderr


def test_web_hash_matches_the_files_the_server_serves(server: Any) -> None:
    require_web_packages()  # the hash covers libsodium from client_web/node_modules
    text = ok(admin(server.data_dir, "web-hash"))
    lines = text.splitlines()
    combined, label = lines[-1].split("  ")
    assert label == "combined"
    listing = "".join(line + "\n" for line in lines[:-1])
    assert hashlib.sha256(listing.encode()).hexdigest() == combined
    paths = [line.split("  ", 1)[1] for line in lines[:-1]]
    assert paths == sorted(paths)
    assert {"/index.html", "/support.html", "/vendor/libsodium-sumo.js"} <= set(paths)
    assert not any("/." in path or "node_modules" in path or "/test" in path for path in paths)
    for line in lines[:-1]:
        digest, path = line.split("  ", 1)
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            assert hashlib.sha256(response.read()).hexdigest() == digest, path
    missing = admin(server.data_dir, "web-hash", "--client-dir", str(server.data_dir))
    assert missing.returncode == 1 and "(no_web_client)" in missing.stderr


def test_first_start_says_what_to_do_and_a_second_server_is_refused(
    server_factory: Any,
) -> None:
    server = server_factory()
    assert "No therapist yet: run `" in server.log_text()
    assert "invite-therapist` to create an invite code." in server.log_text()
    second = RunningServer(server.data_dir, dict(TEST_SETTINGS))
    try:
        second.start()
        raise AssertionError("two servers ran on one data directory")
    except RuntimeError as error:
        assert "A Quietline server is running on" in str(error)
    therapist_with_profile(server, "First")
    server.stop()
    server.start()
    assert server.log_text().count("No therapist yet") == 1


def test_the_crisis_text_is_published_for_the_support_page(server_factory: Any) -> None:
    server = server_factory(crisis_text="Call 112 in an emergency.")
    assert server.get_json("/api/info")["crisis_text"] == "Call 112 in an emergency."
    support = request(server.url, "GET", "/support.html").raw.decode()
    assert 'id="practice-support-text"' in support
    start = request(server.url, "GET", "/").raw.decode()
    assert 'href="/support.html"' in start


def test_the_suggested_commands_can_be_pasted_as_they_are(tmp_path: Any) -> None:
    """The hint names the program and the --data in use: pasted, it works on this data."""
    data_dir = tmp_path / "practice data"
    listing = ok(admin(data_dir, "list-therapists"))
    suggested = re.search(r"run `([^`]+)`", listing).group(1)
    assert suggested.endswith("invite-therapist") and "--data" in suggested
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    environment["PATH"] = f"{os.path.dirname(sys.executable)}:{environment.get('PATH', '')}"
    pasted = subprocess.run(
        suggested, shell=True, cwd=REPO_ROOT, env=environment, capture_output=True, text=True
    )
    assert pasted.returncode == 0, pasted.stderr
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}\n", pasted.stdout)
    unknown = admin(data_dir, "revoke-therapist", "ffffffff")
    assert "(unknown_account)" in unknown.stderr
    assert re.search(r"see `[^`]+ admin --data '[^']+' list-therapists`", unknown.stderr)
