"""An in-memory EKS cluster with several add-ons and a control plane, for the journey's tests.

It honours the ClusterUpgradeGateway contract as EKS answers it: builds offered per add-on and
Kubernetes version ("Addon version specified is not supported" otherwise), vpc-cni one minor per
update, clientRequestToken idempotency for UpdateAddon and UpdateClusterVersion (the same token
returns the same update), ResourceInUse while an update of the same resource runs, the control
plane one minor at a time with InProgress → Successful (or Failed) after some polls and the
cluster UPDATING meanwhile, and the insights refusal (InvalidStateException) unless ``force``.

``kill_at`` simulates a SIGKILL: the nth call of an operation raises :class:`Killed`, which
no code under test catches (it is not an Exception), leaving the files on disk as a killed
process would. tests/fakes.py's FakeEks is the single-add-on fake of the same contract.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, NamedTuple

from eksaddon.errors import (
    AddonNotFoundError,
    ClusterNotFoundError,
    InsightsBlockedError,
    InvalidParameterError,
    UpdateInProgressError,
)
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    ClusterVersionRequest,
    InsightDetail,
    InsightSummary,
    NodegroupInfo,
    PodIdentityConfiguration,
    UpdateError,
    UpdateState,
)
from eksaddon.matrix.model import AddonType
from eksaddon.planner import Step
from eksaddon.versions import AddonVersion, KubernetesVersion

V = AddonVersion.parse
ARN = "arn:aws:eks:us-west-2:111122223333:cluster/prod"
# Where FakeKube (tests/fakes.py) says its API server is.
ENDPOINT = "https://prod.gr7.us-west-2.eks.amazonaws.com"

CATALOGUES: dict[str, dict[str, list[str]]] = {
    "vpc-cni": {
        "1.29": [
            "v1.18.3-eksbuild.3",
            "v1.17.1-eksbuild.1",
            "v1.16.4-eksbuild.2",
            "v1.15.5-eksbuild.1",
        ],
        "1.30": ["v1.18.3-eksbuild.3", "v1.17.1-eksbuild.1", "v1.16.4-eksbuild.2"],
    },
    "kube-proxy": {
        "1.29": ["v1.29.7-eksbuild.5", "v1.29.0-eksbuild.1"],
        "1.30": ["v1.30.3-eksbuild.5", "v1.29.7-eksbuild.5"],
    },
    "coredns": {
        "1.29": ["v1.11.1-eksbuild.9", "v1.10.1-eksbuild.13"],
        "1.30": ["v1.11.3-eksbuild.1", "v1.11.1-eksbuild.9"],
    },
}


class Killed(BaseException):
    """The process died here (SIGKILL): nothing is cleaned up, nothing is recorded."""


class Finding(NamedTuple):
    check: str
    code: str
    severity: str
    message: str


class Verdict(NamedTuple):
    addon: str
    type: object
    version: AddonVersion | None
    phase: str
    steps: tuple[Step, ...]
    findings: tuple[Finding, ...]
    source: str


class GateReport(NamedTuple):
    """Shaped as the gate's GateReport (TEAM.md's seam) for the fields the journey reads."""

    cluster: str
    region: str
    kubernetes_version: str
    target_kubernetes_version: str
    addons: tuple[Verdict, ...]
    insights: tuple[object, ...]
    nodes: object
    findings: tuple[Finding, ...]

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")


class FakeCluster:
    def __init__(
        self,
        *,
        kubernetes: str = "1.29",
        addons: dict[str, str] | None = None,
        polls_per_update: int = 2,
        polls_per_cluster_update: int = 3,
    ) -> None:
        self.name = "prod"
        self.kubernetes = KubernetesVersion.parse(kubernetes)
        self.status = "ACTIVE"
        self.addons: dict[str, dict[str, Any]] = {
            name: {"version": V(version), "status": "ACTIVE", "values": None, "role": None}
            for name, version in (
                addons
                or {
                    "vpc-cni": "v1.15.5-eksbuild.1",
                    "kube-proxy": "v1.29.0-eksbuild.1",
                    "coredns": "v1.11.1-eksbuild.9",
                }
            ).items()
        }
        self.polls_per_update = polls_per_update
        self.polls_per_cluster_update = polls_per_cluster_update
        self.updates: dict[str, dict[str, Any]] = {}
        self.tokens: dict[tuple[str, str], str] = {}
        self.calls: Counter[str] = Counter()
        self.cluster_requests: list[ClusterVersionRequest] = []
        self.addon_requests: list[AddonRequest] = []
        self._ids = itertools.count(1)
        self.nodegroup_versions = {"workers": "1.29"}
        # Faults, set by tests.
        self.insights_blocking = False  # UpdateClusterVersion refused unless force
        self.fail_next_cluster_update = False
        self.kill_at: tuple[str, int] | None = None
        self.lose_answer_of: tuple[str, int] | None = None  # done at EKS, then Killed
        self.interrupt_at: tuple[str, int] | None = None

    @property
    def region(self) -> str:
        return "us-west-2"

    def _count(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.kill_at == (operation, self.calls[operation]):
            self.kill_at = None
            raise Killed(operation)
        if self.interrupt_at == (operation, self.calls[operation]):
            self.interrupt_at = None
            raise KeyboardInterrupt

    def _answer_lost(self, operation: str) -> None:
        """The request took effect at EKS; the process died before it read the answer."""
        if self.lose_answer_of == (operation, self.calls[operation]):
            self.lose_answer_of = None
            raise Killed(f"{operation} (after EKS acted)")

    # -- cluster ------------------------------------------------------------------------------

    def list_clusters(self) -> list[str]:
        self._count("ListClusters")
        return [self.name]

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        self._count("DescribeCluster")
        self._check(cluster)
        self._advance()
        return ClusterInfo(
            self.name, self.kubernetes, "eks.7", self.status, self.region, ENDPOINT, ARN
        )

    def _check(self, cluster: str) -> None:
        if cluster != self.name:
            raise ClusterNotFoundError(f"cluster {cluster}: No cluster found for name: {cluster}.")

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        self._count("UpdateClusterVersion")
        self._check(request.cluster)
        known = self.tokens.get(("cluster", request.client_request_token))
        if known is not None:
            return self._state(known)
        if any(u["status"] == "InProgress" for u in self.updates.values()):
            raise UpdateInProgressError("ResourceInUseException: an update is in progress")
        target = request.version
        if target.major != self.kubernetes.major or target.minor != self.kubernetes.minor + 1:
            raise InvalidParameterError(
                f"Unsupported Kubernetes minor version update from {self.kubernetes} to {target}"
            )
        if self.insights_blocking and not request.force:
            raise InsightsBlockedError(
                "Upgrade readiness issues detected. Call the EKS ListInsights API to view "
                "upgrade blocking issues detected by EKS. Pass the force flag to override "
                "upgrade readiness errors and proceed with upgrade."
            )
        self.cluster_requests.append(request)
        update_id = f"cluster-update-{next(self._ids)}"
        self.tokens[("cluster", request.client_request_token)] = update_id
        outcome = "Failed" if self.fail_next_cluster_update else "Successful"
        self.fail_next_cluster_update = False
        self.updates[update_id] = {
            "kind": "cluster",
            "status": "InProgress",
            "polls": 0,
            "outcome": outcome,
            "version": target,
        }
        self.status = "UPDATING"
        self._answer_lost("UpdateClusterVersion")
        return self._state(update_id)

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        self._count("DescribeUpdate(cluster)")
        self._check(cluster)
        update = self.updates.get(update_id)
        if update is None or update["kind"] != "cluster":
            raise InvalidParameterError(f"No update found for ID: {update_id}")
        if update["status"] == "InProgress":
            update["polls"] += 1
        self._advance()
        return self._state(update_id)

    # -- add-ons ------------------------------------------------------------------------------

    def list_addons(self, cluster: str) -> list[str]:
        self._count("ListAddons")
        self._check(cluster)
        return sorted(self.addons)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        self._count("DescribeAddon")
        self._check(cluster)
        self._advance()
        state = self.addons.get(addon)
        if state is None:
            return None
        return AddonState(
            addon,
            cluster,
            str(state["version"]),
            state["status"],
            (),
            state["values"],
            state["role"],
            f"arn:aws:eks:us-west-2:111122223333:addon/prod/{addon}/x",
        )

    def offered(self, addon: str, kubernetes: KubernetesVersion) -> list[AddonVersion]:
        return [V(v) for v in CATALOGUES.get(addon, {}).get(str(kubernetes), [])]

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        self._count("DescribeAddonVersions")
        offered = self.offered(addon, kubernetes)
        return [CatalogueEntry(v, i == len(offered) - 1) for i, v in enumerate(offered)]

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        self._count("DescribeAddonConfiguration")
        return {"type": "object"}

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        self._count("DescribeAddonConfiguration")
        return ()

    def create_addon(self, request: AddonRequest) -> AddonState:
        raise AssertionError("the journey never creates an add-on")

    def update_addon(self, request: AddonRequest) -> UpdateState:
        self._count("UpdateAddon")
        self._check(request.cluster)
        known = self.tokens.get((request.addon, request.client_request_token))
        if known is not None:
            return self._state(known)
        state = self.addons.get(request.addon)
        if state is None:
            raise AddonNotFoundError(f"No addon: {request.addon} found in cluster: prod")
        busy = (u for u in self.updates.values() if u["kind"] in (request.addon, "cluster"))
        if any(u["status"] == "InProgress" for u in busy):
            raise UpdateInProgressError("ResourceInUseException: an update is in progress")
        if request.version not in self.offered(request.addon, self.kubernetes):
            raise InvalidParameterError("Addon version specified is not supported")
        if request.addon == "vpc-cni" and request.version.minor_distance(state["version"]) > 1:
            raise InvalidParameterError(
                "Updating VPC-CNI can only go up or down 1 minor version at a time"
            )
        self.addon_requests.append(request)
        update_id = f"addon-update-{next(self._ids)}"
        self.updates[update_id] = {
            "kind": request.addon,
            "status": "InProgress",
            "polls": 0,
            "outcome": "Successful",
            "version": request.version,
        }
        self.tokens[(request.addon, request.client_request_token)] = update_id
        state["status"] = "UPDATING"
        self._answer_lost("UpdateAddon")
        return self._state(update_id)

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        self._count("DescribeUpdate")
        self._check(cluster)
        update = self.updates[update_id]
        assert update["kind"] == addon
        if update["status"] == "InProgress":
            update["polls"] += 1
        self._advance()
        return self._state(update_id)

    def _advance(self) -> None:
        for update in self.updates.values():
            if update["status"] != "InProgress":
                continue
            cluster = update["kind"] == "cluster"
            needed = self.polls_per_cluster_update if cluster else self.polls_per_update
            if update["polls"] < needed:
                continue
            update["status"] = update["outcome"]
            if cluster:
                self.status = "ACTIVE"
                if update["outcome"] == "Successful":
                    self.kubernetes = update["version"]
            else:
                addon = self.addons[update["kind"]]
                addon["version"], addon["status"] = update["version"], "ACTIVE"

    def _state(self, update_id: str) -> UpdateState:
        update = self.updates[update_id]
        kind = "VersionUpdate" if update["kind"] == "cluster" else "AddonUpdate"
        errors = (
            (UpdateError("ClusterUnreachable", "health checks failed; rolled back"),)
            if update["status"] == "Failed"
            else ()
        )
        return UpdateState(update_id, update["status"], kind, errors)

    # -- the rest -----------------------------------------------------------------------------

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        self._count("ListInsights")
        return []

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail:
        raise AssertionError("no insights listed")

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        self._count("ListNodegroups")
        return [
            NodegroupInfo(name, version, f"{version}.0-20240101", "ACTIVE")
            for name, version in self.nodegroup_versions.items()
        ]

    def fargate_profiles(self, cluster: str) -> list[str]:
        self._count("ListFargateProfiles")
        return []

    # -- what tests ask -----------------------------------------------------------------------

    def cluster_updates(self) -> list[str]:
        return [i for i, u in self.updates.items() if u["kind"] == "cluster"]

    def addon_updates(self, addon: str) -> list[str]:
        return [i for i, u in self.updates.items() if u["kind"] == addon]

    def version_of(self, addon: str) -> str:
        return str(self.addons[addon]["version"])


def updates_fail(eks: FakeCluster, *addons: str) -> None:
    """Every add-on update ``eks`` accepts from now on ends Failed (only those of ``addons``,
    where any are named): sent, then failed on EKS's side."""
    real = eks.update_addon

    def failing(request: AddonRequest) -> UpdateState:
        state = real(request)
        if not addons or request.addon in addons:
            eks.updates[state.id]["outcome"] = "Failed"
        return state

    eks.update_addon = failing  # type: ignore[method-assign]


def fake_gate(
    cluster: Any,
    *,
    insight_error: bool = False,
    node_error: bool = False,
    self_managed: dict[str, tuple[str, str, str]] | None = None,
) -> Any:
    """A gate over any EKS gateway (the fake, or the AWS gateway on the stand-in), deciding as
    the gate does for what the journey reads: an add-on whose build the target does not offer
    goes ``before`` (to the oldest build offered for both versions, an error finding until it
    moves), every other one ``after``. ``self_managed`` adds add-ons found through Kubernetes:
    name -> (release it runs, phase, release it goes to), typed self-managed as the gate does,
    an error finding (skew) when in ``before``."""

    def offered(name: str, kubernetes: KubernetesVersion) -> list[AddonVersion]:
        return [entry.version for entry in cluster.addon_versions(name, kubernetes)]

    def gate(info: ClusterInfo, target: KubernetesVersion) -> GateReport:
        verdicts = []
        findings: list[Finding] = []
        for name in sorted(cluster.list_addons(info.name)):
            state = cluster.describe_addon(info.name, name)
            current = state.version
            later = offered(name, target)
            if current in later:
                newest = later[0]
                steps = (Step(current, newest),) if newest != current else ()
                verdicts.append(Verdict(name, None, current, "after", steps, (), "EKS API"))
                continue
            now_offered = set(offered(name, info.version))
            both = [v for v in later if v in now_offered]
            finding = Finding(
                "addon-offered",
                "not-offered-for-target",
                "error",
                f"{name} {current} is not offered for Kubernetes {target}",
            )
            findings.append(finding)
            verdicts.append(
                Verdict(
                    name,
                    None,
                    current,
                    "before",
                    (Step(current, both[-1]),) if both else (),
                    (finding,),
                    "EKS API",
                )
            )
        for name, (release, phase, goal) in (self_managed or {}).items():
            running = V(release)
            found: tuple[Finding, ...] = ()
            if phase == "before":
                found = (
                    Finding("skew", "kube-proxy-skew", "error", f"{name} {release} out of skew"),
                )
                findings.extend(found)
            verdicts.append(
                Verdict(
                    name,
                    AddonType.SELF_MANAGED,
                    running,
                    phase,
                    (Step(running, V(goal)),),
                    found,
                    "Kubernetes",
                )
            )
        if insight_error:
            findings.append(
                Finding("insights", "insight-error", "error", "deprecated APIs in use (id i-1)")
            )
        if node_error:
            findings.append(
                Finding("nodes", "kubelet-skew", "error", "node group old at 1.26 falls out")
            )
        return GateReport(
            info.name,
            info.region,
            str(info.version),
            str(target),
            tuple(verdicts),
            (),
            None,
            tuple(findings),
        )

    return gate
