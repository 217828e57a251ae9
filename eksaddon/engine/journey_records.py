"""The records of ``cluster-upgrade``'s journey (:mod:`eksaddon.engine.journey`): its stages, its
options, the plan shown before the one consent, the result the reports render, the part of the
gate's report it reads, and the nodes it leaves to the operator (eksaddon does not upgrade nodes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from eksaddon.engine.all_addons import (
    AFTER,
    BEFORE,
    AddonOutcome,
    AddonTarget,
    AllAddonsResult,
    VerdictLike,
)
from eksaddon.engine.control_plane import CONTROL_PLANE
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.versions import KubernetesVersion

GATE, NODES = "gate", "nodes"
STAGES = (GATE, BEFORE, CONTROL_PLANE, AFTER, NODES)
# The gate's findings from EKS's upgrade insights carry this check name (the findings that
# --force-upgrade-insights lets through, as EKS's `force` does).
INSIGHTS_CHECK = "insights"


class FindingLike(Protocol):
    """The part of a gate finding (compat.Finding) the journey reads."""

    @property
    def check(self) -> str: ...

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


class AddonVerdictLike(VerdictLike, Protocol):
    @property
    def findings(self) -> Sequence[FindingLike]: ...


class GateReportLike(Protocol):
    """The part of the gate's ``GateReport`` (eksaddon/gate.py) the journey reads."""

    @property
    def addons(self) -> Sequence[AddonVerdictLike]: ...

    @property
    def blocking(self) -> Sequence[FindingLike]: ...


RunGate = Callable[[ClusterInfo, KubernetesVersion], GateReportLike]


class JourneyOptions(NamedTuple):
    cluster: str
    target: KubernetesVersion
    force_upgrade_insights: bool = False
    control_plane_timeout: float = 3600.0
    poll_interval: float = 30.0
    dry_run: bool = False
    discard_journal: bool = False


class NodeAction(NamedTuple):
    """Nodes still to bring to the target after the journey, and how (eksaddon does not)."""

    name: str
    kind: str  # "managed node group", "Fargate profile", "self-managed nodes"
    version: str | None
    command: str | None

    def describe(self) -> str:
        label = self.kind if self.name == self.kind else f"{self.kind} {self.name}"
        return f"{label} at {self.version}" if self.version else f"{label} (version unknown)"


class JourneyPlan(NamedTuple):
    """What the journey will do, shown before the one consent (and by --dry-run)."""

    cluster: str
    source: str
    target: str
    force: bool
    overridden: tuple[str, ...]  # insight findings --force-upgrade-insights lets through
    before: tuple[AddonOutcome, ...]
    after: tuple[AddonTarget, ...]
    nodes: tuple[NodeAction, ...]
    after_unknown: str | None = None  # why self-managed add-ons could not be looked for


class JourneyResult(NamedTuple):
    cluster: str
    region: str
    source: str
    target: str
    dry_run: bool
    plan: JourneyPlan | None
    stages: tuple[tuple[str, str], ...]  # (stage, state) in order
    before: AllAddonsResult | None
    control_plane: dict[str, Any]
    after: AllAddonsResult | None
    nodes: tuple[NodeAction, ...]
    journal: Path | None


def journey_kind(target: KubernetesVersion) -> str:
    return f"cluster-upgrade to {target}"


def describe_finding(finding: FindingLike) -> str:
    return f"{finding.code}: {finding.message}"


def node_actions(
    gateway: ClusterUpgradeGateway, cluster: ClusterInfo, target: KubernetesVersion
) -> tuple[NodeAction, ...]:
    """Node groups not on the target yet, and Fargate (its nodes take the control plane's
    version when their pods are recreated)."""
    actions = []
    for group in gateway.nodegroups(cluster.name):
        if group.kubernetes_version == str(target):
            continue
        actions.append(
            NodeAction(
                group.name,
                "managed node group",
                group.kubernetes_version,
                f"aws eks update-nodegroup-version --cluster-name {cluster.name} "
                f"--nodegroup-name {group.name} --kubernetes-version {target}",
            )
        )
    for profile in gateway.fargate_profiles(cluster.name):
        actions.append(
            NodeAction(
                profile,
                "Fargate profile",
                None,
                "recreate the profile's pods (e.g. `kubectl rollout restart`): Fargate "
                "starts them on the control plane's version",
            )
        )
    actions.append(
        NodeAction(
            "self-managed nodes",
            "self-managed nodes",
            None,
            "not read by eksaddon: replace any self-managed node with one of the new "
            "version's AMI (`kubectl get nodes` shows each kubelet's version)",
        )
    )
    return tuple(actions)
