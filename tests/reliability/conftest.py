"""Every test here that starts a server runs once on each storage backend."""

import pytest


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
