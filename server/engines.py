"""Which storage engine the `database` setting names (server/storage.py).

Empty, the default: SQLite, `quietline.sqlite3` in the data directory. A
`postgresql://` URL: that PostgreSQL database, which several relay processes
may share.
"""

from server import postgres
from server.config import Settings
from server.database import SqliteStorage
from server.postgres import PostgresStorage
from server.storage import Storage


def open_storage(settings: Settings) -> Storage:
    if postgres.is_url(settings.database):
        return PostgresStorage(settings.database)
    return SqliteStorage(settings.database_path())
