"""Where an account is signed in, and signing the other devices out, in Chromium.

A client signed in on a phone and a laptop sees both sessions in Settings
(kind, day, which one is this device); signing out the other devices from the
laptop locks the phone at once with a clear reason, its keys erased, and the
account secret opens it again as a new session. A therapist's profile
published on one computer shows on the other at once, without a reload. A
device signed out while offline says so when it comes back, and says that
the message it was holding was not sent.
"""

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    Network,
    bodies,
    go,
    invite_therapist,
    join_as_therapist,
    open_therapist,
    send,
    sign_in,
    start_anonymously,
    wait_for_count,
    wait_for_state,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_out_other_devices_locks_them_with_the_reason(open_tab):
    phone = open_tab(PHONE)
    secret = start_anonymously(phone.page)
    laptop = open_tab(DESKTOP)
    sign_in(laptop.page, secret)

    go(laptop.page, "settings")
    sessions = laptop.page.locator("#session-list li")
    expect(sessions).to_have_count(2, timeout=SLOW)
    expect(sessions.filter(has_text="this device")).to_have_count(1)
    expect(sessions.filter(has_text="Browser")).to_have_count(2)
    expect(sessions.filter(has_text="active today")).to_have_count(2)

    laptop.page.click("#sign-out-others")
    expect(laptop.page.locator("#main")).to_contain_text("Signed out 1 other device", timeout=SLOW)
    expect(sessions).to_have_count(1)
    expect(sessions).to_contain_text("this device")

    # The phone locks at once, erases its keys, and says why.
    phone.page.wait_for_selector("#main[data-screen='lock']", timeout=SLOW)
    expect(phone.page.locator("#main")).to_contain_text("signed this one out")
    expect(phone.page.locator("#nav")).to_be_hidden()
    # The secret opens it again, as a new session the laptop can see.
    sign_in(phone.page, secret, field_id="unlock-secret")
    go(laptop.page, "messages")
    go(laptop.page, "settings")
    expect(sessions).to_have_count(2, timeout=SLOW)
    assert phone.errors == laptop.errors == []


def test_a_profile_edit_shows_live_on_the_therapists_other_device(open_tab, practice):
    office = open_tab(DESKTOP)
    secret = join_as_therapist(
        office.page,
        invite_therapist(practice.data_dir),
        {"display_name": "Sam Okafor", "away_message": "", "response_time": "within a day"},
    )
    laptop = open_tab(DESKTOP)
    sign_in(laptop.page, secret)
    laptop.page.wait_for_selector("#main[data-screen='inbox']", timeout=SLOW)
    summary = laptop.page.locator("#main section.card", has_text="What clients see")
    expect(summary).to_contain_text("within a day", timeout=SLOW)

    # The office computer publishes a change; the laptop shows it, no reload.
    go(office.page, "profile")
    office.page.fill("#profile-away-message", "Away until Monday.")
    office.page.fill("#profile-response-time", "within two days")
    office.page.click("#save-profile")
    expect(office.page.locator("#main")).to_contain_text("Your profile is published", timeout=SLOW)
    expect(summary).to_contain_text("Away until Monday.", timeout=SLOW)
    expect(summary).to_contain_text("within two days")

    # An untouched profile form on the laptop follows the next change too.
    go(laptop.page, "profile")
    expect(laptop.page.locator("#profile-away-message")).to_have_value("Away until Monday.")
    go(office.page, "profile")
    office.page.fill("#profile-away-message", "Back on Tuesday.")
    office.page.click("#save-profile")
    expect(laptop.page.locator("#profile-away-message")).to_have_value(
        "Back on Tuesday.", timeout=SLOW
    )
    # A form being edited is left alone.
    laptop.page.fill("#profile-pronouns", "they/them")
    office.page.fill("#profile-away-message", "Out this week.")
    office.page.click("#save-profile")
    expect(office.page.locator("#main")).to_contain_text("Your profile is published", timeout=SLOW)
    go(office.page, "inbox")
    expect(office.page.locator("#main")).to_contain_text("Out this week.", timeout=SLOW)
    expect(laptop.page.locator("#profile-away-message")).to_have_value("Back on Tuesday.")
    expect(laptop.page.locator("#profile-pronouns")).to_have_value("they/them")
    assert office.errors == laptop.errors == []


def test_a_device_signed_out_while_offline_says_so_and_what_became_of_its_message(
    browser, open_tab, practice
):
    therapist = open_tab(DESKTOP)
    join_as_therapist(
        therapist.page, invite_therapist(practice.data_dir), {"display_name": "Ali Verma"}
    )
    network = Network()
    context = browser.new_context(viewport=PHONE)
    phone = context.new_page()
    phone.route_web_socket("**/ws", network.handle)
    phone.goto(practice.url)
    secret = start_anonymously(phone)
    open_therapist(phone, "Ali Verma")
    send(phone, "Sent while connected.")
    wait_for_state(phone, 0, "sent", "delivered", "read")

    # The phone loses its connection; what it writes waits and says why.
    network.cut()
    expect(phone.locator("#status-bar")).to_contain_text("Connection lost", timeout=SLOW)
    send(phone, "Written on the train.")
    waiting = phone.locator(".msg--out").nth(1)
    expect(waiting).to_have_attribute("data-state", "sending")
    expect(waiting.locator(".msg__notice")).to_contain_text("this device is offline")

    # Meanwhile a laptop signs the other devices out.
    laptop = open_tab(DESKTOP)
    sign_in(laptop.page, secret)
    go(laptop.page, "settings")
    laptop.page.click("#sign-out-others")
    expect(laptop.page.locator("#main")).to_contain_text("Signed out 1 other device", timeout=SLOW)

    # Back online, the phone is refused: it locks, says why, and says the
    # waiting message was not sent and must be written again.
    network.up = True
    phone.click("#status-bar button")
    phone.wait_for_selector("#main[data-screen='lock']", timeout=SLOW)
    expect(phone.locator("#main")).to_contain_text("signed this one out")
    expect(phone.locator("#main")).to_contain_text("had not been sent yet was erased")
    # Nothing of it reached the therapist.
    therapist.page.wait_for_selector(".thread-row", timeout=SLOW)
    therapist.page.click(".thread-row")
    wait_for_count(therapist.page, ".msg--in", 1)
    assert bodies(therapist.page, "in") == ["Sent while connected."]
    context.close()
