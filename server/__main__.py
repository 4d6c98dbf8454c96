"""`python -m server` is `quietline serve` (or any other `quietline` server command)."""

import sys

from server.cli import main

sys.exit(main())
