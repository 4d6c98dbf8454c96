"""A secret changed by one implementation opens the account in the other.

A client in Chromium writes to a therapist; the client changes the secret in
the browser, then signs in with it from `quietline client` (the Python client
reads every item the browser re-encrypted, the identity item with its new
handle included), changes it again from the command line, and signs in with
that one in a fresh browser profile. Each old secret is refused. The server,
the command and the browser are all real.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from browser_flows import (
    SLOW,
    confirm_secret,
    go,
    open_app,
    open_therapist,
    read_secret,
    send,
    sign_in,
    start_anonymously,
    wait_for_count,
    wait_for_state,
)
from client_harness import COMMAND_TIMEOUT, REPO_ROOT, cli_command, cli_env, make_invite, quietline
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FIRST = "Written before any change."
REPLY = "Answered from the terminal."


def change_from_terminal(server_url: str, profile: Path, secret: str) -> str:
    """`quietline client change-secret`, answering its check; returns the new secret."""
    process = subprocess.Popen(
        cli_command("change-secret", "--json"),
        cwd=REPO_ROOT,
        env=cli_env(server_url, profile, secret),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    shown = json.loads(process.stdout.readline())
    new_secret = shown["new_secret"]
    group = new_secret.split("-")[shown["confirm_group"] - 1]
    out, err = process.communicate(group + "\n", timeout=COMMAND_TIMEOUT)
    assert process.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["changed"] is True
    return new_secret


def test_a_secret_changed_in_either_client_opens_the_account_in_the_other(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    invite = tmp_path / "invite.txt"
    invite.write_text(make_invite(server.data_dir) + "\n")
    therapist_profile = tmp_path / "therapist"
    registered = quietline(
        "register", "--therapist", "--invite-file", str(invite), "--json",
        server_url=server.url, profile=therapist_profile,
    )  # fmt: skip
    assert registered.code == 0, registered.stderr
    therapist_secret = registered.json()["secret"]
    published = quietline(
        "profile", "set", "--display-name", "Lee Moreau", "--specialty", "Trauma",
        "--language", "English", "--response-time", "within a day", "--accepting",
        server_url=server.url, profile=therapist_profile, secret=therapist_secret,
    )  # fmt: skip
    assert published.code == 0, published.stderr

    tab = open_app(browser, server.url)
    page = tab.page
    old_secret = start_anonymously(page)
    open_therapist(page, "Lee Moreau")
    send(page, FIRST)
    wait_for_state(page, 0, "sent", "delivered", "read")
    inbox = quietline(
        "inbox", "--json", server_url=server.url, profile=therapist_profile, secret=therapist_secret
    )
    peer = inbox.json()["conversations"][0]["peer"]
    replied = quietline(
        "send", "--", peer, REPLY,
        server_url=server.url, profile=therapist_profile, secret=therapist_secret,
    )  # fmt: skip
    assert replied.code == 0, replied.stderr
    wait_for_count(page, ".msg--in .msg__body", 1)

    # Changed in the browser...
    go(page, "settings")
    page.click("#change-secret")
    page.fill("#current-secret", old_secret)
    page.click("#change-secret-continue")
    page.wait_for_selector("#secret-value")
    browser_secret = read_secret(page)
    confirm_secret(page)
    expect(page.locator("#settings-notice")).to_contain_text("changed", timeout=SLOW)
    tab.context.close()

    # ...opens in the terminal, which changes it again.
    client_profile = tmp_path / "client"
    refused = quietline("login", server_url=server.url, profile=client_profile, secret=old_secret)
    assert refused.code == 1 and "invalid_credentials" in refused.stderr
    read = quietline(
        "read", "--json", "Lee Moreau",
        server_url=server.url, profile=client_profile, secret=browser_secret,
    )  # fmt: skip
    assert read.code == 0, read.stderr
    assert [(m["dir"], m["body"]) for m in read.json()["messages"]] == [
        ("out", FIRST),
        ("in", REPLY),
    ]
    terminal_secret = change_from_terminal(server.url, client_profile, browser_secret)

    # ...and that one opens in a fresh browser profile.
    fresh = open_app(browser, server.url)
    fresh.page.fill("#signin-secret", browser_secret)
    fresh.page.press("#signin-secret", "Enter")
    expect(fresh.page.locator("#signin-secret-error")).to_contain_text(
        "not recognised", timeout=SLOW
    )
    sign_in(fresh.page, terminal_secret)
    fresh.page.wait_for_selector("#main[data-screen='messages']", timeout=SLOW)
    fresh.page.click(".thread-row", timeout=SLOW)
    wait_for_count(fresh.page, ".msg__body", 2)
    expect(fresh.page.locator(".msg--out .msg__body")).to_have_text(FIRST)
    expect(fresh.page.locator(".msg--in .msg__body")).to_have_text(REPLY)
    assert tab.errors == fresh.errors == []
    fresh.context.close()
