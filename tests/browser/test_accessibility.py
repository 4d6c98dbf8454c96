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


def audit(page, screen: str) -> None:
    original = page.viewport_size
    for size in (NARROW, PHONE, DESKTOP):
        page.set_viewport_size(size)
        problems = page.evaluate(AUDIT) + axe_problems(page)
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


def test_main_screens_meet_aa(practice, open_tab):
    therapist = open_tab(DESKTOP)
    tpage = therapist.page
    audit(tpage, "welcome")
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
    go(page, "settings")
    audit(page, "settings")
    go(page, "lock")
    audit(page, "lock")

    go(tpage, "inbox")
    tpage.click(".thread-row", timeout=SLOW)
    tpage.wait_for_selector(".msg--in")
    audit(tpage, "therapist thread")
    assert client.errors == therapist.errors == []
