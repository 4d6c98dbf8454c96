"""Where an account is signed in, and signing the other devices out, in Chromium.

A client signed in on a phone and a laptop sees both sessions in Settings
(kind, day, which one is this device); signing out the other devices from the
laptop locks the phone at once with a clear reason, its keys erased, and the
account secret opens it again as a new session.
"""

import pytest
from browser_flows import DESKTOP, PHONE, SLOW, go, sign_in, start_anonymously
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
