"""The records of ``upgrade --all-addons`` (:mod:`eksaddon.engine.all_addons`) and the choice of
its add-ons: what each add-on is carried to and in which phase, the request to the single-add-on
upgrade, each add-on's outcome, the result the reports render, and the documented order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, Protocol

from eksaddon import planner
from eksaddon.engine.events import Progress
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.planner import Plan, Step
from eksaddon.versions import KubernetesVersion

BEFORE, AFTER = "before", "after"

# The documented order (docs/cluster-upgrade.md): pod networking first (every other add-on's
# pods need an address from it, and a vpc-cni build the target does not offer is the classic
# blocker), then Service routing on every node (kube-proxy, the most skew-sensitive), then
# cluster DNS (its pods need both), then the pod identity agent (other add-ons may take their
# credentials through it), then every other add-on by name.
UPGRADE_ORDER = ("vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent")

# What an add-on's entry in the outcome says.
UPGRADED = "upgraded"
UP_TO_DATE = "up to date"
DONE_EARLIER = "done earlier"
PLANNED = "planned"
STOPPED = "stopped"
NOT_STARTED = "not started"


class AddonTarget(NamedTuple):
    """One add-on a run carries: to ``target`` (a version, or ``latest``), in ``phase``."""

    addon: str
    phase: str
    target: str
    reason: str


class CarryRequest(NamedTuple):
    """What the single-add-on upgrade is asked to do for one add-on of the run."""

    target: AddonTarget
    dry_run: bool
    confirm: Callable[[Plan], bool]
    progress: Progress


# The narrow entry point into the single-add-on upgrade: plan (dry run) or carry one add-on.
Carry = Callable[[CarryRequest], UpgradeResult]


class AddonOutcome(NamedTuple):
    addon: str
    phase: str
    target: str
    state: str  # UPGRADED, UP_TO_DATE, DONE_EARLIER, PLANNED, STOPPED, NOT_STARTED
    steps: tuple[Step, ...]
    steps_done: int
    source: str | None  # the version the plan started from (None: not known to this run)
    version: str | None  # the version it runs now, as far as this run knows
    journal: Path | None
    backup: Path | None
    error: str | None = None


class AllAddonsResult(NamedTuple):
    cluster: str
    region: str
    kubernetes_version: str
    for_kubernetes_version: str | None
    phase: str
    dry_run: bool
    addons: tuple[AddonOutcome, ...]
    journal: Path | None


class VerdictLike(Protocol):
    """The part of the gate's ``AddonVerdict`` (eksaddon/gate.py) a run reads."""

    @property
    def addon(self) -> str: ...

    @property
    def phase(self) -> str: ...  # gate.Phase is a str Enum: "before", "after", "none"

    @property
    def steps(self) -> tuple[Step, ...]: ...


def in_upgrade_order(targets: Iterable[AddonTarget]) -> list[AddonTarget]:
    """``targets`` in :data:`UPGRADE_ORDER`, the rest by name; one entry per add-on."""
    unique = {t.addon: t for t in targets}

    def rank(target: AddonTarget) -> tuple[int, str]:
        known = target.addon in UPGRADE_ORDER
        return (UPGRADE_ORDER.index(target.addon) if known else len(UPGRADE_ORDER), target.addon)

    return sorted(unique.values(), key=rank)


def targets_in_phase(verdicts: Iterable[VerdictLike], phase: str) -> list[AddonTarget]:
    """The add-ons the gate puts in ``phase``, each to the last version of its steps."""
    chosen = []
    for verdict in verdicts:
        if str(getattr(verdict.phase, "value", verdict.phase)) != phase:
            continue
        target = str(verdict.steps[-1].target) if verdict.steps else planner.LATEST
        path = " → ".join(str(s.target) for s in verdict.steps) or "latest"
        chosen.append(
            AddonTarget(verdict.addon, phase, target, f"the gate's {phase} phase: {path}")
        )
    return chosen


def latest_targets(gateway: ClusterUpgradeGateway, cluster: ClusterInfo) -> list[AddonTarget]:
    """Every EKS add-on on the cluster, to the latest build offered for its version."""
    return [
        AddonTarget(name, AFTER, planner.LATEST, f"latest for Kubernetes {cluster.version}")
        for name in gateway.list_addons(cluster.name)
    ]


def run_kind(for_kubernetes_version: KubernetesVersion | None) -> str:
    if for_kubernetes_version is None:
        return "all-addons latest"
    return f"all-addons before {for_kubernetes_version}"
