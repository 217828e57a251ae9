"""An in-memory EKS for the gate: several clusters, several add-ons, insights and node groups.

It answers :class:`~eksaddon.gateways.protocols.ClusterUpgradeGateway` as the real gateway does:
an unknown cluster raises ClusterNotFoundError, DescribeAddon of an absent add-on is None, the
catalogue is per add-on and Kubernetes version (newest first), DescribeInsight of an unknown id
raises, errors are eksaddon's typed errors. ``latency`` makes every call take that long (bench).
Calls are counted per operation; ``fail`` makes an operation raise the given error.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, NamedTuple

from eksaddon.errors import ApiError, ClusterNotFoundError, EksAddonError
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    ClusterVersionRequest,
    HealthIssue,
    InsightDetail,
    InsightSummary,
    NodegroupInfo,
    PodIdentityConfiguration,
    UpdateState,
)
from eksaddon.nodeside.rollout import NodeFacts
from eksaddon.versions import AddonVersion, KubernetesVersion

V = AddonVersion.parse
K = KubernetesVersion.parse

# What EKS offered in 2024-09 (the EKS user guide tables and the 1.29 capture), trimmed.
CATALOGUES: dict[str, dict[str, list[str]]] = {
    "vpc-cni": {
        k: [
            "v1.18.3-eksbuild.3",
            "v1.17.1-eksbuild.1",
            "v1.16.4-eksbuild.2",
            "v1.15.5-eksbuild.1",
        ]
        for k in ("1.28", "1.29", "1.30")
    },
    "kube-proxy": {
        "1.29": [
            "v1.29.7-eksbuild.5",
            "v1.29.0-eksbuild.1",
            "v1.28.12-eksbuild.5",
            "v1.27.16-eksbuild.3",
            "v1.26.15-eksbuild.10",
        ],
        "1.30": [
            "v1.30.3-eksbuild.5",
            "v1.29.7-eksbuild.5",
            "v1.28.12-eksbuild.5",
            "v1.27.16-eksbuild.3",
        ],
    },
    "coredns": {
        "1.29": ["v1.11.3-eksbuild.1", "v1.11.1-eksbuild.4", "v1.10.1-eksbuild.13"],
        "1.30": ["v1.11.3-eksbuild.1", "v1.11.1-eksbuild.4"],
    },
    "aws-ebs-csi-driver": {
        "1.29": ["v1.35.0-eksbuild.1", "v1.31.0-eksbuild.1", "v1.29.1-eksbuild.1"],
        "1.30": ["v1.35.0-eksbuild.1", "v1.31.0-eksbuild.1", "v1.29.1-eksbuild.1"],
    },
}


class FakeCluster(NamedTuple):
    info: ClusterInfo
    addons: dict[str, str]  # name -> version
    insights: tuple[InsightDetail, ...] = ()
    nodegroups: tuple[NodegroupInfo, ...] = ()
    fargate: tuple[str, ...] = ()
    addon_status: tuple[tuple[str, str], ...] = ()  # (add-on, status) other than ACTIVE


class FakeUpgradeEks:
    def __init__(self, *, region: str = "us-west-2", latency: float = 0.0) -> None:
        self._region = region
        self.clusters: dict[str, FakeCluster] = {}
        self.catalogues = CATALOGUES
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.fail: dict[str, EksAddonError] = {}
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    @property
    def region(self) -> str:
        return self._region

    def add(
        self,
        name: str,
        kubernetes: str,
        addons: dict[str, str],
        *,
        insights: tuple[InsightDetail, ...] = (),
        nodegroups: tuple[NodegroupInfo, ...] = (),
        fargate: tuple[str, ...] = (),
        status: str = "ACTIVE",
        health: tuple[HealthIssue, ...] = (),
    ) -> None:
        info = ClusterInfo(name, K(kubernetes), "eks.7", status, self._region, health_issues=health)
        self.clusters[name] = FakeCluster(info, dict(addons), insights, nodegroups, fargate)

    def _call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            if operation in self.fail:
                raise self.fail[operation]
        finally:
            with self._lock:
                self.in_flight -= 1

    def _cluster(self, name: str) -> FakeCluster:
        if name not in self.clusters:
            raise ClusterNotFoundError(f"cluster {name}: No cluster found for name: {name}.")
        return self.clusters[name]

    def list_clusters(self) -> list[str]:
        self._call("ListClusters")
        return sorted(self.clusters)

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        self._call("DescribeCluster")
        return self._cluster(cluster).info

    def list_addons(self, cluster: str) -> list[str]:
        self._call("ListAddons")
        return sorted(self._cluster(cluster).addons)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        self._call("DescribeAddon")
        found = self._cluster(cluster)
        if addon not in found.addons:
            return None
        status = dict(found.addon_status).get(addon, "ACTIVE")
        return AddonState(addon, cluster, found.addons[addon], status, (), None, None)

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        self._call("DescribeAddonVersions")
        versions = self.catalogues.get(addon, {}).get(str(kubernetes), [])
        parsed = sorted((V(v) for v in versions), reverse=True)
        return [CatalogueEntry(v, i == len(parsed) - 1) for i, v in enumerate(parsed)]

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        self._call("ListInsights")
        return [i.summary for i in self._cluster(cluster).insights]

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail:
        self._call("DescribeInsight")
        for insight in self._cluster(cluster).insights:
            if insight.summary.id == insight_id:
                return insight
        raise ApiError(f"insight {insight_id} on cluster {cluster}: ResourceNotFoundException")

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        # As the AWS gateway: ListNodegroups, then DescribeNodegroup per group (side by side).
        self._call("ListNodegroups")
        groups = list(self._cluster(cluster).nodegroups)
        if groups:
            self._call("DescribeNodegroup")
            self.calls["DescribeNodegroup"] += len(groups) - 1
        return groups

    def fargate_profiles(self, cluster: str) -> list[str]:
        self._call("ListFargateProfiles")
        return list(self._cluster(cluster).fargate)

    # The gate never changes anything: these exist for the protocol and fail loudly if called.
    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        raise AssertionError("the gate reads no configuration schema")

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        raise AssertionError("the gate reads no pod identity configuration")

    def create_addon(self, request: AddonRequest) -> AddonState:
        raise AssertionError("the gate must not create an add-on")

    def update_addon(self, request: AddonRequest) -> UpdateState:
        raise AssertionError("the gate must not update an add-on")

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        raise AssertionError("the gate follows no update")

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        raise AssertionError("the gate must not update the control plane")

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        raise AssertionError("the gate follows no update")


class FakeKube:
    """Nodes and workloads as the API server would answer them (gate reads only)."""

    def __init__(
        self, nodes: list[NodeFacts], workloads: dict[tuple[str, str, str], dict[str, Any]]
    ) -> None:
        self._nodes = nodes
        self.workloads = workloads  # (kind, namespace, name) -> document
        self.reads: list[tuple[str, str, str]] = []

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read("DaemonSet", namespace, name)

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read("Deployment", namespace, name)

    def _read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append((kind, namespace, name))
        return self.workloads.get((kind, namespace, name))

    def nodes(self) -> list[NodeFacts]:
        return list(self._nodes)


def workload(kind: str, name: str, container: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    }


def deprecated_api_insight(cluster_target: str = "1.30") -> InsightDetail:
    from eksaddon.gateways.protocols import ClientStat, DeprecationDetail, InsightResource

    summary = InsightSummary(
        id="a1b2c3d4-deprecated",
        name=f"Deprecated APIs removed in Kubernetes v{cluster_target}",
        category="UPGRADE_READINESS",
        status="ERROR",
        reason="Deprecated API usage detected within last 30 days.",
        kubernetes_version=cluster_target,
        last_refresh="2024-09-10T08:00:00Z",
        last_transition="2024-09-01T08:00:00Z",
        description="Checks for usage of deprecated APIs",
    )
    return InsightDetail(
        summary=summary,
        recommendation="Update manifests and API clients to use newer Kubernetes APIs.",
        additional_info=(("EKS update cluster documentation", "https://docs.aws.amazon.com/"),),
        resources=(
            InsightResource(
                "ERROR",
                "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
                None,
            ),
        ),
        deprecations=(
            DeprecationDetail(
                usage="/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
                replaced_with="/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
                stop_serving_version="1.29",
                start_serving_replacement_version="1.26",
                clients=(ClientStat("kubectl/v1.26.0", 12, "2024-09-09T10:00:00Z"),),
            ),
        ),
        addon_compatibility=(),
    )


def insight(
    name: str, status: str, *, category: str = "UPGRADE_READINESS", target: str = "1.30"
) -> InsightDetail:
    summary = InsightSummary(
        id=f"id-{name.lower().replace(' ', '-')}",
        name=name,
        category=category,
        status=status,
        reason=None,
        kubernetes_version=target,
        last_refresh="2024-09-10T08:00:00Z",
        last_transition=None,
        description=None,
    )
    return InsightDetail(summary, None, (), (), (), ())
