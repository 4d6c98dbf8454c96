"""What a person does in the web client, as Playwright steps, for the browser tests.

Waiting is always for something visible on the page (a selector), never for
a fixed time: under the page's strict CSP, `wait_for_function` with a string
cannot run, and timed waits would make the tests slow and flaky.
"""

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "tests" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Creating keys and an account takes a few Argon2id derivations and requests.
SLOW = 30_000


@dataclass
class Tab:
    """One browser context (a separate browser profile) with one page."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)


def open_app(browser: Browser, url: str, viewport: dict | None = None) -> Tab:
    context = browser.new_context(viewport=viewport or DESKTOP)
    page = context.new_page()
    tab = Tab(context, page)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("console", lambda message: _record_console(tab, message))
    page.on("framenavigated", lambda frame: tab.visited.append(frame.url))
    page.goto(url)
    page.wait_for_selector("#main[data-screen='welcome']")
    return tab


def _record_console(tab: Tab, message) -> None:
    # Refused requests (a 401 for a wrong secret) are expected; script errors are not.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        tab.errors.append(message.text)


def invite_therapist(data_dir: Path) -> str:
    """A one-time therapist invite code, made the way the practice admin makes it."""
    done = subprocess.run(
        [sys.executable, "-m", "server", "admin", "--data", str(data_dir), "invite-therapist"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[0]


def read_secret(page: Page) -> str:
    groups = page.locator("#secret-value .secret__group").all_inner_texts()
    assert len(groups) == 6
    return "-".join(groups)


def asked_group(page: Page) -> str:
    """The group of the shown secret that the page asks to be typed back."""
    number = int(page.locator("label[for='secret-check']").get_attribute("data-group"))
    return read_secret(page).split("-")[number - 1]


def confirm_secret(page: Page) -> None:
    page.fill("#secret-check", asked_group(page))
    page.click("#secret-continue")


def start_anonymously(page: Page) -> str:
    page.click("#start-anonymously")
    page.wait_for_selector("#secret-value")
    secret = read_secret(page)
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='directory']", timeout=SLOW)
    return secret


def join_as_therapist(page: Page, invite: str, profile: dict) -> str:
    page.click("#join-therapist")
    page.fill("#invite-code", invite)
    page.click("#main form button[type='submit']")
    page.wait_for_selector("#secret-value")
    secret = read_secret(page)
    confirm_secret(page)
    page.wait_for_selector("#main[data-screen='profile']", timeout=SLOW)
    fill_profile(page, profile)
    page.click("#save-profile")
    page.wait_for_selector("#main[data-screen='inbox']", timeout=SLOW)
    return secret


def fill_profile(page: Page, profile: dict) -> None:
    page.fill("#profile-display-name", profile["display_name"])
    page.fill("#profile-pronouns", profile.get("pronouns", ""))
    page.fill("#profile-specialties", ", ".join(profile.get("specialties", [])))
    page.fill("#profile-languages", ", ".join(profile.get("languages", [])))
    page.fill("#profile-response-time", profile.get("response_time", ""))
    page.fill("#profile-office-hours", profile.get("office_hours", ""))
    page.fill("#profile-away-message", profile.get("away_message", ""))
    page.set_checked("#profile-accepting", profile.get("accepting", True))


def sign_in(page: Page, secret: str, field_id: str = "signin-secret") -> None:
    page.fill(f"#{field_id}", secret)
    page.press(f"#{field_id}", "Enter")
    page.wait_for_selector("#nav:not([hidden])", timeout=SLOW)


def go(page: Page, screen: str) -> None:
    page.click(f"#nav [data-nav='{screen}']")
    page.wait_for_selector(f"#main[data-screen='{screen}']")


def open_therapist(page: Page, name: str) -> None:
    page.wait_for_selector(f"[data-therapist='{name}']", timeout=SLOW)
    page.click(f"[data-therapist='{name}'] button")
    page.wait_for_selector("#main[data-screen='thread']")


def open_thread(page: Page, name: str) -> None:
    page.click(f".thread-row[data-peer-name='{name}']", timeout=SLOW)
    page.wait_for_selector("#main[data-screen='thread']")


def send(page: Page, text: str) -> None:
    page.fill("#composer", text)
    page.click("#send")


def bodies(page: Page, direction: str) -> list[str]:
    return page.locator(f".msg--{direction} .msg__body").all_inner_texts()


def wait_for_count(page: Page, selector: str, count: int) -> None:
    expect(page.locator(selector)).to_have_count(count, timeout=SLOW)


def wait_for_state(page: Page, index: int, *states: str) -> None:
    """Until outgoing message `index` shows one of `states`."""
    pattern = re.compile("^(" + "|".join(states) + ")$")
    expect(page.locator(".msg--out").nth(index)).to_have_attribute(
        "data-state", pattern, timeout=SLOW
    )


def screenshot(page: Page, name: str) -> None:
    """The current screen at phone and at desktop size, into tests/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"))
    if original:
        page.set_viewport_size(original)


def storage_snapshot(tab: Tab, origin: str) -> str:
    """Everything this browser profile keeps for the site's origin, as one text.

    Read from a fresh page of the same origin (the information page), since
    the tab itself may have left the site by quick exit.
    """
    page = tab.context.new_page()
    page.goto(origin + "/help.html")
    parts = [
        page.evaluate("() => JSON.stringify(Object.entries(localStorage))"),
        page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))"),
        page.evaluate("async () => JSON.stringify(await indexedDB.databases())"),
        page.evaluate("async () => JSON.stringify(await caches.keys())"),
        repr(tab.context.cookies()),
        *tab.visited,
    ]
    page.close()
    return "\n".join(parts)


class Network:
    """Relays the page's websocket to the real server until `cut()`."""

    def __init__(self) -> None:
        self.up = True
        self.routes = []

    def handle(self, route) -> None:
        if not self.up:
            route.close()
            return
        route.connect_to_server()
        self.routes.append(route)

    def cut(self) -> None:
        self.up = False
        for route in self.routes:
            route.close()
        self.routes.clear()
