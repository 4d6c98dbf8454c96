"""`quietline client notifications ...` as real subprocesses, to real receivers.

A therapist sets a mail and a push address, sends a test to each (an aiosmtpd
SMTP server and a standard-library HTTP server on loopback receive them),
sees the settings, and turns them off, after which the server's database has
no row for them. A client is refused with a clear error, and so are
addresses the server cannot use.
"""

import sqlite3
from pathlib import Path
from typing import Any

import client_harness
from client_harness import Run
from receivers import MailReceiver, PushReceiver


def test_a_therapist_sets_tests_and_turns_off_notifications(
    server_factory: Any, tmp_path: Path
) -> None:
    mail = MailReceiver().start()
    push = PushReceiver().start()
    try:
        server = server_factory(
            smtp_host="127.0.0.1",
            smtp_port=mail.port,
            smtp_security="none",
            smtp_from="practice@example.org",
            notify_allow_http_loopback="true",
        )

        def run(profile: Path, secret: str | None, *args: str) -> Run:
            return client_harness.quietline(
                *args, server_url=server.url, profile=profile, secret=secret, cheap_kdf=True
            )

        invite = tmp_path / "invite.txt"
        invite.write_text(client_harness.make_invite(server.data_dir))
        t_profile, c_profile = tmp_path / "t", tmp_path / "c"
        made = run(
            t_profile, None, "register", "--json", "--therapist", "--invite-file", str(invite)
        )
        assert made.code == 0, made.stderr
        t = (t_profile, made.json()["secret"])
        client = run(c_profile, None, "register", "--json")
        c = (c_profile, client.json()["secret"])

        shown = run(*t, "notifications", "show", "--json")
        assert shown.code == 0, shown.stderr
        assert shown.json() == {
            "email": None,
            "push_url": None,
            "mail_available": True,
            "last_notified": None,
        }
        topic = push.url + "/ana-topic"
        saved = run(*t, "notifications", "set", "--email", "ana@example.org", "--push-url", topic)
        assert saved.code == 0, saved.stderr
        assert "mail: ana@example.org" in saved.stdout and f"push: {topic}" in saved.stdout

        assert run(*t, "notifications", "test", "email").code == 0
        assert run(*t, "notifications", "test", "push").code == 0
        assert len(mail.mails) == 1 and mail.mails[0].recipients == ["ana@example.org"]
        assert len(push.pushes) == 1 and push.pushes[0].path == "/ana-topic"

        refused = run(*t, "notifications", "set", "--push-url", "http://push.example.org/t")
        assert refused.code == 1 and "[invalid_address]" in refused.stderr
        assert "https://" in refused.stderr
        denied = run(*c, "notifications", "show")
        assert denied.code == 1 and "[not_therapist]" in denied.stderr

        # One channel off keeps the other; `off` deletes both on the server.
        kept = run(*t, "notifications", "set", "--json", "--email", "")
        assert kept.json()["email"] is None and kept.json()["push_url"] == topic
        off = run(*t, "notifications", "off", "--json")
        assert off.code == 0 and off.json()["push_url"] is None
        conn = sqlite3.connect(server.database)
        try:
            assert conn.execute("SELECT COUNT(*) FROM notification_targets").fetchone() == (0,)
        finally:
            conn.close()
        untested = run(*t, "notifications", "test", "push")
        assert untested.code == 1 and "[not_found]" in untested.stderr
    finally:
        mail.stop()
        push.stop()
