"""A client and a therapist, end to end, in real Chromium against the real server.

The client starts anonymously and writes to a therapist; the therapist reads
and replies in another browser profile; both compare safety numbers; the
client signs in on a fresh profile with the secret alone and finds the whole
history; the therapist does the same from a "second computer" and finds the
notes; the app locks; quick exit leaves no way back. Afterwards the
database, its WAL and every browser profile are searched for the texts and
secrets, and hold none of them.
"""

from pathlib import Path

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    asked_group,
    bodies,
    confirm_secret,
    go,
    invite_therapist,
    join_as_therapist,
    open_therapist,
    open_thread,
    read_secret,
    screenshot,
    send,
    sign_in,
    storage_snapshot,
    wait_for_count,
    wait_for_state,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ROBIN = {
    "display_name": "Robin Ash",
    "pronouns": "they/them",
    "specialties": ["Anxiety", "Trauma", "Sex work"],
    "languages": ["English", "Español"],
    "response_time": "within a day",
    "office_hours": "Mon to Thu, 9:00 to 17:00",
    "away_message": "",
    "accepting": True,
}
SAM = {
    "display_name": "Sam Okafor",
    "pronouns": "he/him",
    "specialties": ["Grief", "Relationships"],
    "languages": ["English", "Français"],
    "response_time": "within two days",
    "away_message": "On leave until Monday; I will answer every message then.",
    "accepting": False,
}
FIRST = (
    "I don't know where to start.\n\nSome nights I can't sleep at all, and mornings are worse.\n"
    + "It keeps coming back to me. " * 40
    + "\n    (this line is indented on purpose)\nThank you for reading this far."
)
REPLY = "Thank you for writing, it takes courage.\nWhat helps you on the hard mornings?"
NOTE = "Nights are hardest; ask about sleep routine next time."


def test_client_and_therapist_end_to_end(practice, open_tab, neutral_site):
    therapist = open_tab(DESKTOP)
    therapist_secret = join_as_therapist(therapist.page, invite_therapist(practice.data_dir), ROBIN)
    colleague = open_tab(DESKTOP)
    join_as_therapist(colleague.page, invite_therapist(practice.data_dir), SAM)
    colleague.context.close()

    # The client starts anonymously: a secret is shown once and must be confirmed.
    client = open_tab(PHONE)
    page = client.page
    screenshot(page, "welcome")
    page.click("#start-anonymously")
    page.wait_for_selector("#secret-value")
    secret = read_secret(page)
    # Continuing needs one group of the secret typed back; a wrong one is refused.
    page.click("#secret-continue")
    expect(page.locator("#secret-check-error")).to_contain_text("not group")
    wrong = "0000" if asked_group(page) != "0000" else "1111"
    page.fill("#secret-check", wrong)
    page.click("#secret-continue")
    expect(page.locator("#secret-check")).to_have_attribute("aria-invalid", "true")
    assert page.locator("#secret-value").count() == 1
    with page.expect_download() as download:
        page.click("#secret-download")
    saved = Path(download.value.path()).read_text()
    assert saved.strip() == secret
    assert download.value.suggested_filename == "notes.txt"
    screenshot(page, "secret")
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='directory']", timeout=SLOW)

    # The directory: verified profiles, filtered by specialty and language.
    wait_for_count(page, ".therapist", 2)
    page.select_option("#filter-specialty", "Trauma")
    wait_for_count(page, ".therapist", 1)
    expect(page.locator(".therapist__name")).to_have_text("Robin Ash")
    page.select_option("#filter-specialty", "")
    page.select_option("#filter-language", "Français")
    wait_for_count(page, ".therapist", 1)
    sam = page.locator("[data-therapist='Sam Okafor']")
    expect(sam).to_contain_text("Not taking new clients")
    expect(sam).to_contain_text("On leave until Monday")
    expect(sam.locator("button")).to_be_disabled()
    page.select_option("#filter-language", "")
    wait_for_count(page, ".therapist", 2)
    expect(page.locator("[data-therapist='Robin Ash']")).to_contain_text("within a day")
    screenshot(page, "directory")

    # The client writes; the message goes from sending to sent.
    open_therapist(page, "Robin Ash")
    send(page, FIRST)
    expect(page.locator("#composer")).to_have_value("")
    # The row is changed in place as its state moves on (the live log then
    # announces each message once): a mark set on it now must still be there.
    page.locator(".msg--out").first.evaluate("row => row.classList.add('probe')")
    wait_for_state(page, 0, "sent", "delivered", "read")

    # The therapist sees a new thread with one unread message, reads it, replies.
    tpage = therapist.page
    row = tpage.locator(".thread-row--unread")
    expect(row).to_have_count(1, timeout=SLOW)
    expect(row.locator(".badge--count")).to_have_text("1")
    screenshot(tpage, "therapist-inbox")
    row.click()
    tpage.wait_for_selector(".msg--in")
    assert bodies(tpage, "in") == [FIRST]
    wait_for_state(page, 0, "read")
    expect(page.locator(".msg--out.probe")).to_have_count(1)
    send(tpage, REPLY)
    wait_for_state(tpage, 0, "sent", "delivered", "read")

    # The reply arrives live, shown with its line breaks; it is marked read.
    expect(page.locator(".msg--in .msg__body")).to_have_count(1, timeout=SLOW)
    assert bodies(page, "in") == [REPLY]
    wait_for_state(tpage, 0, "read")
    screenshot(page, "thread")

    # Private notes, kept encrypted in the therapist's vault.
    tpage.fill("#notes", NOTE)
    tpage.click("#save-notes")
    expect(tpage.locator("#notes-status")).to_have_text("Saved.", timeout=SLOW)
    screenshot(tpage, "therapist-thread")

    # Both sides compute the same safety number; the client marks it verified.
    page.click("#open-safety")
    page.wait_for_selector("#safety-number")
    client_digits = page.locator("#safety-number li").all_inner_texts()
    tpage.click("#open-safety")
    tpage.wait_for_selector("#safety-number")
    therapist_digits = tpage.locator("#safety-number li").all_inner_texts()
    assert len(client_digits) == 12
    assert all(len(group) == 5 and group.isdigit() for group in client_digits)
    assert client_digits == therapist_digits
    screenshot(page, "safety-number")
    page.check("#mark-verified")
    expect(page.locator(".safety [role='status']")).to_have_text(
        "Marked as verified.", timeout=SLOW
    )

    # A fresh browser profile, the secret alone: the whole history is there.
    client.context.close()
    again = open_tab(DESKTOP)
    sign_in(again.page, secret)
    again.page.wait_for_selector("#main[data-screen='messages']")
    open_thread(again.page, "Robin Ash")
    expect(again.page.locator(".msg__body")).to_have_count(2, timeout=SLOW)
    assert bodies(again.page, "out") == [FIRST]
    assert bodies(again.page, "in") == [REPLY]
    expect(again.page.locator(".thread__title-row .badge--verified")).to_be_visible()
    wait_for_state(again.page, 0, "read")

    # The therapist's second computer: the thread and the notes are there.
    therapist.context.close()
    second = open_tab(DESKTOP)
    sign_in(second.page, therapist_secret)
    second.page.wait_for_selector("#main[data-screen='inbox']")
    open_thread(
        second.page, second.page.locator(".thread-row").first.get_attribute("data-peer-name")
    )
    expect(second.page.locator("#notes")).to_have_value(NOTE)
    assert bodies(second.page, "in") == [FIRST]
    assert bodies(second.page, "out") == [REPLY]

    # Lock: the keys and the screen's contents are gone until the secret is entered.
    go(again.page, "lock")
    again.page.wait_for_selector("#main[data-screen='lock']")
    assert "hard mornings" not in again.page.inner_text("body")
    screenshot(again.page, "lock")
    sign_in(again.page, secret, field_id="unlock-secret")
    # Unlocking returns to the conversation that was open.
    again.page.wait_for_selector("#main[data-screen='thread']")
    expect(again.page.locator("#thread-title")).to_have_text("Robin Ash")

    # Quick exit: the neutral site replaces the app, and Back does not return.
    again.page.click("#quick-exit")
    again.page.wait_for_url(neutral_site)
    again.page.go_back()
    assert again.page.url != practice.url + "/"
    assert again.page.locator("#main").count() == 0

    # Nothing readable stays in the browsers or on the server's disk.
    secrets = [secret, secret.replace("-", ""), therapist_secret, therapist_secret.replace("-", "")]
    texts = ["Some nights I can't sleep", "hard mornings", "sleep routine", *secrets]
    for tab in (again, second):
        kept = storage_snapshot(tab, practice.url)
        for text in texts:
            assert text not in kept
        for url in tab.visited:
            assert secret.replace("-", "")[8:] not in url.replace("-", "").upper()
        assert tab.errors == []
    stored = practice.database.read_bytes()
    wal = practice.database.with_name(practice.database.name + "-wal")
    if wal.exists():
        stored += wal.read_bytes()
    stored += practice.log_text().encode()
    for text in texts:
        assert text.encode() not in stored
        assert text.replace("'", "\\u0027").encode() not in stored
