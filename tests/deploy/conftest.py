"""Fixtures of the deploy tests: a throw-away certificate and the proxies, once per module.

`proxy` is parametrised over nginx and Caddy: every test that takes it runs
through both, each started once per module in front of the module's one
real server (`server`, tests/conftest.py).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_proxies import Certificate, Proxy, make_certificate, start_caddy, start_nginx

STARTERS = {"nginx": start_nginx, "caddy": start_caddy}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("certificate"))


@pytest.fixture(scope="module", params=sorted(STARTERS))
def proxy(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    certificate: Certificate,
    server: Any,
) -> Iterator[Proxy]:
    directory: Path = tmp_path_factory.mktemp(request.param)
    running = STARTERS[request.param](directory, certificate, server.port)
    yield running
    running.stop()
