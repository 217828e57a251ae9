"""A clock for tests whose waits take no time: step deadlines, polling and backoff, fast-forwarded.

The engine takes a :class:`~eksaddon.engine.waiting.Clock` (``now()``, ``sleep()``) for every step
deadline, poll and backoff. :class:`FastForwardClock` is one whose ``sleep(s)`` returns at once
and moves its time on by ``s``: ``now()`` is every second slept so far plus a quarter of the real
time that passed (``REAL_TIME_SHARE``). The waits between requests cost nothing, so an upgrade
that waits out a two-second step timeout is over in the time its requests take; and a deadline
still counts what really takes time (a request, a read timeout, which is the socket's), so a run
whose requests hang still meets its deadline after a few of them. Real time counts at a quarter
because the suite runs on every core beside other work: a loaded machine may take four times as
long for a step's requests as an idle one before a transient fault's case runs into the step's
timeout (real time counted in full made those cases fail now and then under load; not counted
at all, a case of hung requests would retry them for the whole timeout, seconds each).

A hung request is the exception: ``count_in_full(seconds)`` counts real time that passed in full
(the fault proxy's ``hang`` tells it how long it held a request until the client's read timeout
ran out), since that wait is what a hung-request case is about.

The world the code under test waits for moves on with the clock, so that the order of events is
the one real time would give, whatever the machine's load:

* ``call_later(seconds, action)`` runs ``action`` once the clock has moved ``seconds`` on: in the
  thread that sleeps past that moment, before its ``sleep`` returns, or in the clock's own thread
  if real time gets there first (e.g. a fault proxy's API server coming back);
* ``on_sleep(action)`` runs ``action`` at every ``sleep``, in the sleeping thread, before it
  returns (e.g. the stand-in DaemonSet controller reconciling: any wait of the code under test is
  long enough for a controller to act).

The ``fast_clock`` fixture (tests/conftest.py) makes every ``SystemClock`` — what the CLI hands
the engine — tell this clock's time for the length of a test; see "Writing fast tests" in
docs/reliability.md.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Action = Callable[[], None]
REAL_TIME_SHARE = 0.25


@dataclass(order=True)
class _Timer:
    due: float
    order: int
    action: Action = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Timer:
    """A pending ``call_later``; ``cancel()`` stops it from running."""

    def __init__(self, timer: _Timer) -> None:
        self._timer = timer

    def cancel(self) -> None:
        self._timer.cancelled = True


class FastForwardClock:
    """A Clock whose ``sleep`` takes no real time (see the module's docstring)."""

    def __init__(self, *, real_time_share: float = REAL_TIME_SHARE) -> None:
        self.real_time_share = real_time_share
        self._started = time.monotonic()
        self.skipped = 0.0  # seconds slept without sleeping
        self.sleeps = 0
        self._lock = threading.Lock()
        self._firing = threading.RLock()  # one thread runs due timers at a time
        self._wake = threading.Condition(self._lock)
        self._timers: list[_Timer] = []
        self._order = itertools.count()
        self._on_sleep: list[Action] = []
        self._closed = False
        self.errors: list[BaseException] = []  # raised by timers run in the clock's own thread
        self._thread = threading.Thread(target=self._watch, name="fast-clock", daemon=True)
        self._thread.start()

    # --- the Clock protocol ----------------------------------------------------------------------

    def now(self) -> float:
        real = time.monotonic() - self._started
        return self._started + self.skipped + real * self.real_time_share

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.skipped += max(seconds, 0.0)
            self.sleeps += 1
            self._wake.notify_all()
            tickers = list(self._on_sleep)
        self._run_due()
        for action in tickers:
            action()
        time.sleep(0)  # let the stand-ins' threads run, as a real sleep would

    def count_in_full(self, real_seconds: float) -> None:
        """Count ``real_seconds`` that really passed in full, not at ``real_time_share``: a
        request held until its client's read timeout ran out (the fault proxy's ``hang``). That
        wait is the one a hung-request case is about; at a quarter, a step's deadline would take
        four times as many hung requests, each a real read timeout, to pass."""
        with self._lock:
            self.skipped += max(real_seconds, 0.0) * (1.0 - self.real_time_share)
            self._wake.notify_all()

    # --- the world moving on ---------------------------------------------------------------------

    def call_later(self, seconds: float, action: Action) -> Timer:
        with self._lock:
            timer = _Timer(self.now() + seconds, next(self._order), action)
            heapq.heappush(self._timers, timer)
            self._wake.notify_all()
        return Timer(timer)

    def on_sleep(self, action: Action) -> None:
        with self._lock:
            self._on_sleep.append(action)

    def close(self) -> None:
        """Stop the clock's thread; pending timers never run."""
        with self._lock:
            self._closed = True
            self._timers.clear()
            self._on_sleep.clear()
            self._wake.notify_all()
        self._thread.join(timeout=10)

    def _run_due(self) -> None:
        with self._firing:
            while True:
                with self._lock:
                    if not self._timers or self._timers[0].due > self.now():
                        return
                    timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    timer.action()

    def _watch(self) -> None:
        """Run timers that real time made due while nobody slept."""
        while True:
            with self._lock:
                if self._closed:
                    return
                wait = self._timers[0].due - self.now() if self._timers else None
                if wait is None or wait > 0:
                    self._wake.wait(timeout=wait)
                    continue
            try:
                self._run_due()
            except Exception as error:  # the fixture fails the test with it
                self.errors.append(error)
