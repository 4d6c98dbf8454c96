"""Wake-ups between relay processes that share one PostgreSQL database.

A device connected to process A must receive, live, an envelope that a
sender stored through process B. The envelope itself travels only through
the store: B's writer stores it and, in the same transaction, sends
`NOTIFY quietline_wakeup` with the recipient's account id in hex, which is
the mailbox's name and nothing more (no sender, no size, no content),
after a one-letter kind: `e` an envelope arrived, `v` the account's vault
changed (its other devices sync), `s` its sessions changed (a log-out, the
other devices signed out, the account deleted: live connections of ended
sessions close), `t` its notification addresses changed (every process's
notifier reads them again), `p` the therapist published a profile (their
devices fetch it again). Each is handled by reading the store.
PostgreSQL delivers a notification only once its transaction committed, and
folds identical ones of one transaction into one, so a batch of a hundred
envelopes to one therapist wakes each process once.

Every process keeps one dedicated connection that only LISTENs. A
notification for an account with live connections here makes each of them
read its backlog after the last `seq` it delivered (server/connection.py,
`wake`): the same read a new connection makes. Nothing is lost when a
notification is: whenever the listening connection is lost and made again
(PostgreSQL restarted, a network cut), every live connection of this
process catches up the same way, and a device that connects catches up
anyway. The store, not the notification, is the truth. The writer's own
envelopes are pushed to this process's connections directly after commit
(server/hub.py), so a process skips the notifications its own writer sent.

SQLite has one process and needs none of this: `notify` does nothing there,
and server/listener.py listens only on PostgreSQL.
"""

from server.postgres import WAKEUP_CHANNEL
from server.storage import Connection

CHANNEL = WAKEUP_CHANNEL
ENVELOPE = "e"
VAULT = "v"
SESSIONS = "s"
TARGET = "t"
PROFILE = "p"


def notify(conn: Connection, kind: str, account: bytes) -> None:
    """In the storing transaction: tell every process, on commit, that `account` has news.

    The connection collects them and sends them all in one statement just
    before COMMIT (server/postgres.py); a ROLLBACK forgets them. An operation
    undone by its savepoint alone may leave its wake-up in: a wake-up that
    finds nothing new in the store costs one read and changes nothing.
    """
    if conn.engine == "postgresql":
        conn.notify_on_commit(f"{kind}:{account.hex()}")  # type: ignore[attr-defined]
