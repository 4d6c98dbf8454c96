"""Changing the account secret in Chromium (docs/PROTOCOL.md section 9.1, WEB_CLIENT.md).

A therapist with a conversation, a private note and a verified safety number
is signed in on two browser profiles. One changes the secret from Settings:
it asks for the current secret, shows a new one once with the sign-up's
typed-back check, and switches. The other profile locks at once, signed out;
the old secret no longer signs in; the new one opens the whole account in a
fresh profile. A change interrupted after it started (the state a closed tab
leaves) is finished from Settings with both secrets.
"""

import json
import urllib.request

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    bodies,
    confirm_secret,
    go,
    invite_therapist,
    join_as_therapist,
    open_therapist,
    open_thread,
    read_secret,
    send,
    sign_in,
    start_anonymously,
    wait_for_state,
)
from playwright.sync_api import expect
from test_accessibility import NARROW, audit

from crypto.encoding import b64u_encode
from crypto.vault import derive_keys, generate_secret, normalise_secret

pytestmark = pytest.mark.browser

THERAPIST = {
    "display_name": "Sam Okafor",
    "specialties": ["Trauma"],
    "languages": ["English"],
    "response_time": "within a day",
}
FIRST = "Someone read my phone. Can we still talk here?"
REPLY = "Yes. Change your secret in Settings; I will be here."
NOTE = "Phone was read by a partner; check safety plan."


def post(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(sent, timeout=30) as answer:
        return json.loads(answer.read())


def therapist_with_history(practice, open_tab):
    """A therapist and a client with a thread, a saved note and a verified safety number."""
    therapist = open_tab(DESKTOP)
    tpage = therapist.page
    secret = join_as_therapist(tpage, invite_therapist(practice.data_dir), THERAPIST)
    client = open_tab(PHONE)
    start_anonymously(client.page)
    open_therapist(client.page, "Sam Okafor")
    send(client.page, FIRST)
    wait_for_state(client.page, 0, "sent", "delivered", "read")
    tpage.click(".thread-row", timeout=SLOW)
    tpage.wait_for_selector(".msg--in")
    send(tpage, REPLY)
    wait_for_state(tpage, 0, "sent", "delivered", "read")
    tpage.fill("#notes", NOTE)
    tpage.click("#save-notes")
    expect(tpage.locator("#notes-status")).to_have_text("Saved.", timeout=SLOW)
    tpage.click("#open-safety")
    tpage.wait_for_selector("#safety-number")
    tpage.check("#mark-verified")
    expect(tpage.locator(".safety [role='status']")).to_have_text(
        "Marked as verified.", timeout=SLOW
    )
    return therapist, client, secret


def opens_everything(page) -> None:
    page.wait_for_selector("#main[data-screen='inbox']", timeout=SLOW)
    open_thread(page, page.locator(".thread-row").first.get_attribute("data-peer-name"))
    expect(page.locator(".msg__body")).to_have_count(2, timeout=SLOW)
    assert bodies(page, "in") == [FIRST]
    assert bodies(page, "out") == [REPLY]
    expect(page.locator("#notes")).to_have_value(NOTE)
    expect(page.locator(".thread__title-row .badge--verified")).to_be_visible()


def fits_right_to_left(page) -> None:
    """At 320 px and right-to-left, nothing on the screen reaches past its width."""
    page.set_viewport_size(NARROW)
    page.evaluate("() => { document.documentElement.dir = 'rtl'; }")
    wider = page.evaluate(
        "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    page.evaluate("() => { document.documentElement.dir = 'ltr'; }")
    page.set_viewport_size(DESKTOP)
    assert not wider


def test_the_secret_changes_and_every_other_device_is_signed_out(practice, open_tab):
    therapist, client, old_secret = therapist_with_history(practice, open_tab)
    tpage = therapist.page
    office = open_tab(DESKTOP)
    sign_in(office.page, old_secret)
    office.page.wait_for_selector("#main[data-screen='inbox']", timeout=SLOW)

    go(tpage, "settings")
    tpage.click("#change-secret")
    tpage.wait_for_selector("#main[data-screen='change-secret']")
    audit(tpage, "change secret")
    fits_right_to_left(tpage)
    # A mistyped current secret is caught before a new one is shown.
    tpage.fill("#current-secret", generate_secret().formatted())
    tpage.click("#change-secret-continue")
    expect(tpage.locator("#change-secret-error")).to_contain_text("not the secret", timeout=SLOW)
    tpage.fill("#current-secret", old_secret)
    tpage.click("#change-secret-continue")
    tpage.wait_for_selector("#secret-value")
    expect(tpage.locator("#secret-title")).to_have_text("Your new account secret")
    audit(tpage, "new secret")
    fits_right_to_left(tpage)
    new_secret = read_secret(tpage)
    assert new_secret != old_secret
    confirm_secret(tpage)
    tpage.wait_for_selector("#main[data-screen='settings']", timeout=SLOW)
    expect(tpage.locator("#settings-notice")).to_contain_text(
        "1 other device was signed out", timeout=SLOW
    )

    # The office computer locks at once, with the reason.
    office.page.wait_for_selector("#main[data-screen='lock']", timeout=SLOW)
    expect(office.page.locator("#main")).to_contain_text("signed this one out")

    # The old secret no longer signs in; the new one opens everything.
    fresh = open_tab(DESKTOP)
    fresh.page.fill("#signin-secret", old_secret)
    fresh.page.press("#signin-secret", "Enter")
    expect(fresh.page.locator("#signin-secret-error")).to_contain_text(
        "not recognised", timeout=SLOW
    )
    sign_in(fresh.page, new_secret)
    opens_everything(fresh.page)

    # The device that changed it stays live under the new keys.
    go(tpage, "inbox")
    send(client.page, "Thank you.")
    tpage.click(".thread-row", timeout=SLOW)
    expect(tpage.locator(".msg--in .msg__body")).to_have_count(2, timeout=SLOW)
    assert therapist.errors == office.errors == fresh.errors == client.errors == []


def test_an_interrupted_change_is_finished_from_settings(practice, open_tab):
    therapist, client, old_secret = therapist_with_history(practice, open_tab)
    tpage = therapist.page
    # What a tab closed mid-change leaves: the change started, nothing switched.
    new_secret = generate_secret().formatted()
    old_keys = derive_keys(normalise_secret(old_secret))
    new = normalise_secret(new_secret)
    login = post(
        f"{practice.url}/api/login",
        {
            "handle": normalise_secret(old_secret).handle,
            "login_key": b64u_encode(old_keys.login_key),
        },
    )
    post(
        f"{practice.url}/api/secret-change",
        {
            "login_key": b64u_encode(old_keys.login_key),
            "handle": new.handle,
            "new_login_key": b64u_encode(derive_keys(new).login_key),
        },
        token=login["token"],
    )

    go(tpage, "settings")
    tpage.click("#finish-secret-change", timeout=SLOW)
    tpage.wait_for_selector("#main[data-screen='change-secret']")
    audit(tpage, "finish the change")
    fits_right_to_left(tpage)
    tpage.fill("#current-secret", old_secret)
    tpage.fill("#new-secret", new_secret)
    tpage.click("#change-secret-continue")
    tpage.wait_for_selector("#main[data-screen='settings']", timeout=SLOW)
    expect(tpage.locator("#settings-notice")).to_contain_text("changed", timeout=SLOW)
    expect(tpage.locator("#finish-secret-change")).to_have_count(0)

    fresh = open_tab(PHONE)
    sign_in(fresh.page, new_secret)
    opens_everything(fresh.page)
    assert therapist.errors == fresh.errors == client.errors == []
