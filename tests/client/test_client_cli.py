"""`quietline client ...` as real subprocesses against the real server.

A therapist joins with an invite file and publishes a profile; a client
registers, finds the therapist in the directory and writes; the therapist sees
the inbox, reads, replies from stdin; `watch` prints a message that arrives
live; both see the same safety number. Notes, blocks, errors (exit codes and
messages on stderr) and account deletion are checked, and the profile
directory is searched for the secret and every message text.
"""

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import client_harness
from client_harness import REPO_ROOT, TEST_KDF_COST, Run, cli_env, make_invite

from client_py.client import Client
from crypto.encoding import b64u_encode
from crypto.envelope import Header, MessageEnvelope

WAIT = 30.0


def quietline(*args: str, **options: Any) -> Run:
    return client_harness.quietline(*args, cheap_kdf=True, **options)


def cli_command(*args: str) -> list[str]:
    return client_harness.cli_command(*args, cheap_kdf=True)


def register(server: Any, profile: Path, *extra: str) -> dict[str, Any]:
    run = quietline("register", "--json", *extra, server_url=server.url, profile=profile)
    assert run.code == 0, run.stderr
    return run.json()


def test_therapist_and_client_talk_through_the_cli(server: Any, tmp_path: Path) -> None:
    t_profile, c_profile = tmp_path / "therapist", tmp_path / "client"
    invite_file = tmp_path / "invite.txt"
    invite_file.write_text(make_invite(server.data_dir) + "\n")
    therapist = register(server, t_profile, "--therapist", "--invite-file", str(invite_file))
    assert therapist["role"] == "therapist" and len(therapist["account"]) == 22
    t_secret = therapist["secret"]

    def as_therapist(*args: str, stdin: str | None = None) -> Any:
        return quietline(
            *args, server_url=server.url, profile=t_profile, secret=t_secret, stdin=stdin
        )

    published = as_therapist(
        "profile", "set", "--display-name", "Dr. Ana Ruiz", "--pronouns", "she/her",
        "--specialty", "trauma", "--specialty", "sex work", "--language", "en",
        "--response-time", "within a day", "--accepting",
    )  # fmt: skip
    assert published.code == 0, published.stderr
    assert "Profile published for Dr. Ana Ruiz." in published.stdout

    shown = as_therapist("profile", "show", "--json").json()["profile"]
    assert shown["display_name"] == "Dr. Ana Ruiz" and shown["accepting"] is True
    kept = as_therapist("profile", "set", "--away-message", "Back on Monday.", "--json")
    assert kept.json()["profile"] == {**shown, "away_message": "Back on Monday."}

    client = register(server, c_profile)
    c_secret = client["secret"]

    def as_client(*args: str, stdin: str | None = None) -> Any:
        return quietline(
            *args, server_url=server.url, profile=c_profile, secret=c_secret, stdin=stdin
        )

    directory = as_client("directory", "--json").json()["therapists"]
    mine = [t for t in directory if t["account"] == therapist["account"]]
    assert mine and mine[0]["profile"]["specialties"] == ["trauma", "sex work"]

    sent = as_client("send", "Dr. Ana Ruiz", "I found you in the directory. Can we talk?")
    assert sent.code == 0, sent.stderr
    assert "Sent to Dr. Ana Ruiz" in sent.stdout

    inbox = as_therapist("inbox", "--json")
    assert inbox.code == 0, inbox.stderr
    conversations = inbox.json()["conversations"]
    assert [(c["peer"], c["unread"]) for c in conversations] == [(client["account"], 1)]

    read = as_therapist("read", "--json", "--", client["account"][:8])
    assert read.code == 0, read.stderr
    assert [m["body"] for m in read.json()["messages"]] == [
        "I found you in the directory. Can we talk?"
    ]
    assert as_therapist("inbox", "--json").json()["conversations"][0]["unread"] == 0

    reply = as_therapist("send", "--", client["account"], "-", stdin="Of course.\nI'm listening.\n")
    assert reply.code == 0, reply.stderr

    history = as_client("read", "Dr. Ana Ruiz", "--json").json()["messages"]
    assert [(m["dir"], m["body"], m["state"]) for m in history] == [
        ("out", "I found you in the directory. Can we talk?", "read"),
        ("in", "Of course.\nI'm listening.", "read"),
    ]
    plain = as_client("read", "Dr. Ana Ruiz")
    assert "you: I found you in the directory. Can we talk? (read)" in plain.stdout
    assert "Dr. Ana Ruiz: Of course." in plain.stdout

    # `watch` prints a message that arrives while it runs, then stops (--count).
    watcher = subprocess.Popen(
        cli_command("watch", "--json", "--count", "1"),
        cwd=REPO_ROOT,
        env=cli_env(server.url, t_profile, t_secret),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # --json prints nothing until an event; wait for the websocket to be
        # authenticated by polling for the therapist's connection instead.
        deadline = time.monotonic() + WAIT
        while not _connected(watcher):
            assert time.monotonic() < deadline, "watch never connected"
            time.sleep(0.1)
        live = as_client("send", "--", therapist["account"], "Are you there right now?")
        assert live.code == 0, live.stderr
        out, err = watcher.communicate(timeout=WAIT)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    # Receipts for the earlier reply may come first; one message ends the watch.
    assert [e["body"] for e in events if e["event"] == "message"] == ["Are you there right now?"]
    assert {e["event"] for e in events} <= {"message", "receipt"}

    t_number = as_therapist("safety-number", "--json", "--", client["account"]).json()
    c_number = as_client("safety-number", "Dr. Ana Ruiz", "--verify", "--json").json()
    assert t_number["safety_number"] == c_number["safety_number"]
    assert len(t_number["safety_number"]) == 60
    assert c_number["verified"] is True and t_number["verified"] is False

    # The profile directories hold no plaintext and no passphrase.
    for profile, secret in ((t_profile, t_secret), (c_profile, c_secret)):
        stored = "".join(p.read_text() for p in profile.iterdir() if p.is_file())
        assert secret.replace("-", "")[8:] not in stored.replace("-", "")
        for text in ("Can we talk", "listening", "right now"):
            assert text not in stored


def _connected(watcher: subprocess.Popen[str]) -> bool:
    """True once `watch` has logged in and opened its websocket (it says so on stderr)."""
    assert watcher.stderr is not None
    ready, _, _ = select.select([watcher.stderr], [], [], 0)
    if not ready:
        return False
    line = watcher.stderr.readline()
    return "watching" in line.lower()


def test_notes_blocks_and_role_errors(server: Any, tmp_path: Path) -> None:
    invite_file = tmp_path / "invite.txt"
    invite_file.write_text(make_invite(server.data_dir))
    t_profile, c_profile = tmp_path / "t", tmp_path / "c"
    therapist = register(server, t_profile, "--therapist", "--invite-file", str(invite_file))
    client = register(server, c_profile)

    def run(profile: Path, secret: str, *args: str, stdin: str | None = None) -> Any:
        return quietline(*args, server_url=server.url, profile=profile, secret=secret, stdin=stdin)

    t = (t_profile, therapist["secret"])
    c = (c_profile, client["secret"])
    assert run(*c, "send", "--", therapist["account"], "hello").code == 0
    noted = run(*t, "note", "--", client["account"], "-", stdin="Calm; prefers evenings.")
    assert noted.code == 0, noted.stderr
    shown = run(*t, "note", "--json", "--", client["account"])
    assert shown.json() == {"peer": client["account"], "note": "Calm; prefers evenings."}

    denied = run(*c, "note", "--", therapist["account"], "x")
    assert denied.code == 1
    assert "Only a therapist account can do that." in denied.stderr
    assert "[not_therapist]" in denied.stderr

    assert run(*t, "block", "--", client["account"]).code == 0
    assert run(*t, "blocks", "--json").json() == {"blocked": [client["account"]]}
    refused = run(*c, "send", "--", therapist["account"], "still blocked?")
    assert refused.code == 1 and "[blocked]" in refused.stderr
    assert run(*t, "unblock", "--", client["account"]).code == 0
    assert run(*t, "blocks", "--json").json() == {"blocked": []}
    assert run(*c, "send", "--", therapist["account"], "thank you").code == 0
    read = run(*t, "read", "--json", "--", client["account"]).json()
    # Blocking deleted "hello", which was still waiting (docs/API.md, blocks).
    assert [m["body"] for m in read["messages"]] == ["thank you"]

    # Terminal control sequences in a message are shown, never obeyed.
    sneaky = "\x1b[2J\x1b]0;owned\x07fine\r\u202eevil"
    assert run(*c, "send", "--", therapist["account"], "-", stdin=sneaky).code == 0
    plain = run(*t, "read", "--", client["account"]).stdout
    assert "\ufffd[2J\ufffd]0;owned\ufffdfine\ufffd\ufffdevil" in plain
    assert not any(char in plain for char in "\x1b\x07\r\u202e")
    as_json = run(*t, "read", "--json", "--", client["account"]).json()
    assert as_json["messages"][-1]["body"] == sneaky


def test_errors_are_clear_and_secrets_never_come_from_arguments(
    server: Any, tmp_path: Path
) -> None:
    profile = tmp_path / "p"
    account = register(server, profile)

    no_secret = quietline("inbox", server_url=server.url, profile=profile)
    assert no_secret.code == 1
    assert "--secret-file" in no_secret.stderr and "QUIETLINE_SECRET" in no_secret.stderr

    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(account["secret"].lower() + "\n")
    from_file = quietline("login", "--secret-file", str(secret_file), "--json",
                          server_url=server.url, profile=profile)  # fmt: skip
    assert from_file.code == 0, from_file.stderr
    assert from_file.json()["account"] == account["account"]

    assert quietline("login", "--secret", "X", server_url=server.url, profile=profile).code == 2

    typo = quietline("login", server_url=server.url, profile=profile, secret="ABC")
    assert typo.code == 1 and "[invalid_secret]" in typo.stderr

    wrong = account["secret"][:-1] + ("0" if account["secret"][-1] != "0" else "1")
    denied = quietline("login", server_url=server.url, profile=tmp_path / "other", secret=wrong)
    assert denied.code == 1 and "[invalid_credentials]" in denied.stderr

    bad_url = quietline("directory", server_url="ftp://nowhere", profile=profile)
    assert bad_url.code == 1 and "http://" in bad_url.stderr

    unreachable = quietline("directory", server_url="http://127.0.0.1:9", profile=profile)
    assert unreachable.code == 1 and "[unreachable]" in unreachable.stderr

    saved = quietline("logout", server_url=server.url, profile=profile, secret=account["secret"])
    assert saved.code == 0, saved.stderr
    assert not (profile / "login.json").exists()
    again = quietline("inbox", "--json", server_url=server.url, profile=profile,
                      secret=account["secret"])  # fmt: skip
    assert again.code == 0, again.stderr
    assert again.json() == {"conversations": []}

    unknown = quietline("send", "nobody", "hi", server_url=server.url, profile=profile,
                        secret=account["secret"])  # fmt: skip
    assert unknown.code == 1 and "[unknown_peer]" in unknown.stderr

    assert quietline("frobnicate", server_url=server.url, profile=profile).code == 2

    dash_id = "-" + "A" * 21
    empty = quietline("send", "--", dash_id, "  ", server_url=server.url, profile=profile,
                      secret=account["secret"])  # fmt: skip
    assert empty.code == 1 and "write something first" in empty.stderr
    long = quietline("send", "--", dash_id, "-", stdin="x" * 16001, server_url=server.url,
                     profile=profile, secret=account["secret"])  # fmt: skip
    assert long.code == 1 and "the most is 16000" in long.stderr

    # An account id may start with "-": after "--" it is an id, not an option.
    confused = quietline("send", dash_id, "hi", server_url=server.url, profile=profile,
                         secret=account["secret"])  # fmt: skip
    assert confused.code == 2 and "goes after '--'" in confused.stderr
    nobody = quietline("send", "--", dash_id, "hi", server_url=server.url, profile=profile,
                       secret=account["secret"])  # fmt: skip
    assert nobody.code == 1 and "[not_found]" in nobody.stderr


def test_delete_account(server: Any, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    account = register(server, profile)
    secret = account["secret"]
    refused = quietline("delete-account", server_url=server.url, profile=profile, secret=secret)
    assert refused.code == 1 and "--yes" in refused.stderr
    deleted = quietline("delete-account", "--yes", "--json",
                        server_url=server.url, profile=profile, secret=secret)  # fmt: skip
    assert deleted.code == 0, deleted.stderr
    assert deleted.json() == {"deleted": account["account"]}
    assert not any(profile.iterdir())
    gone = quietline("login", server_url=server.url, profile=profile, secret=secret)
    assert gone.code == 1 and "[invalid_credentials]" in gone.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`python -m server` on a fixed port, so that a restarted server has the same address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "--data", str(data_dir), "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + WAIT
    while "Quietline is serving" not in log.read_text()[offset:]:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    return process


def _stderr_line(process: subprocess.Popen[str], wanted: str) -> None:
    """Read the process's stderr until a line contains `wanted`."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            seen.append(process.stderr.readline())
            if wanted in seen[-1]:
                return
        assert process.poll() is None, f"the command exited early: {seen}"
    raise AssertionError(f"never saw {wanted!r} on stderr: {seen}")


def test_watch_reconnects_after_the_server_is_killed(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    server = _start_server(data_dir, port, log)
    watcher = None
    try:
        invite_file = tmp_path / "invite.txt"
        invite_file.write_text(make_invite(data_dir))
        t_profile, c_profile = tmp_path / "t", tmp_path / "c"
        t_run = quietline("register", "--json", "--therapist", "--invite-file", str(invite_file),
                          server_url=url, profile=t_profile)  # fmt: skip
        therapist = t_run.json()
        client = quietline("register", "--json", server_url=url, profile=c_profile).json()
        watcher = subprocess.Popen(
            cli_command("watch", "--json", "--count", "1"),
            cwd=REPO_ROOT,
            env=cli_env(url, t_profile, therapist["secret"]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _stderr_line(watcher, "Watching for messages")
        server.kill()
        server.wait()
        _stderr_line(watcher, "Reconnecting")
        server = _start_server(data_dir, port, log)
        _stderr_line(watcher, "Connected again.")
        sent = quietline("send", "--", therapist["account"], "after the restart",
                         server_url=url, profile=c_profile, secret=client["secret"])  # fmt: skip
        assert sent.code == 0, sent.stderr
        out, err = watcher.communicate(timeout=WAIT)
        assert watcher.returncode == 0, err
        assert [json.loads(line)["body"] for line in out.splitlines()] == ["after the restart"]
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        server.kill()
        server.wait()


def test_an_unreadable_message_is_reported_and_the_rest_arrive(server: Any, tmp_path: Path) -> None:
    invite_file = tmp_path / "invite.txt"
    invite_file.write_text(make_invite(server.data_dir))
    t_profile = tmp_path / "t"
    therapist = register(server, t_profile, "--therapist", "--invite-file", str(invite_file))

    async def write_with_junk_between() -> None:
        client, _ = await Client.register(server.url, "client", kdf_cost=TEST_KDF_COST)
        try:
            await client.connect()
            await client.send(therapist["account"], "readable one")
            junk = MessageEnvelope(Header(os.urandom(32), 0, 3), os.urandom(256 + 16)).encode()
            await client.channel.send(b64u_encode(os.urandom(16)), therapist["account"], junk, [])
            await client.send(therapist["account"], "readable two")
        finally:
            await client.close()

    asyncio.run(write_with_junk_between())
    inbox = quietline("inbox", "--json", server_url=server.url, profile=t_profile,
                      secret=therapist["secret"])  # fmt: skip
    assert inbox.code == 0, inbox.stderr
    assert inbox.json()["conversations"][0]["messages"] == 2
    assert "was dropped" in inbox.stderr and "Authentication failed" in inbox.stderr
