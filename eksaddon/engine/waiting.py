"""Follow an update to its end, then the add-on to health, within a deadline.

botocore's ``addon_active`` waiter is not used: it has no acceptor for UPDATE_FAILED and would spin
until its timeout. An update is followed with describe_update (one call per poll), then the add-on
with describe_addon (one call per poll) until ACTIVE with no health issues.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple, Protocol, TypeVar

from eksaddon.engine.events import AddonPolled, Notice, Progress, UpdatePolled
from eksaddon.errors import (
    ApiError,
    EksAddonError,
    EnvironmentProblemError,
    UnexpectedAnswerError,
    UpdateInProgressError,
    UpgradeStoppedError,
)
from eksaddon.gateways.answers import shown
from eksaddon.gateways.protocols import AddonState, ClusterInfo, EksGateway, UpdateState

T = TypeVar("T")

BAD_ADDON_STATES = ("DEGRADED", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED")
# Consecutive transient failures double the wait between attempts, up to this many seconds
# (or the poll interval, if longer): an API that is down is not hammered, and one that comes
# back is noticed within half a minute.
MAX_BACKOFF = 30.0


def backoff(poll_interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive transient failures (0: a normal poll)."""
    return min(poll_interval * 2.0 ** max(failures - 1, 0), max(poll_interval, MAX_BACKOFF))


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class PollSchedule:
    """When the next poll is due: ``interval`` apart from the first, whatever each call takes.

    Sleeping a full interval after every answer would make the period the interval plus the
    call's time, so the poll that sees an update end would come later by the time of every call
    made before it. Each poll is instead due an interval after the previous one was due; a tick
    that already passed (a call slower than the interval) is skipped, never made up in a burst.
    After transient failures the backoff counts from the failed answer instead: that call
    already took the gateway's own retries (seconds, maybe more than a period), and a tick left
    over from before it would ask a throttled API again next to at once.
    """

    def __init__(self, clock: Clock, interval: float, *, first: float | None = None) -> None:
        self.clock = clock
        self.interval = interval
        self.due = clock.now() if first is None else first  # when the coming poll is due

    def next(self, failures: int = 0) -> float:
        """Move on to the poll after the one just made (``failures``: consecutive transient
        failures so far), and return when it is due."""
        period = backoff(self.interval, failures)
        now = self.clock.now()
        if failures:
            due = now + period  # the grid goes on from here once an answer comes
        else:
            due = self.due + period
            late = now - due
            if late > 0:  # (a zero interval has no ticks to skip: due now)
                due = due + math.ceil(late / period) * period if period > 0 else now
        self.due = due
        return due

    def wait(self) -> None:
        """Sleep until the coming poll is due (at once if it already is)."""
        self.clock.sleep(max(self.due - self.clock.now(), 0.0))


class StepContext(NamedTuple):
    gateway: EksGateway
    cluster: str
    addon: str
    number: int
    total: int
    started: float
    deadline: float
    poll_interval: float
    clock: Clock
    progress: Progress


def follow_update(
    ctx: StepContext, update_id: str, *, resume_hint: str, sent_at: float | None = None
) -> UpdateState:
    """Poll describe_update until the update ends or the deadline passes.

    ``sent_at``: when UpdateAddon's answer (the update, just started) was recorded. Its first
    poll is then one interval later, as that answer already said it is in progress, and the polls
    keep to that grid: an update that takes N intervals is seen ended by the Nth poll. Without
    it (an update found in flight by a rerun, of unknown age) the first poll is at once.

    A status botocore's model does not list ("Succeeded") stops the step at once: it is not
    "still in progress", and waiting it out would only hide it until the timeout.
    """

    def report(state: UpdateState) -> None:
        # Shown first (the progress line escapes it), then the step stops.
        ctx.progress(
            UpdatePolled(ctx.number, ctx.total, state.status, ctx.clock.now() - ctx.started)
        )
        if not state.known_status:
            raise UpgradeStoppedError(
                f"update {update_id} of {ctx.addon} on cluster {ctx.cluster} (step {ctx.number} "
                f"of {ctx.total}) has a status eksaddon does not know: {shown(state.status)}",
                hint=resume_hint,
            )

    return _poll(
        ctx,
        lambda: ctx.gateway.describe_update(ctx.cluster, ctx.addon, update_id),
        done=lambda state: state.finished,
        report=report,
        waiting_for=f"update {update_id}",
        resume_hint=resume_hint,
        # At the latest at the deadline: a step always gets to see its update once.
        first=None if sent_at is None else min(sent_at + ctx.poll_interval, ctx.deadline),
    )


def wait_healthy(ctx: StepContext, *, resume_hint: str) -> AddonState:
    """Poll describe_addon until ACTIVE with no health issues; stop on DEGRADED or *_FAILED."""

    def describe() -> AddonState:
        state = ctx.gateway.describe_addon(ctx.cluster, ctx.addon)
        if state is None:
            raise UpgradeStoppedError(
                f"{ctx.addon} disappeared from cluster {ctx.cluster} during step {ctx.number}",
                hint=resume_hint,
            )
        if not state.known_status:
            raise UpgradeStoppedError(
                f"{ctx.addon} on cluster {ctx.cluster} has a status eksaddon does not know after "
                f"step {ctx.number}: {shown(state.status)}",
                hint=resume_hint,
            )
        if state.status in BAD_ADDON_STATES:
            issues = "; ".join(f"{i.code}: {i.message}" for i in state.issues) or "no details"
            raise UpgradeStoppedError(
                f"{ctx.addon} on cluster {ctx.cluster} is {state.status} after step {ctx.number}: "
                f"{issues}",
                hint=resume_hint,
            )
        return state

    return _poll(
        ctx,
        describe,
        done=lambda state: state.healthy,
        report=lambda state: ctx.progress(
            AddonPolled(
                ctx.number,
                ctx.total,
                state.status,
                len(state.issues),
                ctx.clock.now() - ctx.started,
            )
        ),
        waiting_for=f"{ctx.addon} to be ACTIVE with no health issues",
        resume_hint=resume_hint,
    )


def _poll(
    ctx: StepContext,
    fetch: Callable[[], T],
    *,
    done: Callable[[T], bool],
    report: Callable[[T], None],
    waiting_for: str,
    resume_hint: str,
    first: float | None = None,
) -> T:
    """``fetch`` on a :class:`PollSchedule` from ``first`` (default: at once) until ``done``."""
    last_error: ApiError | None = None
    failures = 0
    schedule = PollSchedule(ctx.clock, ctx.poll_interval, first=first)
    if first is not None:
        schedule.wait()
    while True:
        try:
            state = fetch()
        except UnexpectedAnswerError as error:
            # Always after a change (an update sent, an add-on created): part-way, not "nothing
            # changed"; asking again would get the same answer.
            raise UpgradeStoppedError(
                f"step {ctx.number} of {ctx.total} on cluster {ctx.cluster}: {error.message}",
                hint=resume_hint,
            ) from error
        except ApiError as error:
            if not error.temporary:
                raise
            # The gateway already retried; keep polling, backing off, until the deadline.
            last_error, failures = error, failures + 1
        else:
            last_error, failures = None, 0
            report(state)
            if done(state):
                return state
        if schedule.next(failures) > ctx.deadline:
            cause = f" (last error: {last_error.one_line()})" if last_error else ""
            raise UpgradeStoppedError(
                f"timed out waiting for {waiting_for} on cluster {ctx.cluster} "
                f"(step {ctx.number} of {ctx.total}){cause}",
                hint=resume_hint,
            )
        schedule.wait()


def retrying(
    call: Callable[[], T],
    *,
    clock: Clock,
    deadline: float,
    poll_interval: float,
    give_up: Callable[[ApiError], EksAddonError] | None = None,
) -> T:
    """``call``, retried with backoff on temporary API errors until ``deadline``.

    Only for idempotent calls. Permanent errors, and EKS's ResourceInUse (another actor's
    update: waiting would only hide it), are raised at once. At the deadline the last error is
    raised, or what ``give_up`` makes of it.
    """
    failures = 0
    while True:
        try:
            return call()
        except ApiError as error:
            if not error.temporary or isinstance(error, UpdateInProgressError):
                raise
            failures += 1
            wait = backoff(poll_interval, failures)
            if clock.now() + wait > deadline:
                if give_up is None:
                    raise
                raise give_up(error) from error
            clock.sleep(wait)


def retry_transient(ctx: StepContext, call: Callable[[], T], *, what: str, resume_hint: str) -> T:
    """``call`` within a step, retried until the step's deadline (see :func:`retrying`).

    update_addon qualifies: every attempt carries the step's clientRequestToken, so EKS returns
    the update already started instead of starting another.
    """
    return retrying(
        call,
        clock=ctx.clock,
        deadline=ctx.deadline,
        poll_interval=ctx.poll_interval,
        give_up=lambda error: UpgradeStoppedError(
            f"{what} on cluster {ctx.cluster} kept failing until the step's timeout "
            f"(step {ctx.number} of {ctx.total}): {error.one_line()}",
            hint=resume_hint,
        ),
    )


# An add-on in these states is waited for before planning: its version is in flux.
SETTLING = ("CREATING", "UPDATING")


def settled_addon(
    cluster: ClusterInfo,
    addon: AddonState,
    describe: Callable[[], AddonState],
    *,
    clock: Clock,
    timeout: float,
    poll_interval: float,
    progress: Progress,
) -> AddonState:
    """The add-on once it is neither CREATING nor UPDATING, waited for within ``timeout``.

    Planning from a version in flux would re-send an update that is just landing. DELETING (and
    a wait that runs out) stop the run before any change (exit 3).
    """
    name = addon.name
    if addon.status in SETTLING:
        started = clock.now()
        progress(
            Notice(
                f"{name} on cluster {cluster.name} is {addon.status}: waiting up to "
                f"{timeout:.0f}s for it to settle before planning"
            )
        )
        schedule = PollSchedule(clock, poll_interval, first=started)
        while addon.status in SETTLING:
            if schedule.next() > started + timeout:
                raise EnvironmentProblemError(
                    f"{name} on cluster {cluster.name} is still {addon.status} after "
                    f"{timeout:.0f}s; nothing was changed",
                    hint="rerun once it has settled (`eksaddon status` shows it), or pass a "
                    "longer --timeout",
                )
            schedule.wait()
            previous, addon = addon.status, describe()
            if addon.status != previous:
                progress(
                    Notice(
                        f"{name} on cluster {cluster.name} is {addon.status} "
                        f"({clock.now() - started:.0f}s)"
                    )
                )
    if addon.status == "DELETING":
        raise EnvironmentProblemError(
            f"{name} on cluster {cluster.name} is DELETING; nothing was changed",
            hint=f"wait until it is gone, then `eksaddon install --cluster {cluster.name}`",
        )
    return addon
