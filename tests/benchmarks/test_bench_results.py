"""The numbers behind the verdicts, and the committed results that report them."""

import json
import shutil
from pathlib import Path

import pytest

from bench import report, stats, targets

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(x) for x in range(100, 0, -1)]
    assert stats.percentile(samples, 0.5) == 50
    assert stats.percentile(samples, 0.99) == 99
    assert stats.percentile(samples, 1.0) == 100
    assert stats.percentile([7.0], 0.99) == 7
    assert stats.median([3.0, 1.0, 2.0]) == 2
    with pytest.raises(ValueError, match="no samples"):
        stats.percentile([], 0.5)


def test_a_latency_summary_is_in_milliseconds() -> None:
    summary = stats.latency_summary([0.001] * 98 + [0.010, 0.250])
    assert summary == {"count": 100, "p50_ms": 1.0, "p99_ms": 10.0, "max_ms": 250.0}
    assert stats.latency_summary([]) == {"count": 0}


def test_the_slope_is_least_squares() -> None:
    assert stats.slope([0, 1, 2, 3], [5, 7, 9, 11]) == pytest.approx(2.0)
    assert stats.slope([0, 1, 2, 3], [1, 3, 1, 3]) == pytest.approx(0.4)
    assert stats.slope([1, 1], [1, 5]) == 0.0
    assert stats.slope([1], [1]) == 0.0


def test_a_verdict_says_by_how_much_either_way() -> None:
    met = targets.at_most("p99", 8.0, 10.0, "ms")
    assert met["met"] is True
    assert met["goal"] == "<= 10 ms"
    assert met["margin"] == "met with 2 ms to spare (20%)"
    missed = targets.at_most("p99", 54.4, 10.0, "ms")
    assert missed["met"] is False
    assert missed["margin"] == "missed: 44.4 ms over (444% above the target)"
    short = targets.at_least("ratio", 48.4, 50.0, "%")
    assert short["met"] is False
    assert short["margin"] == "missed: 1.6 % short (3% below the target)"
    assert targets.at_least("ratio", 50.0, 50.0, "%")["met"] is True


def test_the_committed_summary_is_what_the_committed_results_make(tmp_path: Path) -> None:
    for path in RESULTS.glob("*.json"):
        shutil.copy(path, tmp_path)
    made = report.summary(tmp_path).read_text()
    assert made == (RESULTS / "SUMMARY.md").read_text()


def test_every_missed_target_in_the_committed_results_is_explained() -> None:
    summary = (RESULTS / "SUMMARY.md").read_text()
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        missed = [t for t in result.get("targets", []) if not t["met"]]
        for target in missed:
            assert target["margin"].startswith("missed: "), (path.name, target)
            assert f"| {target['name']} |" in summary
        if missed:
            assert result["why"].strip(), f"{path.name} misses a target and does not say why"
            assert "**Why:** " + result["why"] in summary
