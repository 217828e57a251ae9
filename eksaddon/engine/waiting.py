"""Follow an update to its end, then the add-on to health, within a deadline.

botocore's ``addon_active`` waiter is not used: it has no acceptor for UPDATE_FAILED and would spin
until its timeout. An update is followed with describe_update (one call per poll), then the add-on
with describe_addon (one call per poll) until ACTIVE with no health issues.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol, TypeVar

from eksaddon.engine.events import AddonPolled, Progress, UpdatePolled
from eksaddon.errors import ApiError, UpgradeStoppedError
from eksaddon.gateways.protocols import AddonState, EksGateway, UpdateState

T = TypeVar("T")

BAD_ADDON_STATES = ("DEGRADED", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED")


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


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


def follow_update(ctx: StepContext, update_id: str, *, resume_hint: str) -> UpdateState:
    """Poll describe_update until the update ends or the deadline passes."""
    return _poll(
        ctx,
        lambda: ctx.gateway.describe_update(ctx.cluster, ctx.addon, update_id),
        done=lambda state: state.finished,
        report=lambda state: ctx.progress(
            UpdatePolled(ctx.number, ctx.total, state.status, ctx.clock.now() - ctx.started)
        ),
        waiting_for=f"update {update_id}",
        resume_hint=resume_hint,
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
) -> T:
    last_error: ApiError | None = None
    while True:
        try:
            state = fetch()
        except ApiError as error:
            if not error.temporary:
                raise
            last_error = error  # botocore already retried; keep polling until the deadline
        else:
            last_error = None
            report(state)
            if done(state):
                return state
        if ctx.clock.now() + ctx.poll_interval > ctx.deadline:
            cause = f" (last error: {last_error.one_line()})" if last_error else ""
            raise UpgradeStoppedError(
                f"timed out waiting for {waiting_for} on cluster {ctx.cluster} "
                f"(step {ctx.number} of {ctx.total}){cause}",
                hint=resume_hint,
            )
        ctx.clock.sleep(ctx.poll_interval)
