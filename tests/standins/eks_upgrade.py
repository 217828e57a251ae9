"""What the cluster-upgrade gate and journey need from EKS and moto 5.2 lacks: upgrade insights
(ListInsights, DescribeInsight) and control-plane updates (UpdateClusterVersion, followed with
DescribeUpdate / ListUpdates without an add-on name).

:class:`ClusterUpgradeState` is a part of :class:`~standins.eks_addons.StandIn` (which inherits
it); the moto handlers live beside the add-on ones in eks_addons.py.

Facts (../shared/domain/addons/upgrade-rules.yaml, insights.yaml; botocore's EKS model):
  * EKS updates the control plane one minor at a time, no downgrade:
    InvalidParameterException "Unsupported Kubernetes minor version update from 1.22 to 1.25"
    (terraform-aws-modules/terraform-aws-eks#2607, 2023-05-10; the same text for an update to the
    current version, rancher/rancher#21043); a version EKS does not offer:
    "unsupported Kubernetes version" (hashicorp/terraform-provider-aws#38796).
  * Since 2025-03-27 an upgrade insight in ERROR refuses the update with InvalidStateException and
    the text below, unless ``force`` is true (hashicorp/terraform-provider-aws#42031).
  * With managed node groups, every group's version must match the cluster's (botocore's
    UpdateClusterVersion documentation); the refusal's text is the stand-in's own.
  * During the update the cluster is UPDATING, then ACTIVE again; a failed update leaves the old
    version (failed health checks roll back).

Time: an update ends on its `cluster_update_polls`-th DescribeUpdate poll, or once
`cluster_update_seconds` of the stand-in's clock have passed (checked on every request), or when a
test calls :meth:`ClusterUpgradeState.finish_cluster_update`. Nothing sleeps.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .eks_errors import (
    InvalidParameterError,
    InvalidRequestError,
    InvalidStateError,
    ResourceInUseError,
    ResourceNotFoundError,
    decode_token,
    encode_token,
)

# --- exact texts of the real service (sources in the module docstring) ---------------------------
INSIGHTS_BLOCKED_MESSAGE = (
    "Upgrade readiness issues detected. Call the EKS ListInsights API to view upgrade blocking "
    "issues detected by EKS. Pass the force flag to override upgrade readiness errors and proceed "
    "with upgrade."
)
MINOR_UPDATE_MESSAGE = "Unsupported Kubernetes minor version update from {current} to {target}"
UNSUPPORTED_VERSION_MESSAGE = "unsupported Kubernetes version"
# --- the stand-in's own wording (the real texts were not found in public sources) ----------------
CLUSTER_BUSY_MESSAGE = "Cluster {cluster} has update {update_id} in progress; wait for it to finish"
NODEGROUP_BEHIND_MESSAGE = (
    "Nodegroup {nodegroup} must be updated to match cluster version {version} before updating "
    "cluster version"
)
INSIGHT_NOT_FOUND_MESSAGE = "No insight found for id: {insight_id}"
ROLLED_BACK_MESSAGE = (
    "The control plane update failed its health checks and was rolled back (injected by the "
    "stand-in)"
)

INSIGHT_CATEGORIES = ("UPGRADE_READINESS", "MISCONFIGURATION", "ROLLBACK_READINESS")
INSIGHT_STATUSES = ("PASSING", "WARNING", "ERROR", "UNKNOWN")
# Kubernetes versions UpdateClusterVersion accepts (change freely: `standin.kubernetes_versions`).
KUBERNETES_VERSIONS = tuple(f"1.{minor}" for minor in range(23, 34))

ClusterKey = tuple[str, str, str]  # account, region, cluster


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


# ================================================================================================
# Insights
# ================================================================================================


@dataclass
class InsightRecord:
    """One insight as EKS keeps it; `summary()` is its ListInsights form, `detail()` DescribeInsight's."""

    id: str
    name: str
    status: str = "PASSING"
    reason: str = ""
    category: str = "UPGRADE_READINESS"
    kubernetes_version: str | None = None
    description: str = ""
    recommendation: str | None = None
    last_refresh: float = 1_700_000_000.0
    last_transition: float = 1_700_000_000.0
    additional_info: dict[str, str] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    deprecation_details: list[dict[str, Any]] = field(default_factory=list)
    # None: the categorySpecificSummary carries no addonCompatibilityDetails (as before 2024-12)
    addon_compatibility_details: list[dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "lastRefreshTime": _timestamp(self.last_refresh),
            "lastTransitionTime": _timestamp(self.last_transition),
            "description": self.description,
            "insightStatus": {"status": self.status, "reason": self.reason},
        }
        if self.kubernetes_version is not None:
            view["kubernetesVersion"] = self.kubernetes_version
        return view

    def detail(self) -> dict[str, Any]:
        view = self.summary()
        if self.recommendation is not None:
            view["recommendation"] = self.recommendation
        view["additionalInfo"] = dict(self.additional_info)
        view["resources"] = [dict(r) for r in self.resources]
        specific: dict[str, Any] = {
            "deprecationDetails": [dict(d) for d in self.deprecation_details]
        }
        if self.addon_compatibility_details is not None:
            specific["addonCompatibilityDetails"] = [
                dict(d) for d in self.addon_compatibility_details
            ]
        view["categorySpecificSummary"] = specific
        return view

    def blocks_upgrade_to(self, target: str) -> bool:
        """What EKS's enforcement refuses: an ERROR upgrade insight for this target."""
        return (
            self.category == "UPGRADE_READINESS"
            and self.status == "ERROR"
            and self.kubernetes_version in (None, target)
        )


def insight_resource(
    uri: str, *, status: str = "ERROR", reason: str = "", arn: str | None = None
) -> dict[str, Any]:
    """An InsightResourceDetail: a Kubernetes resource (or ARN) the insight is about."""
    resource: dict[str, Any] = {
        "insightStatus": {"status": status, "reason": reason},
        "kubernetesResourceUri": uri,
    }
    if arn is not None:
        resource["arn"] = arn
    return resource


def client_stat(
    user_agent: str, requests: int, last_request: float = 1_699_990_000.0
) -> dict[str, Any]:
    """A ClientStat: a client still calling a deprecated API."""
    return {
        "userAgent": user_agent,
        "numberOfRequestsLast30Days": requests,
        "lastRequestTime": _timestamp(last_request),
    }


def deprecated_api_insight(
    insight_id: str,
    target: str = "1.29",
    *,
    status: str = "ERROR",
    usage: str = "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
    replaced_with: str = "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
    stop_serving_version: str = "1.29",
    start_serving_replacement_version: str = "1.26",
    clients: Sequence[Mapping[str, Any]] = (),
) -> InsightRecord:
    """The "Deprecated APIs removed in Kubernetes vX.Y" insight (name and links as in the EKS
    user guide's v1.29 example; the default API is flowcontrol v1beta2, removed in 1.29)."""
    passing = status == "PASSING"
    return InsightRecord(
        id=insight_id,
        name=f"Deprecated APIs removed in Kubernetes v{target}",
        status=status,
        reason=(
            "No deprecated API usage detected within the last 30 days."
            if passing
            else "Deprecated API usage detected within last 30 days."
        ),
        kubernetes_version=target,
        description=(
            f"Checks for usage of deprecated APIs that are scheduled for removal in Kubernetes "
            f"v{target}. Upgrading your cluster before migrating to the updated APIs supported "
            f"by v{target} could cause application impact."
        ),
        recommendation=(
            f"Update manifests and API clients to use newer Kubernetes APIs if applicable "
            f"before upgrading to Kubernetes v{target}."
        ),
        additional_info={
            "EKS update cluster documentation": (
                "https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html"
            ),
            f"Kubernetes v{target} deprecation guide": (
                "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"
            ),
        },
        deprecation_details=[]
        if passing
        else [
            {
                "usage": usage,
                "replacedWith": replaced_with,
                "stopServingVersion": stop_serving_version,
                "startServingReplacementVersion": start_serving_replacement_version,
                "clientStats": [dict(c) for c in clients],
            }
        ],
    )


def addon_compatibility_insight(
    insight_id: str,
    target: str,
    incompatible: Mapping[str, Sequence[str]] = {},
) -> InsightRecord:
    """The "EKS add-on version compatibility" insight: ERROR with addonCompatibilityDetails when an add-on's
    installed build is not among the builds compatible with `target`, PASSING otherwise."""
    if not incompatible:
        return InsightRecord(
            id=insight_id,
            name="EKS add-on version compatibility",
            reason="All installed EKS add-on versions are compatible with next Kubernetes version.",
            kubernetes_version=target,
            description="Checks version of installed EKS add-ons to ensure they are compatible "
            "with the next version of Kubernetes.",
            addon_compatibility_details=[],
        )
    return InsightRecord(
        id=insight_id,
        name="EKS add-on version compatibility",
        status="ERROR",
        reason="EKS add-on(s) installed are not compatible with the next Kubernetes version.",
        kubernetes_version=target,
        description="Checks version of installed EKS add-ons to ensure they are compatible "
        "with the next version of Kubernetes.",
        recommendation="Upgrade the EKS add-on(s) to a version compatible with the next "
        "Kubernetes version before upgrading the cluster.",
        addon_compatibility_details=[
            {"name": name, "compatibleVersions": list(versions)}
            for name, versions in incompatible.items()
        ],
    )


def passing_insight(insight_id: str, name: str, reason: str, target: str) -> InsightRecord:
    """A PASSING insight (names and reasons in insights.yaml published_checks)."""
    return InsightRecord(id=insight_id, name=name, reason=reason, kubernetes_version=target)


# ================================================================================================
# Control-plane updates
# ================================================================================================


@dataclass
class ClusterUpdateOutcome:
    status: Literal["Successful", "Failed", "Cancelled"] = "Successful"
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ClusterUpdateRecord:
    id: str
    key: ClusterKey
    from_version: str
    target_version: str
    status: str
    created_at: float
    outcome: ClusterUpdateOutcome
    polls_needed: int | None
    seconds_needed: float | None
    client_request_token: str | None = None
    force: bool = False
    polls: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    cluster_ref: Any = field(default=None, repr=False, compare=False)

    @property
    def cluster_name(self) -> str:
        return self.key[2]

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "type": "VersionUpdate",
            "params": [
                {"type": "Version", "value": self.target_version},
                {"type": "PlatformVersion", "value": "eks.1"},
            ],
            "createdAt": _timestamp(self.created_at),
            "errors": [dict(e) for e in self.errors],
        }


class ClusterUpgradeState:
    """Insights and control-plane updates of the stand-in (mixed into StandIn).

    Settings:
      cluster_update_polls    an update ends on this DescribeUpdate poll (None: not by polls)
      cluster_update_seconds  … or once this many clock seconds have passed (None: not by time)
      kubernetes_versions     the versions UpdateClusterVersion accepts at all
      enforce_nodegroup_versions  refuse while a managed node group is behind the cluster
      enforce_insights        refuse while an UPGRADE_READINESS insight for the target is ERROR
    Control: put_insight / remove_insight / insights, fail_next_cluster_update,
    queue_cluster_update_outcome, finish_cluster_update, cluster_updates, cluster_update.
    """

    lock: threading.RLock
    clock: Callable[[], float]
    default_page_size: int

    def _next_id(self, kind: str) -> str:  # provided by StandIn
        raise NotImplementedError

    def _page_size(self, max_results: int | None) -> int:  # provided by StandIn
        raise NotImplementedError

    def _init_cluster_upgrade(self) -> None:
        self.cluster_update_polls: int | None = 2
        self.cluster_update_seconds: float | None = None
        self.kubernetes_versions: tuple[str, ...] = KUBERNETES_VERSIONS
        self.enforce_nodegroup_versions = True
        self.enforce_insights = True
        self._insights: dict[ClusterKey, list[InsightRecord]] = {}
        self._cluster_updates: dict[str, ClusterUpdateRecord] = {}
        self._cluster_tokens: dict[tuple[ClusterKey, str], str] = {}
        self._cluster_outcomes: deque[ClusterUpdateOutcome] = deque()

    # --- control API ----------------------------------------------------------------------------

    def put_insight(
        self, cluster_name: str, insight: InsightRecord, *, account_id: str, region: str
    ) -> InsightRecord:
        """Add (or replace, by id) an insight of the cluster."""
        with self.lock:
            records = self._insights.setdefault((account_id, region, cluster_name), [])
            records[:] = [r for r in records if r.id != insight.id] + [insight]
            return insight

    def remove_insight(
        self, cluster_name: str, insight_id: str, *, account_id: str, region: str
    ) -> None:
        with self.lock:
            records = self._insights.get((account_id, region, cluster_name), [])
            records[:] = [r for r in records if r.id != insight_id]

    def insights(self, cluster_name: str, *, account_id: str, region: str) -> list[InsightRecord]:
        with self.lock:
            return list(self._insights.get((account_id, region, cluster_name), []))

    def queue_cluster_update_outcome(self, outcome: ClusterUpdateOutcome) -> None:
        with self.lock:
            self._cluster_outcomes.append(outcome)

    def fail_next_cluster_update(self, errors: Sequence[Mapping[str, Any]] | None = None) -> None:
        """The next control-plane update ends Failed (the version stays), with these ErrorDetails."""
        chosen = errors if errors is not None else _rolled_back()
        self.queue_cluster_update_outcome(ClusterUpdateOutcome("Failed", [dict(e) for e in chosen]))

    def cluster_updates(self) -> list[ClusterUpdateRecord]:
        with self.lock:
            return sorted(self._cluster_updates.values(), key=lambda u: (u.created_at, u.id))

    def cluster_update(self, update_id: str) -> ClusterUpdateRecord | None:
        with self.lock:
            return self._cluster_updates.get(update_id)

    def finish_cluster_update(
        self, update_id: str, status: Literal["Successful", "Failed", "Cancelled"] | None = None
    ) -> ClusterUpdateRecord:
        """End an update now (with its queued outcome, or `status`)."""
        with self.lock:
            update = self._cluster_updates[update_id]
            if status is not None and status != update.outcome.status:
                errors = _rolled_back() if status == "Failed" else []
                update.outcome = ClusterUpdateOutcome(status, errors)
            if update.status == "InProgress":
                self._finish_cluster_update(update)
            return update

    def cluster_updates_settled(self) -> bool:
        """No control-plane update is in progress (nothing a request's tick would move)."""
        with self.lock:
            return all(u.status != "InProgress" for u in self._cluster_updates.values())

    def tick(self) -> None:
        """Apply time-based progress to every control-plane update (on every request)."""
        with self.lock:
            for update in self._cluster_updates.values():
                self._progress_cluster_update(update, poll=False)

    def forget_cluster_insights(self, account_id: str, region: str, cluster_name: str) -> None:
        with self.lock:
            self._insights.pop((account_id, region, cluster_name), None)

    # --- the operations ---------------------------------------------------------------------------

    def list_insights(
        self,
        key: ClusterKey,
        *,
        categories: Iterable[str] = (),
        kubernetes_versions: Iterable[str] = (),
        statuses: Iterable[str] = (),
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        wanted = (set(categories), set(kubernetes_versions), set(statuses))
        for values, known, name in (
            (wanted[0], INSIGHT_CATEGORIES, "categories"),
            (wanted[2], INSIGHT_STATUSES, "statuses"),
        ):
            unknown = sorted(values - set(known))
            if unknown:
                raise InvalidParameterError(f"filter.{name} has unknown values: {unknown}")
        records = [
            r
            for r in self._insights.get(key, [])
            if (not wanted[0] or r.category in wanted[0])
            and (not wanted[1] or r.kubernetes_version in wanted[1])
            and (not wanted[2] or r.status in wanted[2])
        ]
        size = self._page_size(max_results)
        start = decode_token(next_token)
        result: dict[str, Any] = {"insights": [r.summary() for r in records[start : start + size]]}
        if start + size < len(records):
            result["nextToken"] = encode_token(start + size)
        return result

    def describe_insight(self, key: ClusterKey, insight_id: str) -> dict[str, Any]:
        for record in self._insights.get(key, []):
            if record.id == insight_id:
                return record.detail()
        raise ResourceNotFoundError(
            INSIGHT_NOT_FOUND_MESSAGE.format(insight_id=insight_id), cluster_name=key[2]
        )

    def update_cluster_version(
        self,
        key: ClusterKey,
        cluster: Any,
        *,
        version: str | None,
        client_request_token: str | None,
        force: bool,
    ) -> ClusterUpdateRecord:
        name = key[2]
        if client_request_token:
            known = self._cluster_tokens.get((key, client_request_token))
            if known is not None:
                return self._cluster_updates[known]
        busy = next(
            (
                u
                for u in self._cluster_updates.values()
                if u.key == key and u.status == "InProgress"
            ),
            None,
        )
        if busy is not None:
            raise ResourceInUseError(
                CLUSTER_BUSY_MESSAGE.format(cluster=name, update_id=busy.id), cluster_name=name
            )
        current = str(cluster.version)
        target = version or ""
        if target not in self.kubernetes_versions:
            raise InvalidParameterError(UNSUPPORTED_VERSION_MESSAGE, cluster_name=name)
        a, b = _minor(current), _minor(target)
        if a is None or b is None or a[0] != b[0] or b[1] != a[1] + 1:
            raise InvalidParameterError(
                MINOR_UPDATE_MESSAGE.format(current=current, target=target), cluster_name=name
            )
        if self.enforce_nodegroup_versions:
            for group in sorted(getattr(cluster, "nodegroups", {}).values(), key=_group_name):
                if str(group.version) != current:
                    raise InvalidRequestError(
                        NODEGROUP_BEHIND_MESSAGE.format(
                            nodegroup=group.nodegroup_name, version=current
                        ),
                        cluster_name=name,
                    )
        if (
            self.enforce_insights
            and not force
            and any(r.blocks_upgrade_to(target) for r in self._insights.get(key, []))
        ):
            raise InvalidStateError(INSIGHTS_BLOCKED_MESSAGE, cluster_name=name)
        update = ClusterUpdateRecord(
            id=self._next_id("cluster-update"),
            key=key,
            from_version=current,
            target_version=target,
            status="InProgress",
            created_at=self.clock(),
            outcome=self._cluster_outcomes.popleft()
            if self._cluster_outcomes
            else ClusterUpdateOutcome(),
            polls_needed=self.cluster_update_polls,
            seconds_needed=self.cluster_update_seconds,
            client_request_token=client_request_token,
            force=force,
            cluster_ref=cluster,
        )
        self._cluster_updates[update.id] = update
        if client_request_token:
            self._cluster_tokens[(key, client_request_token)] = update.id
        cluster.status = "UPDATING"
        return update

    def describe_cluster_update(
        self, key: ClusterKey, update_id: str
    ) -> ClusterUpdateRecord | None:
        """The control-plane update (None when the id is not one of the cluster's)."""
        update = self._cluster_updates.get(update_id)
        if update is None or update.key != key:
            return None
        self._progress_cluster_update(update, poll=True)
        return update

    def cluster_update_ids(self, key: ClusterKey) -> list[str]:
        return [u.id for u in self.cluster_updates() if u.key == key]

    # --- internals --------------------------------------------------------------------------------

    def _progress_cluster_update(self, update: ClusterUpdateRecord, *, poll: bool) -> None:
        if update.status != "InProgress":
            return
        if poll:
            update.polls += 1
        by_polls = update.polls_needed is not None and update.polls >= update.polls_needed
        by_time = (
            update.seconds_needed is not None
            and self.clock() - update.created_at >= update.seconds_needed
        )
        if by_polls or by_time:
            self._finish_cluster_update(update)

    def _finish_cluster_update(self, update: ClusterUpdateRecord) -> None:
        update.status = update.outcome.status
        update.errors = [dict(e) for e in update.outcome.errors]
        cluster = update.cluster_ref
        if cluster is None:
            return
        if update.status == "Successful":
            cluster.version = update.target_version
        cluster.status = "ACTIVE"


def _rolled_back() -> list[dict[str, Any]]:
    """The ErrorDetail of a control-plane update that failed its health checks."""
    return [{"errorCode": "Unknown", "errorMessage": ROLLED_BACK_MESSAGE, "resourceIds": []}]


def _group_name(group: Any) -> str:
    return str(group.nodegroup_name)
