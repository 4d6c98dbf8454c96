"""Security headers on every HTTP response the application sends.

A strict Content-Security-Policy (scripts, styles and everything else only
from this server; WebAssembly allowed for libsodium; no framing, no inline
code), no referrer, no MIME sniffing, no powerful features, and
`Cache-Control: no-store` on everything, so that no browser or proxy keeps a
copy of an answer. No response ever sets a cookie.

No-store also covers the web client's own files. A copy of the page or its
scripts in the browser's HTTP cache (and the compiled-code cache kept beside
it) would tell someone looking through a shared device that this site was
used, after quick exit has left it; the price is that each visit downloads
the scripts again, about 400 KB compressed (see server/static.py), and that
the browser keeps no page for Back to restore. What no header can remove, the
browser's history entry of the visit, is said on help.html.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS = (
    "accelerometer=(), autoplay=(), camera=(), clipboard-read=(), display-capture=(), "
    "encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), "
    "publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), "
    "xr-spatial-tracking=(), browsing-topics=()"
)
SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", PERMISSIONS),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)
_REPLACED = {name for name, _ in SECURITY_HEADERS} | {"cache-control", "set-cookie"}


def security_headers() -> list[tuple[str, str]]:
    """The headers every answer carries: pages, files, API and websocket alike."""
    return [*SECURITY_HEADERS, ("cache-control", "no-store")]


def _with_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.decode("latin-1").lower() not in _REPLACED]
    extra = security_headers()
    return kept + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in (
                "http.response.start",
                "websocket.accept",
                "websocket.http.response.start",
            ):
                message = {
                    **message,
                    "headers": _with_headers(list(message.get("headers", []))),
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)
