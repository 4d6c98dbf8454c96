"""Numbered schema migrations, applied in order on every start.

`schema_migrations` records each version applied. A migration runs inside one
`BEGIN IMMEDIATE` transaction together with its row in that table, so a crash
or a second process starting at the same moment leaves the schema either
before or after it, never half-way. Add a migration by appending a function
to `MIGRATIONS`; never edit one that has shipped.

docs/SECURITY.md describes every column, and why the server may hold it.
"""

import sqlite3
import time
from collections.abc import Callable
from typing import cast

from sqlite_utils import Database
from sqlite_utils.db import ForeignKey

from server import clock, settings_store
from server.storage import Connection


def _owned_by_account(table: str, column: str = "account") -> ForeignKey:
    return ForeignKey(table, column, "accounts", "id", on_delete="CASCADE")


def _initial_schema(db: Database) -> None:
    db.table("settings").create({"key": str, "value": bytes}, pk="key", not_null=["key", "value"])
    db.table("accounts").create(
        {
            "id": bytes,
            "handle_hash": bytes,
            "role": str,
            "identity_key": bytes,
            "login_hash": str,
            "created": int,
            "vault_seq": int,
            "vault_bytes": int,
            "vault_items": int,
            "inbox": int,
        },
        pk="id",
        not_null=[
            "id",
            "handle_hash",
            "role",
            "identity_key",
            "login_hash",
            "created",
            "vault_seq",
            "vault_bytes",
            "vault_items",
            "inbox",
        ],
        defaults={"vault_seq": 0, "vault_bytes": 0, "vault_items": 0, "inbox": 0},
    )
    db.table("accounts").create_index(["handle_hash"], unique=True)
    db.table("tokens").create(
        {"hash": bytes, "account": bytes, "expires": int},
        pk="hash",
        foreign_keys=[_owned_by_account("tokens")],
        not_null=["hash", "account", "expires"],
    )
    db.table("tokens").create_index(["account"])
    db.table("tokens").create_index(["expires"])
    db.table("invites").create(
        {"hash": bytes, "kind": str, "created": int},
        pk="hash",
        not_null=["hash", "kind", "created"],
    )
    db.table("signed_prekeys").create(
        {"account": bytes, "kind": str, "id": int, "key": bytes, "sig": bytes},
        pk=("account", "kind"),
        foreign_keys=[_owned_by_account("signed_prekeys")],
        not_null=["account", "kind", "id", "key", "sig"],
    )
    db.table("one_time_prekeys").create(
        {"account": bytes, "id": int, "key": bytes, "sig": bytes},
        pk=("account", "id"),
        foreign_keys=[_owned_by_account("one_time_prekeys")],
        not_null=["account", "id", "key", "sig"],
    )
    db.table("profiles").create(
        {"account": bytes, "profile": bytes, "sig": bytes},
        pk="account",
        foreign_keys=[_owned_by_account("profiles")],
        not_null=["account", "profile", "sig"],
    )
    db.table("vault_items").create(
        {"account": bytes, "id": bytes, "version": int, "blob": bytes, "seq": int},
        pk=("account", "id"),
        foreign_keys=[_owned_by_account("vault_items")],
        not_null=["account", "id", "version", "seq"],
    )
    db.table("vault_items").create_index(["account", "seq"], unique=True)
    # AUTOINCREMENT (which sqlite-utils does not offer) keeps `seq` from ever
    # being reused after the newest envelope is deleted: live connections
    # order and de-duplicate deliveries by it.
    db.execute(
        """
        CREATE TABLE envelopes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id BLOB NOT NULL UNIQUE,
            recipient BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            sender BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            env BLOB NOT NULL,
            ts INTEGER NOT NULL
        )
        """
    )
    db.table("envelopes").create_index(["recipient", "seq"])
    # The inbox limit is checked on every send; a counter kept by triggers
    # (which also fire for cascading deletes) avoids counting the inbox.
    db.execute(
        "CREATE TRIGGER envelopes_counted AFTER INSERT ON envelopes BEGIN "
        "UPDATE accounts SET inbox = inbox + 1 WHERE id = NEW.recipient; END"
    )
    db.execute(
        "CREATE TRIGGER envelopes_uncounted AFTER DELETE ON envelopes BEGIN "
        "UPDATE accounts SET inbox = inbox - 1 WHERE id = OLD.recipient; END"
    )
    db.table("envelopes").create_index(["sender"])
    db.table("envelopes").create_index(["ts"])
    db.table("sent_cmids").create(
        {"sender": bytes, "cmid": bytes, "envelope": bytes, "ts": int},
        pk=("sender", "cmid"),
        foreign_keys=[_owned_by_account("sent_cmids", "sender")],
        not_null=["sender", "cmid", "envelope", "ts"],
    )
    db.table("sent_cmids").create_index(["ts"])
    db.table("blocks").create(
        {"therapist": bytes, "client": bytes},
        pk=("therapist", "client"),
        foreign_keys=[
            _owned_by_account("blocks", "therapist"),
            _owned_by_account("blocks", "client"),
        ],
        not_null=["therapist", "client"],
    )
    db.table("blocks").create_index(["client"])
    # The connection is server.database's, which the storage interface names.
    settings_store.initialise(cast(Connection, db.conn))


def _activity_and_revocation(db: Database) -> None:
    # `active` is a day, kept only so that retention can delete client accounts
    # unused for `client_inactive_days`; existing accounts start counting from
    # the upgrade, so that an upgrade never deletes anyone.
    db.execute("ALTER TABLE accounts ADD COLUMN active INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE accounts SET active = ?", (clock.today(),))
    # The day a therapist was revoked; NULL while the account may be used.
    db.execute("ALTER TABLE accounts ADD COLUMN revoked INTEGER")
    db.table("accounts").create_index(["role", "active"])


def _notification_targets(db: Database) -> None:
    # Only therapists have a row, and only while notifications are on: turning
    # them off deletes it.
    db.table("notification_targets").create(
        {"account": bytes, "email": str, "push_url": str},
        pk="account",
        foreign_keys=[_owned_by_account("notification_targets")],
        not_null=["account"],
    )


def _sessions(db: Database) -> None:
    # A token row becomes a session a person can see and end from another
    # device: `id` names it without revealing the token, `kind` is what the
    # client said it is at login (browser or cli, nothing more), `active` is
    # a day like accounts.active, and `signed_out` keeps a token that another
    # device signed out until it expires, so that it is refused with a reason
    # the signed-out device can show rather than as a plain expiry.
    db.execute("ALTER TABLE tokens ADD COLUMN id BLOB")
    db.execute("UPDATE tokens SET id = randomblob(16)")
    db.table("tokens").create_index(["id"], unique=True)
    db.execute("ALTER TABLE tokens ADD COLUMN kind TEXT")
    db.execute("ALTER TABLE tokens ADD COLUMN active INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE tokens SET active = ?", (clock.today(),))
    db.execute("ALTER TABLE tokens ADD COLUMN signed_out INTEGER")


def _sender_limits_and_shorter_traces(db: Database) -> None:
    # The bytes of undelivered envelopes each account has sent, for
    # `max_pending_bytes`; kept by the same triggers as the inbox count.
    db.execute("ALTER TABLE accounts ADD COLUMN outbox_bytes INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "UPDATE accounts SET outbox_bytes = "
        "(SELECT COALESCE(SUM(length(env)), 0) FROM envelopes WHERE sender = accounts.id)"
    )
    db.execute("DROP TRIGGER envelopes_counted")
    db.execute("DROP TRIGGER envelopes_uncounted")
    db.execute(
        "CREATE TRIGGER envelopes_counted AFTER INSERT ON envelopes BEGIN "
        "UPDATE accounts SET inbox = inbox + 1 WHERE id = NEW.recipient; "
        "UPDATE accounts SET outbox_bytes = outbox_bytes + length(NEW.env) "
        "WHERE id = NEW.sender; END"
    )
    db.execute(
        "CREATE TRIGGER envelopes_uncounted AFTER DELETE ON envelopes BEGIN "
        "UPDATE accounts SET inbox = inbox - 1 WHERE id = OLD.recipient; "
        "UPDATE accounts SET outbox_bytes = outbox_bytes - length(OLD.env) "
        "WHERE id = OLD.sender; END"
    )
    # `max_pending_per_sender` counts a sender's envelopes to one recipient,
    # and blocking deletes them; this index serves both, and the sender's
    # cascade, which the index on `sender` alone served before.
    db.execute("DROP INDEX idx_envelopes_sender")
    db.table("envelopes").create_index(["sender", "recipient"])
    # De-duplication rows now live exactly as long as their envelope: no
    # hour of their own, deleted with it at acknowledgement or expiry.
    db.execute(
        """
        CREATE TABLE sent_cmids_new (
            sender BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            cmid BLOB NOT NULL,
            envelope BLOB NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
            PRIMARY KEY (sender, cmid)
        )
        """
    )
    db.execute(
        "INSERT INTO sent_cmids_new (sender, cmid, envelope) "
        "SELECT sender, cmid, envelope FROM sent_cmids "
        "WHERE envelope IN (SELECT id FROM envelopes)"
    )
    db.execute("DROP TABLE sent_cmids")
    db.execute("ALTER TABLE sent_cmids_new RENAME TO sent_cmids")
    db.table("sent_cmids").create_index(["envelope"])
    # Token expiries down to four hours (`EXPIRY_GRAIN` of server/tokens.py
    # when this was written), so that they no longer record the login's hour.
    db.execute("UPDATE tokens SET expires = expires / 14400 * 14400")


def _secret_changes(db: Database) -> None:
    # A change of the account secret waiting for its switch (server/secret_change.py):
    # the new handle's HMAC (unique, so that no sign-up takes it meanwhile)
    # and the Argon2id hash of the new login key, as `accounts` holds them;
    # and each vault item re-encrypted under the new key, with the version it
    # was made from. Both go with the account.
    db.execute(
        """
        CREATE TABLE secret_changes (
            account BLOB PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            handle_hash BLOB NOT NULL UNIQUE,
            login_hash TEXT NOT NULL,
            started INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE secret_change_items (
            account BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            id BLOB NOT NULL,
            base INTEGER NOT NULL,
            blob BLOB NOT NULL,
            PRIMARY KEY (account, id)
        )
        """
    )


def _groups(db: Database) -> None:
    # Peer-support groups (server/groups.py, docs/SECURITY.md "Groups"). A
    # group row holds the latest roster the moderator signed and, for an
    # open group only, its signed public listing: a private group's name is
    # never sent to the server.
    db.execute(
        """
        CREATE TABLE groups (
            id BLOB PRIMARY KEY,
            roster BLOB NOT NULL,
            version INTEGER NOT NULL,
            flags INTEGER NOT NULL,
            listing BLOB,
            listing_sig BLOB,
            stored INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    # The therapist accounts whose identity keys the latest roster names as
    # moderators. A group whose last moderator account is deleted goes too.
    db.execute(
        """
        CREATE TABLE group_moderators (
            group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            account BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, account)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_group_moderators_account ON group_moderators (account)")
    db.execute(
        "CREATE TRIGGER group_moderators_last AFTER DELETE ON group_moderators "
        "WHEN NOT EXISTS (SELECT 1 FROM group_moderators WHERE group_id = OLD.group_id) "
        "BEGIN DELETE FROM groups WHERE id = OLD.group_id; END"
    )
    # A member key (PROTOCOL.md 15.1) and the account that registered it, so
    # that envelopes to the key reach that account. `left` marks a key whose
    # owner left until the moderator signs a roster that says so.
    db.execute(
        """
        CREATE TABLE member_keys (
            key BLOB PRIMARY KEY,
            group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            account BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            left INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_member_keys_group_account ON member_keys (group_id, account)"
    )
    db.execute("CREATE INDEX idx_member_keys_account ON member_keys (account)")
    db.execute(
        """
        CREATE TABLE member_signed_prekeys (
            member_key BLOB NOT NULL REFERENCES member_keys(key) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            id INTEGER NOT NULL,
            key BLOB NOT NULL,
            sig BLOB NOT NULL,
            PRIMARY KEY (member_key, kind)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE member_one_time_prekeys (
            member_key BLOB NOT NULL REFERENCES member_keys(key) ON DELETE CASCADE,
            id INTEGER NOT NULL,
            key BLOB NOT NULL,
            sig BLOB NOT NULL,
            PRIMARY KEY (member_key, id)
        )
        """
    )
    # The accounts the group's stream is delivered to, each with its cursor
    # (the `seq` of the last item it acknowledged). `until_seq` is set for an
    # account the latest roster no longer lists: it still receives the
    # stream up to that roster, then its row ends.
    db.execute(
        """
        CREATE TABLE group_members (
            group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            account BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            cursor INTEGER NOT NULL,
            until_seq INTEGER,
            muted INTEGER NOT NULL DEFAULT 0,
            moderator INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (group_id, account)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_group_members_account ON group_members (account)")
    # One stored copy per item of a group's stream (messages, rosters,
    # tombstones), ordered by `seq`; never one copy per member.
    db.execute(
        """
        CREATE TABLE group_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id BLOB NOT NULL UNIQUE,
            group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            sender BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            kind INTEGER NOT NULL,
            body BLOB NOT NULL,
            sender_key BLOB,
            iteration INTEGER,
            ts INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_group_messages_group ON group_messages (group_id, seq)")
    db.execute("CREATE INDEX idx_group_messages_sender ON group_messages (sender, group_id)")
    db.execute(
        "CREATE UNIQUE INDEX idx_group_messages_chain "
        "ON group_messages (group_id, sender_key, iteration)"
    )
    db.execute("CREATE INDEX idx_group_messages_ts ON group_messages (ts)")
    # A group's stored items and a sender's pending bytes, for the limits,
    # kept by triggers as the envelopes' counters are.
    db.execute(
        "CREATE TRIGGER group_messages_counted AFTER INSERT ON group_messages BEGIN "
        "UPDATE groups SET stored = stored + 1 WHERE id = NEW.group_id; "
        "UPDATE accounts SET outbox_bytes = outbox_bytes + length(NEW.body) "
        "WHERE id = NEW.sender; END"
    )
    db.execute(
        "CREATE TRIGGER group_messages_uncounted AFTER DELETE ON group_messages BEGIN "
        "UPDATE groups SET stored = stored - 1 WHERE id = OLD.group_id; "
        "UPDATE accounts SET outbox_bytes = outbox_bytes - length(OLD.body) "
        "WHERE id = OLD.sender; END"
    )
    # Envelopes between member keys: the group they belong to and the keys
    # they were sent from or to, so that the frame shows keys, not accounts.
    db.execute("ALTER TABLE envelopes ADD COLUMN group_id BLOB")
    db.execute("ALTER TABLE envelopes ADD COLUMN sender_key BLOB")
    db.execute("ALTER TABLE envelopes ADD COLUMN recipient_key BLOB")


Migration = Callable[[Database], None]

MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "account activity day and therapist revocation", _activity_and_revocation),
    (3, "therapists' notification addresses", _notification_targets),
    (4, "sessions: token id, kind, last-active day, signed out", _sessions),
    (
        5,
        "per-sender pending limits, shorter-lived sending traces",
        _sender_limits_and_shorter_traces,
    ),
    (6, "changes of the account secret waiting for their switch", _secret_changes),
    (7, "peer-support groups", _groups),
)


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration not yet applied; returns the versions applied now."""
    db = Database(conn)
    done: list[int] = []
    for version, name, migration in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version in applied_versions(conn):
                conn.execute("ROLLBACK")
                continue
            if not db.table("schema_migrations").exists():
                db.table("schema_migrations").create(
                    {"version": int, "name": str, "applied": int},
                    pk="version",
                    not_null=["name", "applied"],
                )
            migration(db)
            db.table("schema_migrations").insert(
                {"version": version, "name": name, "applied": int(time.time()) // 86400 * 86400}
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done.append(version)
    return done
