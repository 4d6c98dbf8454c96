"""`quietline client ARGS` with Argon2id at the test cost (client_harness.TEST_KDF_COST).

The CLI tests run this instead of the installed command, so that every
command does not pay the protocol's Argon2id cost; the cost goes in through
the library call, as no user of the command can set it.
"""

import sys

from client_harness import TEST_KDF_COST

from client_py import cli

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:], kdf_cost=TEST_KDF_COST))
