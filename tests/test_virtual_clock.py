"""The fast-forwarded clock: sleeps take no time, and the world's timers keep their order."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator

import pytest

from eksaddon.engine.upgrade import SystemClock
from eksaddon.engine.waiting import Clock, retrying
from eksaddon.errors import EndpointUnreachableError
from standins.faultproxy import Rule, fault_proxy
from virtual_clock import FastForwardClock


@pytest.fixture
def clock() -> Iterator[FastForwardClock]:
    made = FastForwardClock()
    yield made
    made.close()


def test_a_sleep_moves_the_clock_on_without_taking_the_time(clock: FastForwardClock) -> None:
    started, real = clock.now(), time.monotonic()
    for _ in range(100):
        clock.sleep(60)
    assert clock.now() - started >= 6000
    assert time.monotonic() - real < 5
    assert clock.sleeps == 100


def test_real_time_still_counts_at_its_share(clock: FastForwardClock) -> None:
    started, real = clock.now(), time.monotonic()
    time.sleep(0.2)
    passed, real_passed = clock.now() - started, time.monotonic() - real
    assert passed == pytest.approx(real_passed * clock.real_time_share, abs=0.01)
    assert passed > 0


def test_time_counted_in_full_is_not_cut_to_the_share(clock: FastForwardClock) -> None:
    started, real = clock.now(), time.monotonic()
    time.sleep(0.2)
    clock.count_in_full(0.2)
    passed, real_passed = clock.now() - started, time.monotonic() - real
    # 0.2 s in full, the rest of the real time at its share
    assert passed == pytest.approx(0.2 + (real_passed - 0.2) * clock.real_time_share, abs=0.01)


def test_a_hung_request_is_held_until_its_client_gives_up_and_counts_in_full(
    clock: FastForwardClock,
) -> None:
    held: list[float] = []

    def count(seconds: float) -> None:
        held.append(seconds)
        clock.count_in_full(seconds)

    # No upstream listens on port 9: a hung request never reaches one anyway.
    with fault_proxy("http://127.0.0.1:9", held=count) as proxy:
        rule = proxy.add(Rule("GET", "^/hang", "hang", seconds=30))
        started = clock.now()
        client = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=0.3)
        client.request("GET", "/hang")
        with pytest.raises(TimeoutError):
            client.getresponse()
        client.close()  # the client gives up, as urllib3 does after a read timeout
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            time.sleep(0.01)
    assert rule.hits == 1
    (seconds,) = held
    # (the proxy starts counting once it has read the request, a little after the client sent it)
    assert 0.2 <= seconds < 5, "held until the client gave up, not for the rule's 30 s"
    assert clock.now() - started >= seconds


def test_timers_run_before_the_sleep_that_passes_them_returns(clock: FastForwardClock) -> None:
    ran: list[str] = []
    clock.call_later(30, lambda: ran.append("late"))
    clock.call_later(10, lambda: ran.append("early"))
    clock.call_later(1000, lambda: ran.append("never"))
    clock.sleep(5)
    assert ran == []
    clock.sleep(30)
    assert ran == ["early", "late"]


def test_a_cancelled_timer_does_not_run(clock: FastForwardClock) -> None:
    ran: list[str] = []
    clock.call_later(1, lambda: ran.append("cancelled")).cancel()
    clock.sleep(2)
    assert ran == []


def test_real_time_runs_a_timer_when_nobody_sleeps(clock: FastForwardClock) -> None:
    done = threading.Event()
    clock.call_later(0.02, done.set)
    assert done.wait(10)


def test_on_sleep_actions_run_at_every_sleep(clock: FastForwardClock) -> None:
    ticks: list[float] = []
    clock.on_sleep(lambda: ticks.append(clock.now()))
    clock.sleep(1)
    clock.sleep(1)
    assert len(ticks) == 2 and ticks[1] - ticks[0] >= 1


def test_the_engine_waits_out_a_deadline_on_it(clock: FastForwardClock) -> None:
    """retrying() backs off until the deadline: 10 minutes of backoff in (almost) no time."""
    calls = 0

    def failing() -> None:
        nonlocal calls
        calls += 1
        raise EndpointUnreachableError("the endpoint went away")

    real = time.monotonic()
    engine_clock: Clock = clock
    with pytest.raises(EndpointUnreachableError):
        retrying(failing, clock=engine_clock, deadline=clock.now() + 600, poll_interval=1.0)
    assert time.monotonic() - real < 5
    assert calls >= 20  # 1, 2, 4, 8, 16, then every 30 s for ten minutes


def test_the_fixture_makes_the_clis_system_clock_fast(fast_clock: FastForwardClock) -> None:
    system = SystemClock()
    before, real = system.now(), time.monotonic()
    system.sleep(3600)
    assert system.now() - before >= 3600
    assert time.monotonic() - real < 5
    assert fast_clock.sleeps == 1
