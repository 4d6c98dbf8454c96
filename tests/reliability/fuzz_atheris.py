"""Coverage-guided fuzzing of the frame and envelope parsers with atheris, for as long as asked.

    python tests/reliability/fuzz_atheris.py -max_total_time=300 -artifact_prefix=/tmp/

Needs the `fuzz` optional dependencies (`pip install -e '.[fuzz]'`); `make
soak` runs it. It fuzzes what tests/reliability/test_reliability_fuzz.py
does (the relay's checks of a frame, and envelope framing) with libFuzzer's
coverage feedback instead of hypothesis's strategies. A crash (any exception
other than the documented ApiError or ProtocolError, or a framing that does
not re-encode to the same bytes) stops it and leaves the input in a
`crash-*` file: add that input to test_reliability_fuzz.py as an `@example`.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parent.parent, HERE.parent / "server", HERE):
    sys.path.insert(0, str(path))

import atheris  # noqa: E402

with atheris.instrument_imports():
    from reliability_harness import handle_frame

    from crypto import envelope as framing
    from crypto.errors import ProtocolError
    from server.errors import ApiError


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    if provider.ConsumeBool():
        try:
            handle_frame(provider.ConsumeUnicode(provider.remaining_bytes()))
        except ApiError as error:
            if error.code == "internal":
                raise
        return
    raw = provider.ConsumeBytes(provider.remaining_bytes())
    try:
        parsed = framing.parse(raw)
    except ProtocolError:
        return
    if framing.encode(parsed) != raw:
        raise AssertionError("an envelope parsed but did not re-encode to the same bytes")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
