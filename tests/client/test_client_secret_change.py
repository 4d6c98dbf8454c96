"""Changing the account secret from the Python client (docs/PROTOCOL.md section 9.1).

Real server, real accounts with history, a note and a verified safety number.
Through the API: the new secret opens everything, the old one no longer
signs in, the other devices are signed out and the changing device goes on
working. Through `quietline client change-secret`: the command is killed
with SIGKILL before and after every request of the change (crash_at_cli.py),
and after each kill exactly one of the two secrets opens the whole account;
`change-secret --resume` then finishes what was interrupted.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from client_harness import (
    COMMAND_TIMEOUT,
    REPO_ROOT,
    TEST_KDF_COST,
    cli_env,
    close_all,
    make_invite,
    quietline,
)

from client_py.client import Client
from client_py.errors import InvalidSecretError, ServerError
from crypto.vault import generate_secret

WAIT = 30.0
NOTE = "Prefers mornings; talk about the move."
CRASH_CLI = Path(__file__).resolve().with_name("crash_at_cli.py")


async def therapist_with_history(server: Any) -> tuple[str, Client, list[tuple[str, str]]]:
    """A therapist (test KDF cost) with a conversation, a note and a verified client.

    Returns the therapist's secret, the client, and the therapist's history.
    """
    therapist, secret = await Client.register(
        server.url, "therapist", invite=make_invite(server.data_dir), kdf_cost=TEST_KDF_COST
    )
    client, _ = await Client.register(server.url, "client", kdf_cost=TEST_KDF_COST)
    try:
        await therapist.connect()
        await client.connect()
        for text in ("First, the hardest part.", "Then the rest.", "Thank you for reading."):
            await client.send(therapist.account, text)
            got = await therapist.receive(WAIT)
            assert got.message is not None and got.message.body == text
        await therapist.send(client.account, "I am here; take your time.")
        await therapist.set_note(client.account, NOTE)
        await therapist.set_verified(client.account, True)
        history = [(m.dir, m.body) for m in therapist.history(client.account)]
        assert len(history) == 4
    finally:
        await therapist.close()
    return secret, client, history


async def opens_completely(
    server: Any, secret: str, peer: str, history: list[tuple[str, str]]
) -> bool:
    """False if the secret no longer signs in; else the whole account must open."""
    try:
        device = await Client.login(server.url, secret, kdf_cost=TEST_KDF_COST)
    except ServerError as exc:
        assert exc.code == "invalid_credentials", exc
        return False
    try:
        assert [(m.dir, m.body) for m in device.history(peer)] == history
        assert len(device.vault.list("message")) == len(history)
        assert device.note(peer) == NOTE
        assert device.is_verified(peer)
        assert device.vault.find("identity").value["handle"] == device.handle
    finally:
        await device.close()
    return True


async def test_the_new_secret_opens_everything_and_the_old_one_nothing(server: Any) -> None:
    secret, client, history = await therapist_with_history(server)
    therapist = await Client.login(server.url, secret, kdf_cost=TEST_KDF_COST)
    laptop = await Client.login(server.url, secret, kdf_cost=TEST_KDF_COST)
    try:
        await laptop.connect()
        number = await client.safety_number(therapist.account)
        new = generate_secret().formatted()
        with pytest.raises(InvalidSecretError):
            await therapist.change_secret(
                generate_secret().formatted(), new, kdf_cost=TEST_KDF_COST
            )
        assert not await therapist.secret_change_pending()

        # The login of therapist_with_history and the laptop are the others.
        assert await therapist.change_secret(secret, new, kdf_cost=TEST_KDF_COST) == 2
        with pytest.raises(ServerError) as closed:
            await laptop.next_envelope(WAIT)
        assert closed.value.code == "signed_out"
        with pytest.raises(ServerError) as refused:
            await laptop.sessions()
        assert refused.value.code == "signed_out"
        assert not await opens_completely(server, secret, client.account, history)
        assert await opens_completely(server, new, client.account, history)

        # The device that changed it goes on, live, under the new keys.
        await therapist.connect()
        await client.send(therapist.account, "Did it work?")
        got = await therapist.receive(WAIT)
        assert got.message is not None and got.message.body == "Did it work?"
        assert await client.safety_number(therapist.account) == number
        assert await opens_completely(
            server, new, client.account, [*history, ("in", "Did it work?")]
        )
    finally:
        await close_all(therapist, laptop, client)


def change_and_crash(server_url: str, profile: Path, secret: str, crash_at: str) -> tuple[int, str]:
    """Run `change-secret` killed at `crash_at`; its exit code and the new secret it showed."""
    env = cli_env(server_url, profile, secret)
    env["CRASH_AT"] = crash_at
    process = subprocess.Popen(
        [sys.executable, str(CRASH_CLI), "change-secret", "--json"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    shown = json.loads(process.stdout.readline())
    group = shown["new_secret"].split("-")[shown["confirm_group"] - 1]
    process.stdin.write(group + "\n")
    process.stdin.close()
    try:
        code = process.wait(COMMAND_TIMEOUT)
    finally:
        process.stdout.close()
        assert process.stderr is not None
        process.stderr.close()
    return code, shown["new_secret"]


async def test_a_kill_at_any_step_leaves_one_secret_that_opens_everything(
    server_factory: Any, tmp_path: Path
) -> None:
    # Four items per staging request, so that staging takes several requests.
    server = server_factory(max_vault_writes=4)
    current, client, history = await therapist_with_history(server)
    profile = tmp_path / "terminal"
    new_secret_file = tmp_path / "new-secret"
    try:
        for when in ("before", "after"):
            step = 1
            while True:
                code, new = change_and_crash(server.url, profile, current, f"{when} {step}")
                old_opens = await opens_completely(server, current, client.account, history)
                new_opens = await opens_completely(server, new, client.account, history)
                assert old_opens != new_opens, (when, step)
                if code == 0:
                    # Past the last request: the change simply finished.
                    assert new_opens
                    current = new
                    break
                assert code == -9, (when, step, code)
                if old_opens:
                    # Interrupted before the switch: finish it with the new secret.
                    new_secret_file.write_text(new + "\n")
                    resumed = quietline(
                        "change-secret",
                        "--resume",
                        "--json",
                        "--new-secret-file",
                        str(new_secret_file),
                        server_url=server.url,
                        profile=profile,
                        secret=current,
                        cheap_kdf=True,
                    )
                    if (when, step) == ("before", 1):
                        # Killed before the change reached the server: nothing waits.
                        assert resumed.code == 1 and "No change" in resumed.stderr
                        continue_with = current
                    else:
                        assert resumed.code == 0, resumed.stderr
                        assert resumed.json()["changed"] is True
                        continue_with = new
                else:
                    continue_with = new
                assert await opens_completely(server, continue_with, client.account, history)
                if continue_with != current:
                    assert not await opens_completely(server, current, client.account, history)
                current = continue_with
                # The command-line profile follows whichever secret is the account's.
                login = quietline(
                    "login", server_url=server.url, profile=profile, secret=current, cheap_kdf=True
                )
                assert login.code == 0, login.stderr
                step += 1
            assert step > 5, "the change took fewer requests than expected"
    finally:
        new_secret_file.unlink(missing_ok=True)
        await client.close()


def test_a_wrong_confirmation_or_a_cancel_changes_nothing(server: Any, tmp_path: Path) -> None:
    profile = tmp_path / "terminal"
    registered = quietline(
        "register", "--json", server_url=server.url, profile=profile, cheap_kdf=True
    )
    secret = registered.json()["secret"]
    refused = quietline(
        "change-secret",
        server_url=server.url,
        profile=profile,
        secret=secret,
        stdin="WRONG\n",
        cheap_kdf=True,
    )
    assert refused.code == 1 and "nothing was changed" in refused.stderr
    assert "shown only this once" in refused.stdout
    nothing = quietline(
        "change-secret",
        "--resume",
        server_url=server.url,
        profile=profile,
        secret=secret,
        cheap_kdf=True,
    )
    assert nothing.code == 1 and "No change of the secret is waiting" in nothing.stderr
    cancelled = quietline(
        "change-secret",
        "--cancel",
        "--json",
        server_url=server.url,
        profile=profile,
        secret=secret,
        cheap_kdf=True,
    )
    assert cancelled.code == 0 and cancelled.json() == {"cancelled": True}
    still = quietline(
        "login", server_url=server.url, profile=profile, secret=secret, cheap_kdf=True
    )
    assert still.code == 0, still.stderr
