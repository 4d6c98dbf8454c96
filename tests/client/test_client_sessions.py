"""Sessions from the command line: `quietline client sessions` and `sign-out-others`.

Real server, real `quietline client` subprocesses and the Python client's API
as the account's other devices. Signing out the others closes their live
connection with `signed_out`, and the server refuses their token from then
on; the device that did it keeps its saved login.
"""

from pathlib import Path
from typing import Any

import pytest
from client_harness import new_client, quietline

from client_py.client import Client
from client_py.errors import ServerError

WAIT = 30.0


async def test_sessions_are_listed_and_the_others_signed_out(server: Any, tmp_path: Path) -> None:
    phone, secret = await new_client(server)
    laptop = await Client.login(server.url, secret)
    terminal = tmp_path / "terminal"
    try:
        await laptop.connect()
        listed = quietline(
            "sessions", "--json", server_url=server.url, profile=terminal, secret=secret
        )
        assert listed.code == 0, listed.stderr
        sessions = listed.json()["sessions"]
        assert len(sessions) == 3
        assert {s["kind"] for s in sessions} == {"cli"}
        assert [s["this"] for s in sessions].count(True) == 1
        plain = quietline("sessions", server_url=server.url, profile=terminal, secret=secret)
        assert plain.code == 0 and plain.stdout.count("command line, last active") == 3
        assert plain.stdout.count("(this one)") == 1

        done = quietline(
            "sign-out-others", "--json", server_url=server.url, profile=terminal, secret=secret
        )
        assert done.code == 0, done.stderr
        assert done.json() == {"signed_out": 2}

        # The live device is closed with the reason, and its token is refused.
        with pytest.raises(ServerError) as closed:
            await laptop.next_envelope(WAIT)
        assert closed.value.code == "signed_out"
        for device in (phone, laptop):
            with pytest.raises(ServerError) as refused:
                await device.sessions()
            assert refused.value.code == "signed_out"
            assert "signed this one out" in refused.value.message

        # The terminal that signed the others out is the one session left.
        after = quietline(
            "sessions", "--json", server_url=server.url, profile=terminal, secret=secret
        )
        assert [s["this"] for s in after.json()["sessions"]] == [True]
        again = quietline("sign-out-others", server_url=server.url, profile=terminal, secret=secret)
        assert again.code == 0 and "Signed out 0 other sessions." in again.stdout
    finally:
        await laptop.close()
        await phone.close()
