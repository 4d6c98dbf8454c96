"""Telling therapists, without content, that something new is waiting for them.

A therapist who turned notifications on has a mail address, a push URL or
both (server/notification_targets.py); this module keeps them in memory and
decides when to send. The relay calls `stored_for(recipient)` after an
envelope's commit: a dictionary look-up and, at most, one new entry in the
schedule. Nothing else happens on the relay's path: sending runs in this
module's own task and threads, so a mail server or push receiver that is
down or slow cannot hold up a single message.

Batching and timing. Per therapist and channel there is at most one pending
notification. A new one is due after a random delay of up to `notify_delay`
seconds, and never sooner than `notify_interval` after the last one sent on
that channel; messages that arrive while one is pending join it. So twenty
messages in a minute give one notification, and its moment says less about
any one client's.

Failures. A delivery that fails is tried again after `notify_retry` seconds,
then twice as long each time up to an hour; the notification stays pending
meanwhile and later messages join it. Each outage is logged once when it
starts and once when it ends, with the reason and no address or account.

What is kept, and where: the addresses in the database (only while on); the
schedule and when each therapist was last notified in memory only, so a
seized database says nothing about when anyone wrote. After a restart, every
therapist with messages still waiting gets one notification.
"""

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from server import delivery, notification_targets
from server.config import Settings
from server.errors import (
    DeliveryFailedError,
    InvalidAddressError,
    MailUnavailableError,
    NotFoundError,
)
from server.logs import log_unexpected
from server.notification_targets import Target
from server.readers import Readers

logger = logging.getLogger("quietline.notifier")

MAX_BACKOFF_SECONDS = 3600.0
DELIVERY_THREADS = 4

Key = tuple[bytes, str]
_random = secrets.SystemRandom()


@dataclass
class _Pending:
    due: float
    failures: int = 0
    sending: bool = False


def backoff(retry: float, failures: int) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, ...)."""
    return min(MAX_BACKOFF_SECONDS, retry * 2 ** min(failures - 1, 32))


class Notifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.targets: dict[bytes, Target] = {}
        self._pending: dict[Key, _Pending] = {}
        self._last_sent: dict[Key, float] = {}
        self._last_notified: dict[bytes, int] = {}
        self._failing: set[Key] = set()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="quietline-notify")
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self, readers: Readers) -> None:
        self.targets = await readers.run(notification_targets.all_targets)
        waiting = await readers.run(notification_targets.with_waiting_envelopes)
        for account in waiting:
            self.stored_for(account)
        self._task = asyncio.create_task(self._run(), name="quietline-notifier")

    async def stop(self) -> None:
        for task in [*self._sending, *([self._task] if self._task else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A delivery thread may still wait for its timeout; nothing waits for it.
        self._executor.shutdown(wait=False, cancel_futures=True)

    def stored_for(self, account: bytes) -> None:
        """An envelope for `account` was committed: schedule its notification if it has none."""
        target = self.targets.get(account)
        if target is None:
            return
        now = time.monotonic()
        for channel in target.channels():
            key = (account, channel)
            if key in self._pending:
                continue
            due = now + _random.uniform(0.0, self.settings.notify_delay)
            last = self._last_sent.get(key)
            if last is not None:
                due = max(due, last + self.settings.notify_interval)
            self._pending[key] = _Pending(due)
        self._wake.set()

    def set_target(self, account: bytes, target: Target | None) -> None:
        """The therapist changed their addresses.

        A channel turned off forgets its schedule. A pending notification to
        an address that changed stops waiting out the old address's backoff:
        it goes after the usual random delay.
        """
        old = self.targets.pop(account, None)
        if target is None:
            self._last_notified.pop(account, None)
        else:
            self.targets[account] = target
        kept = () if target is None else target.channels()
        for channel in notification_targets.CHANNELS:
            key = (account, channel)
            if channel not in kept:
                self._pending.pop(key, None)
                self._last_sent.pop(key, None)
                self._failing.discard(key)
            elif (
                old is not None
                and target is not None
                and _address(old, channel) != _address(target, channel)
            ):
                self._failing.discard(key)
                pending = self._pending.get(key)
                if pending is not None and pending.failures:
                    pending.failures = 0
                    pending.due = time.monotonic() + _random.uniform(
                        0.0, self.settings.notify_delay
                    )
                    self._wake.set()

    def last_notified(self, account: bytes) -> int | None:
        """When this therapist was last notified (seconds since 1970), since the server started."""
        return self._last_notified.get(account)

    async def send_test(self, account: bytes, channel: str) -> None:
        """Send one notification now, outside the schedule; DeliveryFailedError says why not."""
        target = self.targets.get(account)
        if target is None or channel not in target.channels():
            raise NotFoundError(
                f"Set a {_channel_name(channel)} address first, then send a test to it."
            )
        if channel == "email" and not delivery.mail_configured(self.settings):
            raise MailUnavailableError()
        try:
            await self._deliver(channel, target)
        except delivery.DeliveryError as error:
            raise DeliveryFailedError(
                f"The test was not delivered: {error}. Check the address, or try again later."
            ) from None

    async def _deliver(self, channel: str, target: Target) -> None:
        send: Callable[[Settings, str], None]
        if channel == "email":
            assert target.email is not None
            send, address = delivery.send_mail, target.email
        else:
            assert target.push_url is not None
            # Checked again: the practice may have turned plain http off since.
            address = notification_targets.check_push_url(
                target.push_url, self.settings.notify_allow_http_loopback
            )
            send = delivery.send_push
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, functools.partial(send, self.settings, address))

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = time.monotonic()
            next_due: float | None = None
            for key, pending in list(self._pending.items()):
                if pending.sending:
                    continue
                if pending.due <= now:
                    pending.sending = True
                    task = asyncio.create_task(self._send(key, pending))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                elif next_due is None or pending.due < next_due:
                    next_due = pending.due
            timeout = None if next_due is None else next_due - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, key: Key, pending: _Pending) -> None:
        account, channel = key
        target = self.targets.get(account)
        if (
            target is None
            or channel not in target.channels()
            or (channel == "email" and not delivery.mail_configured(self.settings))
        ):
            self._pending.pop(key, None)
            return
        reason = ""
        try:
            await self._deliver(channel, target)
        except delivery.DeliveryError as error:
            reason = str(error)
        except InvalidAddressError:
            reason = "the push address is no longer allowed by the practice's settings"
        except Exception as error:
            log_unexpected(error, "notification")
            reason = "an unexpected error"
        finally:
            pending.sending = False
        if self._pending.get(key) is not pending:
            # The channel was turned off or changed meanwhile.
            return
        if reason:
            pending.failures += 1
            pending.due = time.monotonic() + backoff(self.settings.notify_retry, pending.failures)
            if key not in self._failing:
                self._failing.add(key)
                logger.warning(
                    "a notification by %s could not be delivered (%s); retrying with backoff",
                    _channel_name(channel),
                    reason,
                )
        else:
            del self._pending[key]
            self._last_sent[key] = time.monotonic()
            self._last_notified[account] = int(time.time())
            if key in self._failing:
                self._failing.discard(key)
                logger.warning("notifications by %s are delivered again", _channel_name(channel))
        self._wake.set()


def _address(target: Target, channel: str) -> str | None:
    return target.email if channel == "email" else target.push_url


def _channel_name(channel: str) -> str:
    return "mail" if channel == "email" else "push"
