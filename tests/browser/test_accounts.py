"""Accounts and their upkeep: invite-only intake, blocking, prekeys topped up, signing out."""

import sqlite3
import subprocess
import sys
import time

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    REPO_ROOT,
    SLOW,
    confirm_secret,
    go,
    invite_therapist,
    join_as_therapist,
    open_therapist,
    read_secret,
    send,
    sign_in,
    start_anonymously,
    wait_for_state,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

THERAPIST = {
    "display_name": "Noor Haddad",
    "specialties": ["Anxiety"],
    "languages": ["English", "العربية"],
    "response_time": "within a day",
}


def admin(data_dir, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "server", "admin", "--data", str(data_dir), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[0]


def test_invite_only_intake_asks_for_a_code_and_nothing_else(practice, open_tab):
    admin(practice.data_dir, "intake", "invite-only")
    code = admin(practice.data_dir, "invite-client")
    tab = open_tab(PHONE)
    page = tab.page
    page.click("#start-anonymously")
    page.wait_for_selector("#invite-code")
    # One character mistyped: refused before any secret is made, the text kept to correct.
    mistyped = code[:-1] + ("X" if code[-1] != "X" else "Y")
    page.fill("#invite-code", mistyped)
    page.click("#main form button[type='submit']")
    expect(page.locator("#invite-error")).to_contain_text("not valid", timeout=SLOW)
    assert page.locator("#secret-value").count() == 0
    expect(page.locator("#invite-code")).to_have_value(mistyped)
    expect(page.locator("#invite-code")).to_have_attribute("aria-invalid", "true")
    page.fill("#invite-code", code)
    page.click("#main form button[type='submit']")
    page.wait_for_selector("#secret-value")
    secret = read_secret(page)
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='directory']", timeout=SLOW)
    # Signing out erases the page; the secret alone brings the account back.
    go(page, "settings")
    page.click("#sign-out")
    page.wait_for_selector("#main[data-screen='welcome']")
    sign_in(page, secret)
    assert tab.errors == []


def test_a_mistyped_therapist_invite_is_refused_before_the_secret(practice, open_tab):
    code = invite_therapist(practice.data_dir)
    tab = open_tab(DESKTOP)
    page = tab.page
    page.click("#join-therapist")
    page.fill("#invite-code", code.replace("-", "")[:-2])
    page.click("#main form button[type='submit']")
    expect(page.locator("#invite-error")).to_contain_text("not valid", timeout=SLOW)
    assert page.locator("#secret-value").count() == 0
    # Corrected, the same code still works: checking did not use it up.
    page.fill("#invite-code", code.lower())
    page.click("#main form button[type='submit']")
    page.wait_for_selector("#secret-value")
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='profile']", timeout=SLOW)
    assert tab.errors == []


def test_therapist_blocks_and_unblocks_a_client(practice, open_tab):
    therapist = open_tab(DESKTOP)
    join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)
    client = open_tab(PHONE)
    start_anonymously(client.page)
    open_therapist(client.page, "Noor Haddad")
    send(client.page, "First message.")
    wait_for_state(client.page, 0, "sent", "delivered", "read")

    tpage = therapist.page
    tpage.click(".thread-row", timeout=SLOW)
    tpage.wait_for_selector(".msg--in")
    tpage.click("#block")
    tpage.click("#confirm-block")
    expect(tpage.locator("#block")).to_have_text("Unblock client", timeout=SLOW)

    send(client.page, "Second message.")
    failed = client.page.locator(".msg--out[data-state='failed']")
    expect(failed).to_contain_text("closed by the therapist", timeout=SLOW)
    # The text is not lost: it can go back into the message box.
    failed.get_by_role("button", name="Move back to the message box").click()
    expect(client.page.locator("#composer")).to_have_value("Second message.")

    tpage.click("#block")
    expect(tpage.locator("#block")).to_have_text("Block client", timeout=SLOW)
    client.page.click("#send")
    wait_for_state(client.page, 1, "sent", "delivered", "read")
    expect(tpage.locator(".msg--in")).to_have_count(2, timeout=SLOW)
    expect(tpage.locator(".msg--in .msg__body").nth(1)).to_have_text("Second message.")
    assert client.errors == therapist.errors == []


def test_prekeys_running_low_are_topped_up(practice, open_tab):
    therapist = open_tab(DESKTOP)
    secret = join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)
    go(therapist.page, "lock")
    # As if most one-time prekeys had been handed out to clients meanwhile.
    with sqlite3.connect(practice.database) as db:
        db.execute(
            "DELETE FROM one_time_prekeys"
            " WHERE rowid NOT IN (SELECT rowid FROM one_time_prekeys LIMIT 3)"
        )
    sign_in(therapist.page, secret, field_id="unlock-secret")
    deadline = time.monotonic() + SLOW / 1000
    count = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(practice.database) as db:
            count = db.execute("SELECT COUNT(*) FROM one_time_prekeys").fetchone()[0]
        if count > 3:
            break
        time.sleep(0.2)
    assert count == 3 + 50
    # The new keys work: a new client's first message opens on the therapist's side.
    client = open_tab(PHONE)
    start_anonymously(client.page)
    open_therapist(client.page, "Noor Haddad")
    send(client.page, "Hello after the top-up.")
    therapist.page.click(".thread-row", timeout=SLOW)
    expect(therapist.page.locator(".msg--in .msg__body")).to_have_text(
        "Hello after the top-up.", timeout=SLOW
    )
    # One batch only, of which the new client's first message used one key
    # (the client's own 50 are the other account's row).
    with sqlite3.connect(practice.database) as db:
        per_account = db.execute(
            "SELECT COUNT(*) FROM one_time_prekeys GROUP BY account"
        ).fetchall()
    assert sorted(count for (count,) in per_account) == [50, 3 + 50 - 1]
