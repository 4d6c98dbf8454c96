"""Everything a request handler needs, created once per running server."""

from dataclasses import dataclass

from server import settings_store
from server.admission import Admission
from server.config import Settings
from server.diskspace import DiskGuard
from server.envelopes import Limits
from server.hub import Hub
from server.notifier import Notifier
from server.passwords import Passwords
from server.ratelimit import KeyedBuckets, TokenBucket
from server.readers import Readers
from server.storage import Connection
from server.writer import Writer

# A therapist's test notifications: a few at once, then one every ten seconds.
NOTIFICATION_TEST_SECONDS = 10.0
NOTIFICATION_TEST_BURST = 3


@dataclass
class RateLimits:
    registrations: TokenBucket
    logins: TokenBucket
    one_time_prekeys: KeyedBuckets
    api: KeyedBuckets
    notification_tests: KeyedBuckets

    @staticmethod
    def from_settings(settings: Settings) -> "RateLimits":
        return RateLimits(
            registrations=TokenBucket(settings.register_rate, settings.register_burst),
            logins=TokenBucket(settings.login_rate, settings.login_burst),
            one_time_prekeys=KeyedBuckets(
                1 / settings.one_time_prekey_refill, settings.one_time_prekeys_per_requester
            ),
            api=KeyedBuckets(settings.api_rate, settings.api_burst),
            notification_tests=KeyedBuckets(1 / NOTIFICATION_TEST_SECONDS, NOTIFICATION_TEST_BURST),
        )


@dataclass
class Services:
    settings: Settings
    writer: Writer
    readers: Readers
    passwords: Passwords
    hub: Hub
    admission: Admission
    disk: DiskGuard
    notifier: Notifier
    rates: RateLimits
    server_id: bytes
    handle_key: bytes

    def limits(self, role: str) -> Limits:
        """The limits of one account's writes, with the disk guard as it stands now."""
        settings = self.settings
        return Limits(
            max_inbox=settings.max_inbox,
            max_pending_per_sender=settings.max_pending_per_sender,
            max_pending_bytes=settings.max_pending_bytes,
            max_vault_bytes=(
                settings.max_client_vault_bytes if role == "client" else settings.max_vault_bytes
            ),
            max_vault_items=settings.max_vault_items,
            disk_low=self.disk.low(),
        )


def installation_keys(conn: Connection) -> tuple[bytes, bytes]:
    return settings_store.get(conn, settings_store.SERVER_ID), settings_store.get(
        conn, settings_store.HANDLE_KEY
    )
