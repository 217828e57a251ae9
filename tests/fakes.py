"""An in-memory EKS that honours the gateway protocol's contract, for fast engine tests.

It behaves like the EKS API as eksaddon relies on it: one-minor updates only, versions offered per
Kubernetes version, InProgress → Successful after a number of polls, clientRequestToken
idempotency, ResourceInUse while an update runs. Faults are set per test. Calls are counted.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from eksaddon.engine.events import Progress, ignore
from eksaddon.engine.migrate import MigrateOptions, MigrateResult, migrate
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.errors import (
    AddonNotFoundError,
    ClusterNotFoundError,
    EksAddonError,
    InvalidParameterError,
    ServiceError,
    UpdateInProgressError,
)
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    ClusterVersionRequest,
    DisruptionBudget,
    HealthIssue,
    InsightDetail,
    InsightSummary,
    NodeFacts,
    NodegroupInfo,
    PodFacts,
    PodIdentityConfiguration,
    UpdateError,
    UpdateState,
)
from eksaddon.matrix import Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion
from fake_upgrade import FakeClusterUpgrade

V = AddonVersion.parse

CATALOGUE = [
    "v1.18.3-eksbuild.3",
    "v1.18.0-eksbuild.1",
    "v1.17.1-eksbuild.1",
    "v1.16.4-eksbuild.2",
    "v1.15.5-eksbuild.1",
    "v1.14.1-eksbuild.1",
    "v1.13.4-eksbuild.1",
    "v1.12.6-eksbuild.2",
    "v1.11.4-eksbuild.3",
    "v1.10.4-eksbuild.3",
    "v1.9.3-eksbuild.3",
    "v1.8.0-eksbuild.3",
    "v1.7.10-eksbuild.2",
    "v1.6.3-eksbuild.2",
]
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"env": {"type": "object", "additionalProperties": {"type": "string"}}},
}


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds


class FakeEks(FakeClusterUpgrade):
    def __init__(
        self,
        *,
        kubernetes: str = "1.29",
        version: str | None = "v1.15.5-eksbuild.1",
        cluster: str = "prod",
        polls_per_update: int = 2,
    ) -> None:
        self.cluster = cluster
        self.endpoint: str | None = "https://prod.gr7.us-west-2.eks.amazonaws.com"  # FakeKube.host
        self.kubernetes = KubernetesVersion.parse(kubernetes)
        self.catalogue = [V(v) for v in CATALOGUE]
        self.default = V("v1.16.4-eksbuild.2")
        self.polls_per_update = polls_per_update
        self.addon: dict[str, Any] | None = (
            None
            if version is None
            else {
                "version": V(version),
                "status": "ACTIVE",
                "issues": (),
                "configuration_values": None,
                "role": None,
            }
        )
        self.updates: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[AddonRequest] = []
        self._ids = itertools.count(1)
        # Faults: set by tests.
        self.fail_next_update: str | None = None  # "Failed" or "Cancelled"
        self.degrade_after_update = False
        self.transient_errors: Counter[str] = Counter()
        self.interrupt_after: tuple[str, int] | None = None  # (operation, nth call) -> Ctrl-C
        self._init_cluster_upgrade()

    @property
    def region(self) -> str:
        return "us-west-2"

    def _count(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.transient_errors[operation] > 0:
            self.transient_errors[operation] -= 1
            raise ServiceError(f"{operation}: ServerException")
        if self.interrupt_after == (operation, self.calls[operation]):
            raise KeyboardInterrupt

    def list_clusters(self) -> list[str]:
        self._count("ListClusters")
        return [self.cluster]

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        self._count("DescribeCluster")
        if cluster != self.cluster and self.cluster != "*":
            raise ClusterNotFoundError(f"cluster {cluster}: No cluster found for name: {cluster}.")
        return ClusterInfo(cluster, self.kubernetes, "eks.7", "ACTIVE", self.region, self.endpoint)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        self._count("DescribeAddon")
        self._advance()
        if self.addon is None:
            return None
        a = self.addon
        return AddonState(
            addon,
            cluster,
            str(a["version"]),
            a["status"],
            a["issues"],
            a["configuration_values"],
            a["role"],
            "arn:aws:eks:addon",
            a.get("associations", ()),
        )

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        self._count("DescribeAddonVersions")
        if kubernetes != self.kubernetes:
            return []
        return [CatalogueEntry(v, v == self.default) for v in sorted(self.catalogue, reverse=True)]

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        self._count("DescribeAddonConfiguration")
        return SCHEMA

    def create_addon(self, request: AddonRequest) -> AddonState:
        self._count("CreateAddon")
        self.requests.append(request)
        if request.version not in self.catalogue:
            raise InvalidParameterError("Addon version specified is not supported")
        self.addon = {
            "version": request.version,
            "status": "ACTIVE",
            "issues": (),
            "configuration_values": request.configuration_values,
            "role": request.service_account_role_arn,
            "associations": _association_ids(request),
        }
        state = self.describe_addon(request.cluster, request.addon)
        assert state is not None
        return state

    def update_addon(self, request: AddonRequest) -> UpdateState:
        self._count("UpdateAddon")
        if request.client_request_token in self.tokens:  # idempotent, like EKS
            return self._update_state(self.tokens[request.client_request_token])
        if self.addon is None:
            raise AddonNotFoundError("No addon: vpc-cni found in cluster: prod")
        if any(u["status"] == "InProgress" for u in self.updates.values()):
            raise UpdateInProgressError("UpdateAddon refused: another update is in progress")
        if request.version not in self.catalogue:
            raise InvalidParameterError("Addon version specified is not supported")
        if request.version.minor_distance(self.addon["version"]) > 1:
            raise InvalidParameterError(
                "Updating VPC-CNI can only go up or down 1 minor version at a time"
            )
        self.requests.append(request)
        update_id = f"update-{next(self._ids)}"
        outcome = self.fail_next_update or "Successful"
        self.fail_next_update = None
        self.updates[update_id] = {
            "status": "InProgress",
            "polls": 0,
            "outcome": outcome,
            "version": request.version,
            "request": request,
        }
        self.tokens[request.client_request_token] = update_id
        self.addon["status"] = "UPDATING"
        return self._update_state(update_id)

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        self._count("DescribeUpdate")
        update = self.updates[update_id]
        if update["status"] == "InProgress":
            update["polls"] += 1
        self._advance()
        return self._update_state(update_id)

    def _advance(self) -> None:
        for update in self.updates.values():
            if update["status"] == "InProgress" and update["polls"] >= self.polls_per_update:
                update["status"] = update["outcome"]
                assert self.addon is not None
                if update["outcome"] == "Successful":
                    self.addon["version"] = update["version"]
                    request = update["request"]
                    if request.configuration_values is not None:
                        self.addon["configuration_values"] = request.configuration_values
                    if request.pod_identity_associations is not None:  # None: kept
                        self.addon["associations"] = _association_ids(request)
                    if self.degrade_after_update:
                        self.addon["status"] = "DEGRADED"
                        self.addon["issues"] = (
                            HealthIssue(
                                "InsufficientNumberOfReplicas", "aws-node pods are not ready"
                            ),
                        )
                    else:
                        self.addon["status"] = "ACTIVE"
                else:
                    self.addon["status"] = "ACTIVE"

    def _update_state(self, update_id: str) -> UpdateState:
        update = self.updates[update_id]
        errors = (
            ()
            if update["status"] != "Failed"
            else (UpdateError("ConfigurationConflict", "Conflicts found when trying to apply"),)
        )
        return UpdateState(update_id, update["status"], "AddonUpdate", errors)

    def fargate_profiles(self, cluster: str) -> list[str]:
        self._count("ListFargateProfiles")
        return ["kube-system"]


def _association_ids(request: AddonRequest) -> tuple[str, ...]:
    return tuple(
        f"arn:aws:eks:us-west-2:123456789012:podidentityassociation/{request.cluster}/"
        f"a-{a.service_account}"
        for a in request.pod_identity_associations or ()
    )


class FakeRegion:
    """Several FakeEks clusters behind one gateway, as one region of an account looks."""

    def __init__(self, region: str, clusters: dict[str, FakeEks]) -> None:
        self._region = region
        self.clusters = clusters
        self.calls: Counter[str] = Counter()

    @property
    def region(self) -> str:
        return self._region

    def _cluster(self, name: str) -> FakeEks:
        if name not in self.clusters:
            raise ClusterNotFoundError(f"cluster {name}: No cluster found for name: {name}.")
        return self.clusters[name]

    def list_clusters(self) -> list[str]:
        self.calls["ListClusters"] += 1
        return sorted(self.clusters)

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        self.calls["DescribeCluster"] += 1
        info = self._cluster(cluster).describe_cluster(cluster)
        return info._replace(region=self._region)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        self.calls["DescribeAddon"] += 1
        return self._cluster(cluster).describe_addon(cluster, addon)

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        self.calls["DescribeAddonVersions"] += 1
        return FakeEks(kubernetes=str(kubernetes)).addon_versions(addon, kubernetes)

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        return SCHEMA

    def create_addon(self, request: AddonRequest) -> AddonState:
        return self._cluster(request.cluster).create_addon(request)

    def update_addon(self, request: AddonRequest) -> UpdateState:
        return self._cluster(request.cluster).update_addon(request)

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        return self._cluster(cluster).describe_update(cluster, addon, update_id)

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        return self._cluster(cluster).nodegroups(cluster)

    def fargate_profiles(self, cluster: str) -> list[str]:
        return self._cluster(cluster).fargate_profiles(cluster)

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        self.calls["DescribeAddonConfiguration"] += 1
        return ()

    def list_addons(self, cluster: str) -> list[str]:
        self.calls["ListAddons"] += 1
        return self._cluster(cluster).list_addons(cluster)

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        self.calls["ListInsights"] += 1
        return self._cluster(cluster).list_insights(cluster)

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail:
        self.calls["DescribeInsight"] += 1
        return self._cluster(cluster).describe_insight(cluster, insight_id)

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        self.calls["UpdateClusterVersion"] += 1
        return self._cluster(request.cluster).update_cluster_version(request)

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        self.calls["DescribeUpdate"] += 1
        return self._cluster(cluster).describe_cluster_update(cluster, update_id)


class FakeKube:
    """The aws-node DaemonSet, its pods and the nodes, moving as a DaemonSet controller would.

    ``follow(eks)`` makes every successful EKS update rewrite the template's image tags (as EKS
    does); each read then moves one more node's pod to the template, except ``stuck`` nodes.
    """

    def __init__(
        self, nodes: list[str], *, fargate: tuple[str, ...] = (), tag: str = "v1.15.5-eksbuild.1"
    ) -> None:
        self.host = "https://prod.gr7.us-west-2.eks.amazonaws.com"
        self.env: dict[str, str] = {}  # aws-node env beyond the manifest defaults
        self.others: list[str] = []  # names of other CNI DaemonSets (cilium, calico-node, …)
        self.present = True  # whether the aws-node DaemonSet exists
        self.metadata: dict[str, Any] = {}  # labels/annotations of the DaemonSet (Helm's marks)
        self.apply_configuration = True  # EKS writes configurationValues' env into the DaemonSet
        self.node_names = nodes
        self.fargate = fargate
        self.stuck: set[str] = set()
        self.tag = tag
        self.generation = 1
        self.pod_tags = dict.fromkeys(nodes, tag)
        self.reads = 0

    def follow(self, eks: FakeEks) -> None:
        original = eks._advance

        def advance() -> None:
            before = eks.addon["version"] if eks.addon else None
            original()
            after = eks.addon["version"] if eks.addon else None
            if after is not None and after != before:
                self.tag = str(after)
                self.generation += 1
                values = eks.addon["configuration_values"] if eks.addon else None
                if self.apply_configuration and values:
                    self.env = dict(json.loads(values).get("env", {}))
                elif not self.apply_configuration:
                    self.env = {}

        eks._advance = advance  # type: ignore[method-assign]

    def _images(self, tag: str) -> dict[str, str]:
        registry = "602401143452.dkr.ecr.us-west-2.amazonaws.com"
        return {
            "aws-vpc-cni-init": f"{registry}/amazon-k8s-cni-init:{tag}",
            "aws-node": f"{registry}/amazon-k8s-cni:{tag}",
        }

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        if not self.present:
            return None
        behind = [
            n for n in self.node_names if self.pod_tags[n] != self.tag and n not in self.stuck
        ]
        if behind:
            self.pod_tags[behind[0]] = self.tag  # the controller replaces one pod per look
        images = self._images(self.tag)
        updated = sum(1 for n in self.node_names if self.pod_tags[n] == self.tag)
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "generation": self.generation,
                **self.metadata,
            },
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [
                            {"name": "aws-vpc-cni-init", "image": images["aws-vpc-cni-init"]}
                        ],
                        "containers": [
                            {
                                "name": "aws-node",
                                "image": images["aws-node"],
                                "env": [{"name": k, "value": v} for k, v in self.env.items()],
                            }
                        ],
                    }
                }
            },
            "status": {
                "observedGeneration": self.generation,
                "desiredNumberScheduled": len(self.node_names),
                "updatedNumberScheduled": updated,
                "numberAvailable": len(self.node_names),
            },
        }

    def all_daemonsets(self) -> list[dict[str, Any]]:
        return [{"metadata": {"name": name, "namespace": "kube-system"}} for name in self.others]

    # The fake cluster runs the VPC CNI only: no Deployment, ConfigMap or disruption budget.
    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def disruption_budgets(self, namespace: str) -> list[DisruptionBudget]:
        return []

    def nodes(self) -> list[NodeFacts]:
        labels = {"eks.amazonaws.com/compute-type": "fargate"}
        return [NodeFacts(n, {}) for n in self.node_names] + [
            NodeFacts(n, labels) for n in self.fargate
        ]

    def pods(self, namespace: str, selector: str) -> list[PodFacts]:
        return [
            PodFacts(f"aws-node-{n}", n, self._images(tag), {}) for n, tag in self.pod_tags.items()
        ]


# --- a self-managed VPC CNI that `migrate` makes the EKS add-on --------------------------------


def self_managed_cluster(
    env: dict[str, str],
    *,
    nodes: tuple[str, ...] = ("node-a", "node-b"),
    keep_settings: bool = True,
) -> tuple[FakeEks, FakeKube]:
    """No EKS add-on; aws-node v1.16.4 with ``env`` on the nodes. CreateAddon takes the
    DaemonSet over as EKS does: its build's images and the configuration's env (all of the
    env, or none with ``keep_settings=False``)."""
    eks = FakeEks(version=None)
    kube = FakeKube(list(nodes), tag="v1.16.4")
    kube.env = dict(env)
    original = eks.create_addon

    def create(request: AddonRequest) -> AddonState:
        state = original(request)
        kube.tag = str(request.version)
        kube.generation += 1
        values: dict[str, Any] = json.loads(request.configuration_values or "{}")
        kube.env = dict(values.get("env", {})) if keep_settings else {}
        return state

    eks.create_addon = create  # type: ignore[method-assign]
    return eks, kube


def run_migration(
    matrix: Matrix,
    state_directory: Path,
    eks: FakeEks,
    kube: FakeKube,
    *,
    dry_run: bool = False,
    resolve_conflicts: str | None = "OVERWRITE",
    progress: Progress = ignore,
) -> MigrateResult:
    return migrate(
        gateway=eks,
        matrix=matrix,
        nodes=RolloutCheck(kube),
        options=MigrateOptions(
            cluster="prod",
            addon="vpc-cni",
            poll_interval=5,
            timeout=120,
            dry_run=dry_run,
            resolve_conflicts=resolve_conflicts,
        ),
        state_directory=state_directory,
        progress=progress,
        confirm=lambda what: True,
        clock=FakeClock(),
    )


class RefusingObjectWriter:
    """Kubernetes for a self-managed upgrade: every object exists (so all are backed up) and the
    first apply is refused, so the run stops after its backup and journal."""

    def read(self, document: dict[str, Any]) -> dict[str, Any] | None:
        return document

    def apply(self, document: dict[str, Any], *, force: bool = True) -> dict[str, Any]:
        raise EksAddonError("apply refused")
