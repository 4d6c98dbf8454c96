"""The import graph is part of the security story.

The server may use from crypto/ only what verifies or frames (signatures,
envelope parsing, encodings, constants, error types), never the code that
decrypts; crypto/ never depends on the server. These tests read the source so
that a violation fails the build instead of waiting for a reviewer.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_MAY_IMPORT = {
    "crypto",
    "crypto.constants",
    "crypto.encoding",
    "crypto.envelope",
    "crypto.errors",
    "crypto.signatures",
}
CRYPTO_NAMES_ALLOWED_FROM_PACKAGE = {"constants", "encoding", "envelope", "errors", "signatures"}


def imported_modules(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def python_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files found under {package}/"
    return files


def test_server_imports_only_verifying_crypto_modules() -> None:
    for path in python_files("server"):
        for module, names in imported_modules(path):
            if module != "crypto" and not module.startswith("crypto."):
                continue
            assert module in SERVER_MAY_IMPORT, f"{path.relative_to(ROOT)} imports {module}"
            if module == "crypto":
                bad = set(names) - CRYPTO_NAMES_ALLOWED_FROM_PACKAGE
                assert not bad, f"{path.relative_to(ROOT)} imports {bad} from crypto"


def test_crypto_never_imports_server() -> None:
    for path in python_files("crypto"):
        for module, _ in imported_modules(path):
            assert module != "server" and not module.startswith("server."), (
                f"{path.relative_to(ROOT)} imports {module}"
            )


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from crypto.ratchet import decrypt\nimport server.relay\n")
    assert imported_modules(sample) == [("crypto.ratchet", ["decrypt"]), ("server.relay", [])]
