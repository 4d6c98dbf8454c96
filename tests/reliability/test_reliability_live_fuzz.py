"""The live fuzzer on every `make test`: a short seeded run against a real server.

tests/reliability/live_fuzz.py says what it sends and what fails a run;
`make soak` runs it with a million inputs. This run is the same code with
about 20,000 inputs, bounded in time as well, so that a handler that breaks
on hostile input is caught on the commit that breaks it.
"""

from pathlib import Path

from live_fuzz import SHARES, run

SHORT_RUN_INPUTS = 20_000
# A bound, not a measurement: a run on a busy machine stops here with fewer inputs.
SHORT_RUN_SECONDS = 100.0
SEED = 24


def test_twenty_thousand_hostile_inputs_leave_the_server_sound(tmp_path: Path) -> None:
    report = run(SHORT_RUN_INPUTS, SHORT_RUN_SECONDS, SEED, tmp_path / "data")
    print(report.summary())
    assert not report.failures, report.summary()
    assert 0 < report.total <= SHORT_RUN_INPUTS
    kinds = {label.split(" ", 1)[0] for label in report.inputs}
    assert kinds == set(SHARES)
    assert any(label.startswith("http") and "200" in label for label in report.answers)
    assert report.answers["ws sent"] > 0 and report.answers["ws acked"] > 0
