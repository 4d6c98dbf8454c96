"""Nothing lost by accident: notes save themselves, drafts survive auto-lock,
a deleted client's thread is closed, and right-to-left text reads the right way."""

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    go,
    invite_therapist,
    join_as_therapist,
    open_therapist,
    open_thread,
    send,
    sign_in,
    start_anonymously,
    wait_for_count,
    wait_for_state,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

THERAPIST = {
    "display_name": "ليلى حداد",
    "pronouns": "هي",
    "specialties": ["القلق", "Trauma"],
    "languages": ["العربية", "English"],
    "response_time": "within a day",
}
NAME = THERAPIST["display_name"]
ARABIC = "مرحبا، هل يمكنني التحدث معك؟!"
NOTE = "Prefers evenings.\nAsk about the new job."


def direction(page, selector: str) -> str:
    return page.locator(selector).first.evaluate("(el) => getComputedStyle(el).direction")


def test_notes_save_themselves_and_survive_leaving_the_thread(practice, open_tab):
    therapist = open_tab(DESKTOP)
    tpage = therapist.page
    secret = join_as_therapist(tpage, invite_therapist(practice.data_dir), THERAPIST)
    client = open_tab(PHONE)
    start_anonymously(client.page)
    open_therapist(client.page, NAME)
    send(client.page, ARABIC)
    wait_for_state(client.page, 0, "sent", "delivered", "read")
    # Arabic reads right to left in the message and in the composer.
    assert client.page.locator(".msg--out .msg__body").get_attribute("dir") == "auto"
    assert direction(client.page, ".msg--out .msg__body") == "rtl"
    client.page.fill("#composer", ARABIC)
    assert direction(client.page, "#composer") == "rtl"
    assert direction(client.page, "#thread-title") == "rtl"

    go(tpage, "inbox")
    open_thread(tpage, client_name(tpage))
    expect(tpage.locator(".msg--in .msg__body")).to_have_text(ARABIC, timeout=SLOW)
    assert direction(tpage, ".msg--in .msg__body") == "rtl"
    # Typed, never saved by hand, and the thread left at once: nothing lost.
    tpage.fill("#notes", NOTE)
    tpage.click(".thread__back")
    tpage.wait_for_selector("#main[data-screen='inbox']")
    # The inbox redraws its rows on every change (the note just saved, a
    # receipt), so the check waits for a row that stays.
    expect(tpage.locator(".thread-row__preview").first).to_have_css("direction", "rtl")
    open_thread(tpage, client_name(tpage))
    expect(tpage.locator("#notes")).to_have_value(NOTE)
    expect(tpage.locator("#notes-status")).not_to_have_text("Not saved yet.", timeout=SLOW)
    tpage.fill("#notes", "مساء الخير")
    assert direction(tpage, "#notes") == "rtl"
    expect(tpage.locator("#notes-status")).to_have_text("Saved.", timeout=SLOW)

    # In the vault: another computer signs in and finds the autosaved text.
    second = open_tab(DESKTOP)
    sign_in(second.page, secret)
    open_thread(second.page, client_name(second.page))
    expect(second.page.locator("#notes")).to_have_value("مساء الخير", timeout=SLOW)
    assert therapist.errors == client.errors == second.errors == []


def client_name(page) -> str:
    page.wait_for_selector(".thread-row", timeout=SLOW)
    return page.locator(".thread-row").first.get_attribute("data-peer-name")


def test_auto_lock_warns_keeps_the_draft_and_returns_to_the_thread(browser, practice, open_tab):
    therapist = open_tab(DESKTOP)
    join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.clock.install()
    page.goto(practice.url)
    page.wait_for_selector("#main[data-screen='welcome']")
    secret = start_anonymously(page)
    open_therapist(page, NAME)
    draft = "I wanted to say that\nlast week was"
    page.fill("#composer", draft)
    # The default is 5 minutes; the last 30 seconds are counted down.
    page.clock.fast_forward("04:20")
    expect(page.locator("#lock-warning")).to_be_hidden()
    page.clock.fast_forward("00:15")
    expect(page.locator("#lock-warning")).to_be_visible()
    expect(page.locator("#lock-warning")).to_contain_text("locks in 2")
    page.clock.fast_forward("00:05")
    expect(page.locator("#lock-warning")).to_contain_text("locks in 2")
    # Dismissed, the time starts again.
    page.click("#stay-unlocked")
    expect(page.locator("#lock-warning")).to_have_count(0)
    page.clock.fast_forward("04:00")
    expect(page.locator("#main")).to_have_attribute("data-screen", "thread")
    page.clock.fast_forward("01:10")
    page.wait_for_selector("#main[data-screen='lock']", timeout=SLOW)
    expect(page.locator(".lock__lead")).to_contain_text("was kept")
    expect(page.locator("#composer")).to_have_count(0)
    sign_in(page, secret, field_id="unlock-secret")
    # Back in the conversation, with the half-written message.
    expect(page.locator("#main")).to_have_attribute("data-screen", "thread")
    expect(page.locator("#thread-title")).to_have_text(NAME)
    expect(page.locator("#composer")).to_have_value(draft)
    # Kept in the vault: another browser signing in finds it too; sending empties it.
    other = open_tab(PHONE)
    sign_in(other.page, secret)
    # No message yet, so the conversation is reached from the directory.
    open_therapist(other.page, NAME)
    expect(other.page.locator("#composer")).to_have_value(draft, timeout=SLOW)
    other.page.click("#send")
    wait_for_state(other.page, 0, "sent", "delivered", "read")
    third = open_tab(PHONE)
    sign_in(third.page, secret)
    go(third.page, "messages")
    open_thread(third.page, NAME)
    wait_for_count(third.page, ".msg--out", 1)
    expect(third.page.locator("#composer")).to_have_value("")
    context.close()


def test_a_deleted_clients_thread_is_closed_for_the_therapist(practice, open_tab):
    therapist = open_tab(DESKTOP)
    tpage = therapist.page
    join_as_therapist(tpage, invite_therapist(practice.data_dir), THERAPIST)
    client = open_tab(PHONE)
    page = client.page
    start_anonymously(page)
    open_therapist(page, NAME)
    send(page, "Hello, I may not stay long.")
    wait_for_state(page, 0, "sent", "delivered", "read")
    open_thread(tpage, client_name(tpage))
    expect(tpage.locator(".msg--in")).to_have_count(1, timeout=SLOW)
    go(page, "settings")
    page.check("#delete-understood")
    page.click("#delete-account")
    page.wait_for_selector("#main[data-screen='deleted']", timeout=SLOW)

    send(tpage, "Take care of yourself.")
    expect(tpage.locator("#thread-closed")).to_contain_text("deleted their account", timeout=SLOW)
    expect(tpage.locator(".msg--out")).to_have_attribute("data-state", "failed")
    # No "Try again": there is nobody to send to.
    expect(tpage.locator(".msg--out button")).to_have_count(0)
    expect(tpage.locator("#composer")).to_be_disabled()
    expect(tpage.locator("#send")).to_be_disabled()
    tpage.click(".thread__back")
    expect(tpage.locator(".thread-row .badge", has_text="Closed")).to_be_visible()
    assert therapist.errors == []
