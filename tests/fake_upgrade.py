"""The cluster-upgrade side of the in-memory EKS fake (mixed into tests/fakes.FakeEks).

It honours the same contract as the EKS API and the stand-in (tests/standins/eks_upgrade.py):
one minor per control-plane update and none while one runs, managed node groups at the cluster's
version, ERROR upgrade insights refuse the update (InsightsBlockedError) unless ``force``,
clientRequestToken idempotency, InProgress → Successful (or the queued outcome) after
``polls_per_update`` DescribeUpdate polls, the cluster's version moving on success.
"""

from __future__ import annotations

import itertools
from typing import Any

from eksaddon.errors import (
    ApiError,
    ClusterNotFoundError,
    InsightsBlockedError,
    InvalidParameterError,
    UpdateInProgressError,
)
from eksaddon.gateways.protocols import (
    ClusterVersionRequest,
    InsightDetail,
    InsightSummary,
    NodegroupInfo,
    PodIdentityConfiguration,
    UpdateError,
    UpdateState,
)
from eksaddon.versions import AddonVersion, KubernetesVersion

INSIGHTS_BLOCKED = (
    "Upgrade readiness issues detected. Call the EKS ListInsights API to view upgrade blocking "
    "issues detected by EKS. Pass the force flag to override upgrade readiness errors and proceed "
    "with upgrade."
)


def insight(
    insight_id: str,
    status: str = "ERROR",
    *,
    target: str = "1.30",
    name: str = "Deprecated APIs removed in Kubernetes v1.30",
    category: str = "UPGRADE_READINESS",
) -> InsightDetail:
    """An InsightDetail as the gateway returns it (for fakes' `insights`)."""
    summary = InsightSummary(
        insight_id,
        name,
        category,
        status,
        "Deprecated API usage detected within last 30 days.",
        target,
        "2024-09-12T08:30:00Z",
        "2024-09-12T08:30:00Z",
        "Checks for usage of deprecated APIs.",
    )
    return InsightDetail(summary, "Update manifests and API clients.", (), (), (), ())


class FakeClusterUpgrade:
    """Settings: `insights` (InsightDetail list), `node_groups` (None: one group `workers` at the
    cluster's version), `pod_identity` (add-on -> PodIdentityConfiguration tuple),
    `fail_next_cluster_update` ("Failed"/"Cancelled"), `addon_names` (ListAddons' answer; None:
    the fake's one add-on when installed)."""

    cluster: str
    kubernetes: KubernetesVersion
    polls_per_update: int
    addon: dict[str, Any] | None

    def _count(self, operation: str) -> None:  # provided by FakeEks
        raise NotImplementedError

    def _init_cluster_upgrade(self) -> None:
        self.insights: list[InsightDetail] = []
        self.node_groups: list[NodegroupInfo] | None = None
        self.pod_identity: dict[str, tuple[PodIdentityConfiguration, ...]] = {}
        self.addon_names: list[str] | None = None
        self.cluster_updates: dict[str, dict[str, Any]] = {}
        self.cluster_tokens: dict[str, str] = {}
        self.cluster_requests: list[ClusterVersionRequest] = []
        self.fail_next_cluster_update: str | None = None
        self._cluster_ids = itertools.count(1)

    def _known(self, cluster: str) -> None:
        if cluster != self.cluster and self.cluster != "*":
            raise ClusterNotFoundError(f"cluster {cluster}: No cluster found for name: {cluster}.")

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        self._count("ListNodegroups")
        if self.node_groups is not None:
            return list(self.node_groups)
        return [NodegroupInfo("workers", str(self.kubernetes), "1.29.0-20240101", "ACTIVE")]

    def list_addons(self, cluster: str) -> list[str]:
        self._count("ListAddons")
        self._known(cluster)
        if self.addon_names is not None:
            return sorted(self.addon_names)
        return [] if self.addon is None else ["vpc-cni"]

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        self._count("ListInsights")
        self._known(cluster)
        return [i.summary for i in self.insights]

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail:
        self._count("DescribeInsight")
        self._known(cluster)
        for detail in self.insights:
            if detail.summary.id == insight_id:
                return detail
        raise ApiError(f"insight {insight_id} of cluster {cluster}: No insight found")

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        self._count("DescribeAddonConfiguration")
        return self.pod_identity.get(addon, ())

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        self._count("UpdateClusterVersion")
        self._known(request.cluster)
        if request.client_request_token in self.cluster_tokens:
            return self._cluster_state(self.cluster_tokens[request.client_request_token])
        if any(u["status"] == "InProgress" for u in self.cluster_updates.values()):
            raise UpdateInProgressError("UpdateClusterVersion refused: an update is in progress")
        current, target = self.kubernetes, request.version
        if target.major != current.major or target.minor != current.minor + 1:
            raise InvalidParameterError(
                f"Unsupported Kubernetes minor version update from {current} to {target}"
            )
        behind = [
            g.name for g in self.nodegroups(request.cluster) if g.kubernetes_version != str(current)
        ]
        if behind:
            raise InvalidParameterError(
                f"Nodegroup {behind[0]} must be updated to match cluster version {current}"
            )
        blocking = [
            i
            for i in self.insights
            if i.summary.category == "UPGRADE_READINESS"
            and i.summary.status == "ERROR"
            and i.summary.kubernetes_version in (None, str(target))
        ]
        if blocking and not request.force:
            raise InsightsBlockedError(f"EKS refused UpdateClusterVersion: {INSIGHTS_BLOCKED}")
        self.cluster_requests.append(request)
        update_id = f"cluster-update-{next(self._cluster_ids)}"
        self.cluster_updates[update_id] = {
            "status": "InProgress",
            "polls": 0,
            "outcome": self.fail_next_cluster_update or "Successful",
            "version": target,
        }
        self.fail_next_cluster_update = None
        self.cluster_tokens[request.client_request_token] = update_id
        return self._cluster_state(update_id)

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        self._count("DescribeUpdate")
        self._known(cluster)
        update = self.cluster_updates.get(update_id)
        if update is None:
            raise ApiError(f"update {update_id} of cluster {cluster}: No update found")
        if update["status"] == "InProgress":
            update["polls"] += 1
            if update["polls"] >= self.polls_per_update:
                update["status"] = update["outcome"]
                if update["outcome"] == "Successful":
                    self.kubernetes = update["version"]
        return self._cluster_state(update_id)

    def _cluster_state(self, update_id: str) -> UpdateState:
        update = self.cluster_updates[update_id]
        errors = (
            (UpdateError("Unknown", "The control plane update failed and was rolled back"),)
            if update["status"] == "Failed"
            else ()
        )
        return UpdateState(update_id, update["status"], "VersionUpdate", errors)
