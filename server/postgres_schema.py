"""The PostgreSQL backend's schema: numbered migrations, applied in order on every start.

The numbers mean what they mean in server/migrations.py (SQLite): migration 4
adds sessions on both engines, so a database of either engine at version N
holds the same data. The statements are PostgreSQL's own: binary columns are
BYTEA, every integer is BIGINT (SQLite's integers are 64-bit), envelopes
number themselves with an identity column that never reuses a value, and
the counters kept by triggers are kept by one PL/pgSQL function.

Every migration runs in one transaction together with its row in
`schema_migrations`, under a transaction-scoped advisory lock, so several
relay processes starting at the same moment apply each migration exactly
once and never see one half-applied. Add a migration by appending to
`MIGRATIONS` (with the SQLite one of the same number); never edit one that
has shipped.
"""

import time
from collections.abc import Callable

from server import clock, settings_store
from server.storage import Connection

# pg_advisory_xact_lock's key for schema changes: any fixed 64-bit number
# no other part of the server uses (the writer's is in server/postgres.py).
MIGRATION_LOCK = 0x5175_6965_746C_0001


def _initial_schema(conn: Connection) -> None:
    for statement in (
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value BYTEA NOT NULL)",
        """CREATE TABLE accounts (
            id BYTEA PRIMARY KEY,
            handle_hash BYTEA NOT NULL UNIQUE,
            role TEXT NOT NULL,
            identity_key BYTEA NOT NULL,
            login_hash TEXT NOT NULL,
            created BIGINT NOT NULL,
            vault_seq BIGINT NOT NULL DEFAULT 0,
            vault_bytes BIGINT NOT NULL DEFAULT 0,
            vault_items BIGINT NOT NULL DEFAULT 0,
            inbox BIGINT NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE tokens (
            hash BYTEA PRIMARY KEY,
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            expires BIGINT NOT NULL
        )""",
        "CREATE INDEX tokens_account ON tokens (account)",
        "CREATE INDEX tokens_expires ON tokens (expires)",
        """CREATE TABLE invites (
            hash BYTEA PRIMARY KEY, kind TEXT NOT NULL, created BIGINT NOT NULL
        )""",
        """CREATE TABLE signed_prekeys (
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            id BIGINT NOT NULL,
            key BYTEA NOT NULL,
            sig BYTEA NOT NULL,
            PRIMARY KEY (account, kind)
        )""",
        # `added` orders one-time prekeys oldest first, as SQLite's rowid does.
        """CREATE TABLE one_time_prekeys (
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            id BIGINT NOT NULL,
            key BYTEA NOT NULL,
            sig BYTEA NOT NULL,
            added BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (account, id)
        )""",
        "CREATE INDEX one_time_prekeys_added ON one_time_prekeys (account, added)",
        """CREATE TABLE profiles (
            account BYTEA PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
            profile BYTEA NOT NULL,
            sig BYTEA NOT NULL
        )""",
        """CREATE TABLE vault_items (
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            id BYTEA NOT NULL,
            version BIGINT NOT NULL,
            blob BYTEA,
            seq BIGINT NOT NULL,
            PRIMARY KEY (account, id),
            UNIQUE (account, seq)
        )""",
        """CREATE TABLE envelopes (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id BYTEA NOT NULL UNIQUE,
            recipient BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            sender BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            env BYTEA NOT NULL,
            ts BIGINT NOT NULL
        )""",
        "CREATE INDEX envelopes_recipient_seq ON envelopes (recipient, seq)",
        "CREATE INDEX envelopes_sender ON envelopes (sender)",
        "CREATE INDEX envelopes_ts ON envelopes (ts)",
        # The inbox limit is checked on every send; a counter kept by a
        # trigger (which also fires for cascading deletes) avoids counting.
        """CREATE FUNCTION envelopes_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE accounts SET inbox = inbox + 1 WHERE id = NEW.recipient;
            ELSE
                UPDATE accounts SET inbox = inbox - 1 WHERE id = OLD.recipient;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER envelopes_counted AFTER INSERT OR DELETE ON envelopes
            FOR EACH ROW EXECUTE FUNCTION envelopes_count()""",
        """CREATE TABLE sent_cmids (
            sender BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            cmid BYTEA NOT NULL,
            envelope BYTEA NOT NULL,
            ts BIGINT NOT NULL,
            PRIMARY KEY (sender, cmid)
        )""",
        "CREATE INDEX sent_cmids_ts ON sent_cmids (ts)",
        """CREATE TABLE blocks (
            therapist BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            client BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            PRIMARY KEY (therapist, client)
        )""",
        "CREATE INDEX blocks_client ON blocks (client)",
    ):
        conn.execute(statement)
    settings_store.initialise(conn)


def _activity_and_revocation(conn: Connection) -> None:
    # As in SQLite's migration 2: existing accounts count as active from the upgrade.
    conn.execute("ALTER TABLE accounts ADD COLUMN active BIGINT NOT NULL DEFAULT 0")
    conn.execute("UPDATE accounts SET active = ?", (clock.today(),))
    conn.execute("ALTER TABLE accounts ADD COLUMN revoked BIGINT")
    conn.execute("CREATE INDEX accounts_role_active ON accounts (role, active)")


def _notification_targets(conn: Connection) -> None:
    conn.execute(
        """CREATE TABLE notification_targets (
            account BYTEA PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
            email TEXT,
            push_url TEXT
        )"""
    )


def _sessions(conn: Connection) -> None:
    conn.execute("ALTER TABLE tokens ADD COLUMN id BYTEA")
    conn.execute("UPDATE tokens SET id = uuid_send(gen_random_uuid())")
    conn.execute("CREATE UNIQUE INDEX tokens_id ON tokens (id)")
    conn.execute("ALTER TABLE tokens ADD COLUMN kind TEXT")
    conn.execute("ALTER TABLE tokens ADD COLUMN active BIGINT NOT NULL DEFAULT 0")
    conn.execute("UPDATE tokens SET active = ?", (clock.today(),))
    conn.execute("ALTER TABLE tokens ADD COLUMN signed_out BIGINT")


def _sender_limits_and_shorter_traces(conn: Connection) -> None:
    conn.execute("ALTER TABLE accounts ADD COLUMN outbox_bytes BIGINT NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE accounts SET outbox_bytes = "
        "(SELECT COALESCE(SUM(length(env)), 0) FROM envelopes WHERE sender = accounts.id)"
    )
    conn.execute(
        """CREATE OR REPLACE FUNCTION envelopes_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE accounts SET inbox = inbox + 1 WHERE id = NEW.recipient;
                UPDATE accounts SET outbox_bytes = outbox_bytes + length(NEW.env)
                    WHERE id = NEW.sender;
            ELSE
                UPDATE accounts SET inbox = inbox - 1 WHERE id = OLD.recipient;
                UPDATE accounts SET outbox_bytes = outbox_bytes - length(OLD.env)
                    WHERE id = OLD.sender;
            END IF;
            RETURN NULL;
        END $$"""
    )
    conn.execute("DROP INDEX envelopes_sender")
    conn.execute("CREATE INDEX envelopes_sender_recipient ON envelopes (sender, recipient)")
    # De-duplication rows live exactly as long as their envelope.
    conn.execute("DELETE FROM sent_cmids WHERE envelope NOT IN (SELECT id FROM envelopes)")
    conn.execute("ALTER TABLE sent_cmids DROP COLUMN ts")
    conn.execute(
        "ALTER TABLE sent_cmids ADD FOREIGN KEY (envelope) REFERENCES envelopes (id) "
        "ON DELETE CASCADE"
    )
    conn.execute("CREATE INDEX sent_cmids_envelope ON sent_cmids (envelope)")
    conn.execute("UPDATE tokens SET expires = expires / 14400 * 14400")


def _secret_changes(conn: Connection) -> None:
    # As SQLite's migration 6: a change of the account secret waiting for its
    # switch, and the vault items re-encrypted for it (server/secret_change.py).
    conn.execute(
        """CREATE TABLE secret_changes (
            account BYTEA PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
            handle_hash BYTEA NOT NULL UNIQUE,
            login_hash TEXT NOT NULL,
            started BIGINT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE secret_change_items (
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            id BYTEA NOT NULL,
            base BIGINT NOT NULL,
            blob BYTEA NOT NULL,
            PRIMARY KEY (account, id)
        )"""
    )


def _groups(conn: Connection) -> None:
    # As SQLite's migration 7 (server/migrations.py says what each table is
    # for). `left` is a reserved word in PostgreSQL: the column is quoted,
    # here and in every statement of server/groups.py (SQLite accepts that too).
    for statement in (
        """CREATE TABLE groups (
            id BYTEA PRIMARY KEY,
            roster BYTEA NOT NULL,
            version BIGINT NOT NULL,
            flags BIGINT NOT NULL,
            listing BYTEA,
            listing_sig BYTEA,
            stored BIGINT NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE group_moderators (
            group_id BYTEA NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, account)
        )""",
        "CREATE INDEX group_moderators_account ON group_moderators (account)",
        # A group whose last moderator account is deleted goes too.
        """CREATE FUNCTION group_moderators_last() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM group_moderators WHERE group_id = OLD.group_id) THEN
                DELETE FROM groups WHERE id = OLD.group_id;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER group_moderators_last AFTER DELETE ON group_moderators
            FOR EACH ROW EXECUTE FUNCTION group_moderators_last()""",
        """CREATE TABLE member_keys (
            key BYTEA PRIMARY KEY,
            group_id BYTEA NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            "left" BIGINT NOT NULL DEFAULT 0
        )""",
        "CREATE UNIQUE INDEX member_keys_group_account ON member_keys (group_id, account)",
        "CREATE INDEX member_keys_account ON member_keys (account)",
        """CREATE TABLE member_signed_prekeys (
            member_key BYTEA NOT NULL REFERENCES member_keys (key) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            id BIGINT NOT NULL,
            key BYTEA NOT NULL,
            sig BYTEA NOT NULL,
            PRIMARY KEY (member_key, kind)
        )""",
        # `added` orders one-time prekeys oldest first, as SQLite's rowid does.
        """CREATE TABLE member_one_time_prekeys (
            member_key BYTEA NOT NULL REFERENCES member_keys (key) ON DELETE CASCADE,
            id BIGINT NOT NULL,
            key BYTEA NOT NULL,
            sig BYTEA NOT NULL,
            added BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (member_key, id)
        )""",
        "CREATE INDEX member_one_time_prekeys_added ON member_one_time_prekeys (member_key, added)",
        """CREATE TABLE group_members (
            group_id BYTEA NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
            account BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            cursor BIGINT NOT NULL,
            until_seq BIGINT,
            muted BIGINT NOT NULL DEFAULT 0,
            moderator BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (group_id, account)
        )""",
        "CREATE INDEX group_members_account ON group_members (account)",
        """CREATE TABLE group_messages (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id BYTEA NOT NULL UNIQUE,
            group_id BYTEA NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
            sender BYTEA NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            kind BIGINT NOT NULL,
            body BYTEA NOT NULL,
            sender_key BYTEA,
            iteration BIGINT,
            ts BIGINT NOT NULL
        )""",
        "CREATE INDEX group_messages_group ON group_messages (group_id, seq)",
        "CREATE INDEX group_messages_sender ON group_messages (sender, group_id)",
        "CREATE UNIQUE INDEX group_messages_chain "
        "ON group_messages (group_id, sender_key, iteration)",
        "CREATE INDEX group_messages_ts ON group_messages (ts)",
        # A group's stored items and a sender's pending bytes, for the limits.
        """CREATE FUNCTION group_messages_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE groups SET stored = stored + 1 WHERE id = NEW.group_id;
                UPDATE accounts SET outbox_bytes = outbox_bytes + length(NEW.body)
                    WHERE id = NEW.sender;
            ELSE
                UPDATE groups SET stored = stored - 1 WHERE id = OLD.group_id;
                UPDATE accounts SET outbox_bytes = outbox_bytes - length(OLD.body)
                    WHERE id = OLD.sender;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER group_messages_counted AFTER INSERT OR DELETE ON group_messages
            FOR EACH ROW EXECUTE FUNCTION group_messages_count()""",
        "ALTER TABLE envelopes ADD COLUMN group_id BYTEA",
        "ALTER TABLE envelopes ADD COLUMN sender_key BYTEA",
        "ALTER TABLE envelopes ADD COLUMN recipient_key BYTEA",
    ):
        conn.execute(statement)


Migration = Callable[[Connection], None]

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


def applied_versions(conn: Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if exists is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: Connection) -> list[int]:
    """Apply every migration not yet applied; returns the versions applied now."""
    done: list[int] = []
    for version, name, migration in MIGRATIONS:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            if version in applied_versions(conn):
                conn.execute("ROLLBACK")
                continue
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)"
            )
            migration(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                (version, name, int(time.time()) // 86400 * 86400),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done.append(version)
    return done
