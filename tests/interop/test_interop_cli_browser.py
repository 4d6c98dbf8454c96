"""The Python client and the browser client are two implementations of one protocol.

Everything here runs for real: the server (uvicorn, SQLite file), the
`quietline client` command as subprocesses, and the web client in Debian's
Chromium driven by Playwright. A therapist works in the terminal and a client
in the browser; they write both ways live, while the other side is offline,
and with envelopes delivered out of order; both end up with exactly the same
texts. Then accounts move: the therapist from the terminal to the browser and
back, the client from the browser to the terminal and back, each time logging
in with the secret alone, finding the whole history and carrying on in the same
sessions. New clients set up sessions while the therapist is on either side,
so the prekeys vault item is written by one implementation and used by the
other.

Two steps use the Python client's API rather than its command line, because
no command exposes them: submitting a batch of envelopes in another order than
they were encrypted, and opening waiting envelopes in reverse order. The API
runs in a worker thread with its own event loop, next to Playwright's.
"""

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from browser_flows import (
    SLOW,
    Tab,
    bodies,
    go,
    open_app,
    open_therapist,
    open_thread,
    send,
    sign_in,
    start_anonymously,
    wait_for_count,
    wait_for_state,
)
from client_harness import Run, make_invite, quietline
from playwright.sync_api import expect

from client_py.client import Client
from client_py.records import client_label

pytestmark = pytest.mark.browser

T = TypeVar("T")
API_TIMEOUT = 120


def in_worker(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on its own event loop in a worker thread."""

    async def main() -> T:
        return await make()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=API_TIMEOUT)


class Terminal:
    """One person's `quietline client` profile and secret."""

    def __init__(self, server: Any, profile: Path, secret: str = "") -> None:
        self.server = server
        self.profile = profile
        self.secret = secret

    def run(self, *args: str, stdin: str | None = None) -> Run:
        done = quietline(
            *args,
            server_url=self.server.url,
            profile=self.profile,
            secret=self.secret or None,
            stdin=stdin,
        )
        assert done.code == 0, f"quietline client {' '.join(args)}: {done.stderr}"
        return done

    def json(self, command: str, *args: str) -> Any:
        return self.run(command, "--json", *args).json()

    def register(self, *args: str) -> dict[str, Any]:
        account = self.json("register", *args)
        self.secret = account["secret"]
        return account

    def history(self, peer: str) -> tuple[list[str], list[str]]:
        """(received, sent) texts of a conversation; `read` also marks it read."""
        messages = self.json("read", "--", peer)["messages"]
        return (
            [m["body"] for m in messages if m["dir"] == "in"],
            [m["body"] for m in messages if m["dir"] == "out"],
        )


def new_therapist(server: Any, tmp_path: Path, name: str) -> tuple[Terminal, dict[str, Any]]:
    invite = tmp_path / f"invite-{name.split()[0].lower()}.txt"
    invite.write_text(make_invite(server.data_dir) + "\n")
    terminal = Terminal(server, tmp_path / f"therapist-{name.split()[0].lower()}")
    account = terminal.register("--therapist", "--invite-file", str(invite))
    terminal.run(
        "profile", "set", "--display-name", name, "--pronouns", "they/them",
        "--specialty", "Trauma", "--language", "English",
        "--response-time", "within a day", "--accepting",
    )  # fmt: skip
    return terminal, account


def wait_for_bodies(page: Any, direction: str, count: int) -> list[str]:
    wait_for_count(page, f".msg--{direction} .msg__body", count)
    return bodies(page, direction)


def sign_in_to_thread(tab: Tab, secret: str, screen: str, peer_name: str) -> None:
    sign_in(tab.page, secret)
    tab.page.wait_for_selector(f"#main[data-screen='{screen}']", timeout=SLOW)
    open_thread(tab.page, peer_name)


def test_terminal_therapist_and_browser_client_exchange(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    therapist, _ = new_therapist(server, tmp_path, "Sam Okafor")
    tab = open_app(browser, server.url)
    page = tab.page
    client_secret = start_anonymously(page)
    open_therapist(page, "Sam Okafor")

    # Live, browser to terminal; the terminal's read receipt reaches the browser.
    sent_by_client = ["Hello. Is anyone there?"]
    send(page, sent_by_client[0])
    wait_for_state(page, 0, "sent", "delivered", "read")
    conversations = therapist.json("inbox")["conversations"]
    assert [c["unread"] for c in conversations] == [1]
    peer = conversations[0]["peer"]
    assert conversations[0]["label"] == client_label(peer)
    assert therapist.history(peer) == (sent_by_client, [])
    wait_for_state(page, 0, "read")

    # Live, terminal to browser.
    sent_by_therapist = ["I'm here. Take your time.\nThere is no rush."]
    therapist.run("send", "--", peer, "-", stdin=sent_by_therapist[0])
    assert wait_for_bodies(page, "in", 1) == sent_by_therapist

    # The browser is closed; the terminal writes three messages whose envelopes
    # reach the server in another order than they were encrypted.
    tab.context.close()
    batch = ["First of three.", "Second of three.", "Third of three."]

    async def send_out_of_order() -> None:
        python = await Client.login(server.url, therapist.secret)
        try:
            await python.connect()
            await python.send_many(peer, batch, submit_order=[2, 0, 1])
        finally:
            await python.close()

    in_worker(send_out_of_order)
    sent_by_therapist += batch
    tab = open_app(browser, server.url)
    page = tab.page
    sign_in_to_thread(tab, client_secret, "messages", "Sam Okafor")
    assert sorted(wait_for_bodies(page, "in", 4)) == sorted(sent_by_therapist)

    # The therapist is offline; the browser writes three messages, and the
    # Python client opens everything waiting (texts and receipts) in reverse.
    more = ["One more thing.", "Actually two.", "No, three."]
    for index, text in enumerate(more, start=1):
        send(page, text)
        wait_for_state(page, index, "sent", "delivered", "read")
    sent_by_client += more

    async def open_in_reverse() -> list[str]:
        python = await Client.login(server.url, therapist.secret)
        try:
            await python.connect()
            frames = [
                await python.next_envelope(30) for _ in range(python.channel.pending_at_start)
            ]
            assert len(frames) >= len(more)
            opened = [await python.open_envelope(frame) for frame in reversed(frames)]
            await python.flush_receipts()
            assert [o.error for o in opened if o.error is not None] == []
            return [o.message.body for o in opened if o.message is not None]
        finally:
            await python.close()

    assert sorted(in_worker(open_in_reverse)) == sorted(more)
    wait_for_state(page, 3, "delivered", "read")

    # The sessions carry on after all that, both ways.
    therapist.run("send", "--", peer, "Thank you for telling me.")
    sent_by_therapist.append("Thank you for telling me.")
    wait_for_bodies(page, "in", len(sent_by_therapist))
    send(page, "See you tomorrow.")
    sent_by_client.append("See you tomorrow.")
    wait_for_state(page, len(sent_by_client) - 1, "sent", "delivered", "read")

    # Both sides hold exactly the same texts.
    received, sent = therapist.history(peer)
    assert sorted(received) == sorted(sent_by_client) == sorted(bodies(page, "out"))
    assert sorted(sent) == sorted(sent_by_therapist) == sorted(bodies(page, "in"))
    assert tab.errors == []


def test_accounts_move_between_terminal_and_browser(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    therapist, _ = new_therapist(server, tmp_path, "Robin Ash")
    client_tab = open_app(browser, server.url)
    cpage = client_tab.page
    client_secret = start_anonymously(cpage)
    open_therapist(cpage, "Robin Ash")
    send(cpage, "Hello from the browser.")
    wait_for_state(cpage, 0, "sent", "delivered", "read")
    peer = therapist.json("inbox")["conversations"][0]["peer"]
    assert therapist.history(peer) == (["Hello from the browser."], [])
    therapist.run("send", "--", peer, "A reply from the terminal.")
    wait_for_bodies(cpage, "in", 1)

    # The therapist moves to the browser with the secret alone.
    therapist_tab = open_app(browser, server.url)
    tpage = therapist_tab.page
    sign_in_to_thread(therapist_tab, therapist.secret, "inbox", client_label(peer))
    assert wait_for_bodies(tpage, "in", 1) == ["Hello from the browser."]
    assert wait_for_bodies(tpage, "out", 1) == ["A reply from the terminal."]
    send(tpage, "A reply from the therapist's browser.")
    wait_for_state(tpage, 1, "sent", "delivered", "read")
    assert wait_for_bodies(cpage, "in", 2)[-1] == "A reply from the therapist's browser."
    send(cpage, "A second question.")
    assert wait_for_bodies(tpage, "in", 2)[-1] == "A second question."

    # A new client writes while the therapist is in the browser: the browser
    # answers a prekey message with the prekeys item the terminal created.
    second = Terminal(server, tmp_path / "second-client")
    second_account = second.register()
    second.run("send", "Robin Ash", "Hello from a second client.")
    go(tpage, "inbox")
    open_thread(tpage, client_label(second_account["account"]))
    assert wait_for_bodies(tpage, "in", 1) == ["Hello from a second client."]
    send(tpage, "Welcome, second client.")
    wait_for_state(tpage, 0, "sent", "delivered", "read")
    assert therapist_tab.errors == []
    therapist_tab.context.close()

    # Back in the terminal: the whole history, and the same sessions.
    received, sent = therapist.history(peer)
    assert received == ["Hello from the browser.", "A second question."]
    assert sent == ["A reply from the terminal.", "A reply from the therapist's browser."]
    therapist.run("send", "--", peer, "Back at the terminal.")
    assert wait_for_bodies(cpage, "in", 3)[-1] == "Back at the terminal."
    assert second.history("Robin Ash") == (
        ["Welcome, second client."],
        ["Hello from a second client."],
    )

    # A third client: the terminal answers a prekey message with the prekeys
    # item the browser last changed.
    third = Terminal(server, tmp_path / "third-client")
    third_account = third.register()
    third.run("send", "Robin Ash", "Hello from a third client.")
    assert therapist.history(third_account["account"]) == (["Hello from a third client."], [])
    therapist.run("send", "--", third_account["account"], "Welcome, third client.")
    assert third.history("Robin Ash") == (
        ["Welcome, third client."],
        ["Hello from a third client."],
    )

    # The client moves from the browser to the terminal and back.
    client_tab.context.close()
    client = Terminal(server, tmp_path / "moved-client", client_secret)
    client.run("login")
    received, sent = client.history("Robin Ash")
    assert received == [
        "A reply from the terminal.",
        "A reply from the therapist's browser.",
        "Back at the terminal.",
    ]
    assert sent == ["Hello from the browser.", "A second question."]
    client.run("send", "Robin Ash", "Now writing from a terminal.")
    assert therapist.history(peer)[0][-1] == "Now writing from a terminal."
    therapist.run("send", "--", peer, "Got it.")

    client_tab = open_app(browser, server.url)
    cpage = client_tab.page
    sign_in_to_thread(client_tab, client_secret, "messages", "Robin Ash")
    assert sorted(wait_for_bodies(cpage, "out", 3)) == sorted(
        ["Hello from the browser.", "A second question.", "Now writing from a terminal."]
    )
    assert wait_for_bodies(cpage, "in", 4)[-1] == "Got it."
    send(cpage, "And back in the browser.")
    wait_for_state(cpage, 3, "sent", "delivered", "read")
    assert therapist.history(peer)[0][-1] == "And back in the browser."
    expect(cpage.locator(".msg--in .msg__body")).to_have_count(4)
    assert client_tab.errors == []
