"""The deployment files and the self-hosting guide say what the server relies on.

nginx (`nginx -t`), Caddy (`caddy validate`) and `systemd-analyze verify` accept
these files (checked when they change, where those programs are installed);
these tests hold the essentials on any machine: websocket upgrades pass, no
access log, no client address passed on, the service sandboxed, and every
admin command the guide mentions exists.
"""

import re
from pathlib import Path

from server import admin
from server.admin_errors import AdminError
from server.config import SETTING_FIELDS

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
GUIDE = REPO_ROOT / "docs" / "SELF_HOSTING.md"
ADDRESS_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
ADMIN_ERROR_CODES = {cls.code for cls in AdminError.__subclasses__()}


def directives(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_nginx_proxies_websockets_and_keeps_no_addresses() -> None:
    lines = directives(DEPLOY / "nginx.conf")
    text = "\n".join(lines)
    assert "proxy_pass http://127.0.0.1:8000;" in lines
    assert "proxy_http_version 1.1;" in lines
    assert "proxy_set_header Upgrade $http_upgrade;" in lines
    assert "proxy_set_header Connection $connection_upgrade;" in lines
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default upgrade;", text)
    assert lines.count("access_log off;") == 2  # both server blocks
    assert not [line for line in lines if line.startswith("access_log") and "off" not in line]
    assert not [line for line in lines if line.startswith("log_format")]
    for header in ADDRESS_HEADERS:
        assert f'proxy_set_header {header} "";' in lines
    assert "$remote_addr" not in text and "$proxy_add_x_forwarded_for" not in text
    assert re.search(r"^proxy_read_timeout \d{4,}s;$", text, re.M)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in lines


def test_caddy_proxies_to_the_server_and_keeps_no_addresses() -> None:
    lines = directives(DEPLOY / "Caddyfile")
    assert "reverse_proxy 127.0.0.1:8000 {" in lines
    # Logs are configured in the global options only, each through the filter
    # that deletes the client's fields; no site asks for an access log.
    site = lines[lines.index("notes.example.org {") :]
    assert not [line for line in site if line == "log" or line.startswith("log ")]
    logs = [line for line in lines if line.startswith("log ")]
    assert logs and len(logs) == lines.count("import no_client_fields")
    for header in ADDRESS_HEADERS:
        assert f"header_up -{header}" in lines


def test_the_systemd_unit_is_sandboxed_and_writes_only_its_data() -> None:
    lines = directives(DEPLOY / "quietline.service")
    settings = dict(line.split("=", 1) for line in lines if "=" in line)
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "DynamicUser": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "StateDirectory": "quietline",
        "ReadWritePaths": "/var/lib/quietline",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert settings.get(key) == value, key
    # Only --data on the command line: every other setting comes from
    # quietline.toml, which a flag would silently override.
    start = "/opt/quietline/.venv/bin/quietline serve --data /var/lib/quietline"
    assert settings["ExecStart"] == start
    assert not [line for line in lines if line.startswith("Environment")]


def test_the_dockerfile_runs_unprivileged_with_data_in_a_volume() -> None:
    lines = directives(DEPLOY / "Dockerfile")
    assert lines[0].startswith("FROM python:3.11")
    assert "USER quietline" in lines
    assert 'VOLUME ["/data"]' in lines
    assert 'CMD ["quietline", "serve"]' in lines
    text = "\n".join(lines)
    assert "QUIETLINE_DATA=/data" in text and "npm ci" in text
    ignored = directives(DEPLOY / "Dockerfile.dockerignore")
    assert {".git", ".venv", "data", "client_web/test"} <= set(ignored)


def test_the_guide_names_only_real_commands_and_settings() -> None:
    guide = GUIDE.read_text()
    names = {command.name for command in admin.COMMANDS}
    mentioned = set(re.findall(r"(?:quietline admin(?: --data \S+)?|\$Q) ([a-z][a-z-]+)", guide))
    assert names <= mentioned, names - mentioned
    assert mentioned <= names, mentioned - names
    settings = {item.name for item in SETTING_FIELDS}
    toml_keys = re.findall(r"^([a-z_]+) = ", guide, re.M)
    assert toml_keys and set(toml_keys) <= settings
    for code in re.findall(r"^\| `([a-z_]+)` \|", guide.split("exits\nwith status 1", 1)[1], re.M):
        assert code in ADMIN_ERROR_CODES
    assert {f"`{code}`" for code in ADMIN_ERROR_CODES} <= set(re.findall(r"`[a-z_]+`", guide))
