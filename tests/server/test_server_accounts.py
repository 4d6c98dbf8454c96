"""Accounts: registration, login, tokens, intake, invites, and what the database keeps of them."""

import hashlib
import os
import re
from typing import Any

from server_harness import (
    Account,
    make_account,
    make_therapist,
    new_handle,
    open_socket,
    random_envelope,
    request,
    vault_blob,
    vault_write,
)

from crypto.encoding import b64u_decode, b64u_encode
from crypto.keys import IdentityKeyPair
from server import passwords


def read_db(server: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return server.rows(sql, args)


def unregistered(server: Any, role: str = "client") -> Account:
    return Account(server.url, role, new_handle(), os.urandom(32), IdentityKeyPair.generate())


def test_registration_and_login_store_only_hashes(server: Any) -> None:
    account = make_account(server.url)
    assert len(account.id) == 16
    login = account.login()
    assert login.status == 200
    assert login.body["account"] == account.id_text
    token = b64u_decode(login.body["token"])
    assert len(token) == 32
    (row,) = read_db(
        server, "SELECT role, identity_key, login_hash FROM accounts WHERE id = ?", account.id
    )
    assert row[0] == "client"
    assert row[1] == account.identity.public
    assert row[2].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    tokens = read_db(server, "SELECT hash, expires FROM tokens WHERE account = ?", account.id)
    assert (hashlib.sha256(token).digest(), login.body["expires"]) in tokens
    data = b"".join(server.stored_bytes().values())
    for secret in (account.handle.encode(), token, login.body["token"].encode(), account.login_key):
        assert secret not in data


def test_an_unknown_handle_gets_the_same_answer_after_the_same_work(server: Any) -> None:
    """No timing is measured: the design makes both paths run one Argon2id verification.

    `passwords.verify_login` always verifies against a hash: the account's, or
    DUMMY_HASH (same parameters) when there is none. Here we check that the
    dummy hash really has the parameters of a stored hash, that the choice of
    hash is the only difference, and that the two answers are identical.
    """
    account = make_account(server.url)
    (stored,) = read_db(server, "SELECT login_hash FROM accounts WHERE id = ?", account.id)[0]
    parameters = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")
    assert parameters.match(passwords.DUMMY_HASH).groups() == parameters.match(stored).groups()
    assert passwords.hash_to_verify(None) == passwords.DUMMY_HASH
    assert passwords.hash_to_verify(stored) == stored

    wrong_key = {"handle": account.handle, "login_key": b64u_encode(os.urandom(32))}
    unknown = {"handle": new_handle(), "login_key": b64u_encode(os.urandom(32))}
    first = request(server.url, "POST", "/api/login", wrong_key)
    second = request(server.url, "POST", "/api/login", unknown)
    assert first.status == second.status == 401
    assert first.raw == second.raw
    first.headers.pop("date", None)
    second.headers.pop("date", None)
    assert first.headers == second.headers


async def test_the_dummy_verification_runs_for_an_unknown_handle() -> None:
    checker = passwords.Passwords(1)
    stored = passwords.HASHER.hash(b"k" * 32)
    assert await checker.verify_login(stored, b"k" * 32) is True
    assert await checker.verify_login(stored, b"x" * 32) is False
    # With no account, the dummy hash is verified; nobody knows its key, so never True.
    assert await checker.verify_login(None, b"k" * 32) is False
    checker.close()


def test_intake_and_invites_through_the_admin_command(server: Any) -> None:
    closed = server.admin("intake", "invite-only")
    assert closed.returncode == 0, closed.stderr
    assert server.get_json("/api/info")["intake"] == "invite-only"
    client = unregistered(server)
    reply = request(server.url, "POST", "/api/accounts", client.registration_body())
    assert reply.code == "invite_required"

    made = server.admin("invite-client")
    assert made.returncode == 0, made.stderr
    code = made.stdout.strip()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}", code)
    normalised = code.replace("-", "")
    stored = read_db(server, "SELECT hash, kind FROM invites")
    assert (hashlib.sha256(normalised.encode()).digest(), "client") in stored
    assert normalised.encode() not in b"".join(server.stored_bytes().values())
    assert (
        request(server.url, "POST", "/api/accounts", client.registration_body(code)).status == 201
    )
    assert (hashlib.sha256(normalised.encode()).digest(), "client") not in read_db(
        server, "SELECT hash, kind FROM invites"
    )

    therapist_code = server.admin("invite-therapist").stdout.strip()
    therapist = unregistered(server, "therapist")
    reply = request(
        server.url, "POST", "/api/accounts", therapist.registration_body(therapist_code)
    )
    assert reply.status == 201

    opened = server.admin("intake", "open")
    assert opened.returncode == 0
    assert (
        request(
            server.url, "POST", "/api/accounts", unregistered(server).registration_body()
        ).status
        == 201
    )
    assert server.admin("intake", "sometimes").returncode == 2


def test_an_invite_is_checked_without_being_used_up(server: Any) -> None:
    code = server.admin("invite-therapist").stdout.strip()
    check = {"role": "therapist", "invite": code}
    # Read the way it is typed: lower case, spaces, O for 0.
    for typed in (code, code.lower().replace("-", " "), code.replace("0", "O")):
        reply = request(server.url, "POST", "/api/invites/check", {**check, "invite": typed})
        assert (reply.status, reply.body) == (200, {})
    mistyped = code[:-1] + ("A" if code[-1] != "A" else "B")
    for body in (
        {**check, "invite": mistyped},
        {**check, "invite": "nonsense"},
        {"role": "client", "invite": code},
    ):
        reply = request(server.url, "POST", "/api/invites/check", body)
        assert (reply.status, reply.code) == (403, "invalid_invite")
    for body in ({"role": "admin", "invite": code}, {"role": "therapist"}, {"invite": code}):
        reply = request(server.url, "POST", "/api/invites/check", body)
        assert (reply.status, reply.code) == (400, "bad_request")
    therapist = unregistered(server, "therapist")
    reply = request(server.url, "POST", "/api/accounts", therapist.registration_body(code))
    assert reply.status == 201
    # Used up by the registration, not by the checks before it.
    reply = request(server.url, "POST", "/api/invites/check", check)
    assert (reply.status, reply.code) == (403, "invalid_invite")


async def test_deleting_an_account_leaves_no_row_behind(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    for sender, recipient in ((client, therapist), (therapist, client)):
        socket = await open_socket(server.url, sender)
        assert (await socket.send_envelope(recipient, random_envelope()))["type"] == "sent"
        await socket.close()
    assert client.call("PUT", "/api/prekeys", client.prekey_upload(3)).status == 200
    write = vault_write(os.urandom(16), 1, vault_blob())
    assert client.call("POST", "/api/vault", {"writes": [write]}).status == 200
    assert therapist.call("PUT", f"/api/blocks/{client.id_text}").status == 200
    assert client.call("DELETE", "/api/account").status == 200
    owned = {
        "accounts": "id",
        "tokens": "account",
        "signed_prekeys": "account",
        "one_time_prekeys": "account",
        "vault_items": "account",
        "envelopes": "recipient",
        "envelopes AS e": "sender",
        "sent_cmids": "sender",
        "blocks": "client",
        "profiles": "account",
    }
    for table, column in owned.items():
        assert read_db(server, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", client.id) == [
            (0,)
        ]
    assert read_db(server, "SELECT COUNT(*) FROM accounts WHERE id = ?", therapist.id) == [(1,)]
