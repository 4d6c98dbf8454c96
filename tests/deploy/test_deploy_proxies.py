"""deploy/nginx.conf and deploy/Caddyfile under Debian's nginx and Caddy, before the real server.

Each test runs through both proxies (the `proxy` fixture), as a browser on
another machine would reach a practice: TLS with a certificate for the
practice's name, HTTP/1.1 and HTTP/2, websockets over wss://. The last test
stops the server in the middle of a run and then reads every log the
proxies and the server wrote: none may hold the client's address or
User-Agent. If nginx or Caddy is missing, the tests fail and name the
Debian package to install.
"""

import asyncio
import gzip
import json
import re
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from deploy_proxies import (
    CLIENT_ADDRESS,
    CLIENT_AGENT,
    DOMAIN,
    Proxy,
    Response,
    client_context,
)
from playwright.async_api import async_playwright
from server_harness import (
    Socket,
    auth_frame,
    auth_signature,
    make_account,
    make_therapist,
    random_envelope,
    request,
)
from websockets.asyncio.client import connect

from crypto.encoding import b64u_decode
from server.config import Settings
from server.headers import SECURITY_HEADERS

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_WEB = REPO_ROOT / "client_web"
HSTS = "max-age=63072000"
CHROMIUM = "/usr/bin/chromium"
LIMIT = Settings.max_request_bytes
# Each oversized request is repeated: the failure seen before was a race
# that answered 502 in some tries and the JSON error in others.
OVERSIZED_TRIES = 3


def json_body(response: Response) -> Any:
    assert response.headers.get("content-type", "").startswith("application/json"), response
    return json.loads(response.body)


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_security_headers_and_hsts_arrive_and_the_server_header_names_no_version(
    proxy: Proxy, http2: bool
) -> None:
    for path in ("/", "/api/info"):
        response = proxy.request(path, http2=http2)
        assert response.status == 200, (path, response.status)
        assert response.version == ("HTTP/2" if http2 else "HTTP/1.1")
        for name, value in SECURITY_HEADERS:
            assert response.headers.get(name) == value, (path, name)
        assert response.headers.get("strict-transport-security") == HSTS
        assert not re.search(r"\d", response.headers.get("server", "")), response.headers
        for name in ("x-forwarded-for", "x-real-ip", "forwarded", "via"):
            assert name not in response.headers


def test_plain_http_is_sent_to_https(proxy: Proxy) -> None:
    response = proxy.request(f"http://{DOMAIN}:{proxy.http_port}/api/info")
    assert response.status in (301, 308)
    # Caddy 2.6 leaves a non-default HTTPS port out of its redirect; a practice uses 443.
    assert response.headers["location"] in (
        f"{proxy.base_url}/api/info",
        f"https://{DOMAIN}/api/info",
    )


@pytest.mark.parametrize(
    "path",
    ["/vendor/libsodium-sumo.js", "/vendor/libsodium-wrappers.js", "/app/main.js", "/css/base.css"],
)
def test_javascript_and_css_arrive_compressed(proxy: Proxy, path: str) -> None:
    response = proxy.request(path, "--header", "Accept-Encoding: gzip")
    assert response.status == 200
    assert response.headers.get("content-encoding") == "gzip", response.headers
    assert "accept-encoding" in response.headers.get("vary", "").lower()
    served = proxy.request(path).body  # the same file, asked for without compression
    assert gzip.decompress(response.body) == served
    assert len(response.body) < len(served) * 0.6, (len(response.body), len(served))


async def open_wss(proxy: Proxy, account: Any) -> Socket:
    """An authenticated websocket through the proxy, from the client's own address."""
    ws = await connect(
        proxy.ws_url,
        ssl=client_context(proxy.certificate),
        host="127.0.0.1",
        port=proxy.https_port,
        local_addr=(CLIENT_ADDRESS, 0),
        user_agent_header=CLIENT_AGENT,
        proxy=None,
        compression=None,
        open_timeout=20,
    )
    challenge = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert challenge["type"] == "challenge"
    sig = auth_signature(
        account.identity,
        b64u_decode(challenge["server"]),
        b64u_decode(challenge["nonce"]),
        account.id,
    )
    await ws.send(json.dumps(auth_frame(account, sig)))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert ready["type"] == "ready", ready
    return Socket(ws, ready)


async def test_a_websocket_round_trip_over_wss(proxy: Proxy, server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    sender = await open_wss(proxy, client)
    inbox = await open_wss(proxy, therapist)
    envelope = random_envelope()
    sent = await sender.send_envelope(therapist, envelope)
    assert sent["type"] == "sent", sent
    delivered = await inbox.expect("envelope")
    assert b64u_decode(delivered["env"]) == envelope
    assert (await inbox.ack(delivered["id"]))["type"] == "acked"
    await sender.close()
    await inbox.close()


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("bodies")
    made = {}
    for name, size in (("at_limit", LIMIT), ("over_limit", LIMIT + 1), ("far_over", 2 * LIMIT)):
        made[name] = directory / name
        made[name].write_bytes(b"x" * size)
    return made


def test_an_oversized_body_is_answered_with_the_json_too_large(
    proxy: Proxy, server: Any, bodies: dict[str, Path]
) -> None:
    direct = request(server.url, "POST", "/api/accounts", raw=bodies["over_limit"].read_bytes())
    assert direct.status == 413 and direct.code == "too_large"
    # HTTP/2 with a browser: see the next test.
    for http2 in (False,):
        for name in ("over_limit", "far_over"):
            tries = OVERSIZED_TRIES if name == "over_limit" else 1
            for chunked in (False, True):
                extra = ("--header", "Transfer-Encoding: chunked") if chunked and not http2 else ()
                for _ in range(tries):
                    response = proxy.request(
                        "/api/accounts", *extra, method="POST", http2=http2, body_file=bodies[name]
                    )
                    where = (name, "h2" if http2 else "h1.1", "chunked" if extra else "length")
                    assert response.status == 413, (where, response.status, response.body[:200])
                    assert json_body(response) == direct.body, where
                    assert response.headers.get("strict-transport-security") == HSTS
    # A body of exactly max_request_bytes passes the proxy: the server reads
    # it and refuses it as not JSON, so the proxy refuses no more than the server.
    at_limit = proxy.request(
        "/api/accounts", method="POST", http2=True, body_file=bodies["at_limit"]
    )
    assert at_limit.status == 400 and json_body(at_limit)["error"]["code"] == "bad_request"


def _handshake_garbage(proxy: Proxy) -> None:
    """A connection that sends no TLS at all: a proxy logs such failures if anything."""
    with socket.create_connection(
        ("127.0.0.1", proxy.https_port), timeout=5, source_address=(CLIENT_ADDRESS, 0)
    ) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: " + DOMAIN.encode() + b"\r\n\r\n")
        raw.settimeout(5)
        try:
            while raw.recv(4096):
                pass
        except OSError:
            pass


def _bad_certificate_name(proxy: Proxy) -> None:
    """A TLS handshake the client gives up on."""
    context = ssl.create_default_context()  # does not trust the test certificate
    with (
        socket.create_connection(
            ("127.0.0.1", proxy.https_port), timeout=5, source_address=(CLIENT_ADDRESS, 0)
        ) as raw,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(raw, server_hostname=DOMAIN)


async def test_after_an_upstream_outage_no_log_holds_the_client_address(
    proxy: Proxy, server: Any
) -> None:
    therapist = make_therapist(server)
    inbox = await open_wss(proxy, therapist)
    server.stop()
    try:
        await asyncio.wait_for(inbox.ws.wait_closed(), 20)
        for http2 in (False, True):
            down = proxy.request("/api/info", http2=http2)
            assert down.status == 502, down.status
        # A request with a body (over HTTP/1.1: curl 7.88 over HTTP/2 reports a
        # stream reset when a proxy answers before reading the body, see below).
        down_post = proxy.request("/api/login", "--data", '{"handle": "x"}', method="POST")
        assert down_post.status == 502
        with pytest.raises(Exception, match=r"502|HTTP 50"):
            await open_wss(proxy, therapist)
        _handshake_garbage(proxy)
        _bad_certificate_name(proxy)
        proxy.request("/no/such/page")
    finally:
        server.start()
    assert proxy.request("/api/info").status == 200
    back = await open_wss(proxy, therapist)
    await back.close()
    # Give the proxy a moment to flush what it logs.
    await asyncio.sleep(0.5)
    logs = proxy.logs()
    logs["server"] = server.log_text()
    for name, text in logs.items():
        assert CLIENT_ADDRESS not in text, f"{proxy.name}: {name} holds the client's address"
        assert CLIENT_AGENT not in text, f"{proxy.name}: {name} holds the client's User-Agent"
        assert "remote_ip" not in text and "remote_port" not in text, (proxy.name, name)
    if proxy.name == "caddy":
        # Caddy still says what failed, so a practice can debug a 502.
        assert "http.log.error" in logs["caddy.log"] and '"status":502' in logs["caddy.log"]


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {DOMAIN} 127.0.0.1",
]
POST_FROM_THE_PAGE = """async ([size, tries]) => {
    const answers = [];
    for (let i = 0; i < tries; i++) {
        const reply = await fetch("/api/accounts", {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: new Uint8Array(size),
        });
        answers.push([reply.status, await reply.text()]);
    }
    const entries = performance.getEntriesByType("resource");
    return {answers, protocols: entries.map((entry) => entry.nextHopProtocol)};
}"""


async def test_a_browser_over_http2_gets_the_json_too_large(proxy: Proxy, server: Any) -> None:
    """Over HTTP/2 the client that matters is a browser: Debian's Chromium, as a page would.

    curl 7.88 (Debian 12) is not used for this: over HTTP/2 it stops reading
    when an error status arrives before it has sent the whole body ("HTTP
    error before end of send"), and reports an answer still in flight as cut
    short, whichever server sent it.
    """
    direct = request(server.url, "POST", "/api/accounts", raw=b"x" * (LIMIT + 1))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(ignore_https_errors=True, user_agent=CLIENT_AGENT)
            page = await context.new_page()
            await page.goto(proxy.base_url + "/api/info")
            for size, tries in ((LIMIT + 1, OVERSIZED_TRIES), (2 * LIMIT, 1)):
                result = await page.evaluate(POST_FROM_THE_PAGE, [size, tries])
                assert set(result["protocols"]) == {"h2"}, result["protocols"]
                for status, text in result["answers"]:
                    assert status == 413, (size, status, text[:200])
                    assert json.loads(text) == direct.body
        finally:
            await browser.close()
