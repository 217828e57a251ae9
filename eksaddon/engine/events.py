"""Progress events: the engine reports through a callback and never prints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion


class PlanReady(NamedTuple):
    plan: Plan
    resumed: bool
    journal: Path | None
    resolve_conflicts: str


class BackupWritten(NamedTuple):
    path: Path


class StepStarted(NamedTuple):
    number: int
    total: int
    source: AddonVersion
    target: AddonVersion
    update_id: str
    resumed: bool


class UpdatePolled(NamedTuple):
    number: int
    total: int
    status: str
    elapsed: float


class AddonPolled(NamedTuple):
    number: int
    total: int
    status: str
    issues: int
    elapsed: float


class StepFinished(NamedTuple):
    number: int
    total: int
    target: AddonVersion
    elapsed: float


class ChangePlanned(NamedTuple):
    """A change that is not a version path (install, migrate): what it does, as its steps.

    ``description`` completes "plan: ..."; ``steps`` label the steps in order.
    """

    description: str
    steps: tuple[str, ...]


class StepChanges(NamedTuple):
    """What one step would change (a dry run of a self-managed upgrade): a unified diff."""

    number: int
    total: int
    what: str
    diff: str


class ManifestApplied(NamedTuple):
    """A self-managed step's manifest is applied; its rollout comes next."""

    number: int
    total: int
    target: AddonVersion


class RolloutProgressed(NamedTuple):
    """The node side of a step: how many of the nodes that must run ``component`` run it."""

    number: int
    total: int
    component: str
    updated: int
    nodes: int
    behind: tuple[str, ...]
    # What ``updated`` and ``nodes`` count: a DaemonSet's nodes, a Deployment's replicas.
    unit: str = "nodes"


class Notice(NamedTuple):
    text: str


class PhaseStarted(NamedTuple):
    """A stage of a multi-add-on run or a cluster-upgrade journey begins (gate, before,
    control-plane, after, nodes); ``description`` says what it will do."""

    phase: str
    description: str


class AddonRunStarted(NamedTuple):
    """Add-on ``number`` of ``total`` in a run over several add-ons; its own plan and step
    events follow. ``resumed``: an earlier run left it in flight."""

    number: int
    total: int
    addon: str
    phase: str
    resumed: bool


class AddonRunFinished(NamedTuple):
    """How add-on ``number`` of ``total`` ended: ``outcome`` is ``upgraded``, ``up to date``,
    ``done earlier`` (a rerun skips what an earlier run finished) or ``not carried`` (a
    self-managed add-on eksaddon has no manifests for)."""

    number: int
    total: int
    addon: str
    outcome: str
    version: str | None


class ControlPlaneStarted(NamedTuple):
    """The control-plane update was sent (or, ``resumed``, is followed by its recorded id)."""

    cluster: str
    source: str
    target: str
    update_id: str
    resumed: bool
    force: bool


class ControlPlanePolled(NamedTuple):
    update_id: str
    status: str
    elapsed: float


class ControlPlaneFinished(NamedTuple):
    cluster: str
    version: str
    elapsed: float


Event = (
    PlanReady
    | BackupWritten
    | StepStarted
    | UpdatePolled
    | AddonPolled
    | StepFinished
    | ChangePlanned
    | StepChanges
    | ManifestApplied
    | RolloutProgressed
    | Notice
    | PhaseStarted
    | AddonRunStarted
    | AddonRunFinished
    | ControlPlaneStarted
    | ControlPlanePolled
    | ControlPlaneFinished
)
Progress = Callable[[Event], None]


def ignore(_: Event) -> None:
    """A progress callback that drops everything."""


class FleetProgress(NamedTuple):
    """A fleet check after each cluster: how many are done, and how many went wrong so far."""

    done: int
    total: int
    failed: int  # checked, and the check failed (exit 1)
    errors: int  # could not be checked
