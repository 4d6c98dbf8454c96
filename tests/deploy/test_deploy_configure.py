"""deploy/configure.py makes exactly the changes the guide names, or refuses."""

import subprocess
import sys
from pathlib import Path

import pytest

from server.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
LIMIT = str(Settings.max_request_bytes)


def configure(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "configure.py"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("proxy, example", [("nginx", "nginx.conf"), ("caddy", "Caddyfile")])
def test_with_only_a_domain_the_example_changes_only_its_name(proxy: str, example: str) -> None:
    result = configure(proxy, "--domain", "care.example.net")
    assert result.returncode == 0, result.stderr
    expected = (DEPLOY / example).read_text().replace("notes.example.org", "care.example.net")
    assert result.stdout == expected


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_a_changed_body_limit_reaches_every_place_that_states_it(proxy: str) -> None:
    result = configure(proxy, "--domain", "d.example", "--max-request-bytes", "1048576")
    assert result.returncode == 0, result.stderr
    assert LIMIT not in result.stdout
    # The proxy's limit and the message of its JSON error, and for Caddy the declared-length check.
    assert result.stdout.count("1048576") == (3 if proxy == "caddy" else 2)


def test_an_option_that_no_longer_applies_stops_the_script(tmp_path: Path) -> None:
    sys.path.insert(0, str(DEPLOY))
    try:
        import configure as script
    finally:
        sys.path.remove(str(DEPLOY))
    with pytest.raises(script.ConfigureError, match="listen 80"):
        script.replace("server {}", "listen 80;", "listen 8080;", "--http-port")
    assert configure("nginx", "--domain", "d.example", "--certificate", "c.pem").returncode == 2
    assert configure("caddy", "--domain", "d.example", "--error-log", "x.log").returncode == 2
