"""crypto/constants.py and client_web/lib/constants.js hold the same values.

The JavaScript module is evaluated by Node (it imports nothing), and every
export is compared with the Python constant of the same name, value by value;
a constant on one side only must be on the short list of those that belong
to one side, with the reason.
"""

import json
import shutil
import subprocess
from pathlib import Path

import crypto.constants

ROOT = Path(__file__).resolve().parent.parent
JS_CONSTANTS = ROOT / "client_web" / "lib" / "constants.js"

# Only the server uses these: its Argon2id cost for stored login hashes, and
# how long it waits for the answer to a websocket challenge.
PYTHON_ONLY = {
    "SERVER_LOGIN_HASH_TIME_COST",
    "SERVER_LOGIN_HASH_MEMORY_KIB",
    "SERVER_LOGIN_HASH_PARALLELISM",
    "WS_CHALLENGE_TTL",
}
JAVASCRIPT_ONLY: set[str] = set()

# Bytes become {"hex": ...} on both sides; frozen arrays and objects become
# JSON lists and objects.
DUMP = """
const constants = await import(process.argv[1]);
const plain = (value) =>
  value instanceof Uint8Array
    ? { hex: Buffer.from(value).toString("hex") }
    : value;
process.stdout.write(JSON.stringify(constants, (key, value) => plain(value)));
"""


def javascript_constants() -> dict[str, object]:
    node = shutil.which("node")
    assert node, "Node.js is needed to read client_web/lib/constants.js (see README)."
    result = subprocess.run(
        [node, "--input-type=module", "-e", DUMP, JS_CONSTANTS.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def python_constants() -> dict[str, object]:
    def plain(value: object) -> object:
        if isinstance(value, bytes):
            return {"hex": value.hex()}
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        return value

    return {
        name: plain(value)
        for name, value in vars(crypto.constants).items()
        if name.isupper() and not name.startswith("_")
    }


def test_every_shared_constant_has_the_same_value() -> None:
    js = javascript_constants()
    py = python_constants()
    shared = sorted(set(js) & set(py))
    assert len(shared) > 50
    differing = {name: (py[name], js[name]) for name in shared if py[name] != js[name]}
    assert differing == {}


def test_a_constant_on_one_side_only_is_listed_as_such() -> None:
    js = set(javascript_constants())
    py = set(python_constants())
    assert py - js == PYTHON_ONLY
    assert js - py == JAVASCRIPT_ONLY


def test_the_comparison_sees_bytes_and_tables() -> None:
    js = javascript_constants()
    assert js["CTX_VAULT_ITEM"] == {"hex": b"Quietline v1 vault item".hex()}
    assert js["PROFILE_TEXT_CHARS"]["away_message"] == 500
    assert js["BUCKETS"][-1] == 65536
