"""``status`` and live ``check-compat``: what EKS says about a cluster's add-on, and what it
means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from eksaddon import planner
from eksaddon.addons import profile_of
from eksaddon.addons.base import AddonProfile, main_workload
from eksaddon.compat import CompatReport, Finding, Severity, check_compat
from eksaddon.engine.catalogue import Overlays, with_live_catalogue
from eksaddon.engine.node_findings import node_findings
from eksaddon.engine.nodeside_status import (
    NodeSide,
    node_side_readable,
    read_node_side,
)
from eksaddon.engine.pod_identity_status import PodIdentityStatus, pod_identity_status
from eksaddon.engine.self_managed_status import (
    SELF_MANAGED,
    SelfManaged,
    applies,
    detect_self_managed,
    not_checkable,
    self_managed_findings,
)
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
    # EKS has no such add-on: what Kubernetes shows of it (None: not looked for).
    self_managed: SelfManaged | None = None

    @property
    def addon_type(self) -> str:
        if self.addon is not None:
            return "managed"
        if self.self_managed is not None:
            return self.self_managed.describe()
        return "not managed by EKS (self-managed or absent)"

    @property
    def update_available(self) -> bool:
        return self.plan is not None and bool(self.plan.steps)


def live_catalogue(
    gateway: EksGateway,
    matrix: Matrix,
    addon: str,
    kubernetes: KubernetesVersion,
    overlays: Overlays | None = None,
) -> LiveCatalogue:
    """The matrix with EKS's own catalogue for ``kubernetes``, or the matrix alone, with a warning,
    when the catalogue cannot be read (permissions, network); ``overlays`` shares the overlaid
    matrix between the clusters of a fleet."""
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
    overlay = overlays.with_live_catalogue if overlays is not None else with_live_catalogue
    return LiveCatalogue(
        overlay(matrix, kubernetes, entries, origin=LIVE_CATALOGUE),
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
    profile: AddonProfile | None = None,
) -> StatusReport:
    profile = profile if profile is not None else profile_of(matrix)
    info = gateway.describe_cluster(cluster)
    state = gateway.describe_addon(cluster, addon)
    catalogue = live_catalogue(gateway, matrix, addon, info.version)
    latest = default = None
    if info.version in catalogue.matrix.kubernetes:
        entry = catalogue.matrix.entry(info.version)
        latest, default = entry.latest, entry.default
    upgrade, problem = _plan(catalogue.matrix, info.version, state)
    kube = _connect_once(kube)
    found = (
        detect_self_managed(kube, profile, info)
        if state is None and kube is not None and applies(profile)
        else None
    )
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
        self_managed=found,
        **_node_side(kube, profile, info, eks_managed=state is not None),
    )


def _connect_once(
    kube: Callable[[ClusterInfo], KubernetesReader] | None,
) -> Callable[[ClusterInfo], KubernetesReader] | None:
    """``kube``, connecting (or failing to) only once however often it is asked."""
    if kube is None:
        return None
    made: dict[str, KubernetesReader | EksAddonError] = {}

    def connect(info: ClusterInfo) -> KubernetesReader:
        if "reader" not in made:
            try:
                made["reader"] = kube(info)
            except EksAddonError as error:
                made["reader"] = error
        reader = made["reader"]
        if isinstance(reader, EksAddonError):
            raise reader
        return reader

    return connect


def _node_side(
    kube: Callable[[ClusterInfo], KubernetesReader] | None,
    profile: AddonProfile,
    info: ClusterInfo,
    *,
    eks_managed: bool,
) -> dict[str, Any]:
    """The node side when Kubernetes can be read; otherwise one line saying why not."""
    if kube is None:
        return {"node_side_note": "node side not read (--skip-node-side)"}
    unreadable = node_side_readable(profile)
    if unreadable is not None:
        return {"node_side_note": unreadable}
    try:
        reader = kube(info)
        side = read_node_side(
            reader, profile.matrix, region=info.region, eks_managed=eks_managed, profile=profile
        )
        return {"node_side": side}
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
    profile: AddonProfile | None = None,
    overlays: Overlays | None = None,
) -> CompatReport:
    """``check-compat --cluster``: the offline checks fed with live facts, each with its source.

    With ``kube``, the node side adds what the nodes run and the settings to carry; a fleet
    passes its ``overlays`` (the catalogue laid over the matrix once for all its clusters).
    """
    profile = profile if profile is not None else profile_of(matrix)
    info = gateway.describe_cluster(cluster)
    state = gateway.describe_addon(cluster, addon)
    kube = _connect_once(kube)
    found = None
    if state is None:
        # No EKS add-on: a cluster created before EKS add-ons may run it self-managed.
        found = (
            detect_self_managed(kube, profile, info)
            if kube is not None and applies(profile)
            else None
        )
        if found is None:
            raise EksAddonError(
                f"{addon} is not an EKS add-on on cluster {cluster}: its version cannot be "
                "read from the EKS API",
                hint=_backup_hint(profile, kube_skipped=applies(profile)),
            )
        if found.state != SELF_MANAGED:
            raise not_checkable(found, addon=addon, cluster=cluster)
    catalogue = live_catalogue(gateway, matrix, addon, info.version, overlays)
    target = None
    if target_kubernetes is not None and target_kubernetes != info.version:
        # The cluster is about to run the target version: what EKS offers there counts too.
        target = live_catalogue(gateway, catalogue.matrix, addon, target_kubernetes, overlays)
    if found is not None:
        version, addon_type = found.version, AddonType.SELF_MANAGED
        own = self_managed_findings(found, addon)
    else:
        assert state is not None
        version, addon_type = state.readable_version, AddonType.MANAGED
        own = [
            Finding(
                "sources",
                "source",
                Severity.INFO,
                f"{addon} {state.reported_version} ({state.status}) from eks:DescribeAddon",
            )
        ]
    if version is not None:
        report = check_compat(
            target.matrix if target is not None else catalogue.matrix,
            kubernetes=info.version,
            addon_version=version,
            target_kubernetes=target_kubernetes,
            addon_type=addon_type,
            features=features,
            fail_on=fail_on,
        )
    elif state is not None:
        report = _unreadable_report(catalogue.matrix, info, state, target_kubernetes, fail_on)
    else:  # self-managed, its image shows no version: self_managed_findings says so
        report = _unreadable_report(catalogue.matrix, info, None, target_kubernetes, fail_on)
    sources = [
        Finding(
            "sources",
            "source",
            Severity.INFO,
            f"Kubernetes {info.version} from eks:DescribeCluster ({cluster}, {info.region})",
        ),
        *own,
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
    if state is None:  # self-managed: no EKS health, and the workload was read above
        return report._replace(
            checks=("sources", "self-managed", *report.checks),
            findings=(*sources, *report.findings),
        )
    health = [
        Finding("health", "health-issue", Severity.ERROR, f"{issue.code}: {issue.message}")
        for issue in state.issues
    ]
    nodes = (
        node_findings(_node_side(kube, profile, info, eks_managed=True), state)
        if kube is not None
        else []
    )
    return report._replace(
        checks=("sources", *report.checks, "health", *(("node-side",) if kube else ())),
        findings=(*sources, *report.findings, *health, *nodes),
    )


def _unreadable_report(
    matrix: Matrix,
    info: ClusterInfo,
    state: AddonState | None,
    target_kubernetes: KubernetesVersion | None,
    fail_on: Severity,
) -> CompatReport:
    """A gate cannot pass on a version it cannot read: one error saying so, the version shown
    as EKS reported it, and none of the checks that would need it. ``state`` None: a
    self-managed add-on whose image does not show it (the caller adds that error)."""
    if state is None:
        return CompatReport(
            addon=matrix.addon,
            matrix_origin=matrix.origin,
            kubernetes=info.version,
            target_kubernetes=target_kubernetes,
            addon_version="unknown",
            addon_type=AddonType.SELF_MANAGED,
            checks=(),
            findings=(),
            plan=None,
            detected=None,
            fail_on=fail_on,
        )
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


def _backup_hint(profile: AddonProfile, *, kube_skipped: bool) -> str:
    workload = main_workload(profile)
    if workload is None or not profile.renders_manifests:
        return (
            "drop --skip-node-side to look for a self-managed one, or pass --addon-version"
            if kube_skipped
            else "pass --addon-version"
        )
    return (
        f"pass --daemonset with a `kubectl get {str(workload.kind).lower()} {workload.name} -n "
        f"{workload.namespace} -o yaml` backup, or --addon-version"
    )
