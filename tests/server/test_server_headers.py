"""Security headers on every kind of response, and exactly the web client's files served."""

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from server_harness import make_account, request
from server_process import TEST_SETTINGS, RunningServer
from websockets.asyncio.client import connect

from server.static import accepts_gzip

EXPECTED_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
FILES = {
    "index.html": b"<!doctype html><title>x</title>",
    "help.html": b"<!doctype html><title>help</title>",
    "app/main.js": b"export const a = 1;\n",
    "app/views/inbox.mjs": b"export const b = 2;\n",
    "lib/sodium.wasm": b"\x00asm\x01\x00\x00\x00",
    "css/base.css": b"body { margin: 0 }\n",
    "img/icon.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "img/logo.png": b"\x89PNG\r\n\x1a\n",
    "node_modules/libsodium-wrappers-sumo/dist/modules-sumo/libsodium-wrappers.js": b"w",
    "node_modules/libsodium-sumo/dist/modules-sumo/libsodium-sumo.js": b"s",
    "node_modules/other/secret.js": b"never",
    "test/app.test.mjs": b"never",
    "app/.hidden.js": b"never",
    "package.json": b"{}",
    "notes.txt": b"never",
}
SERVED = {
    "/": ("text/html; charset=utf-8", "index.html"),
    "/index.html": ("text/html; charset=utf-8", "index.html"),
    "/help.html": ("text/html; charset=utf-8", "help.html"),
    "/app/main.js": ("text/javascript; charset=utf-8", "app/main.js"),
    "/app/views/inbox.mjs": ("text/javascript; charset=utf-8", "app/views/inbox.mjs"),
    "/lib/sodium.wasm": ("application/wasm", "lib/sodium.wasm"),
    "/css/base.css": ("text/css; charset=utf-8", "css/base.css"),
    "/img/icon.svg": ("image/svg+xml", "img/icon.svg"),
    "/img/logo.png": ("image/png", "img/logo.png"),
    "/vendor/libsodium-wrappers.js": (
        "text/javascript; charset=utf-8",
        "node_modules/libsodium-wrappers-sumo/dist/modules-sumo/libsodium-wrappers.js",
    ),
    "/vendor/libsodium-sumo.js": (
        "text/javascript; charset=utf-8",
        "node_modules/libsodium-sumo/dist/modules-sumo/libsodium-sumo.js",
    ),
}
REFUSED = [
    "/node_modules/other/secret.js",
    "/vendor/secret.js",
    "/test/app.test.mjs",
    "/app/.hidden.js",
    "/package.json",
    "/notes.txt",
    "/app/../package.json",
    "/app/%2e%2e/package.json",
    "/app/..%2fpackage.json",
    "/css/../../etc/passwd",
    "/img//icon.svg",
    "/app/missing.js",
    "/missing.html",
    "/app",
]


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("client_web")
    for name, content in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    outside = root.parent / "outside.js"
    outside.write_bytes(b"never")
    (root / "app" / "link.js").symlink_to(outside)
    return root


def assert_security_headers(headers: dict[str, str], api: bool) -> None:
    assert headers["content-security-policy"] == EXPECTED_CSP
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in headers["permissions-policy"]
    assert "set-cookie" not in headers
    assert "server" not in headers
    # Nothing of the site, page or API, is kept in a browser's or proxy's cache.
    assert headers["cache-control"] == "no-store"


@pytest.fixture(scope="module")
def static_server(client_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = RunningServer(
        tmp_path_factory.mktemp("static") / "data",
        {**TEST_SETTINGS, "client_dir": str(client_dir), "max_request_bytes": 2048},
    )
    running.start()
    yield running
    running.stop()


@pytest.mark.parametrize("path", sorted(SERVED))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_client_files_are_served_with_their_types(
    static_server: Any, client_dir: Path, path: str, method: str
) -> None:
    content_type, name = SERVED[path]
    reply = request(static_server.url, method, path)
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.raw == (b"" if method == "HEAD" else (client_dir / name).read_bytes())
    assert_security_headers(reply.headers, api=False)


@pytest.mark.parametrize("path", [*REFUSED, "/app/link.js"])
def test_nothing_else_is_served(static_server: Any, path: str) -> None:
    reply = request(static_server.url, "GET", path)
    assert (reply.status, reply.code) == (404, "not_found")
    assert b"never" not in reply.raw
    assert_security_headers(reply.headers, api=False)


def test_every_kind_of_api_response_carries_the_headers(static_server: Any) -> None:
    account = make_account(static_server.url)
    replies = [
        request(static_server.url, "GET", "/api/info"),
        request(static_server.url, "GET", "/api/directory"),
        account.call("GET", "/api/vault"),
        request(static_server.url, "GET", "/api/vault"),
        request(static_server.url, "POST", "/api/info", {}),
        request(static_server.url, "GET", "/api/unknown"),
        request(static_server.url, "POST", "/api/login", raw=b"{"),
        request(static_server.url, "POST", "/api/login", raw=b"x" * 4096),
        request(static_server.url, "OPTIONS", "/api/info"),
        request(static_server.url, "DELETE", "/index.html"),
    ]
    statuses = [r.status for r in replies]
    assert statuses == [200, 200, 200, 401, 405, 404, 400, 413, 405, 405]
    for reply in replies[:-1]:
        assert_security_headers(reply.headers, api=True)
    assert_security_headers(replies[-1].headers, api=False)
    for reply in replies:
        assert reply.headers["content-type"] == "application/json"
        json.loads(reply.raw)


async def test_the_websocket_handshake_carries_the_headers(static_server: Any) -> None:
    ws = await connect(static_server.ws_url, compression=None)
    headers = {k.lower(): v for k, v in ws.response.headers.raw_items()}
    assert_security_headers(headers, api=True)
    assert "sec-websocket-extensions" not in headers, "compression must be off"
    await ws.close()


def test_missing_client_files_are_not_found_not_errors(server_factory: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty_client"
    empty.mkdir()
    server = server_factory(client_dir=str(empty))
    for path in ("/", "/app/main.js", "/vendor/libsodium-sumo.js"):
        reply = request(server.url, "GET", path)
        assert (reply.status, reply.code) == (404, "not_found")
    assert os.listdir(empty) == []


COMPRESSED = ["/", "/help.html", "/app/main.js", "/css/base.css", "/img/icon.svg"]


@pytest.mark.parametrize("path", [*COMPRESSED, "/vendor/libsodium-sumo.js"])
def test_text_files_are_sent_compressed_to_a_browser_that_accepts_gzip(
    static_server: Any, client_dir: Path, path: str
) -> None:
    name = SERVED[path][1]
    reply = request(
        static_server.url, "GET", path, headers={"Accept-Encoding": "gzip, deflate, br, zstd"}
    )
    assert reply.status == 200
    assert reply.headers["content-encoding"] == "gzip"
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers["content-type"] == SERVED[path][0]
    assert int(reply.headers["content-length"]) == len(reply.raw)
    assert gzip.decompress(reply.raw) == (client_dir / name).read_bytes()
    assert_security_headers(reply.headers, api=False)


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br", "*;q=0"])
def test_text_files_are_sent_plain_to_a_browser_that_does_not_accept_gzip(
    static_server: Any, client_dir: Path, accept: str | None
) -> None:
    reply = request(
        static_server.url,
        "GET",
        "/app/main.js",
        headers={} if accept is None else {"Accept-Encoding": accept},
    )
    assert reply.status == 200
    assert "content-encoding" not in reply.headers
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.raw == (client_dir / "app/main.js").read_bytes()


def test_binary_files_are_never_compressed(static_server: Any, client_dir: Path) -> None:
    for path in ("/img/logo.png", "/lib/sodium.wasm"):
        reply = request(static_server.url, "GET", path, headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in reply.headers
        assert reply.raw == (client_dir / SERVED[path][1]).read_bytes()


def test_a_changed_file_is_compressed_again(static_server: Any, client_dir: Path) -> None:
    path = client_dir / "css" / "changing.css"
    path.write_bytes(b"a { color: red }\n")
    first = request(
        static_server.url, "GET", "/css/changing.css", headers={"Accept-Encoding": "gzip"}
    )
    assert gzip.decompress(first.raw) == b"a { color: red }\n"
    path.write_bytes(b"a { color: darkblue }\n")
    second = request(
        static_server.url, "GET", "/css/changing.css", headers={"Accept-Encoding": "gzip"}
    )
    assert gzip.decompress(second.raw) == b"a { color: darkblue }\n"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("br;q=1, *", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
        ("identity", False),
        ("", False),
        (",,;", False),
    ],
)
def test_accept_encoding_is_read_as_http_defines_it(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected
