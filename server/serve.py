"""`quietline serve`: prepare the database, then run uvicorn in this process.

uvicorn runs with the protocols and options the server relies on: h11 with
deadlines for slow requests (server/deadlines.py) and the sans-I/O websockets
protocol (both subclassed in server/transport.py, so that what they refuse is
answered in the documented format), no per-message
compression (ciphertext does not compress), no access log, no Server header, no proxy headers (the
server never looks at client addresses) and our own logging configuration.
Its event loop is uvloop's: with a thousand connections each sending its own
frames, asyncio's own loop cost the server's event loop about 15% more CPU
per message (bench/README.md, "Findings").
"""

import asyncio
import gc
import sys
from typing import IO

import uvicorn
import uvloop

from server import datalock, engines, transport
from server.app import create_app
from server.config import Settings
from server.deadlines import protocol_for
from server.hints import admin_command
from server.logs import log_config
from server.static import VENDOR
from server.storage import DRIVER_ERRORS

GRACEFUL_SHUTDOWN_SECONDS = 5
# Every open connection waits on a chain of coroutines and futures that lives
# until its next frame. With thousands of connections, Python's default
# young-generation threshold (700) ran a collection every few hundred
# allocations, each walking thousands of those survivors: about a tenth of
# the event loop's time under load, in pauses of 5 to 15 ms that delayed
# every message queued behind them (bench/README.md, "Findings").
GC_YOUNG_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Collect the young generation less often; the older generations as before."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def prepare_database(settings: Settings) -> list[int]:
    """Create the data directory and database if needed and apply migrations."""
    settings.data_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    return engines.open_storage(settings).prepare()


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        http=protocol_for(settings),
        ws=transport.WebSocketProtocol,
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_size(),
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        log_config=log_config(settings.log_level),
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _url(server: uvicorn.Server) -> str:
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def _serve(server: uvicorn.Server) -> None:
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        # What exists once the server is up (modules, the app, its services)
        # lives as long as the process. Frozen, it is left out of every later
        # collection: opening a thousand connections at once, as after a
        # restart, then ran no full collection, where it had run one of 110
        # to 120 ms that held up every connection (bench/README.md, "Findings").
        gc.collect()
        gc.freeze()
        print(f"Quietline is serving on {_url(server)}", flush=True)
    await task


def _first_steps(settings: Settings) -> None:
    """Tell a new practice what to do next, and warn when the web client cannot be served."""
    conn = engines.open_storage(settings).connect(readonly=True)
    try:
        therapists = conn.execute(
            "SELECT COUNT(*) FROM accounts WHERE role = 'therapist' AND revoked IS NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    if therapists == 0:
        print(
            f"No therapist yet: run `{admin_command(settings, 'invite-therapist')}` "
            "to create an invite code.",
            flush=True,
        )
    client = settings.client_path()
    if not (client / "index.html").is_file():
        print(
            f"The web client is not at {client}: set client_dir (--client-dir or "
            "QUIETLINE_CLIENT_DIR) to the client_web directory of this release.",
            file=sys.stderr,
            flush=True,
        )
    elif not (client / VENDOR["libsodium-sumo.js"]).is_file():
        print(
            f"The web client's libraries are missing: run `npm ci` in {client}.",
            file=sys.stderr,
            flush=True,
        )


def run(settings: Settings) -> int:
    settings.data_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    storage = engines.open_storage(settings)
    # One process owns an SQLite file; several may share a PostgreSQL database.
    lock: IO[bytes] | None = None
    if storage.exclusive:
        try:
            lock = datalock.acquire(settings.data_dir())
        except datalock.DataDirInUseError as error:
            print(f"quietline: {error}", file=sys.stderr)
            return 1
    try:
        applied = storage.prepare()
    except DRIVER_ERRORS as error:
        print(f"quietline: {storage.describe()} cannot be prepared: {error}", file=sys.stderr)
        if lock is not None:
            lock.close()
        return 1
    if applied:
        versions = ", ".join(str(v) for v in applied)
        print(f"{storage.describe()}: applied migration {versions}.", flush=True)
    _first_steps(settings)
    tune_garbage_collector()
    server = uvicorn.Server(uvicorn_config(settings))
    try:
        uvloop.run(_serve(server))
    except KeyboardInterrupt:
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:
        if lock is not None:
            lock.close()
    if not server.started:
        print("The server did not start; see the messages above.", file=sys.stderr)
        return 1
    return 0
