"""Shared fixtures: the real server, as a separate process, on a free loopback port.

- `server`: one server per test module (`server_process.RunningServer`), with
  rate limits raised so that tests can register many accounts quickly.
- `server_factory`: start servers with other settings (`max_inbox=3`, ...);
  each is stopped at the end of the test. `RunningServer.kill()` sends
  SIGKILL and `start()` starts it again on the same data directory.

Each server runs `python -m server` in a temporary data directory; its stdout
and stderr go to a log file tests can search (`RunningServer.log_text()`).
"""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The helpers live beside the server tests; importing them by a unique module
# name keeps them clear of the other test directories' conftest modules.
sys.path.insert(0, str(Path(__file__).resolve().parent / "server"))

from server_process import TEST_SETTINGS, RunningServer

ServerFactory = Callable[..., RunningServer]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    started: list[RunningServer] = []

    def start(preexec: Callable[[], None] | None = None, **settings: Any) -> RunningServer:
        data_dir = tmp_path / f"server{len(started)}"
        running = RunningServer(data_dir, {**TEST_SETTINGS, **settings}, preexec)
        started.append(running)
        return running.start()

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("server") / "data", dict(TEST_SETTINGS))
    running.start()
    yield running
    running.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every browser-marked test after all the others.

    Playwright's sync API keeps an event loop running in the main thread from
    the first browser test to the end of the session, and pytest-asyncio
    cannot start its own loop after that: any async test collected after a
    browser test would fail. Moving the browser tests last (in their order)
    keeps the whole suite runnable in one session.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
