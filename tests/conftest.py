"""Shared fixtures: the real server, as a separate process, on a free loopback port.

- `server`: one server per test module (`server_process.RunningServer`), with
  rate limits raised so that tests can register many accounts quickly.
- `server_factory`: start servers with other settings (`max_inbox=3`, ...);
  each is stopped at the end of the test. `RunningServer.kill()` sends
  SIGKILL and `start()` starts it again on the same data directory.
- `backend`: the store those servers use. "sqlite" here; the server and
  reliability suites (their conftest.py) run every test that starts a server
  once on each backend, "sqlite" and "postgresql".
- `postgres`: one throw-away PostgreSQL cluster for the whole session
  (tests/server/postgres_cluster.py), started only if a test needs it and
  stopped at the end; each server on it gets a fresh, empty database (which
  it migrates as a practice's server would: 0.15 s), dropped when the
  server's test (or module) ends.

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

from postgres_cluster import Cluster
from server_process import TEST_SETTINGS, RunningServer

ServerFactory = Callable[..., RunningServer]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


class Databases:
    """Fresh PostgreSQL databases for one test or module, dropped at its end."""

    def __init__(self, request: pytest.FixtureRequest, backend: str) -> None:
        self._request = request
        self._backend = backend
        self._made: list[str] = []

    def settings(self) -> dict[str, Any]:
        """The `database` setting of one more server: empty on SQLite."""
        if self._backend != "postgresql":
            return {}
        cluster: Cluster = self._request.getfixturevalue("postgres")
        url = cluster.create_database()
        self._made.append(url)
        return {"database": url}

    def drop(self) -> None:
        if self._made:
            cluster: Cluster = self._request.getfixturevalue("postgres")
            for url in self._made:
                cluster.drop_database(url)


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture
def server_factory(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> Iterator[ServerFactory]:
    started: list[RunningServer] = []
    databases = Databases(request, backend)

    def start(preexec: Callable[[], None] | None = None, **settings: Any) -> RunningServer:
        data_dir = tmp_path / f"server{len(started)}"
        chosen = {**TEST_SETTINGS, **databases.settings(), **settings}
        running = RunningServer(data_dir, chosen, preexec)
        started.append(running)
        return running.start()

    yield start
    for running in started:
        running.stop()
    databases.drop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, backend: str
) -> Iterator[RunningServer]:
    databases = Databases(request, backend)
    settings = {**TEST_SETTINGS, **databases.settings()}
    running = RunningServer(tmp_path_factory.mktemp("server") / "data", settings)
    running.start()
    yield running
    running.stop()
    databases.drop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every browser-marked test after all the others.

    Playwright's sync API keeps an event loop running in the main thread from
    the first browser test to the end of the session, and pytest-asyncio
    cannot start its own loop after that: any async test collected after a
    browser test would fail. Moving the browser tests last (in their order)
    keeps the whole suite runnable in one session.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
