"""docs/SELF_HOSTING.md, executed: install, invite, backup, restore and upgrade as the guide says.

The commands come from the guide itself: every fenced block preceded by
`<!-- guide-test: NAME -->` is run by bash, as root runs it, with only these
changes, so the guide cannot drift from what works:

- its absolute paths (/opt/quietline, /var/lib/quietline, /root/backups) are
  moved under a temporary directory, and RELEASE-ADDRESS is a git repository
  made from this checkout (a second commit in it is what each upgrade pulls);
- `systemctl` is a shell function that starts, stops and checks the unit's
  own ExecStart (from deploy/quietline.service) in the background, since no
  systemd runs here; and the service and `make run` listen on a free port
  (QUIETLINE_PORT=0, PORT=0) instead of 8000;
- nothing is downloaded (tests stay on loopback): pip installs from the
  wheelhouse `make deps` fetched, and finds Quietline's dependencies already
  installed in this test run's virtualenv; npm installs from its cache.

The upgrade runs twice in a row, and after it both the service and `make
run` still serve the web client.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "SELF_HOSTING.md"
WHEELHOUSE = REPO_ROOT / ".venv" / "wheelhouse"
BLOCK = re.compile(r"<!-- guide-test: ([a-z-]+) -->\n```[a-z]*\n(.*?)```", re.S)
SERVING = re.compile(r"Quietline is serving on (http://[^\s]+)/")
INVITE_CODE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$", re.M)
START_TIMEOUT = 60


def guide_blocks() -> dict[str, str]:
    blocks = dict(BLOCK.findall(GUIDE.read_text()))
    expected = {
        "fetch",
        "install",
        "first-start",
        "invite",
        "move-data",
        "enable",
        "alias",
        "backup",
        "nightly",
        "restore",
        "upgrade",
    }
    assert set(blocks) == expected, set(blocks) ^ expected
    return blocks


SYSTEMCTL = r"""
# systemctl, played for the unit deploy/quietline.service: its ExecStart, in the background.
_ql_start() {
    local before
    before=$(grep -c "Quietline is serving" "$QL_SERVICE_LOG" 2>/dev/null || true)
    $QL_EXEC_START >> "$QL_SERVICE_LOG" 2>&1 &
    echo $! > "$QL_PIDFILE"
    for _ in $(seq 1 600); do
        if [ "$(grep -c "Quietline is serving" "$QL_SERVICE_LOG")" -gt "${before:-0}" ]; then
            return 0
        fi
        kill -0 "$(cat "$QL_PIDFILE")" 2>/dev/null || break
        sleep 0.1
    done
    echo "the service did not start:" >&2
    cat "$QL_SERVICE_LOG" >&2
    return 1
}
_ql_stop() {
    local pid
    pid=$(cat "$QL_PIDFILE" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$QL_PIDFILE"
}
systemctl() {
    case "$1 $2" in
        "daemon-reload "*) ;;
        "enable --now") _ql_start ;;
        "start quietline") _ql_start ;;
        "stop quietline") _ql_stop ;;
        "restart quietline") _ql_stop && _ql_start ;;
        "status quietline") kill -0 "$(cat "$QL_PIDFILE")" ;;
        *) echo "systemctl $*: not played by this test" >&2; return 1 ;;
    esac
}
"""


@dataclass
class Machine:
    """A temporary stand-in for the practice's machine, and the guide's blocks."""

    root: Path
    release: Path
    blocks: dict[str, str]
    env: dict[str, str]

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def localise(self, text: str) -> str:
        for absolute in ("/opt/quietline", "/var/lib/quietline", "/root/backups"):
            text = text.replace(absolute, str(self.path(absolute)))
        return text.replace("RELEASE-ADDRESS", str(self.release))

    def script(self, name: str) -> str:
        prelude = ["set -euo pipefail", SYSTEMCTL, self.localise(self.blocks["alias"])]
        return "\n".join([*prelude, self.localise(self.blocks[name])])

    def run(self, name: str) -> str:
        return self.run_text(self.script(name), f"guide block {name}")

    def run_text(self, script: str, what: str) -> str:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{what} failed:\n{result.stderr}"
        return result.stdout

    def run_cron_line(self) -> None:
        """The crontab line's command, as cron runs it: /bin/sh, `\\%` meaning `%`."""
        fields = self.localise(self.blocks["nightly"]).strip().split(None, 5)
        command = fields[5].replace("\\%", "%")
        result = subprocess.run(
            ["sh", "-c", command],
            cwd="/",
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def service_url(self) -> str:
        found = SERVING.findall(Path(self.env["QL_SERVICE_LOG"]).read_text())
        assert found, "the service never said it was serving"
        return found[-1]

    def stop_service(self) -> None:
        pidfile = Path(self.env["QL_PIDFILE"])
        if pidfile.exists():
            pid = int(pidfile.read_text())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)


def make_release(directory: Path) -> Path:
    """A git repository holding this checkout's files (committed or not), as a release would."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = REPO_ROOT / name
        if source.is_file():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    commit(directory, "release", init=True)
    return directory


def commit(directory: Path, message: str, init: bool = False) -> None:
    git = ["git", "-c", "user.name=Release", "-c", "user.email=release@example.org"]
    if init:
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=directory, check=True)
    subprocess.run([*git, "add", "-A"], cwd=directory, check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], cwd=directory, check=True)


def seed_virtualenv(checkout: Path) -> None:
    """The clone's .venv, made before `make install`, seeing this run's installed packages."""
    base = sys.base_prefix + "/bin/python3"
    subprocess.run([base, "-m", "venv", str(checkout / ".venv")], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    pth = checkout / ".venv" / "lib" / version / "site-packages" / "test-dependencies.pth"
    pth.write_text(sysconfig.get_paths()["purelib"] + "\n")


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.status, response.read()


def assert_serves_the_web_client(base_url: str) -> None:
    status, page = fetch(base_url + "/")
    assert status == 200 and b"<html" in page.lower()
    status, sodium = fetch(base_url + "/vendor/libsodium-sumo.js")
    assert status == 200 and len(sodium) > 100_000


def make_run(machine: Machine) -> None:
    """The first-start block (`make run`) in the background: it serves the web client."""
    log = machine.root / "make-run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", machine.script("first-start")],
            cwd=machine.root,
            env=machine.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not SERVING.search(log.read_text()):
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        found = SERVING.search(log.read_text())
        assert found, log.read_text()
        assert_serves_the_web_client(found.group(1))
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    if not (WHEELHOUSE / ".downloaded").exists():
        raise RuntimeError(f"{WHEELHOUSE} is missing: run `make deps` first.")
    release = make_release(tmp_path / "release")
    root = tmp_path / "machine"
    (root / "run").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUIETLINE_", "PIP_"))}
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(WHEELHOUSE),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "npm_config_offline": "true",
            "PORT": "0",
            "QUIETLINE_PORT": "0",
            "QL_PIDFILE": str(root / "run" / "quietline.pid"),
            "QL_SERVICE_LOG": str(root / "run" / "quietline.log"),
        }
    )
    machine = Machine(root, release, guide_blocks(), env)
    unit = (release / "deploy" / "quietline.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M).group(1)
    machine.env["QL_EXEC_START"] = machine.localise(exec_start)
    yield machine
    machine.stop_service()


def test_the_guide_installs_invites_backs_up_restores_and_upgrades(machine: Machine) -> None:
    machine.run("fetch")
    checkout = machine.path("/opt/quietline")
    seed_virtualenv(checkout)
    machine.run("install")
    installed = subprocess.run(
        [str(checkout / ".venv" / "bin" / "pip"), "list", "--local", "--format=freeze"],
        capture_output=True,
        text=True,
        env=machine.env,
        check=True,
    ).stdout
    # The production install carries no test or development tool.
    for tool in ("pytest", "playwright", "hypothesis", "ruff"):
        assert not re.search(rf"^{tool}==", installed, re.M | re.I), installed

    make_run(machine)
    code = machine.run("invite")
    assert INVITE_CODE.search(code), code

    machine.run("move-data")
    machine.run("enable")
    assert_serves_the_web_client(machine.service_url())
    stats = machine.run_text(machine.script("alias") + "\n$Q stats", "$Q stats")
    # The invite made under `make run` moved with the data.
    assert "unused therapist invites: 1" in stats

    machine.run("backup")
    machine.run_cron_line()
    backups = sorted(p.name for p in machine.path("/root/backups").iterdir())
    assert [name for name in backups if name.startswith("manual-")]
    assert [name for name in backups if name.startswith("quietline-")]
    machine.run("restore")
    assert_serves_the_web_client(machine.service_url())

    for release_number in (2, 3):
        (machine.release / "RELEASE-NOTE.txt").write_text(f"release {release_number}\n")
        commit(machine.release, f"release {release_number}")
        machine.run("upgrade")
        assert (checkout / "RELEASE-NOTE.txt").read_text() == f"release {release_number}\n"
        assert_serves_the_web_client(machine.service_url())
    make_run(machine)
