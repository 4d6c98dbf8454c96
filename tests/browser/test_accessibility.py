"""Keyboard use, labels, landmarks and contrast (WCAG AA) on every screen, phone and desktop.

Two checks run inside the real page on what Chromium actually rendered: the
project's own (tests/browser/audit.js: computed colours over their effective
background, labels as the browser associates them) and axe-core, from npm
(client_web/node_modules; never served), which must find nothing serious or
critical. Phone size is 320 px wide, the narrowest the layout supports.
"""

from pathlib import Path

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    REPO_ROOT,
    SLOW,
    asked_group,
    confirm_secret,
    go,
    invite_therapist,
    join_as_therapist,
    open_therapist,
    send,
    wait_for_state,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

AUDIT = (Path(__file__).parent / "audit.js").read_text()
AXE = (REPO_ROOT / "client_web" / "node_modules" / "axe-core" / "axe.min.js").read_text()
NARROW = {"width": 320, "height": 640}
# What axe finds, as "rule (impact): target" strings, for the impacts that fail.
AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((rule) => rule.impact === "serious" || rule.impact === "critical")
    .flatMap((rule) => rule.nodes.map(
      (node) => `${rule.id} (${rule.impact}): ${node.target.join(" ")}`));
}"""

THERAPIST = {
    "display_name": "Kim Rivera",
    "specialties": ["Trauma"],
    "languages": ["English"],
    "response_time": "within a day",
    "away_message": "Back on Tuesday.",
}


def axe_problems(page) -> list[str]:
    if not page.evaluate("() => typeof axe === 'object'"):
        page.evaluate(AXE)
    return page.evaluate(AXE_RUN)


def audit(page, screen: str, *, app: bool = True) -> None:
    """Both checks at every size; the information pages have no footer, so axe alone."""
    original = page.viewport_size
    for size in (NARROW, PHONE, DESKTOP):
        page.set_viewport_size(size)
        problems = (page.evaluate(AUDIT) if app else []) + axe_problems(page)
        assert problems == [], f"{screen} at {size['width']}px: {problems}"
    if original:
        page.set_viewport_size(original)


def focused(page) -> dict:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          return {id: el.id, text: el.textContent.trim(), outline: style.outlineStyle,
                  width: Number.parseFloat(style.outlineWidth)};
        }"""
    )


def tab_to(page, element_id: str) -> None:
    for _ in range(30):
        if focused(page)["id"] == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


def test_keyboard_only_start_with_visible_focus(open_tab):
    tab = open_tab(PHONE)
    page = tab.page
    # The skip link comes first, then the exit button, reachable at once.
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "skip-link"
    page.keyboard.press("Tab")
    exit_focus = focused(page)
    assert exit_focus["id"] == "quick-exit"
    assert exit_focus["outline"] == "solid" and exit_focus["width"] >= 2
    page.keyboard.press("Tab")
    start = focused(page)
    assert start["id"] == "start-anonymously"
    assert start["outline"] == "solid" and start["width"] >= 2
    page.keyboard.press("Enter")
    page.wait_for_selector("#secret-value")
    # Heading focused on a new screen, so a screen reader announces it.
    assert page.evaluate("() => document.activeElement.tagName") == "H1"
    tab_to(page, "secret-check")
    page.keyboard.type(asked_group(page).lower())
    tab_to(page, "secret-continue")
    page.keyboard.press("Enter")
    page.wait_for_selector("#main[data-screen='directory']", timeout=SLOW)
    assert tab.errors == []


def test_axe_reports_what_it_should(open_tab):
    """The harness itself: axe runs in the page and a known fault is reported."""
    page = open_tab(PHONE).page
    assert axe_problems(page) == []
    page.evaluate(
        """() => {
          const list = document.createElement("ol");
          list.setAttribute("role", "log");
          list.append(Object.assign(document.createElement("li"), { textContent: "x" }));
          document.getElementById("main").append(list);
        }"""
    )
    assert any(problem.startswith("listitem (serious)") for problem in axe_problems(page))


def test_every_screen_meets_aa(practice, open_tab):
    therapist = open_tab(DESKTOP)
    tpage = therapist.page
    audit(tpage, "welcome")
    tpage.click("#join-therapist")
    tpage.wait_for_selector("#invite-code")
    tpage.fill("#invite-code", "not a code")
    tpage.click("#invite-continue")
    expect(tpage.locator("#invite-error")).not_to_be_empty(timeout=SLOW)
    audit(tpage, "invite code, refused")
    tpage.click("#main button:text('Back')")
    tpage.wait_for_selector("#main[data-screen='welcome']")
    join_as_therapist(tpage, invite_therapist(practice.data_dir), THERAPIST)
    audit(tpage, "therapist inbox")
    go(tpage, "profile")
    audit(tpage, "profile")

    client = open_tab(PHONE)
    page = client.page
    page.click("#start-anonymously")
    page.wait_for_selector("#secret-value")
    audit(page, "secret")
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='directory']", timeout=SLOW)
    page.wait_for_selector("[data-therapist='Kim Rivera']", timeout=SLOW)
    audit(page, "directory")
    open_therapist(page, "Kim Rivera")
    send(page, "Hello.\nIs this the right place?")
    wait_for_state(page, 0, "sent", "delivered", "read")
    # New messages are announced: the conversation is a live log.
    expect(page.locator("#messages")).to_have_attribute("role", "log")
    audit(page, "thread")
    page.click("#open-safety")
    page.wait_for_selector("#safety-number")
    audit(page, "safety number")
    go(page, "messages")
    audit(page, "messages")
    go(page, "settings")
    audit(page, "settings")
    go(page, "lock")
    audit(page, "lock")

    go(tpage, "inbox")
    tpage.wait_for_selector(".thread-row", timeout=SLOW)
    audit(tpage, "therapist inbox with a conversation")
    tpage.click(".thread-row", timeout=SLOW)
    tpage.wait_for_selector(".msg--in")
    audit(tpage, "therapist thread")
    go(tpage, "settings")
    tpage.check("#delete-understood")
    tpage.click("#delete-account")
    tpage.wait_for_selector("#main[data-screen='deleted']", timeout=SLOW)
    audit(tpage, "account deleted")
    for info_page in ("help.html", "support.html"):
        tpage.goto(f"{practice.url}/{info_page}")
        tpage.wait_for_selector("h1")
        audit(tpage, info_page, app=False)
    assert client.errors == therapist.errors == []
