"""A peer-support group in Chromium and the terminal, through the real server.

A therapist hosts a group in the browser; two clients in their own browser
profiles and one on the Python client (`quietline client`) find it, ask to
join under names for this group alone, and are admitted. All four write, live
and while one of them is offline; a message the moderator removes disappears
for everyone; the moderator removes the terminal member, who then opens
nothing sent afterwards, checked with that member's own keys. Every groups
screen passes the accessibility audit at phone and desktop size.
"""

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from browser_flows import (
    SLOW,
    go,
    invite_therapist,
    join_as_therapist,
    screenshot,
    sign_in,
    start_anonymously,
)
from client_harness import TEST_KDF_COST, Run, quietline
from playwright.sync_api import Page, expect
from test_accessibility import audit

from client_py import group_items
from client_py.client import Client
from crypto.encoding import b64u_decode
from crypto.errors import MissingSenderKeyError, NotAMemberError

pytestmark = pytest.mark.browser

T = TypeVar("T")
THERAPIST = {
    "display_name": "Ana Ruiz",
    "specialties": ["Peer support"],
    "languages": ["English"],
    "response_time": "within a day",
}
# The terminal member's commands each log in, take in what waited, act, exit.
TERMINAL_TRIES = 40


def in_worker(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on its own event loop in a worker thread, beside Playwright's."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result(timeout=120)


class Terminal:
    def __init__(self, server: Any, profile: Path) -> None:
        self.server = server
        self.profile = profile
        self.secret = ""

    def run(self, *args: str, stdin: str | None = None) -> Run:
        done = quietline(
            *args,
            server_url=self.server.url,
            profile=self.profile,
            secret=self.secret or None,
            stdin=stdin,
            cheap_kdf=True,
        )
        assert done.code == 0, f"quietline client {' '.join(args)}: {done.stderr}"
        return done

    def read_until(self, group: str, check: Callable[[list[dict[str, Any]]], bool]) -> None:
        for _ in range(TERMINAL_TRIES):
            entries = self.run("group", "read", "--json", "--", group).json()["entries"]
            if check(entries):
                return
            time.sleep(0.5)
        raise AssertionError("the terminal member never saw the expected state")


NARROW = {"width": 320, "height": 640}


def fits_right_to_left(page: Page) -> None:
    """At 320 px, left to right and right to left, nothing reaches past the screen's width."""
    original = page.viewport_size
    page.set_viewport_size(NARROW)
    for direction in ("rtl", "ltr"):
        page.evaluate(f"() => {{ document.documentElement.dir = '{direction}'; }}")
        wider = page.evaluate(
            "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        # What reaches past the edge, to say so when something does.
        culprits = page.evaluate(
            """() => [...document.querySelectorAll('body *')].filter((el) => {
                const r = el.getBoundingClientRect();
                return r.right > document.documentElement.clientWidth + 1 || r.left < -1;
            }).slice(0, 8).map((el) => `${el.tagName}#${el.id}.${el.className}`)"""
        )
        assert not wider, f"the screen is wider than 320 px ({direction}) {culprits}"
    if original:
        page.set_viewport_size(original)


def direction(page: Page, selector: str) -> str:
    return page.locator(selector).first.evaluate("(el) => getComputedStyle(el).direction")


def texts(entries: list[dict[str, Any]]) -> list[str]:
    return [e["body"] for e in entries if e["kind"] == "group_message" and not e.get("removed")]


def ask_to_join(page: Page, name: str, note: str = "") -> None:
    go(page, "groups")
    card = page.locator("[data-open-group='Evening circle']")
    card.wait_for(timeout=SLOW)
    card.locator("input").fill(name)
    card.locator("textarea").fill(note)
    card.locator("button[type='submit']").click()
    page.wait_for_selector("#my-groups [data-group]", timeout=SLOW)


def open_group(page: Page) -> None:
    go(page, "groups")
    page.click("#my-groups [data-group]", timeout=SLOW)
    page.wait_for_selector("#main[data-screen='group']")


def write(page: Page, text: str) -> None:
    page.fill("#group-composer", text)
    page.click("form[aria-label='Write to the group'] button[type='submit']")
    expect(page.locator("#group-messages")).to_contain_text(text, timeout=SLOW)


def shows(page: Page, text: str) -> None:
    expect(page.locator("#group-messages")).to_contain_text(text, timeout=SLOW)


def test_a_therapist_moderates_a_group_with_browser_and_terminal_members(
    open_tab: Callable[..., Any], practice: Any, tmp_path: Path
) -> None:
    host = open_tab()
    mod = host.page
    # The group messages the moderator's browser receives, as the server sent them.
    received: list[dict[str, Any]] = []

    def record(socket: Any) -> None:
        def frame(payload: str | bytes) -> None:
            data = json.loads(payload)
            if data.get("type") == "group" and data.get("kind") == "message":
                received.append(data)

        socket.on("framereceived", frame)

    mod.on("websocket", record)
    join_as_therapist(mod, invite_therapist(practice.data_dir), THERAPIST)
    go(mod, "groups")
    audit(mod, "groups (therapist)")
    fits_right_to_left(mod)
    mod.fill("#host-name", "Evening circle")
    mod.fill("#host-description", "Peer support between sessions.")
    mod.fill("#host-rules", "Be kind. What is said here stays here.")
    mod.fill("#host-rhythm", "write any time")
    mod.fill("#host-you", "Ana")
    mod.click("form[aria-labelledby='host-title'] button[type='submit']")
    mod.wait_for_selector("#main[data-screen='group']", timeout=SLOW)

    sam_tab, kim_tab = open_tab(), open_tab()
    start_anonymously(sam_tab.page)
    kim_secret = start_anonymously(kim_tab.page)
    go(sam_tab.page, "groups")
    sam_tab.page.wait_for_selector("[data-open-group='Evening circle']", timeout=SLOW)
    audit(sam_tab.page, "groups (client)")
    fits_right_to_left(sam_tab.page)
    screenshot(sam_tab.page, "groups")
    ask_to_join(sam_tab.page, "Sam", "From the Tuesday group")
    ask_to_join(kim_tab.page, "Kim")

    lee = Terminal(practice, tmp_path / "lee")
    lee.secret = lee.run("register", "--json").json()["secret"]
    listed = lee.run("groups", "--json").json()["directory"]
    group = next(g["group"] for g in listed if g["listing"]["name"] == "Evening circle")
    lee.run("group", "join", "--as", "Lee", "--", group)

    for name in ("Sam", "Kim", "Lee"):
        mod.wait_for_selector(f"[data-request='{name}']", timeout=SLOW)
    expect(mod.locator("[data-request='Sam']")).to_contain_text("From the Tuesday group")
    audit(mod, "group with requests (moderator)")
    for name in ("Sam", "Kim", "Lee"):
        mod.click(f"button[aria-label='Admit {name}']")
        mod.wait_for_selector(f"#group-members [data-member='{name}']", timeout=SLOW)

    sam, kim = sam_tab.page, kim_tab.page
    open_group(sam)
    open_group(kim)
    lee.read_until(group, lambda _entries: True)
    write(sam, "Hello from Sam")
    for page in (mod, kim):
        shows(page, "Hello from Sam")
    lee.read_until(group, lambda e: "Hello from Sam" in texts(e))
    lee.run("group", "send", "--", group, "Hello from the terminal")
    for page in (mod, sam, kim):
        shows(page, "Hello from the terminal")
    write(mod, "Welcome, all of you")
    write(kim, "شكرا لكم جميعا")
    shows(sam, "شكرا لكم جميعا")
    assert direction(sam, ".msg--in:has-text('شكرا') .msg__body") == "rtl"
    audit(sam, "group conversation (client)")
    audit(mod, "group conversation (moderator)")
    fits_right_to_left(sam)
    fits_right_to_left(mod)
    screenshot(sam, "group-member")
    screenshot(mod, "group-moderator")

    # Offline: Kim's browser closes; the others write; Kim comes back.
    kim_tab.context.close()
    write(sam, "Written while Kim was away")
    lee.run("group", "send", "--", group, "The terminal writes too")
    kim_again = open_tab()
    sign_in(kim_again.page, kim_secret)
    kim = kim_again.page
    open_group(kim)
    shows(kim, "Written while Kim was away")
    shows(kim, "The terminal writes too")

    # A removed message disappears for everyone, the terminal member included.
    mod.locator(".msg", has_text="Hello from Sam").get_by_role(
        "button", name="Remove for everyone"
    ).click()
    for page in (mod, sam, kim):
        expect(page.locator("#group-messages")).not_to_contain_text("Hello from Sam", timeout=SLOW)
    lee.read_until(group, lambda e: "Hello from Sam" not in texts(e))

    # The moderator removes the terminal member; keys rotate.
    mod.click("button[aria-label='Remove Lee']")
    expect(mod.locator("#group-members [data-member='Lee']")).to_contain_text(
        "removed", timeout=SLOW
    )
    lee.read_until(group, lambda e: any(x.get("event") == "removed" for x in e))
    write(sam, "After Lee was removed")
    for page in (mod, kim):
        shows(page, "After Lee was removed")
    assert "After Lee was removed" not in texts(
        lee.run("group", "read", "--json", "--", group).json()["entries"]
    )
    latest = b64u_decode(received[-1]["body"])

    async def lee_opens_latest() -> str:
        client = await Client.login(practice.url, lee.secret, kdf_cost=TEST_KDF_COST)
        try:
            item = next(v for v in client.my_groups() if v["group"] == group)
            assert item["status"] == "removed"
            try:
                group_items.decrypt(item, bytes(latest))
            except (MissingSenderKeyError, NotAMemberError) as exc:
                return exc.code
            return "opened"
        finally:
            await client.close()

    assert in_worker(lee_opens_latest) in ("missing_sender_key", "not_a_member")
    for tab in (host, sam_tab, kim_again):
        assert tab.errors == []
