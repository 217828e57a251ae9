"""One step runner for every upgrade, managed or self-managed: a journal's steps, in order.

The runner owns what every kind of upgrade shares: the journal's record of the end (interrupted,
stopped part-way: exit 4, state kept), each step's context and deadline, the node-side hook after
the change, and the step's "succeeded". How a step changes the cluster is a :class:`StepDriver`'s
job: :class:`~eksaddon.engine.eks_steps.EksApiDriver` sends UpdateAddon and follows it,
:class:`~eksaddon.engine.manifest_steps.ManifestApplyDriver` applies rendered manifests.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from eksaddon.addons.base import NodeSideHook
from eksaddon.engine import journal as journals
from eksaddon.engine.events import Progress, StepFinished
from eksaddon.engine.journal import Journal
from eksaddon.engine.waiting import Clock, StepContext
from eksaddon.errors import (
    StateDirectoryError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.gateways.protocols import AddonState, ClusterInfo, EksGateway
from eksaddon.planner import Step
from eksaddon.versions import AddonVersion


class StepDriver(Protocol):
    """How one step changes the cluster."""

    def carry_out(
        self, ctx: StepContext, journal: Journal, step: dict[str, Any], *, resume_hint: str
    ) -> AddonState | None:
        """Make the step's change and wait until it is in place (EKS: ACTIVE and healthy at the
        target; a manifest: applied). Records its own progress in ``step``; the runner records
        "succeeded" once the node-side hook passed. Returns the add-on's state when EKS has one."""
        ...


class RunSettings(NamedTuple):
    """What every step of one run shares."""

    gateway: EksGateway
    cluster: ClusterInfo
    addon: str
    timeout: float
    poll_interval: float
    clock: Clock
    progress: Progress


class StepsDone(NamedTuple):
    done: int
    final: AddonState | None


def run_steps(
    journal: Journal, *, driver: StepDriver, node_side: NodeSideHook, run: RunSettings
) -> StepsDone:
    """Carry out every step of ``journal`` not yet succeeded; any stop is recorded (exit 4)."""
    command = rerun_command(run.cluster.name, run.addon)
    final: AddonState | None = None
    with journal.recording_the_end(
        interrupted=lambda: UpgradeInterruptedError(
            f"upgrade of {run.addon} on cluster {run.cluster.name} interrupted at "
            f"{position(journal)}",
            hint=f"the journal is kept at {journal.path}; rerun `{command}` to resume",
        ),
        stopped=lambda error: UpgradeStoppedError(
            f"upgrade of {run.addon} on cluster {run.cluster.name} stopped at "
            f"{position(journal)}: {error.message}",
            hint=resume_hint(journal, command, error),
        ),
    ):
        journal.set(state=journals.RUNNING, last_error=None)
        for step in journal.steps:
            if step["state"] != journals.SUCCEEDED:
                final = _run_step(journal, step, driver, node_side, run, command) or final
    done = sum(1 for s in journal.steps if s["state"] == journals.SUCCEEDED)
    return StepsDone(done, final)


def _run_step(
    journal: Journal,
    step: dict[str, Any],
    driver: StepDriver,
    node_side: NodeSideHook,
    run: RunSettings,
    command: str,
) -> AddonState | None:
    started = run.clock.now()
    ctx = StepContext(
        run.gateway,
        run.cluster.name,
        run.addon,
        step["index"],
        len(journal.steps),
        started,
        started + run.timeout,
        run.poll_interval,
        run.clock,
        run.progress,
    )
    state = driver.carry_out(ctx, journal, step, resume_hint=resume_hint(journal, command))
    target = AddonVersion.parse(step["to"])
    node_side.after_step(ctx, Step(AddonVersion.parse(step["from"]), target))
    journal.update_step(step, state=journals.SUCCEEDED, finished_at=journals.now())
    shown = state.version if state is not None else target
    run.progress(StepFinished(ctx.number, ctx.total, shown, run.clock.now() - started))
    return state


def position(journal: Journal) -> str:
    """Where a run stands: the next step to do, with its update when one is in flight."""
    step = journal.next_step()
    if step is None:
        return "the end of the plan"
    in_flight = step["state"] == journals.IN_FLIGHT and step.get("update_id")
    flight = f", update {step['update_id']} in flight" if in_flight else ""
    return f"step {step['index']} of {len(journal.steps)} ({step['from']} → {step['to']}{flight})"


def rerun_command(cluster: str, addon: str) -> str:
    """The command that resumes one add-on's upgrade: ``--addon`` always, as without it the
    default add-on would be planned instead (a run of several rewrites it to its own)."""
    return f"eksaddon upgrade --cluster {cluster} --addon {addon}"


def resume_hint(journal: Journal, command: str, error: Exception | None = None) -> str:
    if isinstance(error, StateDirectoryError):
        return state_directory_resume_hint(journal, error, command)
    return f"the journal is kept at {journal.path}; fix the cause, then rerun `{command}` to resume"


def state_directory_resume_hint(journal: Journal, error: StateDirectoryError, command: str) -> str:
    """What to do when the state directory failed after a change: the journal on disk is the
    last complete record, and a rerun from the same directory resumes from it."""
    return (
        f"the last complete journal is kept at {journal.path}; once {error.directory} is "
        f"writable again (free space), rerun `{command}` with the same state directory to resume"
    )
