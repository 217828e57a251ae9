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
from eksaddon.errors import EksAddonError, EnvironmentProblemError
from eksaddon.gate import AddonFacts
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.matrix.model import AddonType
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
# A self-managed add-on eksaddon has no manifests for (kube-proxy, CoreDNS): shown with its next
# step, never carried, never silently left out (docs/cluster-upgrade.md).
NOT_CARRIED = "not carried"


class AddonTarget(NamedTuple):
    """One add-on a run carries: to ``target`` (a version, or ``latest``), in ``phase``."""

    addon: str
    phase: str
    target: str
    reason: str
    self_managed: bool = False  # found through Kubernetes, not an EKS add-on
    not_carried: str | None = None  # why eksaddon cannot carry it, and the next step


class Selection(NamedTuple):
    """The add-ons a run chose, and why self-managed ones could not be looked for (None: they
    were looked for through Kubernetes, or the run does not look for them)."""

    targets: tuple[AddonTarget, ...]
    self_managed_unknown: str | None = None


class SelfManagedScan(NamedTuple):
    """What Kubernetes showed of the add-ons EKS does not manage (the gate's detection)."""

    found: tuple[AddonFacts, ...]
    problem: str | None  # why some or all could not be looked for


# Looks for the self-managed add-ons of a cluster, besides its EKS add-ons (the names given).
ScanSelfManaged = Callable[[ClusterInfo, frozenset[str]], SelfManagedScan]


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
    self_managed: bool = False
    next_step: str | None = None  # NOT_CARRIED: what the operator does instead


class AllAddonsResult(NamedTuple):
    cluster: str
    region: str
    kubernetes_version: str
    for_kubernetes_version: str | None
    phase: str
    dry_run: bool
    addons: tuple[AddonOutcome, ...]
    journal: Path | None
    self_managed_unknown: str | None = None  # why self-managed add-ons could not be looked for


class VerdictLike(Protocol):
    """The part of the gate's ``AddonVerdict`` (eksaddon/gate.py) a run reads."""

    @property
    def addon(self) -> str: ...

    @property
    def phase(self) -> str: ...  # gate.Phase is a str Enum: "before", "after", "none"

    @property
    def steps(self) -> tuple[Step, ...]: ...


def _self_managed_verdict(verdict: VerdictLike) -> bool:
    kind = getattr(verdict, "type", None)  # gate.AddonVerdict.type, an AddonType or None
    return str(getattr(kind, "value", kind)) == AddonType.SELF_MANAGED.value


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
        blocking = _stuck_self_managed(verdict) if phase == BEFORE else None
        if blocking is not None:
            # The gate found no path for it (a self-managed add-on has no builds to move to),
            # and it blocks the control plane: the before phase cannot do its work without it.
            chosen.append(_self_managed_target(verdict.addon, phase, planner.LATEST, blocking))
            continue
        if str(getattr(verdict.phase, "value", verdict.phase)) != phase:
            continue
        target = str(verdict.steps[-1].target) if verdict.steps else planner.LATEST
        path = " → ".join(str(s.target) for s in verdict.steps) or "latest"
        reason = f"the gate's {phase} phase: {path}"
        if _self_managed_verdict(verdict):
            chosen.append(_self_managed_target(verdict.addon, phase, target, reason))
        else:
            chosen.append(AddonTarget(verdict.addon, phase, target, reason))
    return chosen


def _stuck_self_managed(verdict: VerdictLike) -> str | None:
    """Why a self-managed add-on eksaddon cannot carry blocks the control plane (the gate's first
    error finding about it), or None; one the gate phases ``before`` is handled as phased."""
    if not _self_managed_verdict(verdict) or carries_self_managed(verdict.addon):
        return None
    if str(getattr(verdict.phase, "value", verdict.phase)) == BEFORE:
        return None
    errors = [
        f.message
        for f in getattr(verdict, "findings", ())
        if str(getattr(f.severity, "value", f.severity)) == "error"
    ]
    return f"the gate: {errors[0]}" if errors else None


def latest_targets(gateway: ClusterUpgradeGateway, cluster: ClusterInfo) -> list[AddonTarget]:
    """Every EKS add-on on the cluster, to the latest build offered for its version."""
    return [
        AddonTarget(name, AFTER, planner.LATEST, f"latest for Kubernetes {cluster.version}")
        for name in gateway.list_addons(cluster.name)
    ]


def latest_selection(
    gateway: ClusterUpgradeGateway,
    cluster: ClusterInfo,
    scan: ScanSelfManaged | None,
    *,
    kubernetes: str | None = None,
) -> Selection:
    """Every EKS add-on, and every self-managed core add-on ``scan`` finds through Kubernetes,
    to the latest build (release) offered for ``kubernetes`` (default: the cluster's version).
    A self-managed add-on eksaddon cannot carry is chosen too, marked :data:`NOT_CARRIED`."""
    version = kubernetes or str(cluster.version)
    eks = gateway.list_addons(cluster.name)
    targets = [
        AddonTarget(name, AFTER, planner.LATEST, f"latest for Kubernetes {version}") for name in eks
    ]
    if scan is None:
        return Selection(tuple(targets))
    found = scan(cluster, frozenset(eks))
    for facts in found.found:
        runs = facts.version or f"an unreadable version ({facts.version_problem})"
        reason = f"self-managed, runs {runs}: latest release for Kubernetes {version}"
        targets.append(_self_managed_target(facts.name, AFTER, planner.LATEST, reason, cluster))
    unknown = None if found.problem is None else f"self-managed add-ons unknown: {found.problem}"
    return Selection(tuple(targets), unknown)


def carries_self_managed(addon: str) -> bool:
    """Whether eksaddon can upgrade a self-managed ``addon`` (it has its manifests)."""
    from eksaddon.addons import profile_for

    return profile_for(addon).renders_manifests


def _self_managed_target(
    addon: str, phase: str, target: str, reason: str, cluster: ClusterInfo | None = None
) -> AddonTarget:
    if carries_self_managed(addon):
        return AddonTarget(addon, phase, target, reason, self_managed=True)
    from eksaddon.addons import profile_for
    from eksaddon.engine.self_managed_status import next_step

    why = f"eksaddon has no manifests to upgrade a self-managed {addon} with; next: " + next_step(
        profile_for(addon), cluster.name if cluster else "NAME"
    )
    return AddonTarget(addon, phase, target, reason, self_managed=True, not_carried=why)


def not_carried_before(
    cluster: ClusterInfo, for_kubernetes_version: str, targets: Iterable[AddonTarget]
) -> EksAddonError | None:
    """The refusal of a ``before`` phase the gate put a self-managed add-on in that eksaddon
    cannot carry: the control plane must not move without it, so nothing is done (exit 3, as
    ``upgrade --addon`` of that add-on gives)."""
    from eksaddon.addons import profile_for
    from eksaddon.engine.self_managed_status import next_step

    blocked = [t for t in targets if t.not_carried is not None]
    if not blocked:
        return None
    names = ", ".join(t.addon for t in blocked)
    return EnvironmentProblemError(
        f"self-managed {names} must move before the control plane goes to Kubernetes "
        f"{for_kubernetes_version} on cluster {cluster.name} ("
        + "; ".join(t.reason for t in blocked)
        + f"), and eksaddon has no manifests to upgrade a self-managed {names} with; "
        "nothing was changed",
        hint="; ".join(next_step(profile_for(t.addon), cluster.name) for t in blocked)
        + "; then rerun",
    )


def run_kind(for_kubernetes_version: KubernetesVersion | None) -> str:
    if for_kubernetes_version is None:
        return "all-addons latest"
    return f"all-addons before {for_kubernetes_version}"
