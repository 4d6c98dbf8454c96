"""One therapist live on three devices at once: two browsers and the terminal's `watch`.

Everything runs for real: the server, two Chromium contexts signed in to the
same therapist account, `quietline client watch` for that account as a
subprocess, and a client in a third Chromium context. A client's message
appears live on all three devices; a reply written on one appears on the
others as sent; the client sees it read. Afterwards the server holds no
envelope, and the vault exactly one item per message.
"""

import asyncio
import concurrent.futures
import json
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    bodies,
    invite_therapist,
    join_as_therapist,
    open_app,
    open_therapist,
    send,
    sign_in,
    start_anonymously,
    wait_for_count,
    wait_for_state,
)
from client_harness import REPO_ROOT, cli_command, cli_env
from playwright.sync_api import expect

from client_py.client import Client

pytestmark = pytest.mark.browser

THERAPIST = {"display_name": "Robin Hale", "specialties": ["Anxiety"], "languages": ["English"]}
WAIT = 60.0


class Watch:
    """`quietline client watch --json` in the background; its events as they come."""

    def __init__(self, server_url: str, profile: Path, secret: str) -> None:
        self.process = subprocess.Popen(
            cli_command("watch", "--json"),
            cwd=REPO_ROOT,
            env=cli_env(server_url, profile, secret),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.connected = threading.Event()
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()

    def _read_events(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append(json.loads(line))

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line)
            if "watching" in line.lower():
                self.connected.set()

    def messages(self, direction: str) -> list[str]:
        return [e["body"] for e in self.events if e["event"] == "message" and e["dir"] == direction]

    def wait_for(self, direction: str, body: str) -> None:
        deadline = time.monotonic() + WAIT
        while body not in self.messages(direction):
            assert self.process.poll() is None, "".join(self.errors)
            assert time.monotonic() < deadline, f"watch never showed {body!r}: {self.events}"
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def vault_messages(server_url: str, secret: str) -> list[tuple[str, str, str]]:
    """(peer, id, dir) of every message item in the account's vault, via the Python client."""

    async def read() -> list[tuple[str, str, str]]:
        client = await Client.login(server_url, secret)
        try:
            return [
                (m.peer, m.id, m.dir)
                for conversation in client.conversations()
                for m in client.history(conversation.peer)
            ]
        finally:
            await client.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=WAIT)


def waiting_envelopes(database: Path) -> int:
    conn = sqlite3.connect(database)
    try:
        return int(conn.execute("SELECT count(*) FROM envelopes").fetchone()[0])
    finally:
        conn.close()


def test_a_therapist_on_three_devices_sees_everything_live(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    laptop = open_app(browser, server.url, DESKTOP)
    secret = join_as_therapist(laptop.page, invite_therapist(server.data_dir), THERAPIST)
    office = open_app(browser, server.url, DESKTOP)
    sign_in(office.page, secret)
    watch = Watch(server.url, tmp_path / "terminal", secret)
    try:
        assert watch.connected.wait(WAIT), "".join(watch.errors)

        client = open_app(browser, server.url, PHONE)
        start_anonymously(client.page)
        open_therapist(client.page, "Robin Hale")
        send(client.page, "Hello, is this a good time?")

        # Live on all three: both browsers list the thread, the terminal prints it.
        watch.wait_for("in", "Hello, is this a good time?")
        for tab in (laptop, office):
            tab.page.wait_for_selector(".thread-row", timeout=SLOW)
            tab.page.click(".thread-row")
            wait_for_count(tab.page, ".msg--in", 1)
            assert bodies(tab.page, "in") == ["Hello, is this a good time?"]
        wait_for_state(client.page, 0, "read")

        # A reply from the laptop shows on the office browser and the terminal as sent.
        send(laptop.page, "Yes, I'm here.")
        wait_for_state(laptop.page, 0, "sent", "delivered", "read")
        wait_for_count(office.page, ".msg--out", 1)
        assert bodies(office.page, "out") == ["Yes, I'm here."]
        watch.wait_for("out", "Yes, I'm here.")
        wait_for_count(client.page, ".msg--in", 1)
        assert bodies(client.page, "in") == ["Yes, I'm here."]

        # And one from the office the other way round, with the client answering.
        send(office.page, "Take your time.")
        wait_for_count(laptop.page, ".msg--out", 2)
        watch.wait_for("out", "Take your time.")
        send(client.page, "Thank you.")
        watch.wait_for("in", "Thank you.")
        for tab in (laptop, office):
            wait_for_count(tab.page, ".msg--in", 2)
            assert bodies(tab.page, "in") == ["Hello, is this a good time?", "Thank you."]
            assert bodies(tab.page, "out") == ["Yes, I'm here.", "Take your time."]
            expect(tab.page.locator("#status-bar")).to_be_empty()
        wait_for_state(client.page, 1, "read")
    finally:
        watch.stop()

    # Exactly one copy of each message: printed once, stored once, nothing left waiting.
    for direction in ("in", "out"):
        assert Counter(watch.messages(direction)).most_common(1)[0][1] == 1
    stored = vault_messages(server.url, secret)
    assert len(stored) == len(set(stored)) == 4
    # Receipts may still be on their way; every envelope is acknowledged soon.
    deadline = time.monotonic() + WAIT
    while waiting_envelopes(server.database):
        assert time.monotonic() < deadline, "envelopes stayed on the server"
        time.sleep(0.2)
    assert laptop.errors == office.errors == client.errors == []
