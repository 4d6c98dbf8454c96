"""`quietline client ARGS` (at the test cost, as cheap_kdf_cli.py) killed by SIGKILL mid-change.

`CRASH_AT="before N"` or `"after N"` names the Nth HTTP request of a change of
the account secret (counted from the moment `change-secret` starts changing,
once the new secret was shown and confirmed): the process sends SIGKILL to
itself just before that request leaves, or just after its answer arrived and
before the client did anything with it. That is a real `kill -9` of the
client at every step of the change, with the server untouched and real.
"""

import os
import signal
import sys
from typing import Any

from client_harness import TEST_KDF_COST

from client_py import api, cli, secretchange

WHEN, INDEX = os.environ["CRASH_AT"].split()
COUNTED = {"started": False, "requests": 0}
_change = secretchange.change
_request_sync = api.Http._request_sync


async def change(*args: Any, **kwargs: Any) -> int:
    COUNTED["started"] = True
    return await _change(*args, **kwargs)


def request_sync(self: api.Http, method: str, path: str, body: Any) -> Any:
    if not COUNTED["started"]:
        return _request_sync(self, method, path, body)
    COUNTED["requests"] += 1
    here = COUNTED["requests"] == int(INDEX)
    if here and WHEN == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    answer = _request_sync(self, method, path, body)
    if here and WHEN == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return answer


secretchange.change = change  # type: ignore[assignment]
api.Http._request_sync = request_sync  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:], kdf_cost=TEST_KDF_COST))
