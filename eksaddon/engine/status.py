"""``status`` and live ``check-compat``: what EKS says about a cluster's add-on, and what it
means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from eksaddon import planner
from eksaddon.compat import CompatReport, Finding, Severity, check_compat
from eksaddon.engine.catalogue import with_live_catalogue
from eksaddon.engine.nodeside_status import NodeSide, read_node_side
from eksaddon.engine.pod_identity_status import PodIdentityStatus, pod_identity_status
from eksaddon.errors import ApiError, EksAddonError
from eksaddon.gateways.answers import shown
from eksaddon.gateways.protocols import (
    AddonState,
    ClusterInfo,
    EksGateway,
    KubernetesReader,
    NodegroupInfo,
)
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.nodeside.detect import DetectedAddon
from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion, KubernetesVersion

LIVE_CATALOGUE = "eks:DescribeAddonVersions"


class LiveCatalogue(NamedTuple):
    matrix: Matrix
    source: str
    warning: str | None


class StatusReport(NamedTuple):
    cluster: ClusterInfo
    addon_name: str
    addon: AddonState | None
    latest: AddonVersion | None
    default: AddonVersion | None
    catalogue_source: str
    catalogue_warning: str | None
    plan: Plan | None
    plan_problem: str | None
    nodegroups: tuple[NodegroupInfo, ...]
    fargate_profiles: tuple[str, ...]
    node_side: NodeSide | None = None
    node_side_note: str | None = None
    pod_identity: PodIdentityStatus | None = None

    @property
    def addon_type(self) -> str:
        return (
            "managed" if self.addon is not None else "not managed by EKS (self-managed or absent)"
        )

    @property
    def update_available(self) -> bool:
        return self.plan is not None and bool(self.plan.steps)


def live_catalogue(
    gateway: EksGateway, matrix: Matrix, addon: str, kubernetes: KubernetesVersion
) -> LiveCatalogue:
    """The matrix with EKS's own catalogue for ``kubernetes``, or the matrix alone, with a warning,
    when the catalogue cannot be read (permissions, network)."""
    try:
        entries = gateway.addon_versions(addon, kubernetes)
    except ApiError as error:
        return LiveCatalogue(
            matrix,
            matrix.origin,
            f"could not read the live catalogue ({error.one_line()}); using {matrix.origin}",
        )
    if not entries:
        return LiveCatalogue(
            matrix,
            matrix.origin,
            f"EKS lists no {addon} versions for Kubernetes {kubernetes}; using {matrix.origin}",
        )
    return LiveCatalogue(
        with_live_catalogue(matrix, kubernetes, entries, origin=LIVE_CATALOGUE),
        LIVE_CATALOGUE,
        None,
    )


def collect_status(
    gateway: EksGateway,
    matrix: Matrix,
    *,
    cluster: str,
    addon: str,
    kube: Callable[[ClusterInfo], KubernetesReader] | None = None,
) -> StatusReport:
    info = gateway.describe_cluster(cluster)
    state = gateway.describe_addon(cluster, addon)
    catalogue = live_catalogue(gateway, matrix, addon, info.version)
    latest = default = None
    if info.version in catalogue.matrix.kubernetes:
        entry = catalogue.matrix.entry(info.version)
        latest, default = entry.latest, entry.default
    upgrade, problem = _plan(catalogue.matrix, info.version, state)
    return StatusReport(
        cluster=info,
        addon_name=addon,
        addon=state,
        latest=latest,
        default=default,
        catalogue_source=catalogue.source,
        catalogue_warning=catalogue.warning,
        plan=upgrade,
        plan_problem=problem,
        nodegroups=tuple(gateway.nodegroups(cluster)),
        fargate_profiles=tuple(gateway.fargate_profiles(cluster)),
        pod_identity=pod_identity_status(gateway, addon, state, offered=default or latest),
        **_node_side(kube, matrix, info, eks_managed=state is not None),
    )


def _node_side(
    kube: Callable[[ClusterInfo], KubernetesReader] | None,
    matrix: Matrix,
    info: ClusterInfo,
    *,
    eks_managed: bool,
) -> dict[str, Any]:
    """The node side when Kubernetes can be read; otherwise one line saying why not."""
    if kube is None:
        return {"node_side_note": "node side not read (--skip-node-side)"}
    try:
        reader = kube(info)
        return {
            "node_side": read_node_side(reader, matrix, region=info.region, eks_managed=eks_managed)
        }
    except EksAddonError as error:
        return {"node_side_note": f"node side not read: {error.one_line()}"}


def unreadable_version(state: AddonState) -> str:
    """The warning for a build EKS reports that eksaddon cannot read (shown as it is)."""
    return (
        f"EKS reports {state.name} version {shown(state.reported_version)}, which eksaddon "
        "cannot read: no upgrade is planned from it"
    )


def _plan(
    matrix: Matrix, kubernetes: KubernetesVersion, state: AddonState | None
) -> tuple[Plan | None, str | None]:
    if state is None:
        return None, None
    current = state.readable_version
    if current is None:
        return None, unreadable_version(state)
    try:
        return planner.plan(
            matrix,
            kubernetes=kubernetes,
            current=current,
            target=planner.LATEST,
            addon_type=AddonType.MANAGED,
        ), None
    except EksAddonError as error:
        return None, error.one_line()


def live_check_compat(
    gateway: EksGateway,
    matrix: Matrix,
    *,
    cluster: str,
    addon: str,
    target_kubernetes: KubernetesVersion | None,
    features: tuple[str, ...],
    fail_on: Severity,
    kube: Callable[[ClusterInfo], KubernetesReader] | None = None,
) -> CompatReport:
    """``check-compat --cluster``: the offline checks fed with live facts, each with its source.

    With ``kube``, the node side adds what the nodes run and the settings to carry.
    """
    info = gateway.describe_cluster(cluster)
    state = gateway.describe_addon(cluster, addon)
    if state is None:
        raise EksAddonError(
            f"{addon} is not an EKS add-on on cluster {cluster}: its version cannot be read "
            "from the EKS API",
            hint="pass --daemonset with a `kubectl get daemonset aws-node -n kube-system -o yaml` "
            "backup, or --addon-version",
        )
    catalogue = live_catalogue(gateway, matrix, addon, info.version)
    target = None
    if target_kubernetes is not None and target_kubernetes != info.version:
        # The cluster is about to run the target version: what EKS offers there counts too.
        target = live_catalogue(gateway, catalogue.matrix, addon, target_kubernetes)
    version = state.readable_version
    report = (
        check_compat(
            target.matrix if target is not None else catalogue.matrix,
            kubernetes=info.version,
            addon_version=version,
            target_kubernetes=target_kubernetes,
            addon_type=AddonType.MANAGED,
            features=features,
            fail_on=fail_on,
        )
        if version is not None
        else _unreadable_report(catalogue.matrix, info, state, target_kubernetes, fail_on)
    )
    sources = [
        Finding(
            "sources",
            "source",
            Severity.INFO,
            f"Kubernetes {info.version} from eks:DescribeCluster ({cluster}, {info.region})",
        ),
        Finding(
            "sources",
            "source",
            Severity.INFO,
            f"{addon} {state.reported_version} ({state.status}) from eks:DescribeAddon",
        ),
        Finding("sources", "source", Severity.INFO, f"version catalogue from {catalogue.source}"),
    ]
    if target is not None:
        sources.append(
            Finding(
                "sources",
                "source",
                Severity.INFO,
                f"Kubernetes {target_kubernetes} catalogue from {target.source}",
            )
        )
    for warning in (catalogue.warning, target.warning if target is not None else None):
        if warning:
            sources.append(Finding("sources", "catalogue-fallback", Severity.WARNING, warning))
    health = [
        Finding("health", "health-issue", Severity.ERROR, f"{issue.code}: {issue.message}")
        for issue in state.issues
    ]
    nodes = _node_findings(kube, matrix, info, state) if kube is not None else []
    return report._replace(
        checks=("sources", *report.checks, "health", *(("node-side",) if kube else ())),
        findings=(*sources, *report.findings, *health, *nodes),
    )


def _ownership_and_drift(detected: DetectedAddon) -> list[Finding]:
    """A Helm release behind the EKS add-on, and what the DaemonSet lacks of its release."""
    findings = []
    if detected.helm is not None:
        from eksaddon.nodeside.helm import describe

        findings.append(
            Finding(
                "node-side",
                "helm-release-left",
                Severity.WARNING,
                f"aws-node still carries the marks of {describe(detected.helm)}: a later "
                "`helm upgrade` or `helm uninstall` of it would change or delete objects the "
                "EKS add-on owns (see docs/helm.md)",
            )
        )
    findings += [
        Finding(
            "node-side",
            "drift",
            Severity.WARNING,
            f"drift from the {detected.version.release} manifest: {d.describe()}; an update "
            "of the add-on restores it",
        )
        for d in detected.drift
    ]
    return findings


def _unreadable_report(
    matrix: Matrix,
    info: ClusterInfo,
    state: AddonState,
    target_kubernetes: KubernetesVersion | None,
    fail_on: Severity,
) -> CompatReport:
    """A gate cannot pass on a version it cannot read: one error saying so, the version shown
    as EKS reported it, and none of the checks that would need it."""
    return CompatReport(
        addon=matrix.addon,
        matrix_origin=matrix.origin,
        kubernetes=info.version,
        target_kubernetes=target_kubernetes,
        addon_version=state.reported_version,
        addon_type=AddonType.MANAGED,
        checks=("version",),
        findings=(
            Finding(
                "version",
                "version-unreadable",
                Severity.ERROR,
                f"EKS reports {state.name} version {shown(state.reported_version)}, which "
                "eksaddon cannot read: its compatibility is unknown",
            ),
        ),
        plan=None,
        detected=None,
        fail_on=fail_on,
    )


def _node_findings(
    kube: Callable[[ClusterInfo], KubernetesReader],
    matrix: Matrix,
    info: ClusterInfo,
    state: AddonState,
) -> list[Finding]:
    read = _node_side(kube, matrix, info, eks_managed=True)
    side: NodeSide | None = read.get("node_side")
    if side is None:
        return [Finding("node-side", "node-side-unread", Severity.WARNING, read["node_side_note"])]
    if side.state != "running" or side.detected is None:
        other = f", replaced by {side.other_cni}" if side.other_cni else ""
        return [
            Finding(
                "node-side",
                "cni-not-running",
                Severity.ERROR,
                f"the aws-node DaemonSet is {side.state}{other}",
            )
        ]
    detected = side.detected
    findings = [
        Finding(
            "node-side",
            "nodes-run",
            Severity.INFO,
            f"the nodes run {detected.version} (from the aws-node image)",
        )
    ]
    if state.readable_version is not None and detected.version != state.readable_version:
        findings.append(
            Finding(
                "node-side",
                "version-drift",
                Severity.WARNING,
                f"EKS reports {state.reported_version} but the aws-node DaemonSet runs "
                f"{detected.version}",
            )
        )
    if detected.customizations:
        names = ", ".join(sorted({c.name for c in detected.customizations}))
        findings.append(
            Finding(
                "node-side",
                "customizations",
                Severity.INFO,
                f"{len(detected.customizations)} custom setting(s) on the nodes, "
                f"carried by `eksaddon upgrade`: {names}",
            )
        )
    findings += _ownership_and_drift(detected)
    findings += [Finding("node-side", "image-registry", Severity.WARNING, f) for f in side.findings]
    if side.rollout is not None and not side.rollout.done:
        findings.append(
            Finding(
                "node-side",
                "rollout-in-progress",
                Severity.WARNING,
                f"aws-node rollout not finished: {side.rollout.progress}",
            )
        )
    return findings
