"""`quietline serve`: prepare the database, then run uvicorn in this process.

uvicorn runs with the websocket implementation and options the server relies
on: the sans-I/O websockets protocol, no per-message compression (ciphertext
does not compress), no access log, no Server header, no proxy headers (the
server never looks at client addresses) and our own logging configuration.
"""

import asyncio
import sys

import uvicorn

from server import database, migrations
from server.app import create_app
from server.config import Settings
from server.logs import log_config

GRACEFUL_SHUTDOWN_SECONDS = 5


def prepare_database(settings: Settings) -> list[int]:
    """Create the data directory and database if needed and apply migrations."""
    settings.data_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = database.connect(settings.database_path())
    try:
        database.enable_wal(conn)
        return migrations.migrate(conn)
    finally:
        conn.close()


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_size(),
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
        print(f"Quietline is serving on {_url(server)}", flush=True)
    await task


def run(settings: Settings) -> int:
    applied = prepare_database(settings)
    if applied:
        versions = ", ".join(str(v) for v in applied)
        print(f"Database {settings.database_path()}: applied migration {versions}.", flush=True)
    server = uvicorn.Server(uvicorn_config(settings))
    try:
        asyncio.run(_serve(server))
    except KeyboardInterrupt:
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    if not server.started:
        print("The server did not start; see the messages above.", file=sys.stderr)
        return 1
    return 0
