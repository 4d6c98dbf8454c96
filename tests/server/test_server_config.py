"""Configuration, the command line, migrations and logging."""

import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from server_harness import make_account, open_socket, request
from server_process import REPO_ROOT, TEST_SETTINGS, RunningServer

from server.config import (
    LIMITS,
    SETTING_FIELDS,
    ConfigError,
    Settings,
    env_name,
    flag_name,
    load_settings,
)
from server.serve import prepare_database

ALL_NONE: dict[str, Any] = {}


def test_defaults() -> None:
    settings = load_settings(ALL_NONE, {}, None)
    assert settings == Settings()
    assert (settings.host, settings.port, settings.data) == ("127.0.0.1", 8000, "data")
    assert settings.neutral_title == "Notes"
    assert settings.exit_url == "https://www.wikipedia.org/"
    assert settings.max_connections_per_account == 10


def test_every_setting_is_documented_with_its_default() -> None:
    doc = (REPO_ROOT / "docs" / "SERVER.md").read_text()
    for item in SETTING_FIELDS:
        row = f"| `{item.name}` | `{flag_name(item.name)}` | `{env_name(item.name)}` | "
        assert row in doc, item.name
        shown = doc.split(row, 1)[1].split(" |", 1)[0]
        if isinstance(item.default, bool):
            expected = f"`{str(item.default).lower()}`"
        elif isinstance(item.default, str):
            expected = f'`"{item.default}"`'
        else:
            expected = f"`{item.default}`"
        assert shown.startswith(expected), item.name


def test_every_limit_is_in_the_security_table_with_its_default() -> None:
    doc = (REPO_ROOT / "docs" / "SECURITY.md").read_text().split("\n## Limits\n", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| `([^`]*)` \|", doc, re.MULTILINE))
    defaults = {item.name: item.default for item in SETTING_FIELDS}
    assert list(rows) == list(LIMITS)
    for name, shown in rows.items():
        assert shown == str(defaults[name]), name


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = tmp_path / "quietline.toml"
    config.write_text('neutral_title = "Garden"\nmax_inbox = 7\nport = 9001\n')
    env = {"QUIETLINE_DATA": str(tmp_path), "QUIETLINE_PORT": "9002", "QUIETLINE_MAX_INBOX": "8"}
    settings = load_settings({"port": 9003}, env, None)
    assert (settings.port, settings.max_inbox, settings.neutral_title) == (9003, 8, "Garden")
    settings = load_settings({}, {"QUIETLINE_CONFIG": str(config)}, None)
    assert (settings.port, settings.max_inbox) == (9001, 7)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QUIETLINE_PORT": "eighty"}, "must be a number"),
        ({"QUIETLINE_PORT": "70000"}, "at most 65535"),
        ({"QUIETLINE_MAX_INBOX": "0"}, "at least 1"),
        ({"QUIETLINE_IDLE_LOCK_MINUTES": "0"}, "idle_lock_minutes must be at least 1"),
        ({"QUIETLINE_IDLE_LOCK_MINUTES": "241"}, "idle_lock_minutes must be at most 240"),
        ({"QUIETLINE_AUTH_TIMEOUT": "31"}, "auth_timeout must be at most 30"),
        ({"QUIETLINE_EXIT_URL": "javascript:alert(1)"}, "exit_url"),
        ({"QUIETLINE_LOG_LEVEL": "chatty"}, "log_level"),
        ({"QUIETLINE_WS_RATE": "1.5.2"}, "must be a number"),
        ({"QUIETLINE_CONFIG": "/nonexistent/quietline.toml"}, "cannot be read"),
        ({"QUIETLINE_SPECIALTIES": "Anxiety, " + "x" * 61}, "specialties is at most 200 terms"),
        ({"QUIETLINE_LANGUAGES": ",".join(f"L{i}" for i in range(201))}, "languages is at most"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(ALL_NONE, env, None)


def test_bad_configuration_files(tmp_path: Path) -> None:
    path = tmp_path / "quietline.toml"
    path.write_text("max_inbx = 3\n")
    with pytest.raises(ConfigError, match="unknown settings: max_inbx"):
        load_settings(ALL_NONE, {}, str(path))
    path.write_text("login_attempts_per_handle = 10\n")
    with pytest.raises(ConfigError, match="login_attempts_per_handle, which this version"):
        load_settings(ALL_NONE, {}, str(path))
    path.write_text("max_inbox = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(ALL_NONE, {}, str(path))
    path.write_text('max_inbox = "many"\n')
    with pytest.raises(ConfigError, match="must be a number"):
        load_settings(ALL_NONE, {}, str(path))


def quietline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_command_line_help_and_errors(tmp_path: Path) -> None:
    helped = quietline("serve", "--help")
    assert helped.returncode == 0
    for flag in ("--host", "--port", "--data", "--max-inbox", "--exit-url", "QUIETLINE_MAX_INBOX"):
        assert flag in helped.stdout
    assert quietline("serve", "--port", "eighty").returncode == 2
    refused = quietline("serve", "--data", str(tmp_path), "--max-inbox", "0")
    assert refused.returncode == 2 and "max_inbox must be at least 1" in refused.stderr
    assert quietline("admin", "frobnicate").returncode == 2


def test_settings_reach_the_web_client(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(
        neutral_title="Recipes",
        exit_url="https://example.org/weather",
        idle_lock_minutes=3,
        crisis_text="If you are in danger, call 112.",
    )
    info = server.get_json("/api/info")
    assert (info["specialties"], info["languages"]) == ([], [])
    assert info["neutral_title"] == "Recipes"
    assert info["exit_url"] == "https://example.org/weather"
    assert info["idle_lock_minutes"] == 3
    assert info["crisis_text"] == "If you are in danger, call 112."
    assert info["version"] == 1 and info["intake"] == "open"
    assert info["limits"]["max_envelope"] == 66758
    api = (REPO_ROOT / "docs" / "API.md").read_text()
    paragraph = api.split("`limits` holds", 1)[1].split("\n\n", 1)[0]
    assert set(info["limits"]) == set(re.findall(r"`([a-z_]+)`", paragraph))


def test_the_practice_vocabulary_is_published_as_lists(server_factory: Any) -> None:
    server = server_factory(
        specialties=" Anxiety,Trauma ,, Sex  work, anxiety ,Grief",
        languages="English, العربية,Español",
    )
    info = server.get_json("/api/info")
    # Spaces tidied, empty terms and repeats (in any case) dropped, order kept.
    assert info["specialties"] == ["Anxiety", "Trauma", "Sex work", "Grief"]
    assert info["languages"] == ["English", "العربية", "Español"]


def test_a_configuration_file_in_the_data_directory_is_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "quietline.toml").write_text('neutral_title = "Crosswords"\nidle_lock_minutes = 9\n')
    running = RunningServer(data, dict(TEST_SETTINGS)).start()
    try:
        info = running.get_json("/api/info")
        assert (info["neutral_title"], info["idle_lock_minutes"]) == ("Crosswords", 9)
    finally:
        running.stop()


def test_migrations_are_numbered_applied_once_and_keep_the_installation_id(tmp_path: Path) -> None:
    settings = Settings(data=str(tmp_path / "data"))
    assert prepare_database(settings) == [1, 2, 3, 4, 5, 6, 7]
    assert prepare_database(settings) == []
    conn = sqlite3.connect(settings.database_path())
    try:
        assert conn.execute("SELECT version, name FROM schema_migrations").fetchall() == [
            (1, "initial schema"),
            (2, "account activity day and therapist revocation"),
            (3, "therapists' notification addresses"),
            (4, "sessions: token id, kind, last-active day, signed out"),
            (5, "per-sender pending limits, shorter-lived sending traces"),
            (6, "changes of the account secret waiting for their switch"),
            (7, "peer-support groups"),
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        server_id = conn.execute("SELECT value FROM settings WHERE key = 'server_id'").fetchone()
        assert len(server_id[0]) == 16
    finally:
        conn.close()
    assert (tmp_path / "data").stat().st_mode & 0o077 == 0


def test_the_installation_id_survives_restarts(server_factory: Any) -> None:
    server = server_factory()
    before = server.get_json("/api/info")["server_id"]
    server.stop()
    server.start()
    assert server.get_json("/api/info")["server_id"] == before
    assert server.log_text().count("applied migration") == 1


async def test_logs_hold_no_addresses_identifiers_or_content(server_factory: Any) -> None:
    server = server_factory(log_level="debug")
    account = make_account(server.url)
    socket = await open_socket(server.url, account)
    local_port = socket.ws.local_address[1]
    await socket.send("this is not json: private words")
    assert (await socket.expect("error"))["code"] == "bad_request"
    await socket.close()
    assert request(server.url, "GET", "/nothing/here?secret=words").status == 404
    server.stop()
    log = server.log_text()
    for forbidden in (
        f":{local_port}",
        account.id_text,
        account.handle,
        account.token,
        "private words",
        "secret=words",
        "WebSocket /ws",
    ):
        assert forbidden not in log
    for stored in server.stored_bytes().values():
        assert account.handle.encode() not in stored and b"private words" not in stored
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines[0].startswith("Database ") and lines[1].startswith("No therapist yet")
    assert lines[2].startswith("Quietline is serving on")
