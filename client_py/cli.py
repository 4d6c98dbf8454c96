"""`quietline client ...`: the Python client as a command for people and scripts.

Every command logs in with the account secret (from `--secret-file`, the
QUIETLINE_SECRET environment variable, or a prompt; never from an argument,
which other local users could read in the process list), does its work and
exits. Plain text goes to stdout for people, `--json` gives one JSON document
for scripts; errors go to stderr with exit code 1 and say what to do.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

from client_py import groups
from client_py.api import normalize_server_url
from client_py.client import Client, Conversation, Incoming, Message, Therapist
from client_py.errors import (
    AnswerTimeoutError,
    BadInputError,
    ClientError,
    DisconnectedError,
    UnreachableError,
)
from client_py.notifications import Notifications
from client_py.profile_dir import Profile, default_profile_dir
from crypto.encoding import terminal_text
from crypto.errors import ProtocolError
from crypto.vault import PROTOCOL_KDF_COST, KdfCost, generate_secret

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
# `watch` reconnects after a lost connection, waiting longer each time.
RECONNECT_FIRST = 1
RECONNECT_MAX = 60

PROFILE_TEXT_FIELDS = ("display_name", "pronouns", "response_time", "away_message", "office_hours")
DIRECTORY_FIELDS = (
    ("specialties", "specialties"),
    ("languages", "languages"),
    ("response_time", "replies"),
    ("office_hours", "office hours"),
    ("away_message", "away"),
)


def warn(text: str) -> None:
    print(terminal_text(text), file=sys.stderr, flush=True)


class Output:
    """Where a command's results go: lines for people, or one JSON document."""

    def __init__(self, as_json: bool, stream: TextIO) -> None:
        self.as_json = as_json
        self.stream = stream

    def line(self, text: str = "") -> None:
        if not self.as_json:
            print(terminal_text(text), file=self.stream, flush=True)

    def data(self, value: Any) -> None:
        if self.as_json:
            print(json.dumps(value, ensure_ascii=False), file=self.stream, flush=True)


def _when(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "peer": message.peer,
        "id": message.id,
        "dir": message.dir,
        "sent": message.sent,
        "body": message.body,
        "state": message.state,
    }


def _print_message(out: Output, message: Message, label: str) -> None:
    who = "you" if message.dir == "out" else label
    state = f" ({message.state})" if message.dir == "out" else ""
    # Continuation lines are indented so that a line of a message can never
    # pass for the start of another one.
    body = message.body.replace("\n", "\n    ")
    out.line(f"[{_when(message.sent)}] {who}: {body}{state}")


def _read_text_argument(text: str) -> str:
    if text == "-":
        return sys.stdin.read().rstrip("\n")
    return text


def read_secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        try:
            return Path(args.secret_file).read_text("utf-8").strip()
        except OSError as exc:
            raise BadInputError(f"The secret file cannot be read ({exc}).") from None
    from_env = os.environ.get("QUIETLINE_SECRET")
    if from_env:
        return from_env
    try:
        with open("/dev/tty"):
            pass
    except OSError:
        raise BadInputError(
            "No account secret: give --secret-file FILE or set QUIETLINE_SECRET "
            "(there is no terminal to ask on)."
        ) from None
    return getpass.getpass("Account secret: ")


def _server(args: argparse.Namespace, profile: Profile) -> str:
    server = args.server or os.environ.get("QUIETLINE_SERVER") or profile.settings().get("server")
    if not server:
        raise BadInputError(
            "No server address: give --server URL or set QUIETLINE_SERVER "
            "(for example https://practice.example)."
        )
    return normalize_server_url(server)


async def _login(args: argparse.Namespace, profile: Profile) -> Client:
    server = _server(args, profile)
    client = await Client.login(server, read_secret(args), profile=profile, kdf_cost=args.kdf_cost)
    profile.save_settings(server, client.handle)
    return client


async def cmd_register(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    server = _server(args, profile)
    invite = None
    if args.invite_file:
        try:
            invite = Path(args.invite_file).read_text("utf-8").strip()
        except OSError as exc:
            raise BadInputError(f"The invite file cannot be read ({exc}).") from None
    role = "therapist" if args.therapist else "client"
    client, secret = await Client.register(
        server, role, invite=invite, profile=profile, kdf_cost=args.kdf_cost
    )
    try:
        profile.save_settings(server, client.handle)
        out.data(
            {"account": client.account, "role": role, "handle": client.handle, "secret": secret}
        )
        out.line(f"Account created ({role}). Account id: {client.account}")
        out.line()
        out.line("Your account secret is shown only this once. Write it down and keep it safe:")
        out.line("it is the only way into this account, and nobody can recover it for you.")
        out.line()
        out.line(f"    {secret}")
        out.line()
    finally:
        await client.close()
    return EXIT_OK


async def cmd_login(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        conversations = client.conversations()
        out.data({"account": client.account, "role": client.role, "handle": client.handle})
        out.line(f"Logged in as {client.account} ({client.role}).")
        out.line(f"{len(conversations)} conversation(s) in the vault.")
    finally:
        await client.close()
    return EXIT_OK


async def cmd_logout(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    await client.logout()
    out.data({"logged_out": client.account})
    out.line("Logged out; the saved login in the profile is gone.")
    return EXIT_OK


SESSION_KINDS = {"browser": "browser", "cli": "command line"}


async def cmd_sessions(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        listed = await client.sessions()
    finally:
        await client.close()
    out.data({"sessions": listed})
    for session in listed:
        kind = SESSION_KINDS.get(str(session.get("kind")), "device")
        active = session.get("active")
        day = (
            time.strftime("%Y-%m-%d", time.gmtime(active))
            if isinstance(active, int) and active > 0
            else "never"
        )
        this = " (this one)" if session.get("this") is True else ""
        out.line(f"{_text(str(session['id']))}  {kind}, last active {day}{this}")
    return EXIT_OK


async def cmd_sign_out_others(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        count = await client.sign_out_others()
    finally:
        await client.close()
    out.data({"signed_out": count})
    out.line(
        f"Signed out {count} other session{'' if count == 1 else 's'}. "
        "If someone may know the account secret, change it too."
    )
    return EXIT_OK


# A typed-back group is read as a secret is (docs/PROTOCOL.md section 9).
READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _confirm_saved(out: Output, secret: str) -> None:
    """Ask for one random group of the new secret back, as the browser's sign-up does."""
    groups = secret.split("-")
    asked = secrets.randbelow(len(groups))
    out.data({"new_secret": secret, "confirm_group": asked + 1})
    out.line("Your new account secret is shown only this once. Write it down and keep it safe:")
    out.line()
    out.line(f"    {secret}")
    out.line()
    out.line(f"Type group {asked + 1} of {len(groups)} of it, from your saved copy, to confirm:")
    typed = sys.stdin.readline().strip().upper()
    if typed.translate(READ_AS) != groups[asked]:
        raise BadInputError(
            f"That is not group {asked + 1} of the new secret; nothing was changed. "
            "Run change-secret again for a new one."
        )


def _read_new_secret(args: argparse.Namespace) -> str:
    if args.new_secret_file:
        try:
            return Path(args.new_secret_file).read_text("utf-8").strip()
        except OSError as exc:
            raise BadInputError(f"The new secret file cannot be read ({exc}).") from None
    try:
        with open("/dev/tty"):
            pass
    except OSError:
        raise BadInputError(
            "No new secret to resume with: give --new-secret-file FILE "
            "(there is no terminal to ask on)."
        ) from None
    return getpass.getpass("New account secret (the one the unfinished change showed): ")


async def cmd_change_secret(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    current = read_secret(args)
    server = _server(args, profile)
    client = await Client.login(server, current, profile=profile, kdf_cost=args.kdf_cost)
    try:
        if args.cancel:
            await client.cancel_secret_change()
            out.data({"cancelled": True})
            out.line("The unfinished change is cancelled; the current secret stays the account's.")
            return EXIT_OK
        if args.resume:
            if not await client.secret_change_pending():
                raise BadInputError(
                    "No change of the secret is waiting: it was finished (then the new secret "
                    "signs in) or never started. Run change-secret to start one."
                )
            new_secret = _read_new_secret(args)
        else:
            if await client.secret_change_pending():
                warn("An unfinished change of the secret is replaced by this one.")
            new_secret = generate_secret().formatted()
            _confirm_saved(out, new_secret)
        signed_out = await client.change_secret(
            current, new_secret, finish=args.resume, kdf_cost=args.kdf_cost
        )
        out.data({"changed": True, "handle": client.handle, "signed_out": signed_out})
        out.line(
            f"The account secret is changed; {signed_out} other "
            f"session{'' if signed_out == 1 else 's'} signed out."
        )
        out.line("The old secret no longer signs in: use the new one from now on")
        out.line("(update --secret-file or QUIETLINE_SECRET if you keep it there).")
    finally:
        await client.close()
    return EXIT_OK


def _therapist_json(therapist: Therapist) -> dict[str, Any]:
    return {"account": therapist.account, "profile": therapist.profile}


async def cmd_directory(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = Client(_server(args, profile))
    therapists = await client.directory()
    out.data({"therapists": [_therapist_json(t) for t in therapists]})
    if not therapists:
        out.line("No therapists in the directory yet.")
    for therapist in therapists:
        p = therapist.profile
        accepting = "accepting new clients" if p.get("accepting") else "not accepting new clients"
        pronouns = f" ({_text(p['pronouns'])})" if p.get("pronouns") else ""
        out.line(f"{_text(p.get('display_name', '?'))}{pronouns}: {accepting}")
        out.line(f"  account:       {therapist.account}")
        for key, label in DIRECTORY_FIELDS:
            if p.get(key):
                out.line(f"  {label + ':':<14} {_text(p[key])}")
    return EXIT_OK


def _text(value: Any) -> str:
    """A profile field as text, whatever JSON type the therapist gave it."""
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


async def cmd_profile(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        current = await client.own_profile() or {}
        if args.profile_command == "show":
            out.data({"profile": current or None})
            if not current:
                out.line("No profile published yet (quietline client profile set --help).")
            for key, value in current.items():
                out.line(f"{key}: {_text(value)}")
            return EXIT_OK
        updated = dict(current)
        for key in PROFILE_TEXT_FIELDS:
            value = getattr(args, key)
            if value is not None:
                updated[key] = value
        if args.specialty is not None:
            updated["specialties"] = [s for s in args.specialty if s]
        if args.language is not None:
            updated["languages"] = [s for s in args.language if s]
        if args.accepting is not None:
            updated["accepting"] = args.accepting
        updated.setdefault("accepting", True)
        await client.publish_profile(updated)
        out.data({"profile": updated})
        out.line(f"Profile published for {updated.get('display_name')}.")
    finally:
        await client.close()
    return EXIT_OK


async def cmd_send(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    text = _read_text_argument(args.text)
    client = await _login(args, profile)
    try:
        peer = await client.resolve_peer(args.peer)
        await client.connect()
        message = await client.send(peer, text)
        out.data(_message_json(message))
        out.line(f"Sent to {await client.label(peer)} ({message.state}).")
    finally:
        await client.close()
    return EXIT_OK


def _warn_unreadable(label: str, error: ProtocolError) -> None:
    if error.code == "unsupported_version":
        warn(
            f"warning: a message from {label} needs a newer client; it stays on the "
            "server until this one is updated."
        )
    else:
        warn(f"warning: a message from {label} was dropped: {error.message}")


async def _fetch_pending(client: Client) -> None:
    """Open and acknowledge what waited for this account; unreadable envelopes are reported."""
    await client.connect()
    for item in await client.receive_pending():
        if item.error is not None:
            _warn_unreadable(await client.label(item.peer), item.error)


async def cmd_inbox(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        await _fetch_pending(client)
        conversations = client.conversations()
        labels = {c.peer: await client.label(c.peer) for c in conversations}
        out.data({"conversations": [_conversation_json(c, labels[c.peer]) for c in conversations]})
        if not conversations:
            out.line("No conversations yet.")
        for c in conversations:
            unread = f"{c.unread} unread" if c.unread else "no unread"
            name = c.peer if labels[c.peer] == c.peer else f"{labels[c.peer]} [{c.peer}]"
            out.line(f"{name}: {unread}, last message {_when(c.last_activity)}")
    finally:
        await client.close()
    return EXIT_OK


def _conversation_json(conversation: Conversation, label: str) -> dict[str, Any]:
    return {
        "peer": conversation.peer,
        "label": label,
        "unread": conversation.unread,
        "last_activity": conversation.last_activity,
        "messages": conversation.messages,
    }


async def cmd_read(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        peer = await client.resolve_peer(args.peer)
        await _fetch_pending(client)
        await client.mark_read(peer)
        history = client.history(peer)
        label = await client.label(peer)
        out.data({"peer": peer, "label": label, "messages": [_message_json(m) for m in history]})
        if not history:
            out.line(f"No messages with {label} yet.")
        for message in history:
            _print_message(out, message, label)
    finally:
        await client.close()
    return EXIT_OK


VAULT_CHANGED: dict[str, Any] = {"type": "vault_changed"}


async def _next_or_stop(client: Client, stop: asyncio.Event) -> dict[str, Any] | None:
    """The next envelope frame, VAULT_CHANGED when another device wrote to the
    vault, or None once `stop` is set; only the waiting is cancelled."""
    getting = asyncio.ensure_future(client.next_envelope())
    changed = asyncio.ensure_future(client.vault_changed())
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({getting, changed, stopping}, return_when=asyncio.FIRST_COMPLETED)
    # An envelope first: its own handling syncs whatever else changed.
    result = getting.result() if getting in done else None
    if result is None and changed in done:
        result = VAULT_CHANGED
    for waiting in (getting, changed, stopping):
        if waiting not in done:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, ClientError):
                await waiting
    return result


def _message_keys(client: Client) -> set[tuple[str, str, str]]:
    return {
        (message.peer, message.id, message.dir)
        for conversation in client.conversations()
        for message in client.history(conversation.peer)
    }


async def _show_new(client: Client, out: Output, shown: set[tuple[str, str, str]]) -> int:
    """Print the vault's messages not printed yet, from this device or another; their count.

    Every device of an account receives each envelope, but only the first to
    acknowledge it stores the message; the others, and this one for what the
    person wrote elsewhere, learn of it from the vault.
    """
    fresh = []
    for conversation in client.conversations():
        for message in client.history(conversation.peer):
            key = (message.peer, message.id, message.dir)
            if key not in shown:
                shown.add(key)
                fresh.append(message)
    for message in sorted(fresh, key=lambda m: m.sent):
        out.data({"event": "message", **_message_json(message)})
        _print_message(out, message, await client.label(message.peer))
    return sum(1 for message in fresh if message.dir == "in")


async def _pause_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`; True if `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def cmd_watch(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    shown = 0
    printed = _message_keys(client)
    delay = RECONNECT_FIRST
    try:
        await client.connect()
        # To stderr, so that a script reading --json from stdout can still see
        # when the connection is up.
        warn(f"Watching for messages to {client.account}; Ctrl-C stops.")
        while not stop.is_set() and (args.count is None or shown < args.count):
            try:
                frame = await _next_or_stop(client, stop)
                if frame is None:
                    break
                if frame is VAULT_CHANGED:
                    await client.sync()
                else:
                    # Opening and acknowledging is never interrupted half-way.
                    item = await client.open_envelope(frame)
                    await client.flush_receipts()
                    _show_received(out, item, await client.label(item.peer))
                shown += await _show_new(client, out, printed)
                delay = RECONNECT_FIRST
            except (DisconnectedError, UnreachableError, AnswerTimeoutError) as exc:
                warn(f"warning: {exc.message} Reconnecting in {delay} s.")
                if await _pause_or_stop(stop, delay):
                    break
                delay = min(2 * delay, RECONNECT_MAX)
                with contextlib.suppress(DisconnectedError, UnreachableError, AnswerTimeoutError):
                    await client.connect()
                    warn("Connected again.")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await client.close()
    return EXIT_OK


def _show_received(out: Output, item: Incoming, label: str) -> None:
    """Report an envelope's error or receipt; its message shows from the vault (_show_new)."""
    for update in item.group or []:
        if update.kind == "warning":
            warn(f"warning: {update.text}")
        elif update.text:
            out.data(
                {"event": "group", "group": update.group, "kind": update.kind, "text": update.text}
            )
            out.line(f"[group {update.group[:6]}] {update.text}")
    if item.error is not None:
        _warn_unreadable(label, item.error)
    elif item.receipt is not None:
        state, ids = item.receipt
        out.data({"event": "receipt", "peer": item.peer, "state": state, "ids": ids})
        verb = "received" if state == "delivered" else "read"
        out.line(f"{label} {verb} {len(ids)} of your messages.")


async def cmd_safety_number(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        peer = await client.resolve_peer(args.peer)
        number = await client.safety_number(peer)
        if args.verify is not None:
            await client.set_verified(peer, args.verify)
        verified = client.is_verified(peer)
        grouped = " ".join(number[i : i + 5] for i in range(0, len(number), 5))
        out.data({"peer": peer, "safety_number": number, "verified": verified})
        label = await client.label(peer)
        out.line(f"Safety number with {label}:")
        out.line(f"  {grouped[:35]}")
        out.line(f"  {grouped[36:]}")
        out.line(
            "Compare it with the number your contact sees; if it matches, mark it with --verify."
            if not verified
            else "Marked as verified."
        )
    finally:
        await client.close()
    return EXIT_OK


async def cmd_note(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        peer = await client.resolve_peer(args.peer)
        if args.text is not None:
            await client.set_note(peer, _read_text_argument(args.text))
        note = client.note(peer)
        out.data({"peer": peer, "note": note})
        if args.text is not None:
            out.line("Note saved.")
        else:
            out.line(note if note is not None else "No note for this client yet.")
    finally:
        await client.close()
    return EXIT_OK


async def cmd_block(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        if args.command == "blocks":
            blocked = await client.blocked()
            out.data({"blocked": blocked})
            out.line("\n".join(blocked) if blocked else "Nobody is blocked.")
            return EXIT_OK
        peer = await client.resolve_peer(args.peer)
        if args.command == "block":
            await client.block(peer)
            out.line(f"Blocked {peer}: their messages are refused.")
        else:
            await client.unblock(peer)
            out.line(f"Unblocked {peer}.")
        out.data({"peer": peer, "blocked": args.command == "block"})
    finally:
        await client.close()
    return EXIT_OK


def _print_notifications(out: Output, view: Notifications) -> None:
    if view.email is not None:
        out.line(f"mail: {view.email}")
    elif view.mail_available:
        out.line("mail: off")
    else:
        out.line("mail: off (the practice has not set up a mail server)")
    out.line(f"push: {view.push_url if view.push_url is not None else 'off'}")
    if view.email is None and view.push_url is None:
        return
    if view.last_notified is None:
        out.line("last notified: not since the server last started")
    else:
        out.line(f"last notified: {_when(view.last_notified)}")


async def cmd_notifications(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        action = args.notifications_command
        if action == "test":
            await client.test_notification(args.channel)
            out.data({"sent": args.channel})
            out.line(f"A test notification went to your {args.channel} address.")
            return EXIT_OK
        if action == "set":
            changes: dict[str, str | None] = {}
            if args.email is not None:
                changes["email"] = args.email.strip() or None
            if args.push_url is not None:
                changes["push_url"] = args.push_url.strip() or None
            view = await client.set_notifications(changes)
        elif action == "off":
            view = await client.notifications_off()
        else:
            view = await client.notifications()
        out.data(dataclasses.asdict(view))
        _print_notifications(out, view)
        if action == "off":
            out.line("Notifications are off; the server deleted your addresses.")
        elif action == "set":
            out.line("Saved. `notifications test email` (or `push`) checks that it arrives.")
    finally:
        await client.close()
    return EXIT_OK


async def cmd_delete_account(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise BadInputError("Deleting an account cannot be undone; add --yes to confirm.")
        answer = input(
            "Delete this account and everything the server holds for it? Type 'delete': "
        )
        if answer.strip() != "delete":
            out.line("Nothing was deleted.")
            return EXIT_ERROR
    client = await _login(args, profile)
    try:
        account = client.account
        await client.delete_account()
    finally:
        await client.close()
    profile.clear()
    out.data({"deleted": account})
    out.line(f"Account {account} and everything the server held for it are deleted.")
    return EXIT_OK


STATUS_WORDS = {
    "requested": "request sent, waiting for the moderator",
    "member": "member",
    "declined": "request declined",
    "left": "you left",
    "removed": "you were removed",
}


def _group_line(value: dict[str, Any]) -> str:
    listing = value.get("listing", {})
    role = (
        "moderator"
        if value.get("role") == "moderator"
        else STATUS_WORDS.get(str(value.get("status")), str(value.get("status")))
    )
    muted = ", muted for you" if value.get("muted") else ""
    return (
        f"{listing.get('name', 'Group')} [{value['group']}]: {role}{muted}, you are {value['name']}"
    )


def _print_group_entry(out: Output, entry: dict[str, Any]) -> None:
    if entry.get("kind") == "group_event":
        out.line(f"-- {groups.event_text(entry)} --")
        return
    who = "you" if entry.get("dir") == "out" else str(entry.get("name", "A member"))
    body = (
        "(removed by the moderator)"
        if entry.get("removed")
        else str(entry.get("body", "")).replace("\n", "\n    ")
    )
    out.line(f"[{_when(int(entry.get('sent', 0)))}] {who}: {body}  (id {entry.get('id')})")


async def _group_client(args: argparse.Namespace, profile: Profile) -> tuple[Client, str]:
    """Log in, connect, take in what waited (requests, keys), then the group's stream."""
    client = await _login(args, profile)
    try:
        await _fetch_pending(client)
        group = client.find_group(args.group)
        for update in await client.pull_group(group):
            if update.kind == "warning":
                warn(f"warning: {update.text}")
    except BaseException:
        await client.close()
        raise
    return client, group


async def cmd_groups(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    client = await _login(args, profile)
    try:
        await _fetch_pending(client)
        mine = client.my_groups()
        listed = await client.group_directory()
        offers = await client.moderation_offers()
        out.data(
            {
                "groups": [
                    {k: v.get(k) for k in ("group", "role", "status", "name", "muted", "listing")}
                    for v in mine
                ],
                "moderation_offers": offers,
                "directory": [dataclasses.asdict(listing) for listing in listed],
            }
        )
        out.line("Your groups:" if mine else "You take part in no group yet.")
        for value in mine:
            out.line("  " + _group_line(value))
            for text in value.get("warnings", [])[-3:]:
                out.line(f"    warning: {text}")
        for group in offers:
            out.line(f"Named co-moderator of [{group}]: `group moderate {group} --as NAME`")
        own = {value["group"] for value in mine}
        others = [listing for listing in listed if listing.group not in own]
        if others:
            out.line("Open groups you can ask to join:")
        for listing in others:
            info = listing.listing
            out.line(f"  {info.get('name')} [{listing.group}]")
            for key, label in (("description", ""), ("rhythm", "meets: "), ("rules", "rules: ")):
                if info.get(key):
                    out.line(f"    {label}{info[key]}")
    finally:
        await client.close()
    return EXIT_OK


async def cmd_group(args: argparse.Namespace, profile: Profile, out: Output) -> int:
    action = args.group_command
    if action == "create":
        client = await _login(args, profile)
        try:
            await client.connect()
            fields = {
                k: getattr(args, k)
                for k in ("name", "description", "rules", "rhythm")
                if getattr(args, k)
            }
            group = await client.create_group(
                fields, args.as_name, invite_only=args.invite_only, max_members=args.max_members
            )
            out.data({"group": group})
            out.line(f"Group created: {group}")
        finally:
            await client.close()
        return EXIT_OK
    if action == "moderate":
        client = await _login(args, profile)
        try:
            await client.connect()
            await client.take_up_moderation(args.group, args.as_name)
            out.data({"group": args.group, "role": "moderator"})
            out.line("You co-moderate this group now; members see your name when you write.")
        finally:
            await client.close()
        return EXIT_OK
    if action == "join":
        client = await _login(args, profile)
        try:
            await client.connect()
            await client.join_group(args.group, args.as_name, _read_text_argument(args.note or ""))
            out.data({"group": args.group, "status": "requested"})
            out.line("Request sent. The moderator sees only the name you chose and your note.")
        finally:
            await client.close()
        return EXIT_OK
    client, found = await _group_client(args, profile)
    try:
        await _group_action(client, found, args, out)
    finally:
        await client.close()
    return EXIT_OK


async def _group_action(client: Client, group: str, args: argparse.Namespace, out: Output) -> None:
    action = args.group_command
    if action == "read":
        entries = client.group_timeline(group)
        out.data({"group": group, "entries": entries})
        if not entries:
            out.line("Nothing in this group yet.")
        for entry in entries:
            _print_group_entry(out, entry)
    elif action == "send":
        sent = await client.send_group(group, _read_text_argument(args.text))
        out.data(sent)
        out.line("Sent to the group.")
    elif action == "members":
        listed = client.group_members(group)
        out.data({"members": [dataclasses.asdict(m) for m in listed]})
        for member in listed:
            you = " (you)" if member.you else ""
            out.line(f"{member.name}{you}: {member.state} [{member.member_key}]")
    elif action == "requests":
        waiting = client.group_requests(group)
        out.data({"requests": waiting})
        if not waiting:
            out.line("No requests waiting.")
        for request in waiting:
            note = f": {request['note']}" if request.get("note") else ""
            out.line(f"{request['name']} [{request['member_key']}]{note}")
    elif action == "admit":
        await client.admit(group, args.member)
        out.line("Admitted; the new member list is signed and sent.")
    elif action == "decline":
        await client.decline(group, args.member, args.reason or "")
        out.line("Declined.")
    elif action in ("mute-member", "unmute-member", "remove-member"):
        await client.set_group_member(group, args.member, action.removesuffix("-member"))
        out.line("Done; the new member list is signed and sent.")
    elif action in ("add-moderator", "remove-moderator"):
        await client.set_co_moderator(group, args.account, action == "add-moderator")
        out.line("Done; the new member list, naming the moderators, is signed and sent.")
    elif action in ("pause", "resume"):
        await client.pause_group(group, action == "pause")
        out.line("Paused." if action == "pause" else "Open for writing again.")
    elif action == "rules":
        await client.edit_group(group, {"rules": _read_text_argument(args.text)})
        out.line("Rules updated.")
    elif action == "remove-message":
        await client.remove_group_message(group, args.message)
        out.line("Removed for everyone.")
    elif action == "report":
        await client.report_group_message(group, args.message, args.reason or "")
        out.line("Reported to the moderator, privately.")
    elif action == "reports":
        found = client.group_reports(group)
        out.data({"reports": found})
        for entry in found:
            out.line(f"[{_when(int(entry.get('sent', 0)))}] {entry.get('name')}: {entry['body']}")
    elif action == "leave":
        await client.leave_group(group)
        out.line("You left the group. What you read stays on your devices.")
    elif action in ("mute", "unmute"):
        await client.mute_group(group, action == "mute")
        out.line("Muted for you." if action == "mute" else "Unmuted.")


Command = Callable[[argparse.Namespace, Profile, Output], Awaitable[int]]


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint for the one surprise its users meet here."""

    def error(self, message: str) -> NoReturn:
        # Account ids are base64url and one in 32 starts with "-", which
        # argparse takes for an option unless "--" comes first.
        if "required" in message or "unrecognized arguments" in message:
            message += (
                " (an account id or a text that starts with '-' goes after '--', "
                "as in: send -- -AbC... 'text')"
            )
        super().error(message)


def _common_options() -> "_Parser":
    # Defaults are suppressed so that an option given before the command is not
    # overwritten by the subcommand parser's own default.
    common = _Parser(add_help=False, allow_abbrev=False)
    common.add_argument(
        "--server", default=argparse.SUPPRESS, help="server address (env QUIETLINE_SERVER)"
    )
    common.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="profile directory (env QUIETLINE_PROFILE; default ~/.config/quietline)",
    )
    common.add_argument(
        "--secret-file",
        default=argparse.SUPPRESS,
        help="read the account secret from this file (or set QUIETLINE_SECRET)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="quietline client",
        parents=[common],
        allow_abbrev=False,
        description="The Quietline client for the terminal. The account secret is read "
        "from --secret-file, QUIETLINE_SECRET or a prompt, never from the command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, parents=[common], help=help_text, description=help_text, allow_abbrev=False
        )
        sub.set_defaults(handler=handler)
        return sub

    register = add("register", cmd_register, "create an account and print its secret once")
    register.add_argument("--therapist", action="store_true", help="a therapist account")
    register.add_argument("--invite-file", help="file holding the invite code")

    add("login", cmd_login, "check the secret and sync the vault")
    add("logout", cmd_logout, "end the saved login (the next command logs in again)")
    add("sessions", cmd_sessions, "list where this account is signed in")
    add("sign-out-others", cmd_sign_out_others, "sign out every other device of this account")
    change = add(
        "change-secret",
        cmd_change_secret,
        "replace the account secret with a new one and sign out every other device",
    )
    change_mode = change.add_mutually_exclusive_group()
    change_mode.add_argument(
        "--resume", action="store_true", help="finish an interrupted change (asks the new secret)"
    )
    change_mode.add_argument(
        "--cancel", action="store_true", help="cancel an interrupted change; keep the old secret"
    )
    change.add_argument(
        "--new-secret-file", help="with --resume: read the new secret from this file"
    )
    add("directory", cmd_directory, "list the practice's therapists (signatures verified)")

    profile = add("profile", cmd_profile, "show or publish your therapist profile")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True)
    profile_commands.add_parser(
        "show", parents=[common], help="show the published profile", allow_abbrev=False
    )
    profile_set = profile_commands.add_parser(
        "set",
        parents=[common],
        help="publish the profile; unchanged fields are kept",
        allow_abbrev=False,
    )
    for key in PROFILE_TEXT_FIELDS:
        profile_set.add_argument("--" + key.replace("_", "-"), dest=key)
    profile_set.add_argument(
        "--specialty", action="append", help="repeat for several; replaces the list"
    )
    profile_set.add_argument(
        "--language", action="append", help="repeat for several; replaces the list"
    )
    accepting = profile_set.add_mutually_exclusive_group()
    accepting.add_argument("--accepting", dest="accepting", action="store_true", default=None)
    accepting.add_argument("--not-accepting", dest="accepting", action="store_false")

    send = add("send", cmd_send, "send a message (TEXT, or - to read it from stdin)")
    send.add_argument("peer", metavar="PEER", help="account id, id prefix or therapist name")
    send.add_argument("text", metavar="TEXT")

    add("inbox", cmd_inbox, "fetch new messages and list conversations")
    read = add("read", cmd_read, "show a conversation and mark it read")
    read.add_argument("peer", metavar="PEER")

    watch = add("watch", cmd_watch, "print messages as they arrive until interrupted")
    watch.add_argument("--count", type=int, help="stop after this many messages")

    safety = add("safety-number", cmd_safety_number, "show the safety number with a peer")
    safety.add_argument("peer", metavar="PEER")
    verified = safety.add_mutually_exclusive_group()
    verified.add_argument("--verify", dest="verify", action="store_true", default=None)
    verified.add_argument("--unverify", dest="verify", action="store_false")

    note = add("note", cmd_note, "show, or with TEXT (- for stdin) set, your note on a client")
    note.add_argument("peer", metavar="PEER")
    note.add_argument("text", metavar="TEXT", nargs="?")

    block = add("block", cmd_block, "refuse a client's messages (therapists)")
    block.add_argument("peer", metavar="PEER")
    unblock = add("unblock", cmd_block, "accept a client's messages again")
    unblock.add_argument("peer", metavar="PEER")
    add("blocks", cmd_block, "list blocked clients")

    notify = add(
        "notifications",
        cmd_notifications,
        "content-free mail and push notifications when away (therapists)",
    )
    notify_commands = notify.add_subparsers(dest="notifications_command", required=True)
    notify_commands.add_parser(
        "show", parents=[common], help="show the addresses and when you were last notified"
    )
    notify_set = notify_commands.add_parser(
        "set",
        parents=[common],
        help="set a mail and/or push address; an empty one turns that channel off",
        allow_abbrev=False,
    )
    notify_set.add_argument("--email", metavar="ADDRESS", help="mail address ('' turns it off)")
    notify_set.add_argument(
        "--push-url", metavar="URL", help="https:// address of an ntfy or UnifiedPush topic"
    )
    notify_commands.add_parser(
        "off", parents=[common], help="turn both off; the server deletes the addresses"
    )
    notify_test = notify_commands.add_parser(
        "test", parents=[common], help="send a test notification now"
    )
    notify_test.add_argument("channel", choices=("email", "push"))

    add("groups", cmd_groups, "list your groups and the open groups of the directory")
    group = add("group", cmd_group, "take part in, or moderate, a peer-support group")
    group_commands = group.add_subparsers(dest="group_command", required=True)

    def group_sub(name: str, help_text: str, *args: str) -> argparse.ArgumentParser:
        sub = group_commands.add_parser(name, parents=[common], help=help_text, allow_abbrev=False)
        for arg in args:
            sub.add_argument(arg, metavar=arg.upper())
        return sub

    create = group_sub("create", "host a new group (therapists)")
    create.add_argument("--name", required=True, help="the group's name")
    create.add_argument("--description", default="")
    create.add_argument("--rules", default="")
    create.add_argument("--rhythm", default="", help='e.g. "Tuesdays 19:00" or "write any time"')
    create.add_argument("--max-members", type=int, default=50)
    create.add_argument("--invite-only", action="store_true", help="not listed in the directory")
    create.add_argument("--as", dest="as_name", required=True, help="your name in this group")
    join = group_sub("join", "ask to join, under a name for this group alone", "group")
    join.add_argument("--as", dest="as_name", required=True, help="your name in this group")
    join.add_argument("--note", help="a short note to the moderator (- for stdin)")
    group_sub("read", "fetch and show the group's conversation", "group")
    group_sub("send", "write to the group (TEXT, or - for stdin)", "group", "text")
    group_sub("members", "the signed member list", "group")
    group_sub("requests", "join requests waiting (moderators)", "group")
    group_sub("admit", "admit a request (moderators)", "group", "member")
    group_sub("decline", "decline a request (moderators)", "group", "member").add_argument(
        "--reason"
    )
    for name, text in (
        ("mute-member", "stop a member writing (moderators)"),
        ("unmute-member", "let a muted member write again (moderators)"),
        ("remove-member", "remove a member; every key is replaced (moderators)"),
    ):
        group_sub(name, text, "group", "member")
    group_sub("add-moderator", "name a therapist co-moderator (moderators)", "group", "account")
    group_sub("remove-moderator", "stop naming a co-moderator (moderators)", "group", "account")
    moderate = group_sub("moderate", "take up co-moderating a group you were named in", "group")
    moderate.add_argument("--as", dest="as_name", required=True, help="your name in this group")
    group_sub("pause", "pause the group: only moderators write (moderators)", "group")
    group_sub("resume", "end a pause (moderators)", "group")
    group_sub("rules", "replace the rules (moderators; - for stdin)", "group", "text")
    group_sub("remove-message", "remove a message for everyone (moderators)", "group", "message")
    group_sub("reports", "members' private reports (moderators)", "group")
    group_sub(
        "report", "report a message to the moderator, privately", "group", "message"
    ).add_argument("--reason")
    group_sub("leave", "leave the group", "group")
    group_sub("mute", "mute the group for yourself", "group")
    group_sub("unmute", "unmute the group for yourself", "group")

    delete = add("delete-account", cmd_delete_account, "delete the account and all its data")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: list[str], *, kdf_cost: KdfCost = PROTOCOL_KDF_COST) -> int:
    """Run one command. `kdf_cost` is for test suites only; no option or variable sets it."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    args.kdf_cost = kdf_cost
    for name, default in (("server", None), ("profile", None), ("secret_file", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if not hasattr(args, "json"):
        args.json = False
    profile = Profile(Path(args.profile) if args.profile else default_profile_dir())
    out = Output(args.json, sys.stdout)
    try:
        return asyncio.run(args.handler(args, profile, out))
    except (ClientError, ProtocolError) as exc:
        warn(f"error: {exc.message} [{exc.code}]")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
