"""Several relay processes on one PostgreSQL database, behind nginx and Caddy.

The proxies run the configuration `deploy/configure.py --upstream A,B`
writes (docs/SELF_HOSTING.md, section 10): each new connection goes to the
relay process with the fewest, so devices that connect one after another
land on different processes, and a message between them is stored by one
and delivered live by the other. A relay process killed with SIGKILL is
skipped: requests through the proxy go on being answered by the other.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from deploy_proxies import Certificate, start_caddy, start_nginx
from server_harness import make_account, make_therapist, random_envelope
from test_deploy_proxies import json_body, open_wss

from crypto.encoding import b64u_decode

STARTERS = {"nginx": start_nginx, "caddy": start_caddy}
MESSAGES = 6
REQUESTS_AFTER_KILL = 10


@pytest.mark.parametrize("name", sorted(STARTERS))
async def test_relays_behind_the_proxy_deliver_live_and_survive_one_killed(
    name: str,
    server_factory: Any,
    postgres: Any,
    certificate: Certificate,
    tmp_path: Path,
) -> None:
    url = postgres.create_database()
    first = server_factory(database=url)
    second = server_factory(database=url)
    proxy = STARTERS[name](tmp_path / name, certificate, [first.port, second.port])
    try:
        therapist = make_therapist(first)
        client = make_account(second.url)
        inbox = await open_wss(proxy, therapist)
        senders = [await open_wss(proxy, client) for _ in range(2)]
        sent = []
        for index in range(MESSAGES):
            envelope = random_envelope()
            answer = await senders[index % 2].send_envelope(therapist, envelope)
            assert answer["type"] == "sent", answer
            delivered = await inbox.expect("envelope")
            assert delivered["id"] == answer["id"]
            assert b64u_decode(delivered["env"]) == envelope
            assert (await inbox.ack(delivered["id"]))["type"] == "acked"
            sent.append(answer["id"])
        for socket in (inbox, *senders):
            await socket.close()

        second.kill()
        for _ in range(REQUESTS_AFTER_KILL):
            response = proxy.request("/api/info")
            assert response.status == 200, response
            assert json_body(response)["server_id"]
        inbox = await open_wss(proxy, therapist)
        sender = await open_wss(proxy, client)
        answer = await sender.send_envelope(therapist, random_envelope())
        assert answer["type"] == "sent"
        assert (await asyncio.wait_for(inbox.expect("envelope"), 20))["id"] == answer["id"]
        await sender.close()
        await inbox.close()
    finally:
        proxy.stop()
