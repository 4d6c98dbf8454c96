"""The Starlette application: routes, middleware and the lifetime of shared services."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router, WebSocketRoute

from server import (
    api_accounts,
    api_groups,
    api_invites,
    api_notifications,
    api_prekeys,
    api_profiles,
    api_secret_change,
    api_vault,
    engines,
    retention,
    revocation,
    static,
)
from server.admission import Admission
from server.config import Settings
from server.diskspace import DiskGuard
from server.endpoint import error_response
from server.errors import BadRequestError, MethodNotAllowedError, NotFoundError, RevokedError
from server.guard import Guard
from server.headers import SecurityHeaders
from server.hub import Hub
from server.listener import Handlers, Wakeups
from server.logs import log_unexpected
from server.notifier import Notifier
from server.passwords import Passwords
from server.readers import Readers
from server.relay import relay
from server.services import RateLimits, Services, installation_keys
from server.writer import Tx, Writer

logger = logging.getLogger("quietline")

API_ROUTES = [
    Route("/info", api_accounts.info, methods=["GET"]),
    Route("/health", api_accounts.health, methods=["GET"]),
    Route("/accounts", api_accounts.register, methods=["POST"]),
    Route("/invites/check", api_invites.check, methods=["POST"]),
    Route("/login", api_accounts.login, methods=["POST"]),
    Route("/logout", api_accounts.logout, methods=["POST"]),
    Route("/account", api_accounts.delete_account, methods=["DELETE"]),
    Route("/sessions", api_accounts.list_sessions, methods=["GET"]),
    Route("/sessions/sign-out-others", api_accounts.sign_out_others, methods=["POST"]),
    Route("/secret-change", api_secret_change.status, methods=["GET"]),
    Route("/secret-change", api_secret_change.begin, methods=["POST"]),
    Route("/secret-change", api_secret_change.cancel, methods=["DELETE"]),
    Route("/secret-change/items", api_secret_change.stage, methods=["POST"]),
    Route("/secret-change/commit", api_secret_change.commit, methods=["POST"]),
    Route("/vault", api_vault.sync, methods=["GET"]),
    Route("/vault", api_vault.write, methods=["POST"]),
    Route("/prekeys", api_prekeys.upload, methods=["PUT"]),
    Route("/prekeys", api_prekeys.status, methods=["GET"]),
    Route("/bundle/{account}", api_prekeys.bundle, methods=["GET"]),
    Route("/directory", api_profiles.directory, methods=["GET"]),
    Route("/profile", api_profiles.put_profile, methods=["PUT"]),
    Route("/blocks", api_profiles.list_blocks, methods=["GET"]),
    Route("/blocks/{client}", api_profiles.put_block, methods=["PUT"]),
    Route("/blocks/{client}", api_profiles.delete_block, methods=["DELETE"]),
    Route("/notifications", api_notifications.get_settings, methods=["GET"]),
    Route("/notifications", api_notifications.put_settings, methods=["PUT"]),
    Route("/notifications", api_notifications.delete_settings, methods=["DELETE"]),
    Route("/notifications/test", api_notifications.send_test, methods=["POST"]),
    Route("/groups", api_groups.create, methods=["POST"]),
    Route("/groups", api_groups.mine, methods=["GET"]),
    Route("/groups/{group}", api_groups.show, methods=["GET"]),
    Route("/groups/{group}", api_groups.delete, methods=["DELETE"]),
    Route("/groups/{group}/roster", api_groups.put_roster, methods=["PUT"]),
    Route("/groups/{group}/listing", api_groups.put_listing, methods=["PUT"]),
    Route("/groups/{group}/keys/{member_key}", api_groups.put_member_key, methods=["PUT"]),
    Route("/groups/{group}/keys/{member_key}/bundle", api_groups.member_bundle, methods=["GET"]),
    Route("/groups/{group}/membership", api_groups.leave, methods=["DELETE"]),
    Route("/groups/{group}/messages", api_groups.messages, methods=["GET"]),
    Route("/groups/{group}/messages", api_groups.post_message, methods=["POST"]),
    Route("/groups/{group}/tombstones", api_groups.post_tombstone, methods=["POST"]),
    Route("/groups/{group}/ack", api_groups.acknowledge, methods=["POST"]),
]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFoundError("There is no such address; see docs/API.md."))
    if exc.status_code == 405:
        return error_response(MethodNotAllowedError())
    return error_response(BadRequestError())


async def _purge_periodically(service: Services) -> None:
    ttl = service.settings.envelope_ttl_days
    inactive_days = service.settings.client_inactive_days

    def operation(tx: Tx) -> retention.Purged:
        # A connection open for days is activity too, though it logged in long ago.
        for account in live:
            retention.touch(tx.conn, account)
        return retention.purge(tx.conn, ttl, inactive_days)

    while True:
        live = service.hub.accounts()
        try:
            purged = await service.writer.run(operation)
            if purged.envelopes or purged.tokens or purged.clients or purged.group_items:
                logger.info(
                    "retention purge removed %d envelopes, %d group items, %d tokens and "
                    "%d inactive clients",
                    purged.envelopes,
                    purged.group_items,
                    purged.tokens,
                    purged.clients,
                )
        except Exception as error:
            log_unexpected(error, "retention purge")
        await asyncio.sleep(service.settings.purge_interval)


async def _close_revoked_sessions(service: Services) -> None:
    """Revocation happens in another process (the admin command): poll for it."""
    while True:
        try:
            live = service.hub.accounts()
            if live:
                revoked = await service.readers.run(revocation.revoked_accounts)
                for account in revoked.intersection(live):
                    service.hub.close_account(account, RevokedError())
        except Exception as error:
            log_unexpected(error, "revocation check")
        await asyncio.sleep(revocation.POLL_SECONDS)


def create_app(settings: Settings) -> Starlette:
    """The application; the database must exist and be migrated (see server.serve)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        storage = engines.open_storage(settings)
        conn = storage.connect(readonly=True)
        try:
            server_id, handle_key = installation_keys(conn)
        finally:
            conn.close()
        writer = Writer(storage)
        readers = Readers(storage)
        service = Services(
            settings=settings,
            writer=writer,
            readers=readers,
            passwords=Passwords(settings.argon2_concurrency),
            hub=Hub(settings.max_connections_per_account),
            admission=Admission(settings.max_unauthenticated),
            disk=DiskGuard(settings.data_dir(), settings.min_free_disk_mib),
            notifier=Notifier(settings),
            rates=RateLimits.from_settings(settings),
            server_id=server_id,
            handle_key=handle_key,
        )
        app.state.services = service
        await writer.start()
        await service.notifier.start(readers)
        handlers = Handlers(service)
        # The writer's own notifications: its envelopes were pushed here already.
        wakeups = Wakeups(storage, handlers.table(), handlers.wake_all, writer.backend_pids)
        wakeups.start()
        background = [
            asyncio.create_task(_purge_periodically(service), name="quietline-purge"),
            asyncio.create_task(_close_revoked_sessions(service), name="quietline-revocations"),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await wakeups.stop()
            await handlers.stop()
            await service.notifier.stop()
            await writer.stop()
            readers.close()
            service.passwords.close()

    app = Starlette(
        routes=[
            Mount("/api", app=Router(API_ROUTES, redirect_slashes=False)),
            WebSocketRoute("/ws", relay),
            Route("/{path:path}", static.serve, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(SecurityHeaders), Middleware(Guard)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    # Starlette redirects `/api/info/` to `/api/info` by default, building the
    # address from the request's own Host header: an answer that points
    # wherever the request says. Every documented path has exactly one
    # spelling, so any other is `not_found`.
    app.router.redirect_slashes = False
    return app
