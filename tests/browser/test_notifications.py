"""Being told that something is new, in real Chromium against the real server.

A client's page in a background tab gains a count in its neutral title when
the therapist replies, and, after the client allowed it, shows a browser
notification; the notification is captured by wrapping `window.Notification`
in an init script and holds the neutral words only. Headless Chromium keeps
every tab "visible" whichever is in front, so the same init script lets the
test switch the page's visibility and send `visibilitychange`, as the
browser does when a person switches tabs. A therapist sets a mail
and a push address in Settings, sends a test to each (a real SMTP server and
a real HTTP receiver on loopback), is notified once for a client's messages,
sees who waits longest and when they were last notified, and turns it off.
"""

import sqlite3

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
    start_anonymously,
    wait_for_state,
)
from playwright.sync_api import expect
from receivers import MailReceiver, PushReceiver, wait_for
from test_accessibility import audit

pytestmark = pytest.mark.browser

THERAPIST = {
    "display_name": "Ari Lindqvist",
    "specialties": ["Anxiety"],
    "languages": ["English"],
    "response_time": "within a day",
}
FIRST = "I wrote this at three in the morning about the landlord."
SECOND = "And one more thing about the landlord."
REPLY = "Thank you for telling me about the landlord; let us talk it through."
LATER = "I found the tenancy advice leaflet for you."
NOTICE_TEXT = "Something new is waiting."
# Every Notification the page creates, recorded before the app's code runs;
# and the page's visibility, switched by the test (see the module's docstring).
CAPTURE_NOTICES = """
let hidden = false;
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true,
  get: () => (hidden ? "hidden" : "visible"),
});
Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
window.__setHidden = (value) => {
  hidden = value;
  document.dispatchEvent(new Event("visibilitychange"));
};
window.__notices = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options = {}) {
    super(title, options);
    window.__notices.push({ title, body: options.body ?? "", tag: options.tag ?? "" });
  }
};
"""


@pytest.fixture
def mail():
    receiver = MailReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def push():
    receiver = PushReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def practice(server_factory, neutral_site, mail):
    return server_factory(
        exit_url=neutral_site,
        neutral_title="Notes",
        smtp_host="127.0.0.1",
        smtp_port=mail.port,
        smtp_security="none",
        smtp_from="practice@example.org",
        notify_delay=0.5,
        notify_interval=600,
        notify_allow_http_loopback="true",
    )


def test_a_background_tab_shows_a_count_and_a_neutral_browser_notification(practice, open_tab):
    therapist = open_tab(DESKTOP)
    join_as_therapist(therapist.page, invite_therapist(practice.data_dir), THERAPIST)

    client = open_tab(PHONE)
    client.context.grant_permissions(["notifications"], origin=practice.url)
    client.context.add_init_script(CAPTURE_NOTICES)
    page = client.page
    page.reload()
    page.wait_for_selector("#main[data-screen='welcome']")
    start_anonymously(page)
    open_therapist(page, THERAPIST["display_name"])
    send(page, FIRST)
    wait_for_state(page, 0, "sent", "delivered", "read")

    # The client allows browser notifications in Settings.
    go(page, "settings")
    page.check("#browser-notices")
    saved = page.locator(".card [role='status']").filter(has_text="browser will show")
    expect(saved).to_have_count(1, timeout=SLOW)
    go(page, "messages")
    open_thread(page, THERAPIST["display_name"])
    tpage = therapist.page
    open_thread(tpage, tpage.locator(".thread-row").first.get_attribute("data-peer-name"))

    # The client has the thread in front of them: the reply is simply read.
    send(tpage, REPLY)
    wait_for_state(tpage, 0, "read")
    expect(page).to_have_title("Notes")
    assert page.evaluate("() => window.__notices") == []

    # The client's tab goes to the background: another tab comes to the front.
    other = client.context.new_page()
    other.goto(practice.url + "/help.html")
    other.bring_to_front()
    page.evaluate("() => window.__setHidden(true)")
    send(tpage, LATER)
    wait_for_state(tpage, 1, "delivered")

    expect(page).to_have_title("(1) Notes", timeout=SLOW)
    wait_for(lambda: len(page.evaluate("() => window.__notices")) == 1)
    notices = page.evaluate("() => window.__notices")
    assert notices == [{"title": "Notes", "body": NOTICE_TEXT, "tag": "new"}]
    shown = repr(notices)
    for secret in (REPLY, LATER, "landlord", THERAPIST["display_name"], "Ari"):
        assert secret not in shown
    page_text = page.evaluate("() => document.body.innerText")
    assert LATER in page_text  # the page itself shows the conversation, once looked at

    # Coming back to the tab reads the reply and takes the count away.
    page.bring_to_front()
    page.evaluate("() => window.__setHidden(false)")
    expect(page).to_have_title("Notes", timeout=SLOW)
    wait_for_state(tpage, 1, "read")
    assert len(page.evaluate("() => window.__notices")) == 1
    assert client.errors == [] and therapist.errors == []


def test_a_therapist_sets_mail_and_push_is_notified_once_and_turns_it_off(
    practice, open_tab, mail, push
):
    therapist = open_tab(DESKTOP)
    tpage = therapist.page
    join_as_therapist(tpage, invite_therapist(practice.data_dir), THERAPIST)
    expect(tpage.locator("#last-notified")).to_contain_text("Notifications are off")
    expect(tpage.locator("#waiting-title")).to_be_visible()

    go(tpage, "settings")
    tpage.fill("#notify-email", "ari@example.org")
    tpage.click("#notify-email-save")
    expect(tpage.locator("#notify-email-status")).to_contain_text("Saved", timeout=SLOW)
    tpage.click("#notify-email-test")
    expect(tpage.locator("#notify-email-status")).to_contain_text("test was sent", timeout=SLOW)
    assert len(mail.mails) == 1 and mail.mails[0].recipients == ["ari@example.org"]

    # A push address that is not https is refused with the reason.
    tpage.fill("#notify-push", "http://push.example.org/topic")
    tpage.click("#notify-push-save")
    expect(tpage.locator("#notify-push-status")).to_contain_text("https://", timeout=SLOW)
    tpage.fill("#notify-push", push.url + "/ari-topic")
    tpage.click("#notify-push-save")
    expect(tpage.locator("#notify-push-status")).to_contain_text("Saved", timeout=SLOW)
    tpage.click("#notify-push-test")
    expect(tpage.locator("#notify-push-status")).to_contain_text("test was sent", timeout=SLOW)
    assert len(push.pushes) == 1 and push.pushes[0].path == "/ari-topic"
    audit(tpage, "therapist settings with notifications")
    go(tpage, "inbox")

    # A client writes twice: one notification per channel, with no content.
    client = open_tab(PHONE)
    page = client.page
    start_anonymously(page)
    open_therapist(page, THERAPIST["display_name"])
    send(page, FIRST)
    wait_for_state(page, 0, "sent", "delivered", "read")
    send(page, SECOND)
    wait_for_state(page, 1, "sent", "delivered", "read")
    wait_for(lambda: len(mail.mails) == 2 and len(push.pushes) == 2)
    for raw in (mail.mails[1].raw, push.pushes[1].raw):
        assert b"landlord" not in raw and b"Ari" not in raw

    # The inbox names the waiting thread and when the therapist was last notified.
    expect(tpage).to_have_title("(2) Notes", timeout=SLOW)
    go(tpage, "settings")
    go(tpage, "inbox")
    expect(tpage.locator("[data-waiting]")).to_have_count(1, timeout=SLOW)
    expect(tpage.locator("#last-notified")).to_contain_text("Last notified")
    audit(tpage, "therapist inbox with a waiting thread")
    label = tpage.locator("[data-waiting]").get_attribute("data-waiting")
    for raw in (mail.mails[1].raw, push.pushes[1].raw):
        assert label.encode() not in raw

    # Turning it off deletes the addresses on the server.
    go(tpage, "settings")
    expect(tpage.locator("#notify-email")).to_have_value("ari@example.org", timeout=SLOW)
    tpage.click("#notify-off")
    expect(tpage.locator("#notify-email")).to_have_value("", timeout=SLOW)
    expect(tpage.locator("#notify-push")).to_have_value("")
    conn = sqlite3.connect(practice.database)
    try:
        assert conn.execute("SELECT COUNT(*) FROM notification_targets").fetchone() == (0,)
    finally:
        conn.close()
    assert client.errors == [] and therapist.errors == []
