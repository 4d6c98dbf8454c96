"""Nothing typed is lost: a dropped connection, and a second device of the same account.

The connection is cut with Playwright's websocket routing, which sits between
the page and the real server and relays every frame unchanged until the test
closes it (the way a flaky network would).
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
    "display_name": "Jordan Lee",
    "specialties": ["Anxiety"],
    "languages": ["English"],
    "response_time": "within a day",
}


def test_message_written_offline_is_sent_when_the_connection_returns(browser, practice, open_tab):
    therapist = open_tab(DESKTOP)
    join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)

    network = Network()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.route_web_socket("**/ws", network.handle)
    page.goto(practice.url)
    start_anonymously(page)
    open_therapist(page, "Jordan Lee")
    # A draft survives leaving the conversation.
    page.fill("#composer", "Half a thought")
    go(page, "settings")
    go(page, "directory")
    open_therapist(page, "Jordan Lee")
    expect(page.locator("#composer")).to_have_value("Half a thought")

    network.cut()
    expect(page.locator("#status-bar")).to_contain_text("Connection lost", timeout=SLOW)
    send(page, "Written while the connection was down.")
    expect(page.locator(".msg--out")).to_have_attribute("data-state", "sending")
    expect(page.locator(".msg--out .msg__body")).to_have_text(
        "Written while the connection was down."
    )
    # The message itself says why it waits, and the banner stays in view
    # wherever the page is scrolled.
    expect(page.locator(".msg--out .msg__notice")).to_contain_text("this device is offline")
    for where in ("document.body.scrollHeight", "0"):
        page.evaluate(f"window.scrollTo(0, {where})")
        expect(page.locator("#status-bar")).to_be_in_viewport()

    network.up = True
    page.click("#status-bar button")
    wait_for_state(page, 0, "sent", "delivered", "read")
    expect(page.locator("#status-bar")).to_be_empty(timeout=SLOW)
    expect(page.locator(".msg--out .msg__notice")).to_have_count(0)

    therapist.page.wait_for_selector(".thread-row", timeout=SLOW)
    therapist.page.click(".thread-row")
    wait_for_count(therapist.page, ".msg--in", 1)
    assert bodies(therapist.page, "in") == ["Written while the connection was down."]
    context.close()


def test_a_second_device_stays_live_beside_the_first_and_both_agree(practice, open_tab):
    therapist = open_tab(DESKTOP)
    join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)

    first = open_tab(PHONE)
    secret = start_anonymously(first.page)
    open_therapist(first.page, "Jordan Lee")
    send(first.page, "One, from the phone.")
    wait_for_state(first.page, 0, "sent", "delivered", "read")

    # The same account on a laptop: both stay connected.
    second = open_tab(DESKTOP)
    sign_in(second.page, secret)
    open_thread(second.page, "Jordan Lee")
    send(second.page, "Two, from the laptop.")
    wait_for_state(second.page, 1, "sent", "delivered", "read")
    expect(first.page.locator("#status-bar")).to_be_empty()

    # Whichever copy of the session the phone holds, its next message goes out
    # under the laptop's latest state, after theirs.
    send(first.page, "Three, from the phone again.")
    wait_for_count(first.page, ".msg--out", 3)
    wait_for_state(first.page, 2, "sent", "delivered", "read")
    assert bodies(first.page, "out") == [
        "One, from the phone.",
        "Two, from the laptop.",
        "Three, from the phone again.",
    ]

    therapist.page.wait_for_selector(".thread-row", timeout=SLOW)
    therapist.page.click(".thread-row")
    wait_for_count(therapist.page, ".msg--in", 3)
    assert bodies(therapist.page, "in") == [
        "One, from the phone.",
        "Two, from the laptop.",
        "Three, from the phone again.",
    ]
    assert first.errors == second.errors == therapist.errors == []
