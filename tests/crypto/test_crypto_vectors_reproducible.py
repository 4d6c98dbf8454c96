"""The committed vector files are exactly what the generator produces."""

import importlib.util
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load_generator():
    spec = importlib.util.spec_from_file_location("vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_vectors_equal_a_fresh_generation() -> None:
    generated = load_generator().build_all()
    assert len(generated) == 15
    for name, text in generated.items():
        committed = (VECTORS / name).read_text()
        assert committed == text, f"{name} differs from generate.py's output; regenerate it"


def test_no_vector_file_is_left_over() -> None:
    produced = set(load_generator().BUILDERS) | {"kem_recordings.json"}
    on_disk = {path.name for path in VECTORS.glob("*.json")}
    assert on_disk == produced
