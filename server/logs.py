"""Logging that never carries an IP address, an identifier or any content.

The server's own messages are fixed sentences with counts at most. uvicorn's
loggers are held at WARNING (its INFO lines name client addresses), its access
log is off, and every record passes `Scrub`, which drops exception text and
arguments from records that are not ours: a library's exception message can
quote the bytes that caused it. Unexpected exceptions are logged by
`log_unexpected` as the exception's type and the code locations it passed
through, never its message or local values.

A few library messages report nothing but a client's own bad input (a
request h11 cannot parse, a text frame that is not UTF-8); uvicorn logs them
at WARNING or ERROR, once per input. `Scrub` drops them: anyone could fill
the log (and the disk) with them, and they would bury the lines about real
faults. The client gets its answer or its close code either way.
"""

import logging
import traceback
from typing import Any

OWN_LOGGER = "quietline"
# The templates, exactly as uvicorn 0.54 logs them (tests/server/test_server_logs.py).
CLIENT_CAUSED = frozenset(
    {
        "Invalid HTTP request received.",
        "Invalid UTF-8 sequence received from client.",
    }
)


class Scrub(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + "."):
            return True
        if record.msg in CLIENT_CAUSED:
            return False
        suffix = ""
        if record.exc_info and record.exc_info[0] is not None:
            suffix = f" ({record.exc_info[0].__name__})"
        if record.args:
            # Templates are library constants; their arguments are request data.
            suffix += " [details withheld]"
        record.msg = f"{record.msg}{suffix}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def log_config(level: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` dictionary handed to uvicorn."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrub": {"()": Scrub}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["scrub"],
            }
        },
        "loggers": {
            OWN_LOGGER: {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "websockets": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def log_unexpected(error: BaseException, where: str) -> None:
    """Log a bug by type and code location only; its message may quote request data."""
    frames = traceback.extract_tb(error.__traceback__)
    path = " <- ".join(
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in reversed(frames[-6:])
    )
    logging.getLogger(OWN_LOGGER).error(
        "unexpected %s in %s at %s", type(error).__name__, where, path or "?"
    )
