"""Browser tests: Debian's Chromium, driven by Playwright, against the real server.

Playwright never downloads a browser here: `browser_type_launch_args` points
it at /usr/bin/chromium with flags that keep Chromium off the network. Each
test gets its own real server (uvicorn, SQLite file in a temporary
directory) from `server_factory` in tests/conftest.py, configured with an
exit URL on a second local web server that plays the part of the neutral
site, so quick exit never leaves the machine.
"""

import http.server
import threading
from collections.abc import Callable, Iterator

import pytest
from browser_flows import DESKTOP, Tab, open_app
from server_process import require_web_packages

CHROMIUM = "/usr/bin/chromium"

NEUTRAL_PAGE = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Weather</title></head>"
    b"<body><h1 id='neutral'>Weather today</h1><p>Light rain, 12 degrees.</p></body></html>"
)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    # Every browser test loads libsodium from client_web/node_modules.
    require_web_packages()
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


class _NeutralHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(NEUTRAL_PAGE)))
        self.end_headers()
        self.wfile.write(NEUTRAL_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="session")
def neutral_site() -> Iterator[str]:
    """An everyday-looking page on a second loopback server: where quick exit goes."""
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NeutralHandler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}/weather"
    site.shutdown()
    site.server_close()


@pytest.fixture
def practice(server_factory, neutral_site):
    """The practice's server as the browser tests configure it."""
    return server_factory(
        exit_url=neutral_site,
        neutral_title="Notes",
        crisis_text="Call the practice's night line: 0800 000 000.\nText HELP to 85258.",
    )


@pytest.fixture
def open_tab(browser, practice) -> Iterator[Callable[..., Tab]]:
    """Opens the app in a fresh browser profile; every profile is closed after the test."""
    tabs: list[Tab] = []

    def open_(viewport: dict = DESKTOP) -> Tab:
        tab = open_app(browser, practice.url, viewport)
        tabs.append(tab)
        return tab

    yield open_
    for tab in tabs:
        tab.context.close()
