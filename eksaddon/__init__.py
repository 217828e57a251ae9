"""eksaddon: the whole lifecycle of Amazon EKS add-ons, starting with the Amazon VPC CNI.

Signals from the first instant: when this package is imported by the ``eksaddon`` console script
(or ``python -m eksaddon``), SIGINT and SIGTERM are caught before anything else is imported.
Until the CLI's error boundary is active nothing can have been read or changed, so the early
handler writes the boundary's one line and exits 130 at once; the boundary then turns both
signals into KeyboardInterrupt (:func:`signals_interrupt`), which every engine handles (journal
kept, exit 130). Imported as a library, the package leaves the process's handlers alone.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__version__ = "0.1.0"

INTERRUPTED_LINE = b"eksaddon: error: interrupted\n"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupted_before_start(signum: int, frame: FrameType | None) -> None:
    """Before the error boundary: one line, exit 130, nothing to clean up (nothing was done)."""
    os.write(2, INTERRUPTED_LINE)
    os._exit(130)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _started_as_cli() -> bool:
    # The console script is named eksaddon; `python -m eksaddon` imports this package while
    # sys.argv[0] is still "-m".
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return program in ("eksaddon", "eksaddon.exe", "-m")


def _install_early_handlers() -> None:
    for number in SIGNALS:
        current = signal.getsignal(number)
        if current in (signal.SIG_DFL, signal.default_int_handler):  # not someone else's
            signal.signal(number, _interrupted_before_start)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM raise KeyboardInterrupt (the boundary makes it exit 130 and
    one line). Outside, the previous handlers are back, so an in-process run leaves the process
    as it found it. Off the main thread, signals cannot be handled and are left alone."""
    try:
        previous = {number: signal.getsignal(number) for number in SIGNALS}
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:  # (None: a handler not set from Python; nothing to restore)
                signal.signal(number, handler)


if _started_as_cli():
    _install_early_handlers()
