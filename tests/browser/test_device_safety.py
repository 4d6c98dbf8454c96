"""Safety on a shared device: quick exit, auto-lock, deletion, and no plaintext fallback."""

import sqlite3

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
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
    "display_name": "Alex Morgan",
    "specialties": ["Anxiety"],
    "languages": ["English"],
    "response_time": "within a day",
}


def assert_left_for_good(page, practice, neutral_site):
    page.wait_for_url(neutral_site)
    page.go_back()
    assert not page.url.startswith(practice.url)
    assert page.locator("#main").count() == 0


def test_shift_three_times_leaves_at_once(practice, open_tab, neutral_site):
    tab = open_tab(PHONE)
    page = tab.page
    # Two presses, then another key: the count starts again, nothing happens.
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    page.keyboard.press("a")
    page.keyboard.press("Shift")
    assert page.url.startswith(practice.url)
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    assert_left_for_good(page, practice, neutral_site)
    assert tab.errors == []


def test_exit_button_on_information_pages_and_in_every_tab(browser, practice, neutral_site):
    context = browser.new_context(viewport=DESKTOP)
    help_page = context.new_page()
    help_page.goto(practice.url + "/help.html")
    expect(help_page.locator("h1")).to_have_text("Leaving quickly")
    support = context.new_page()
    support.goto(practice.url + "/support.html")
    # The practice's own crisis text, shown as text with its line breaks.
    expect(support.locator("#practice-support-text")).to_have_text(
        "Call the practice's night line: 0800 000 000.\nText HELP to 85258."
    )
    app = context.new_page()
    app.goto(practice.url)
    app.wait_for_selector("#main[data-screen='welcome']")
    assert help_page.title() == support.title() == app.title() == "Notes"
    # One exit, and every open tab of the site leaves with it.
    help_page.click("[data-quick-exit]")
    for page in (help_page, support, app):
        assert_left_for_good(page, practice, neutral_site)
    context.close()


def test_idle_page_locks_and_needs_the_secret(browser, practice):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.clock.install()
    page.goto(practice.url)
    page.wait_for_selector("#main[data-screen='welcome']")
    secret = start_anonymously(page)
    # The practice's default (5 minutes) applies until the person changes it.
    page.clock.fast_forward("04:00")
    expect(page.locator("#main")).to_have_attribute("data-screen", "directory")
    page.clock.fast_forward("01:30")
    page.wait_for_selector("#main[data-screen='lock']", timeout=SLOW)
    expect(page.locator("#nav")).to_be_hidden()
    page.fill("#unlock-secret", "my secret")
    page.press("#unlock-secret", "Enter")
    expect(page.locator("#main [role='alert']")).to_contain_text(
        "doesn't look like an account secret"
    )
    page.fill("#unlock-secret", "ABCD-EFGH-JKMN-PQRS-TVWX-YZ12")
    page.press("#unlock-secret", "Enter")
    expect(page.locator("#main [role='alert']")).to_contain_text("not recognised", timeout=SLOW)
    sign_in(page, secret, field_id="unlock-secret")
    # A shorter time chosen in settings is kept in the vault and applies at once.
    go(page, "settings")
    page.select_option("#idle-minutes", "1")
    expect(page.locator(".settings [role='status']").first).to_contain_text("Saved", timeout=SLOW)
    page.clock.fast_forward("01:10")
    page.wait_for_selector("#main[data-screen='lock']", timeout=SLOW)
    sign_in(page, secret, field_id="unlock-secret")
    go(page, "settings")
    expect(page.locator("#idle-minutes")).to_have_value("1")
    context.close()


def test_deleting_the_account_removes_it_for_good(open_tab):
    tab = open_tab(DESKTOP)
    page = tab.page
    secret = start_anonymously(page)
    go(page, "settings")
    expect(page.locator("#delete-account")).to_be_disabled()
    page.check("#delete-understood")
    page.click("#delete-account")
    page.wait_for_selector("#main[data-screen='deleted']", timeout=SLOW)
    page.click("#main button")
    page.wait_for_selector("#main[data-screen='welcome']")
    page.fill("#signin-secret", secret)
    page.press("#signin-secret", "Enter")
    expect(page.locator("#signin-secret-error")).to_contain_text("not recognised", timeout=SLOW)
    assert tab.errors == []


def test_no_encryption_library_means_nothing_can_be_sent(browser, practice):
    context = browser.new_context(viewport=PHONE)
    context.route("**/vendor/libsodium-wrappers.js", lambda route: route.abort())
    page = context.new_page()
    page.goto(practice.url)
    expect(page.locator("#boot-failed")).to_be_visible(timeout=SLOW)
    expect(page.locator("#boot-failed")).to_contain_text("Nothing was sent")
    assert page.locator("#start-anonymously").count() == 0
    # The exit still works without the library.
    expect(page.locator("#quick-exit")).to_be_enabled()
    context.close()


def test_keys_that_do_not_verify_stop_the_message(practice, open_tab):
    therapist = open_tab(DESKTOP)
    join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)
    client = open_tab(PHONE)
    start_anonymously(client.page)

    def forged_bundle(route):
        # A server that swaps in its own signed prekey: the signature no longer matches.
        response = route.fetch()
        bundle = response.json()
        key = bundle["signed_prekey"]["key"]
        bundle["signed_prekey"]["key"] = ("A" if key[0] != "A" else "B") + key[1:]
        route.fulfill(response=response, json=bundle)

    client.page.route("**/api/bundle/*", forged_bundle)
    open_therapist(client.page, "Alex Morgan")
    # What cannot be sent as written is refused before anything is encrypted.
    send(client.page, "   \n ")
    expect(client.page.locator("#composer-error")).to_have_text("Write something first.")
    send(client.page, "x" * 16001)
    expect(client.page.locator("#composer-error")).to_contain_text("16001 characters")
    expect(client.page.locator("#composer")).to_have_value("x" * 16001)
    send(client.page, "This must never leave unencrypted.")
    failed = client.page.locator(".msg--out[data-state='failed']")
    expect(failed).to_contain_text("could not be verified", timeout=SLOW)
    expect(failed.locator(".msg__body")).to_have_text("This must never leave unencrypted.")
    with sqlite3.connect(practice.database) as db:
        assert db.execute("SELECT COUNT(*) FROM envelopes").fetchone()[0] == 0
    # Once the real keys come back, the same message goes out encrypted.
    client.page.unroute("**/api/bundle/*")
    failed.get_by_role("button", name="Try again").click()
    # The therapist's page is open, so it may be delivered before it is seen as sent.
    wait_for_state(client.page, 0, "sent", "delivered", "read")


def test_secret_fields_are_password_fields_a_password_manager_can_fill(open_tab):
    tab = open_tab(PHONE)
    page = tab.page
    signin = page.locator("#signin-secret")
    expect(signin).to_have_attribute("type", "password")
    expect(signin).to_have_attribute("autocomplete", "current-password")
    username = page.locator(".welcome__signin input[autocomplete='username']")
    expect(username).to_have_count(1)
    expect(username).to_be_hidden()
    page.click("#start-anonymously")
    page.wait_for_selector("#secret-value")
    secret = read_secret(page)
    # The new account's entry: the handle as its name, the whole secret as its password.
    new_password = page.locator("form input[autocomplete='new-password']")
    expect(new_password).to_have_attribute("type", "password")
    expect(new_password).to_have_value(secret)
    name = page.locator("form input[autocomplete='username']")
    expect(name).to_have_value("-".join(secret.split("-")[:2]))
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='directory']", timeout=SLOW)
    go(page, "lock")
    unlock = page.locator("#unlock-secret")
    expect(unlock).to_have_attribute("type", "password")
    expect(unlock).to_have_attribute("autocomplete", "current-password")
    sign_in(page, secret, "unlock-secret")
    assert tab.errors == []
