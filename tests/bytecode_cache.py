"""Python's bytecode cache on, for the test processes and every process they start.

PYTHONDONTWRITEBYTECODE (set in this project's sessions) leaves an editable checkout without
bytecode, so every ``eksaddon`` the tests start compiled each module it imports again (a third
of test_startup.py's CPU) and every worker rewrote and compiled every test module, where an
installed eksaddon has its modules compiled by pip. Compiled files go to ``__pycache__`` beside
the sources (ignored by git and by the packaging tests' source copies), and Python checks each
against its source before using it.

Imported by tests/conftest.py before anything of eksaddon; xdist's workers and every process
the tests start inherit the environment.
"""

from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
