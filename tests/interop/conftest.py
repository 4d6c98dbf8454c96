"""The interoperability tests reuse the browser tests' Chromium set-up and the CLI helpers.

Chromium is launched exactly as tests/browser/conftest.py launches it (its
`browser_type_launch_args` fixture is re-exported here), the browser steps are
tests/browser/browser_flows.py, and the terminal steps are the `quietline
client` helpers of tests/client/client_harness.py.
"""

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for helper_dir in (TESTS / "browser", TESTS / "client"):
    if str(helper_dir) not in sys.path:
        sys.path.insert(0, str(helper_dir))

_spec = importlib.util.spec_from_file_location(
    "browser_tests_conftest", TESTS / "browser" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_browser_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_browser_conftest)

browser_type_launch_args = _browser_conftest.browser_type_launch_args
# The groups test (test_interop_groups.py) uses the browser tests' practice
# server and browser profiles as they are.
neutral_site = _browser_conftest.neutral_site
practice = _browser_conftest.practice
open_tab = _browser_conftest.open_tab
