"""The cluster-upgrade gate: may this cluster go to Kubernetes K, and what must happen first?

Pure: the facts come in already read (:class:`GateFacts`, gathered by ``engine/gate.py``), a
:class:`GateReport` goes out. Nothing here names an add-on: what an add-on may do comes from its
matrix (``upgrade_policy``: minor steps, catalogue, version-skew) overlaid with EKS's live
catalogue.

The order around the control-plane update (docs/ci.md says why): add-ons that
the target version cannot run go **before** the control plane (a build the target does not offer,
kube-proxy that would fall out of the version-skew policy); the rest move **after** it, to what the
target offers, and before the nodes are replaced; nodes are never upgraded by eksaddon, and those
that would fall outside the kubelet skew policy block the upgrade.

Severity: an error is what blocks the control-plane update and eksaddon cannot carry out itself
(nodes outside the skew policy, an ERROR upgrade insight, no path for an add-on, a health issue);
an add-on that must move first is a warning with its phase and steps, because
``eksaddon upgrade --all-addons --for-kubernetes-version K`` (and ``cluster-upgrade``) carry it.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import NamedTuple

from eksaddon.compat import Finding, Severity
from eksaddon.gateways.protocols import (
    AddonState,
    ClusterInfo,
    InsightDetail,
    InsightSummary,
    NodegroupInfo,
)
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.planner import Step
from eksaddon.versions import AddonVersion, KubernetesVersion

# Where a fact came from, as the reports say it.
EKS_API = "EKS API"
KUBERNETES = "Kubernetes"
BUNDLED = "bundled matrix"
RULE = "eksaddon rule"


class Phase(str, Enum):
    """When an add-on moves relative to the control-plane update."""

    BEFORE = "before"
    AFTER = "after"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


# -- the facts, as read -------------------------------------------------------------------------


class AddonFacts(NamedTuple):
    """One add-on as the engine found it.

    ``matrix`` is the add-on's matrix (an empty one for an add-on eksaddon has no data for) with
    EKS's live catalogue laid over it for each Kubernetes version that could be read;
    ``catalogue_sources`` says, per version, where the offered builds come from (or why EKS's
    catalogue could not be read).
    """

    name: str
    type: AddonType
    reported_version: str | None  # as EKS or the image tag has it
    version: AddonVersion | None  # None: unreadable (see version_problem)
    source: str  # where the version came from, e.g. "EKS API (eks:DescribeAddon)"
    matrix: Matrix
    catalogue_sources: tuple[tuple[KubernetesVersion, str], ...]
    state: AddonState | None = None  # the EKS add-on, when it is one
    version_problem: str | None = None
    catalogue_problems: tuple[str, ...] = ()

    def catalogue_source(self, kubernetes: KubernetesVersion) -> str:
        return dict(self.catalogue_sources).get(kubernetes, BUNDLED)


class KubeletFacts(NamedTuple):
    node: str
    kubelet_version: str | None
    fargate: bool
    managed: bool  # in an EKS managed node group (label eks.amazonaws.com/nodegroup)


class InsightFacts(NamedTuple):
    summary: InsightSummary
    detail: InsightDetail | None
    detail_problem: str | None = None


class GateFacts(NamedTuple):
    """Everything the gate decides on; a ``*_problem`` says why a part could not be read."""

    cluster: ClusterInfo
    target: KubernetesVersion
    addons: tuple[AddonFacts, ...]
    addon_problems: tuple[str, ...] = ()  # e.g. ListAddons refused, one DescribeAddon failed
    insights: tuple[InsightFacts, ...] = ()
    insights_problem: str | None = None
    nodegroups: tuple[NodegroupInfo, ...] = ()
    nodegroups_problem: str | None = None
    kubelets: tuple[KubeletFacts, ...] = ()
    kubelets_problem: str | None = None  # Kubernetes not reached (or --skip-node-side)
    fargate_profiles: tuple[str, ...] = ()
    fargate_problem: str | None = None
    self_managed_problem: str | None = None  # why self-managed add-ons were not looked for


# -- the verdict ---------------------------------------------------------------------------------


class AddonVerdict(NamedTuple):
    """One add-on's answer: where it stands, its phase and the steps of that phase.

    ``steps`` are the steps of ``phase`` (before: on the cluster's current version; after: on the
    target). An add-on that must move before and again after has the second part in
    ``after_steps``.
    """

    addon: str
    type: AddonType | None
    version: AddonVersion | None
    phase: Phase
    steps: tuple[Step, ...]
    findings: tuple[Finding, ...]
    source: str
    reported_version: str | None = None
    latest: AddonVersion | None = None  # for the cluster's current version
    target_latest: AddonVersion | None = None
    after_steps: tuple[Step, ...] = ()
    catalogue_source: str = BUNDLED
    target_catalogue_source: str = BUNDLED
    offered_current: bool | None = None  # None: not known
    offered_target: bool | None = None


class InsightVerdict(NamedTuple):
    summary: InsightSummary
    detail: InsightDetail | None
    finding: Finding
    upgrade_readiness: bool  # category UPGRADE_READINESS (others are shown apart)


class NodesReport(NamedTuple):
    groups: tuple[NodegroupInfo, ...]
    kubelets: tuple[KubeletFacts, ...]
    fargate_profiles: tuple[str, ...]
    groups_read: bool
    kubelets_read: bool

    def kubelet_versions(self) -> dict[str, str | None]:
        return {k.node: k.kubelet_version for k in self.kubelets}


class GateReport(NamedTuple):
    """The gate's answer for one cluster and target version.

    ``findings`` are the cluster-level ones (control plane, one-minor rule, insights, nodes, what
    could not be read); each add-on's are in its verdict. :attr:`blocking` holds every error.
    """

    cluster: str
    region: str
    kubernetes_version: KubernetesVersion
    target_kubernetes_version: KubernetesVersion
    addons: tuple[AddonVerdict, ...]
    insights: tuple[InsightVerdict, ...]
    nodes: NodesReport
    findings: tuple[Finding, ...]
    fail_on: Severity = Severity.ERROR
    platform_version: str | None = None
    status: str | None = None

    def every_finding(self) -> Iterator[tuple[str | None, Finding]]:
        """(add-on or None, finding) for every finding: cluster-level first, then per add-on."""
        for finding in self.findings:
            yield None, finding
        for verdict in self.addons:
            for finding in verdict.findings:
                yield verdict.addon, finding

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for _, f in self.every_finding() if f.severity is Severity.ERROR)

    def fails(self, finding: Finding) -> bool:
        return finding.severity.rank >= self.fail_on.rank

    @property
    def failed(self) -> bool:
        """Whether any finding is at or above ``--fail-on`` (the exit code's rule)."""
        return any(self.fails(f) for _, f in self.every_finding())

    def source_of(self, verdict: AddonVerdict | None, finding: Finding) -> str:
        """Where a finding's facts came from (``verdict`` None: a cluster-level finding)."""
        return finding_source(verdict, finding)

    def phase(self, phase: Phase) -> tuple[AddonVerdict, ...]:
        return tuple(v for v in self.addons if v.phase is phase)

    @property
    def upgrade_insights(self) -> tuple[InsightVerdict, ...]:
        return tuple(i for i in self.insights if i.upgrade_readiness)

    @property
    def other_insights(self) -> tuple[InsightVerdict, ...]:
        return tuple(i for i in self.insights if not i.upgrade_readiness)


def _with_kubelets(verdict: AddonVerdict, addon: AddonFacts, facts: GateFacts) -> AddonVerdict:
    from eksaddon.gate_kubelets import kubelet_skew_findings

    extra = kubelet_skew_findings(
        verdict, addon.matrix, facts.kubelets, kubelets_read=facts.kubelets_problem is None
    )
    return verdict._replace(findings=(*verdict.findings, *extra)) if extra else verdict


def finding_source(verdict: AddonVerdict | None, finding: Finding) -> str:
    """Where a finding's facts came from (EKS API, Kubernetes, bundled matrix)."""
    if verdict is not None:
        if finding.check in ("installed", "health"):
            return verdict.source
        if finding.check in ("offered", "latest"):
            return verdict.catalogue_source
        if finding.check == "target":
            return verdict.target_catalogue_source
        if finding.check == "kubelet-skew":
            return f"{RULE} over {KUBERNETES} (nodes' status.nodeInfo.kubeletVersion)"
        return f"{RULE} over {verdict.catalogue_source}"
    return CLUSTER_CHECK_SOURCES.get(finding.check, RULE)


CLUSTER_CHECK_SOURCES = {
    "control-plane": f"{EKS_API} (eks:DescribeCluster)",
    "one-minor": f"{RULE} (EKS updates the control plane one minor at a time)",
    "insights": f"{EKS_API} (eks:ListInsights, eks:DescribeInsight)",
    "node-groups": f"{EKS_API} (eks:ListNodegroups, eks:DescribeNodegroup)",
    "kubelets": f"{KUBERNETES} (nodes' status.nodeInfo.kubeletVersion)",
    "fargate": f"{EKS_API} (eks:ListFargateProfiles)",
    "addons": f"{EKS_API} (eks:ListAddons, eks:DescribeAddon)",
    "self-managed": f"{KUBERNETES} (add-on workloads in kube-system)",
}


def decide(facts: GateFacts, *, fail_on: Severity = Severity.ERROR) -> GateReport:
    """The gate's report for ``facts``."""
    from eksaddon.gate_addons import addon_verdict
    from eksaddon.gate_cluster import cluster_findings, insight_verdicts, node_findings

    cluster = facts.cluster
    insights = insight_verdicts(facts)
    nodes = NodesReport(
        groups=facts.nodegroups,
        kubelets=facts.kubelets,
        fargate_profiles=facts.fargate_profiles,
        groups_read=facts.nodegroups_problem is None,
        kubelets_read=facts.kubelets_problem is None,
    )
    findings = (
        *cluster_findings(facts),
        *(i.finding for i in insights),
        *node_findings(facts),
    )
    verdicts = tuple(
        _with_kubelets(addon_verdict(a, kubernetes=cluster.version, target=facts.target), a, facts)
        for a in facts.addons
    )
    return GateReport(
        cluster=cluster.name,
        region=cluster.region,
        kubernetes_version=cluster.version,
        target_kubernetes_version=facts.target,
        addons=verdicts,
        insights=insights,
        nodes=nodes,
        findings=tuple(findings),
        fail_on=fail_on,
        platform_version=cluster.platform_version,
        status=cluster.status,
    )
