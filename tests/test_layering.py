"""The import graph is part of the security story (docs/ARCHITECTURE.md, "Layers").

The server may reach in crypto/ only what verifies or frames (signatures,
envelope parsing, encodings, constants, error types), never the code that
decrypts; crypto/ is the protocol alone (no network, files, terminal or
database, and nothing of the server or the clients); the Python client may use
crypto/. Each rule is checked on the transitive closure of a package's
imports inside this repository, so a module that reaches a forbidden one
through a third fails as surely as one that imports it directly. These tests
read the source, so a violation fails the build instead of waiting for a
reviewer.
"""

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PACKAGES = ("server", "crypto", "client_py")

# What crypto/ may hold that the server may reach: it verifies, frames or names.
SERVER_MAY_REACH_IN_CRYPTO = {
    "crypto",
    "crypto.constants",
    "crypto.encoding",
    "crypto.envelope",
    "crypto.errors",
    "crypto.signatures",
    # Groups: the roster's and the tombstone's moderator signatures, a group
    # message's framing and sender-key signature (PROTOCOL.md 15.2, 15.4,
    # 15.6). The roster module reaches crypto.kdf for the display-name
    # commitment, an HMAC the server never computes: it holds no name or salt.
    "crypto.group_roster",
    "crypto.group_message",
    "crypto.kdf",
}
# Outside modules that would make crypto/ more than the protocol.
CRYPTO_MUST_NOT_REACH = (
    # the layers above
    "server",
    "client_py",
    # the network
    "websockets",
    "urllib",
    "http",
    "socket",
    "ssl",
    "asyncio",
    # the terminal
    "argparse",
    "getpass",
    # files, processes and databases
    "os",
    "pathlib",
    "tempfile",
    "shutil",
    "subprocess",
    "sqlite3",
    "sqlite_utils",
)


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, absolute; `from p import m` names both p and p.m."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = path.parent
                for _ in range(node.level - 1):
                    package = package.parent
                prefix = ".".join(package.relative_to(path_root(path)).parts)
                base = f"{prefix}.{base}".strip(".") if base else prefix
            found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def path_root(path: Path) -> Path:
    """The directory holding the top-level package of `path`."""
    root = path.parent
    while (root / "__init__.py").exists():
        root = root.parent
    return root


def module_file(root: Path, module: str) -> Path | None:
    """The file of `module` under `root`, or None when it is not in the tree."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(root: Path, start: Iterable[Path]) -> dict[str, list[str]]:
    """Every module reached from `start`, in the tree or not, with one import path to it."""
    reached: dict[str, list[str]] = {}
    queue = [(path, [str(path.relative_to(root))]) for path in start]
    seen_files: set[Path] = set()
    while queue:
        path, chain = queue.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        for module in imported_modules(path):
            reached.setdefault(module, [*chain, module])
            target = module_file(root, module)
            if target is not None and target not in seen_files:
                queue.append((target, [*chain, module]))
    return reached


def package_files(root: Path, package: str) -> list[Path]:
    files = sorted((root / package).rglob("*.py"))
    assert files, f"no Python files found under {package}/"
    return files


def matches(module: str, forbidden: str) -> bool:
    return module == forbidden or module.startswith(forbidden + ".")


def crypto_violations(root: Path) -> list[str]:
    reached = closure(root, package_files(root, "crypto"))
    return [
        " -> ".join(chain)
        for module, chain in sorted(reached.items())
        if any(matches(module, bad) for bad in CRYPTO_MUST_NOT_REACH)
    ]


def server_violations(root: Path) -> list[str]:
    reached = closure(root, package_files(root, "server"))
    return [
        " -> ".join(chain)
        for module, chain in sorted(reached.items())
        if (
            (matches(module, "crypto") and module not in SERVER_MAY_REACH_IN_CRYPTO)
            and module_file(root, module) is not None
        )
        or matches(module, "client_py")
    ]


def test_server_reaches_only_verifying_crypto_modules() -> None:
    assert server_violations(ROOT) == []


def test_crypto_is_the_protocol_alone() -> None:
    assert crypto_violations(ROOT) == []


def test_client_py_reaches_nothing_of_the_server() -> None:
    reached = closure(ROOT, package_files(ROOT, "client_py"))
    assert [m for m in reached if matches(m, "server")] == []
    assert any(matches(m, "crypto") for m in reached)


def sample_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in {Path(name).parts[0] for name in files}:
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_the_checker_follows_imports_through_other_modules(tmp_path: Path) -> None:
    # Neither crypto/a.py nor server/hub.py imports anything forbidden itself:
    # each reaches it through modules outside its package (relative imports too).
    root = sample_tree(
        tmp_path,
        {
            "crypto/a.py": "from shared import tools\n",
            "shared/tools.py": "from .net import fetch\n",
            "shared/net.py": "import websockets\n\ndef fetch(): ...\n",
            "server/hub.py": "from shared.helpers import show\n",
            "shared/helpers.py": "from crypto import envelope, ratchet\n",
            "crypto/envelope.py": "X = 1\n",
            "crypto/ratchet.py": "def decrypt(): ...\n",
        },
    )
    assert crypto_violations(root) == [
        "crypto/a.py -> shared.tools -> shared.net -> websockets",
    ]
    assert server_violations(root) == [
        "server/hub.py -> shared.helpers -> crypto.ratchet",
    ]
    # The closure, not the file list, is what finds it.
    assert "websockets" not in imported_modules(root / "crypto" / "a.py")


def test_a_clean_sample_tree_passes(tmp_path: Path) -> None:
    root = sample_tree(
        tmp_path,
        {
            "crypto/constants.py": "X = 1\n",
            "crypto/envelope.py": "from crypto.constants import X\nimport struct\n",
            "server/relay.py": "from crypto import envelope\n",
        },
    )
    assert crypto_violations(root) == []
    assert server_violations(root) == []


@pytest.mark.parametrize("forbidden", CRYPTO_MUST_NOT_REACH)
def test_every_forbidden_module_is_caught(tmp_path: Path, forbidden: str) -> None:
    root = sample_tree(tmp_path, {"crypto/a.py": f"import {forbidden}\n"})
    assert crypto_violations(root) == [f"crypto/a.py -> {forbidden}"]
