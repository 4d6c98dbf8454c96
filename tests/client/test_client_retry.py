"""`retry_on_conflict`, the one rule every compare-and-swap path of the Python client follows.

The attempts here are plain coroutines that raise the errors the server's
answers become, so the bound and the give-up behaviour are checked exactly;
the paths that use the helper against the real server are in
test_client_api.py (two devices racing on one vault).
"""

import itertools

import pytest

from client_py.errors import ServerError, VaultConflictError
from client_py.vaultstore import conflict_pause, retry_on_conflict
from crypto.constants import VAULT_CONFLICT_PAUSE_MS, VAULT_CONFLICT_RETRIES


def conflict() -> ServerError:
    return ServerError("vault_conflict", "stale version", 409)


class Attempts:
    """Fails with the given errors in turn, then returns how many calls it took."""

    def __init__(self, *errors: ServerError) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.syncs = 0

    async def attempt(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls

    async def resync(self) -> None:
        self.syncs += 1


async def test_a_conflict_is_synced_and_tried_again() -> None:
    attempts = Attempts(conflict(), conflict())
    assert await retry_on_conflict(attempts.attempt, attempts.resync) == 3
    assert attempts.syncs == 2


async def test_the_last_allowed_retry_still_runs() -> None:
    attempts = Attempts(*(conflict() for _ in range(VAULT_CONFLICT_RETRIES)))
    result = await retry_on_conflict(attempts.attempt, attempts.resync)
    assert result == VAULT_CONFLICT_RETRIES + 1
    assert attempts.syncs == VAULT_CONFLICT_RETRIES


async def test_running_out_raises_the_typed_conflict_to_the_caller() -> None:
    attempts = Attempts(*(conflict() for _ in range(VAULT_CONFLICT_RETRIES + 1)))
    with pytest.raises(VaultConflictError) as raised:
        await retry_on_conflict(attempts.attempt, attempts.resync)
    assert raised.value.code == "vault_conflict"
    assert raised.value.status == 409
    assert "try again" in raised.value.message
    assert attempts.calls == VAULT_CONFLICT_RETRIES + 1
    assert attempts.syncs == VAULT_CONFLICT_RETRIES


async def test_any_other_error_reaches_the_caller_at_once() -> None:
    attempts = Attempts(conflict(), ServerError("blocked", "blocked", 403))
    with pytest.raises(ServerError) as raised:
        await retry_on_conflict(attempts.attempt, attempts.resync)
    assert raised.value.code == "blocked"
    assert (attempts.calls, attempts.syncs) == (2, 1)


def test_the_pause_before_a_retry_is_drawn_below_a_doubling_bound() -> None:
    # Two devices that drew differently wait differently; the bound doubles.
    assert conflict_pause(0, 0.0) == 0
    bounds = [conflict_pause(retry, 1.0) for retry in range(VAULT_CONFLICT_RETRIES)]
    assert bounds[0] == VAULT_CONFLICT_PAUSE_MS / 1000
    assert all(later == 2 * earlier for earlier, later in itertools.pairwise(bounds))
    assert conflict_pause(2, 0.25) == bounds[2] / 4
    # Every retry spent, the pauses stay under a second.
    assert sum(bounds) < 1
