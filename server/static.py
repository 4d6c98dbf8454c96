"""The web client's files, served by the practice's own server and nothing else.

Only these are served: `/` (client_web/index.html), any top-level
client_web/*.html, the files under client_web/app/, lib/, css/ and img/, and
the two libsodium files under /vendor/. Never node_modules as a whole, never
the client's tests, never a dotfile, never anything a symbolic link points to
outside those directories. Files that do not exist yet are 404.

Text files (HTML, JavaScript, CSS, SVG, ...) are sent gzip-compressed to a
browser that accepts it: libsodium alone is 1.2 MB, about a quarter of that
compressed, which decides how soon a phone on a poor connection can use the
page. Each file is compressed once, in a worker thread, and kept in memory
with the size and modification time it was made from, so a request costs no
compression and an edited file is compressed again. Their answers say
`Vary: Accept-Encoding`, so no cache hands the compressed form to a client
that did not ask for it.

Files are always sent whole: a `Range` header is ignored, as HTTP allows
(RFC 9110, section 14.2). Nothing here needs part of a file, and Starlette's
range support answers a bad header in plain text (400, or 416 with an empty
body) outside the documented error format.
"""

import asyncio
import gzip
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from server.endpoint import endpoint, services
from server.errors import NotFoundError

DIRECTORIES = ("app", "lib", "css", "img")
VENDOR = {
    "libsodium-wrappers.js": (
        "node_modules/libsodium-wrappers-sumo/dist/modules-sumo/libsodium-wrappers.js"
    ),
    "libsodium-sumo.js": "node_modules/libsodium-sumo/dist/modules-sumo/libsodium-sumo.js",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSED_TYPES = frozenset(
    {".html", ".js", ".mjs", ".css", ".svg", ".json", ".webmanifest", ".txt"}
)
GZIP_LEVEL = 9


_RANGE_HEADERS = (b"range", b"if-range")


class WholeFileResponse(FileResponse):
    """A file response that never answers a range request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k not in _RANGE_HEADERS]
        await super().__call__({**scope, "headers": headers}, receive, send)


def _safe_parts(path: str) -> list[str] | None:
    parts = path.split("/")
    for part in parts:
        if not part or part.startswith(".") or "\\" in part or "\x00" in part:
            return None
    return parts


def resolve(root: Path, path: str) -> Path | None:
    """The file to serve for URL path `path` (without the leading slash), or None."""
    if path in ("", "index.html"):
        return root / "index.html"
    parts = _safe_parts(path)
    if parts is None:
        return None
    if len(parts) == 1 and parts[0].endswith(".html"):
        candidate = (root / parts[0]).resolve()
        return candidate if candidate.is_relative_to(root.resolve()) else None
    if len(parts) == 2 and parts[0] == "vendor" and parts[1] in VENDOR:
        return root / VENDOR[parts[1]]
    if len(parts) >= 2 and parts[0] in DIRECTORIES:
        base = (root / parts[0]).resolve()
        candidate = base.joinpath(*parts[1:]).resolve()
        return candidate if candidate.is_relative_to(base) else None
    return None


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (explicitly or by `*`), q=0 meaning no."""
    allowed: dict[str, bool] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        refused = False
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    refused = float(value) <= 0
                except ValueError:
                    refused = True
        allowed[name] = not refused
    if "gzip" in allowed:
        return allowed["gzip"]
    return allowed.get("*", False)


@dataclass(frozen=True)
class _Compressed:
    size: int
    mtime_ns: int
    body: bytes


# Path -> its compressed form. Bounded by the set of files `resolve` can name.
_compressed: dict[Path, _Compressed] = {}


def _compress(path: Path) -> _Compressed:
    stat = path.stat()
    data = path.read_bytes()
    # mtime=0: the same file always compresses to the same bytes.
    return _Compressed(stat.st_size, stat.st_mtime_ns, gzip.compress(data, GZIP_LEVEL, mtime=0))


async def compressed(path: Path) -> bytes:
    """The gzip form of `path`, made once per version of the file."""
    stat = path.stat()
    cached = _compressed.get(path)
    if cached is None or (cached.size, cached.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        cached = await asyncio.to_thread(_compress, path)
        _compressed[path] = cached
    return cached.body


@endpoint
async def serve(request: Request) -> Response:
    root = services(request).settings.client_path()
    found = resolve(root, request.path_params["path"])
    if found is None or not found.is_file() or found.suffix not in CONTENT_TYPES:
        raise NotFoundError("There is no such page.")
    media_type = CONTENT_TYPES[found.suffix]
    headers = {"accept-ranges": "none"}
    if found.suffix not in COMPRESSED_TYPES:
        return WholeFileResponse(found, media_type=media_type, headers=headers)
    headers["vary"] = "Accept-Encoding"
    if not accepts_gzip(request.headers.get("accept-encoding", "")):
        return WholeFileResponse(found, media_type=media_type, headers=headers)
    body = await compressed(found)
    headers["content-encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)
