"""The suite's options reach every module that reads them: the modules import conftest.py by
its package name, which must be the module pytest loaded and configured (a second copy would
keep the defaults, and the Compose run would start native-only tests)."""
import os
import sys

from tests.live import conftest


def test_the_options_pytest_read_are_the_ones_the_test_modules_import(request):
    copies = sorted(name for name, mod in sys.modules.items() if name.endswith("live.conftest") and mod is not None)
    assert copies == ["tests.live.conftest"]
    assert conftest.MODE == (request.config.getoption("--mode") or os.environ.get("PLANO_SMOKE_MODE") or "native")
