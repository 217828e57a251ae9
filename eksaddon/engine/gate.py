"""The cluster-upgrade gate's reads: everything :func:`eksaddon.gate.decide` decides on.

Per cluster the reads go out in two waves, each wave's calls side by side:
1. DescribeCluster, ListAddons, ListInsights, the node groups (ListNodegroups + DescribeNodegroup)
   and ListFargateProfiles: they need nothing but the cluster's name;
2. DescribeAddon per add-on, DescribeInsight per insight that is not PASSING, the catalogue
   (DescribeAddonVersions) per add-on for the current and the target version, and Kubernetes
   (nodes, self-managed add-ons' workloads).
A fleet shares one :class:`~eksaddon.engine.fleet.SharedCatalogue`: one catalogue read per
region × Kubernetes version × add-on, whatever the number of clusters.

What cannot be read becomes a fact the gate reports (a warning, never a silent pass); only a
cluster that cannot be described or whose add-ons cannot be listed stops the gate (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, NamedTuple, TypeVar

from eksaddon.compat import Severity
from eksaddon.engine.catalogue import Overlays
from eksaddon.engine.fleet import SharedCatalogue
from eksaddon.engine.gate_kube_facts import (
    NODEGROUP_LABEL,
    GateKube,
    KubeFacts,
    kubelet_facts,
    self_managed_facts,
    workloads_of,
)
from eksaddon.engine.gate_matrices import MatrixFor, matrices
from eksaddon.errors import EksAddonError, InputError
from eksaddon.gate import (
    EKS_API,
    AddonFacts,
    GateFacts,
    GateReport,
    InsightFacts,
    decide,
)
from eksaddon.gate_addons import empty_matrix
from eksaddon.gateways.answers import shown
from eksaddon.gateways.protocols import (
    CatalogueEntry,
    ClusterInfo,
    EksGateway,
    InsightSummary,
)
from eksaddon.matrix.model import AddonType, Matrix, WorkloadKind
from eksaddon.versions import KubernetesVersion

T = TypeVar("T")
LIVE_CATALOGUE = f"{EKS_API} (eks:DescribeAddonVersions)"
# Requests one cluster's gate may have open at once (its second wave is the widest).
READS_PER_CLUSTER = 16

# What Kubernetes tells the gate lives in gate_kube_facts, the matrices in gate_matrices;
# importers (the CLI, the fleet gate, tests) take them from here.
__all__ = [
    "LIVE_CATALOGUE",
    "NODEGROUP_LABEL",
    "READS_PER_CLUSTER",
    "GateKube",
    "GateRequest",
    "KubeFor",
    "MatrixFor",
    "Outcome",
    "Overlays",
    "check_target",
    "find_self_managed",
    "gate_all",
    "gate_cluster",
    "matrices",
    "workloads_of",
]


KubeFor = Callable[[ClusterInfo], GateKube]


class GateRequest(NamedTuple):
    target: KubernetesVersion
    only: tuple[str, ...] = ()  # --addon: narrow the add-on part to these
    fail_on: Severity = Severity.ERROR


class Outcome(NamedTuple, Generic[T]):
    value: T | None
    problem: str | None  # the one line of the eksaddon error the call raised


def _outcome(future: Future[T]) -> Outcome[T]:
    """The call's answer, or None and why."""
    try:
        return Outcome(future.result(), None)
    except EksAddonError as error:
        return Outcome(None, error.one_line())


def check_target(cluster: ClusterInfo, target: KubernetesVersion) -> None:
    if target < cluster.version:
        raise InputError(
            f"--target-kubernetes-version {target} is below the cluster's {cluster.version}: "
            "EKS clusters cannot be downgraded"
        )


def gate_cluster(
    gateway: EksGateway,
    cluster: str,
    request: GateRequest,
    *,
    matrix_for: MatrixFor,
    kube: KubeFor | None,
    reads: ThreadPoolExecutor | None = None,
    catalogue: SharedCatalogue | None = None,
    kube_note: str = "--skip-node-side",
    overlays: Overlays | None = None,
) -> GateReport:
    """Read everything the gate needs for ``cluster`` and decide; ``kube_note`` says why
    Kubernetes is not read when ``kube`` is None."""
    if reads is None:
        with ThreadPoolExecutor(max_workers=READS_PER_CLUSTER) as own:
            return gate_cluster(
                gateway,
                cluster,
                request,
                matrix_for=matrix_for,
                kube=kube,
                reads=own,
                catalogue=catalogue,
                kube_note=kube_note,
                overlays=overlays,
            )
    shared = catalogue if catalogue is not None else SharedCatalogue()
    reader = _Reads(gateway, cluster, request, matrix_for, kube, reads, shared)
    reader.kube_note = kube_note
    if overlays is not None:
        reader.overlays = overlays
    facts = reader.facts()
    return decide(facts, fail_on=request.fail_on)


class _Reads:
    def __init__(
        self,
        gateway: EksGateway,
        cluster: str,
        request: GateRequest,
        matrix_for: MatrixFor,
        kube: KubeFor | None,
        reads: ThreadPoolExecutor,
        catalogue: SharedCatalogue,
    ) -> None:
        self.gateway = gateway
        self.cluster = cluster
        self.request = request
        self.matrix_for = matrix_for
        self.kube = kube
        self.reads = reads
        self.catalogue = catalogue
        self.kube_note = "--skip-node-side"
        self.overlays = Overlays()

    def facts(self) -> GateFacts:
        g, name, submit = self.gateway, self.cluster, self.reads.submit
        # Wave 1: nothing but the cluster's name goes in.
        described = submit(g.describe_cluster, name)
        listed = submit(g.list_addons, name)
        insights = submit(g.list_insights, name)
        groups = submit(g.nodegroups, name)
        fargate = submit(g.fargate_profiles, name)
        try:
            info = described.result()
            check_target(info, self.request.target)
            names = self._narrowed(listed.result())
        except BaseException:
            for future in (listed, insights, groups, fargate):
                future.cancel()  # the gate stops: reads not yet started are not sent
            raise
        # Wave 2: DescribeAddon, the catalogues and DescribeInsight together, Kubernetes beside.
        addon_reads = {a: self._addon_reads(info, a) for a in names}
        listing = _outcome(insights)
        summaries = listing.value or []
        details = {
            s.id: submit(g.describe_insight, name, s.id) for s in summaries if s.status != "PASSING"
        }
        kube_facts = self._kubernetes(info, set(names))
        addons, problems = self._addons(info, addon_reads)
        nodegroups, profiles = _outcome(groups), _outcome(fargate)
        return GateFacts(
            cluster=info,
            target=self.request.target,
            addons=(*addons, *kube_facts.addons),
            addon_problems=tuple(problems),
            insights=tuple(_insight(s, details.get(s.id)) for s in summaries),
            insights_problem=listing.problem,
            nodegroups=tuple(nodegroups.value or ()),
            nodegroups_problem=nodegroups.problem,
            kubelets=kube_facts.kubelets,
            kubelets_problem=kube_facts.nodes_problem,
            fargate_profiles=tuple(profiles.value or ()),
            fargate_problem=profiles.problem,
            self_managed_problem=kube_facts.workloads_problem,
        )

    def _narrowed(self, names: list[str]) -> list[str]:
        only = self.request.only
        return sorted(names) if not only else [n for n in sorted(names) if n in only]

    def _versions(self, info: ClusterInfo) -> list[KubernetesVersion]:
        return list(dict.fromkeys((info.version, self.request.target)))

    def _catalogue(
        self, info: ClusterInfo, addon: str, kubernetes: KubernetesVersion
    ) -> Future[list[CatalogueEntry]]:
        def fetch() -> list[CatalogueEntry]:
            return self.gateway.addon_versions(addon, kubernetes)

        return self.reads.submit(self.catalogue.get, info.region, addon, kubernetes, fetch)

    def _addon_reads(self, info: ClusterInfo, addon: str) -> tuple[Future[Any], dict[Any, Any]]:
        state = self.reads.submit(self.gateway.describe_addon, info.name, addon)
        catalogues = {k: self._catalogue(info, addon, k) for k in self._versions(info)}
        return state, catalogues

    def _addons(
        self, info: ClusterInfo, reads: dict[str, tuple[Future[Any], dict[Any, Any]]]
    ) -> tuple[list[AddonFacts], list[str]]:
        addons, problems = [], []
        for addon, (state_read, catalogue_reads) in reads.items():
            state, problem = _outcome(state_read)
            if problem is not None or state is None:
                problems.append(
                    f"{addon} is listed by eks:ListAddons but could not be described: "
                    f"{problem or 'EKS says it does not exist'}"
                )
                continue
            matrix = self.matrix_for(addon) or empty_matrix(addon)
            sources, catalogue_problems = [], []
            for kubernetes, future in catalogue_reads.items():
                entries, failed = _outcome(future)
                if entries:
                    matrix = self._overlay(matrix, kubernetes, entries)
                    sources.append((kubernetes, LIVE_CATALOGUE))
                elif failed is not None:
                    catalogue_problems.append(
                        f"EKS's {addon} catalogue for Kubernetes {kubernetes} could not be read "
                        f"({failed}); using {matrix.origin}"
                    )
                else:
                    catalogue_problems.append(
                        f"EKS lists no {addon} build for Kubernetes {kubernetes}; "
                        f"using {matrix.origin}"
                    )
            version = state.readable_version
            addons.append(
                AddonFacts(
                    name=addon,
                    type=AddonType.MANAGED,
                    reported_version=state.reported_version,
                    version=version,
                    source=f"{EKS_API} (eks:DescribeAddon)",
                    matrix=matrix,
                    catalogue_sources=tuple(sources),
                    state=state,
                    version_problem=None
                    if version is not None
                    else f"EKS reports {shown(state.reported_version)}, which eksaddon cannot read",
                    catalogue_problems=tuple(catalogue_problems),
                )
            )
        return addons, problems

    def _overlay(
        self, matrix: Matrix, kubernetes: KubernetesVersion, entries: list[CatalogueEntry]
    ) -> Matrix:
        """``matrix`` with the live catalogue laid over it; a fleet's clusters get the same
        catalogue for the same add-on, so the overlay is made once and shared."""
        return self.overlays.with_live_catalogue(
            matrix, kubernetes, entries, origin="eks:DescribeAddonVersions"
        )

    def _kubernetes(self, info: ClusterInfo, eks_addons: set[str]) -> KubeFacts:
        if self.kube is None:
            unread = f"Kubernetes not read ({self.kube_note})"
            return KubeFacts((), (), unread, unread)
        try:
            reader = self.kube(info)
        except EksAddonError as error:
            unread = f"Kubernetes could not be read: {error.one_line()}"
            return KubeFacts((), (), unread, unread)
        listing = self.reads.submit(reader.nodes)  # beside the workloads' reads
        addons, problems = self._self_managed(reader, eks_addons)
        nodes = _outcome(listing)
        kubelets = tuple(kubelet_facts(n) for n in nodes.value or ())
        nodes_problem = None if nodes.problem is None else f"Kubernetes: {nodes.problem}"
        return KubeFacts(kubelets, tuple(addons), nodes_problem, "; ".join(problems) or None)

    def _self_managed(
        self, reader: GateKube, eks_addons: set[str]
    ) -> tuple[list[AddonFacts], list[str]]:
        return find_self_managed(
            reader, eks_addons, self.matrix_for, self.reads.submit, only=self.request.only
        )


def find_self_managed(
    reader: GateKube,
    eks_addons: Set[str],
    matrix_for: MatrixFor,
    submit: Callable[..., Future[Any]],
    *,
    only: tuple[str, ...] = (),
) -> tuple[list[AddonFacts], list[str]]:
    """The add-ons eksaddon has data for that run on the cluster without being EKS add-ons
    (the gate's, and ``upgrade --all-addons``'s, one way of finding them); a workload that
    cannot be read (RBAC) is said, and the others are still looked for."""
    from eksaddon.matrix.loader import bundled_addons

    candidates = [
        (addon, matrix, workload)
        for addon in bundled_addons()
        if addon not in eks_addons and (not only or addon in only)
        for matrix in [matrix_for(addon)]
        if matrix is not None
        for workload in workloads_of(matrix)
    ]
    reads = [
        submit(
            reader.read_deployment if w.kind is WorkloadKind.DEPLOYMENT else reader.read_daemonset,
            w.namespace,
            w.name,
        )
        for _, _, w in candidates
    ]
    found: dict[str, AddonFacts] = {}
    problems = []
    for (addon, matrix, workload), read in zip(candidates, reads, strict=True):
        document = _outcome(read)
        if document.problem is not None:
            problems.append(f"{addon}: {document.problem}")
        elif document.value is not None and addon not in found:
            found[addon] = self_managed_facts(addon, matrix, workload, document.value)
    return list(found.values()), problems


def _insight(summary: InsightSummary, detail: Future[Any] | None) -> InsightFacts:
    if detail is None:
        return InsightFacts(summary, None)
    answer, problem = _outcome(detail)
    return InsightFacts(summary, answer, problem)


def gate_all(
    gateway: EksGateway,
    clusters: Sequence[str],
    request: GateRequest,
    *,
    matrix_for: MatrixFor,
) -> list[GateReport]:
    """A convenience for tests and the benchmark: each cluster gated in turn (no Kubernetes)."""
    return [gate_cluster(gateway, c, request, matrix_for=matrix_for, kube=None) for c in clusters]
