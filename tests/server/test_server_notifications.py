"""Therapists' notifications, through the real server to real receivers on loopback.

An aiosmtpd SMTP server and a standard-library HTTP server receive what the
server sends. The server runs with a short random delay (`notify_delay`) so
that no test waits minutes, and the default-length interval, so that a
second notification inside it would be a failure.

Everything that reaches a receiver (every mail header, the request line,
headers and body) is searched for what the server knows about the message
and the people: message text, envelope and account ids, handles, the cmid.
"""

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from receivers import MailReceiver, PushReceiver, eventually, free_port
from server_harness import (
    Account,
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
    request,
)
from server_process import run_admin
from test_server_exchange import new_party

from crypto import session
from crypto.x3dh import parse_bundle
from server.config import ConfigError, load_settings

DELAY = 0.5
# Longer than any test runs: a second notification inside it is a failure.
INTERVAL = 600.0
SUBJECT = "News at the garden club"
TEXT = "Something new is waiting at the garden club."
# Long enough for a notification after DELAY, with room for a slow machine.
SETTLE = DELAY + 3.0


def notifying_server(server_factory: Any, smtp_port: int, **settings: Any) -> Any:
    defaults = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "smtp_from": "practice@example.org",
        "notify_subject": SUBJECT,
        "notify_text": TEXT,
        "notify_delay": DELAY,
        "notify_interval": INTERVAL,
        "notify_retry": 0.3,
        "notify_allow_http_loopback": "true",
    }
    return server_factory(**{**defaults, **settings})


def turn_on(therapist: Account, email: str | None, push_url: str | None) -> dict[str, Any]:
    reply = therapist.call("PUT", "/api/notifications", {"email": email, "push_url": push_url})
    assert reply.status == 200, reply.body
    return reply.body


def assert_content_free(raw: bytes, forbidden: list[bytes]) -> None:
    for secret in forbidden:
        assert secret not in raw, f"a notification holds {secret!r}"


def identifiers(*accounts: Account) -> list[bytes]:
    found: list[bytes] = []
    for account in accounts:
        found += [account.id, account.id_text.encode(), account.id.hex().encode()]
        found += [account.handle.encode(), account.token.encode()]
    return found


async def test_a_clients_messages_give_one_content_free_notification_per_channel(
    server_factory: Any,
) -> None:
    mail = MailReceiver().start()
    push = PushReceiver().start()
    try:
        server = notifying_server(server_factory, mail.port)
        therapist, _ = new_party(server, "therapist")
        client, _ = new_party(server, "client")
        view = turn_on(therapist.account, "therapist@example.org", push.url + "/topic-1")
        assert view["email"] == "therapist@example.org" and view["mail_available"] is True
        assert view["last_notified"] is None

        bundle = client.account.call("GET", f"/api/bundle/{therapist.account.id_text}")
        client.state = session.start_session(client.account.identity, parse_bundle(bundle.body))
        socket = await open_socket(server.url, client.account)
        texts = [f"ünïque message {i} about my week" for i in range(20)]
        answers = []
        for body in texts:
            sent = await socket.send_envelope(therapist.account, client.encrypt(body))
            assert sent["type"] == "sent"
            answers.append(sent)
        await eventually(lambda: len(mail.mails) >= 1 and len(push.pushes) >= 1)
        # Twenty messages within the interval: still one notification per channel.
        await asyncio.sleep(SETTLE)
        assert (len(mail.mails), len(push.pushes)) == (1, 1)
        await socket.close()

        got = mail.mails[0]
        assert got.recipients == ["therapist@example.org"]
        assert got.message["Subject"] == SUBJECT
        assert got.message.get_payload().strip() == TEXT
        assert push.pushes[0].path == "/topic-1" and push.pushes[0].body == TEXT.encode()
        forbidden = [t.encode() for t in texts] + identifiers(therapist.account, client.account)
        forbidden += [a["id"].encode() for a in answers] + [a["cmid"].encode() for a in answers]
        for raw in (got.raw, push.pushes[0].raw):
            assert_content_free(raw, forbidden)
        log = server.log_text().encode()
        assert_content_free(log, [*forbidden, b"therapist@example.org", push.url.encode()])

        after = therapist.account.call("GET", "/api/notifications").body
        assert isinstance(after["last_notified"], int) and after["last_notified"] > 0
    finally:
        mail.stop()
        push.stop()


def address_bytes_in_store(server: Any, needles: list[bytes]) -> list[bytes]:
    """SQLite: the file and WAL after a checkpoint; PostgreSQL: a pg_dump."""
    if server.backend == "sqlite":
        conn = sqlite3.connect(server.database)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
        finally:
            conn.close()
    data = b"".join(server.stored_bytes().values())
    return [needle for needle in needles if needle in data]


async def test_turning_notifications_off_sends_none_and_deletes_the_addresses(
    server_factory: Any,
) -> None:
    mail = MailReceiver().start()
    push = PushReceiver().start()
    try:
        server = notifying_server(server_factory, mail.port)
        therapist = make_therapist(server)
        client = make_account(server.url)
        email = f"off-{os.urandom(4).hex()}@example.org"
        url = f"{push.url}/topic-{os.urandom(4).hex()}"
        turn_on(therapist, email, url)
        stored = server.rows("SELECT email, push_url FROM notification_targets")
        assert stored == [(email, url)]

        # One channel off keeps the other.
        assert turn_on(therapist, None, url)["email"] is None
        reply = therapist.call("DELETE", "/api/notifications")
        assert reply.status == 200 and reply.body["push_url"] is None
        assert therapist.call("GET", "/api/notifications").body["email"] is None

        socket = await open_socket(server.url, client)
        for _ in range(3):
            assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
        await socket.close()
        await asyncio.sleep(SETTLE)
        assert (mail.mails, push.pushes) == ([], [])

        assert server.rows("SELECT COUNT(*) FROM notification_targets") == [(0,)]
        assert address_bytes_in_store(server, [email.encode(), url.encode()]) == []
    finally:
        mail.stop()
        push.stop()


async def test_a_mail_server_that_is_down_holds_up_nothing_and_gets_the_mail_later(
    server_factory: Any,
) -> None:
    port = free_port()
    server = notifying_server(server_factory, port)
    therapist = make_therapist(server)
    client = make_account(server.url)
    turn_on(therapist, "later@example.org", None)
    therapist_socket = await open_socket(server.url, therapist)
    client_socket = await open_socket(server.url, client)
    # The mail server is down: messages are still stored and relayed at once.
    for _ in range(5):
        sent = await client_socket.send_envelope(therapist, random_envelope())
        assert sent["type"] == "sent"
        delivered = await therapist_socket.expect("envelope")
        assert delivered["id"] == sent["id"]
        assert (await therapist_socket.ack(delivered["id"]))["type"] == "acked"
    await eventually(lambda: "could not be delivered" in server.log_text())
    # Retries go on with backoff while it stays down; the outage is logged once.
    await asyncio.sleep(2.0)
    assert server.log_text().count("could not be delivered") == 1

    mail = MailReceiver(port).start()
    try:
        await eventually(lambda: len(mail.mails) == 1, timeout=30)
        await eventually(lambda: "delivered again" in server.log_text())
        assert mail.mails[0].recipients == ["later@example.org"]
        assert "later@example.org" not in server.log_text()
        assert therapist.id_text not in server.log_text()
    finally:
        mail.stop()
        await client_socket.close()
        await therapist_socket.close()


def test_only_therapists_set_notifications_and_bad_addresses_are_refused(
    server_factory: Any,
) -> None:
    server = notifying_server(server_factory, free_port())
    therapist = make_therapist(server)
    client = make_account(server.url)
    for method, path, body in [
        ("GET", "/api/notifications", None),
        ("PUT", "/api/notifications", {"push_url": "https://push.example.org/t"}),
        ("DELETE", "/api/notifications", None),
        ("POST", "/api/notifications/test", {"channel": "push"}),
    ]:
        reply = client.call(method, path, body)
        assert (reply.status, reply.code) == (403, "forbidden"), reply.body
        assert "therapist" in reply.body["error"]["message"]
    assert request(server.url, "GET", "/api/notifications").code == "unauthorized"

    refused = [
        {"email": "not an address"},
        {"email": "a@b"},
        {"email": "x@example.org\r\nBcc: y@example.org"},
        {"push_url": "http://push.example.org/topic"},
        {"push_url": "ftp://push.example.org/topic"},
        {"push_url": "https://user:pw@push.example.org/topic"},
        {"push_url": "https://push.example.org/a b"},
        {"push_url": "https:///nohost"},
        {"push_url": "https://push.example.org:99999/"},
        {"push_url": "https://push.example.org/" + "a" * 2000},
    ]
    for body in refused:
        reply = therapist.call("PUT", "/api/notifications", body)
        assert (reply.status, reply.code) == (400, "invalid_address"), (body, reply.body)
        assert reply.body["error"]["message"].endswith(".")
    for body in [{}, {"colour": "red"}, {"email": 5}, {"push_url": ["https://x.org"]}]:
        assert therapist.call("PUT", "/api/notifications", body).code == "bad_request"
    assert therapist.call("POST", "/api/notifications/test", {"channel": "fax"}).code == (
        "bad_request"
    )
    # A channel that is not set cannot be tested.
    assert therapist.call("POST", "/api/notifications/test", {"channel": "email"}).code == (
        "not_found"
    )
    # https to any host, and http to loopback in this test server, are accepted.
    assert turn_on(therapist, None, "https://push.example.org/up?x=1")["push_url"] == (
        "https://push.example.org/up?x=1"
    )
    assert therapist.call("GET", "/api/notifications").body["push_url"].startswith("https://")


def test_plain_http_push_needs_the_practices_testing_flag(server_factory: Any) -> None:
    server = server_factory(notify_delay=DELAY)
    therapist = make_therapist(server)
    reply = therapist.call("PUT", "/api/notifications", {"push_url": "http://127.0.0.1:9/t"})
    assert (reply.status, reply.code) == (400, "invalid_address")
    # No mail server configured: a mail address is refused, and says why.
    reply = therapist.call("PUT", "/api/notifications", {"email": "t@example.org"})
    assert (reply.status, reply.code) == (409, "mail_unavailable")
    assert "administrator" in reply.body["error"]["message"]
    assert therapist.call("GET", "/api/notifications").body["mail_available"] is False


def test_send_a_test_delivers_at_once_and_reports_failures(server_factory: Any) -> None:
    mail = MailReceiver().start()
    push = PushReceiver().start()
    try:
        server = notifying_server(server_factory, mail.port)
        therapist = make_therapist(server)
        turn_on(therapist, "test@example.org", push.url + "/t")
        assert therapist.call("POST", "/api/notifications/test", {"channel": "email"}).status == 200
        assert len(mail.mails) == 1 and mail.mails[0].message["Subject"] == SUBJECT
        assert therapist.call("POST", "/api/notifications/test", {"channel": "push"}).status == 200
        assert len(push.pushes) == 1 and push.pushes[0].body == TEXT.encode()

        # A redirect is not followed: it is a failed delivery, and nothing else is fetched.
        push.status = 302
        reply = therapist.call("POST", "/api/notifications/test", {"channel": "push"})
        assert (reply.status, reply.code) == (502, "delivery_failed")
        assert "302" in reply.body["error"]["message"]
        assert len(push.pushes) == 2

        # Too many tests in a row are refused before anything is sent.
        reply = therapist.call("POST", "/api/notifications/test", {"channel": "push"})
        assert (reply.status, reply.code) == (429, "rate_limited")
        assert len(push.pushes) == 2
    finally:
        mail.stop()
        push.stop()

    # Nothing listens any more: the test says so instead of hanging.
    other = make_therapist(server)
    turn_on(other, None, f"http://127.0.0.1:{free_port()}/gone")
    reply = other.call("POST", "/api/notifications/test", {"channel": "push"})
    assert (reply.status, reply.code) == (502, "delivery_failed")
    assert "cannot be reached" in reply.body["error"]["message"]


def test_admin_test_mail_sends_the_practice_wording(tmp_path: Path) -> None:
    mail = MailReceiver().start()
    data = tmp_path / "data"
    data.mkdir()
    try:
        unset = run_admin(data, "test-mail", "admin@example.org")
        assert unset.returncode == 1 and "(mail_not_configured)" in unset.stderr
        (data / "quietline.toml").write_text(
            f'smtp_host = "127.0.0.1"\nsmtp_port = {mail.port}\nsmtp_security = "none"\n'
            f'smtp_from = "practice@example.org"\nsmtp_password = "hunter2"\n'
            f'notify_subject = "{SUBJECT}"\n'
        )
        done = run_admin(data, "test-mail", "admin@example.org")
        assert done.returncode == 0, done.stderr
        assert len(mail.mails) == 1 and mail.mails[0].message["Subject"] == SUBJECT
        refused = run_admin(data, "test-mail", "nobody")
        assert refused.returncode == 1 and "(mail_failed)" in refused.stderr
        shown = run_admin(data, "config")
        assert "hunter2" not in shown.stdout and "smtp_password" in shown.stdout
    finally:
        mail.stop()
    down = run_admin(data, "test-mail", "admin@example.org")
    assert down.returncode == 1 and "(mail_failed)" in down.stderr


async def test_after_a_restart_waiting_messages_are_notified_once(server_factory: Any) -> None:
    mail = MailReceiver().start()
    try:
        server = notifying_server(server_factory, mail.port)
        therapist = make_therapist(server)
        client = make_account(server.url)
        turn_on(therapist, "restart@example.org", None)
        server.kill()
        server.start()
        socket = await open_socket(server.url, client)
        assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
        await socket.close()
        await eventually(lambda: len(mail.mails) == 1)
        # The message waits unread; a restart notifies about it once more.
        server.stop()
        server.start()
        await eventually(lambda: len(mail.mails) == 2)
        await asyncio.sleep(SETTLE)
        assert len(mail.mails) == 2
    finally:
        mail.stop()


def test_yes_no_settings_and_the_notification_settings_are_checked(tmp_path: Path) -> None:
    assert load_settings({}, {"QUIETLINE_TITLE_MARKER": "no"}).title_marker is False
    assert load_settings({"title_marker": "on"}, {}).title_marker is True
    config = tmp_path / "quietline.toml"
    config.write_text("title_marker = false\nnotify_allow_http_loopback = true\n")
    loaded = load_settings({}, {}, str(config))
    assert (loaded.title_marker, loaded.notify_allow_http_loopback) == (False, True)
    refused = [
        ({}, {"QUIETLINE_TITLE_MARKER": "maybe"}, "true or false"),
        ({"smtp_security": "ssl"}, {}, "smtp_security"),
        ({"smtp_host": "mail.example.org"}, {}, "smtp_from"),
        ({"smtp_port": "70000"}, {}, "smtp_port"),
        ({"notify_subject": "a\nBcc: x@example.org"}, {}, "one line"),
        ({"notify_text": " "}, {}, "notify_text"),
    ]
    for flags, environ, named in refused:
        with pytest.raises(ConfigError, match=named):
            load_settings(flags, environ)
    config.write_text("title_marker = 1\n")
    with pytest.raises(ConfigError, match="true or false"):
        load_settings({}, {}, str(config))


def test_the_practice_can_turn_the_title_count_off(server_factory: Any) -> None:
    assert server_factory().get_json("/api/info")["title_marker"] is True
    assert server_factory(title_marker="false").get_json("/api/info")["title_marker"] is False


async def test_a_corrected_push_address_does_not_wait_out_the_old_ones_backoff(
    server_factory: Any,
) -> None:
    push = PushReceiver().start()
    try:
        # A ten-minute backoff: only the reset can deliver within this test.
        server = notifying_server(server_factory, free_port(), notify_retry=600)
        therapist = make_therapist(server)
        client = make_account(server.url)
        turn_on(therapist, None, f"http://127.0.0.1:{free_port()}/typo")
        socket = await open_socket(server.url, client)
        assert (await socket.send_envelope(therapist, random_envelope()))["type"] == "sent"
        await socket.close()
        await eventually(lambda: "could not be delivered" in server.log_text())
        turn_on(therapist, None, push.url + "/fixed")
        await eventually(lambda: len(push.pushes) == 1)
        assert push.pushes[0].path == "/fixed"
    finally:
        push.stop()
