"""The admin command to run next, spelled so that the administrator can paste it as it is.

The server and the admin commands suggest what to do next ("run ... to
create an invite code"); a suggestion without the program's path or the
`--data` in use fails when pasted, or worse, works on another data directory.
"""

import shlex
import sys
from pathlib import Path

from server.config import Settings


def _program() -> str:
    """How the administrator ran us: the path of `quietline`, or `python -m server`."""
    program = Path(sys.argv[0])
    if program.name != "quietline":
        return f"{Path(sys.executable).name} -m server"
    # Relative to the working directory when run from inside it (as
    # `.venv/bin/quietline`); a service's working directory is /, where a
    # relative path would only mislead whoever reads the journal.
    cwd = Path.cwd()
    if program.is_absolute() and cwd != Path(cwd.anchor) and program.is_relative_to(cwd):
        return str(program.relative_to(cwd))
    return str(program)


def admin_command(settings: Settings, *command: str) -> str:
    """`PROGRAM admin --data DATA COMMAND...` for the data directory in use."""
    words = [shlex.quote(word) for word in (settings.data, *command)]
    return f"{_program()} admin --data {' '.join(words)}"
