"""The release hash of the web client: SHA-256 of every file the server would serve.

The listing is one line per file, `<sha256 hex>  <URL path>`, sorted by path,
in the format of `sha256sum`; the combined hash is SHA-256 of that listing
(UTF-8, each line ending in a newline). Anyone can recompute both from the
files as the server serves them (docs/SELF_HOSTING.md shows how) and compare
them with the hashes a release publishes.
"""

import hashlib
from pathlib import Path

from server import static


def served_files(root: Path) -> list[tuple[str, Path]]:
    """(URL path, file) for every file `server.static` serves from `root`, sorted by path."""
    found: dict[str, Path] = {}
    for page in root.glob("*.html"):
        if static.resolve(root, page.name) is not None and page.is_file():
            found["/" + page.name] = page
    for directory in static.DIRECTORIES:
        base = root / directory
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            url = path.relative_to(root).as_posix()
            served = path.suffix in static.CONTENT_TYPES and static.resolve(root, url) is not None
            if served and path.is_file():
                found["/" + url] = path
    for name, relative in static.VENDOR.items():
        if (root / relative).is_file():
            found[f"/vendor/{name}"] = root / relative
    return sorted(found.items())


def listing(root: Path) -> str:
    lines = []
    for url, path in served_files(root):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {url}\n")
    return "".join(lines)


def combined(listing_text: str) -> str:
    return hashlib.sha256(listing_text.encode("utf-8")).hexdigest()
