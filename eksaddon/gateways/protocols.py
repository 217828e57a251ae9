"""What the domain asks of EKS, as plain typed records (no SDK types cross this line)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from eksaddon.errors import EksAddonError, UnexpectedAnswerError
from eksaddon.gateways.answers import shown
from eksaddon.versions import AddonVersion, KubernetesVersion

# The enums of botocore's EKS model that eksaddon acts on (tests/gateways check them against the
# model, so a new value there is noticed). A value outside them is carried as text and shown; the
# engines never treat it as one they know.
ADDON_STATUSES = (
    "CREATING",
    "ACTIVE",
    "CREATE_FAILED",
    "UPDATING",
    "DELETING",
    "DELETE_FAILED",
    "DEGRADED",
    "UPDATE_FAILED",
)
UPDATE_STATUSES = ("InProgress", "Failed", "Cancelled", "Successful")
FINISHED_UPDATE_STATUSES = ("Successful", "Failed", "Cancelled")


class ClusterInfo(NamedTuple):
    name: str
    version: KubernetesVersion
    platform_version: str | None
    status: str | None
    region: str
    endpoint: str | None = None  # the API server URL, to match a kubeconfig against
    arn: str | None = None  # names the account: a journal is resumed only on its own cluster
    # DescribeCluster's health.issues: problems EKS sees with the control plane itself.
    health_issues: tuple[HealthIssue, ...] = ()


class HealthIssue(NamedTuple):
    code: str
    message: str
    resource_ids: tuple[str, ...] = ()


class AddonState(NamedTuple):
    """An EKS add-on as describe_addon returns it.

    ``reported_version`` is the build text EKS answered, as it is: a read-only command shows it
    even when eksaddon cannot read it (``readable_version`` is then None, with a warning).
    Anything that acts on the version uses ``version``, which refuses such a build.
    """

    name: str
    cluster: str
    reported_version: str
    status: str
    issues: tuple[HealthIssue, ...]
    configuration_values: str | None
    service_account_role_arn: str | None
    arn: str | None = None
    # Addon.podIdentityAssociations: the identifiers of the associations the add-on owns.
    pod_identity_associations: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.status == "ACTIVE" and not self.issues

    @property
    def readable_version(self) -> AddonVersion | None:
        """The version, or None when EKS reported a build eksaddon cannot read."""
        try:
            return AddonVersion.parse(self.reported_version)
        except EksAddonError:
            return None

    @property
    def version(self) -> AddonVersion:
        """The version, for whatever acts on it; an unreadable build is an answer that does not
        fit (exit 3 before a change, 4 after), never mistaken for the operator's input."""
        version = self.readable_version
        if version is None:
            raise UnexpectedAnswerError(
                "EKS",
                f"addon.addonVersion of {self.name} on cluster {self.cluster}",
                shown(self.reported_version),
                hint="eksaddon changes nothing on a version it cannot read; "
                "`eksaddon status` shows it",
            )
        return version

    @property
    def known_status(self) -> bool:
        return self.status in ADDON_STATUSES


class CatalogueEntry(NamedTuple):
    """One add-on version EKS offers for a Kubernetes version."""

    version: AddonVersion
    default: bool


class UpdateError(NamedTuple):
    code: str
    message: str
    resource_ids: tuple[str, ...] = ()


class UpdateState(NamedTuple):
    id: str
    status: str
    type: str | None
    errors: tuple[UpdateError, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_UPDATE_STATUSES

    @property
    def known_status(self) -> bool:
        """False for a status botocore's model does not list ("Succeeded"): not "in progress"."""
        return self.status in UPDATE_STATUSES


class NodegroupInfo(NamedTuple):
    name: str
    kubernetes_version: str | None
    release_version: str | None
    status: str | None


class PodIdentityAssociation(NamedTuple):
    """One of EKS's add-on podIdentityAssociations: a service account and the role it assumes."""

    service_account: str
    role_arn: str


class PodIdentityConfiguration(NamedTuple):
    """One element of DescribeAddonConfiguration's podIdentityConfiguration: a service account
    of the add-on and the AWS managed policies EKS recommends for its role."""

    service_account: str
    recommended_managed_policies: tuple[str, ...]


class AddonRequest(NamedTuple):
    """The parameters of a create_addon or update_addon call."""

    cluster: str
    addon: str
    version: AddonVersion
    resolve_conflicts: str
    client_request_token: str
    configuration_values: str | None = None
    service_account_role_arn: str | None = None
    # None: the field is not sent (EKS keeps the add-on's associations); () replaces them with
    # none, which deletes the add-on-owned ones (botocore UpdateAddonRequest documentation).
    pod_identity_associations: tuple[PodIdentityAssociation, ...] | None = None


# The cluster-upgrade gate's records (ListInsights / DescribeInsight / UpdateClusterVersion).
INSIGHT_STATUSES = ("PASSING", "WARNING", "ERROR", "UNKNOWN")


class InsightSummary(NamedTuple):
    """One ListInsights element. ``status`` is EKS's text as received: a value outside
    INSIGHT_STATUSES is carried and shown, never read as one eksaddon knows."""

    id: str
    name: str
    category: str
    status: str
    reason: str | None
    kubernetes_version: str | None  # the version the insight checked for (the upgrade target)
    last_refresh: str | None  # ISO 8601, UTC
    last_transition: str | None
    description: str | None


class ClientStat(NamedTuple):
    user_agent: str
    requests_last_30_days: int | None
    last_request: str | None  # ISO 8601, UTC


class DeprecationDetail(NamedTuple):
    usage: str  # the deprecated resource path, e.g. /apis/flowcontrol.apiserver.k8s.io/v1beta2/...
    replaced_with: str | None
    stop_serving_version: str | None
    start_serving_replacement_version: str | None
    clients: tuple[ClientStat, ...] = ()


class AddonCompatibilityDetail(NamedTuple):
    addon: str
    compatible_versions: tuple[str, ...]


class InsightResource(NamedTuple):
    status: str | None
    kubernetes_resource_uri: str | None
    arn: str | None


class InsightDetail(NamedTuple):
    """DescribeInsight's answer: the summary plus what to do and what it is about."""

    summary: InsightSummary
    recommendation: str | None
    additional_info: tuple[tuple[str, str], ...]  # (link title, URL), as EKS orders them
    resources: tuple[InsightResource, ...]
    deprecations: tuple[DeprecationDetail, ...]
    addon_compatibility: tuple[AddonCompatibilityDetail, ...]


class ClusterVersionRequest(NamedTuple):
    """The parameters of an update_cluster_version call."""

    cluster: str
    version: KubernetesVersion
    client_request_token: str
    force: bool = False  # EKS's `force`: go ahead despite failing upgrade insights


class EksGateway(Protocol):
    """EKS as the domain sees it. Implementations raise only :mod:`eksaddon.errors` types."""

    @property
    def region(self) -> str: ...

    def list_clusters(self) -> list[str]:
        """Every cluster name in the gateway's account and region."""

    def describe_cluster(self, cluster: str) -> ClusterInfo: ...

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        """The add-on, or None when it is not an EKS add-on (self-managed or absent)."""

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        """Versions offered for ``kubernetes``, newest first."""

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None: ...

    def create_addon(self, request: AddonRequest) -> AddonState: ...

    def update_addon(self, request: AddonRequest) -> UpdateState: ...

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState: ...

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]: ...

    def fargate_profiles(self, cluster: str) -> list[str]: ...

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        """DescribeAddonConfiguration's podIdentityConfiguration: the add-on's service accounts
        and the AWS managed policies EKS recommends for their roles (none: empty)."""

    # --- what the cluster-upgrade gate and journey need --------------------------------------

    def list_addons(self, cluster: str) -> list[str]:
        """Every EKS add-on name on the cluster (ListAddons, paginated)."""

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        """Every insight, all categories and statuses (ListInsights, paginated)."""

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail: ...

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        """Start a control-plane update. EKS's refusal because of failing upgrade insights
        (InvalidStateException) raises :class:`~eksaddon.errors.InsightsBlockedError`."""

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        """DescribeUpdate without an add-on name: a control-plane update's state."""


# The cluster-upgrade calls were a protocol of their own until every implementation (the AWS
# gateway, the fleet's wrapper, the tests' fakes) answered them; the name stays for the code that
# was written against it.
ClusterUpgradeGateway = EksGateway


# --- Kubernetes -----------------------------------------------------------------------------------
# What the domain asks of a cluster's API server. Objects eksaddon writes back or hands to an
# add-on profile's pure settings rules (DaemonSets, Deployments, ConfigMaps, manifest objects)
# cross as the plain JSON documents the API server sent; what is only read for a verdict (nodes,
# pods, disruption budgets) crosses as the records below, every field of which may be None when
# the answer left it out.

FARGATE_LABEL = ("eks.amazonaws.com/compute-type", "fargate")


class NodeFacts(NamedTuple):
    """A Node: its name, labels and the kubelet version it reports (status.nodeInfo)."""

    name: str
    labels: Mapping[str, str]
    # As the node reports it (v1.29.0-eks-5e0fdde); None when the answer has none readable.
    kubelet_version: str | None = None

    @property
    def fargate(self) -> bool:
        key, value = FARGATE_LABEL
        return self.labels.get(key) == value

    @property
    def kubelet_minor(self) -> KubernetesVersion | None:
        """The kubelet's Kubernetes minor (v1.29.0-eks-5e0fdde -> 1.29); None when unknown."""
        match = _KUBELET_RE.fullmatch(self.kubelet_version or "")
        return KubernetesVersion(int(match[1]), int(match[2])) if match else None


# v1.29.0-eks-5e0fdde, v1.30.4-eks-a737599, 1.28.1: what kubelets report, build suffix and all.
_KUBELET_RE = re.compile(r"v?(\d{1,3})\.(\d{1,4})(?:\.\d+)?(?:[-+].*)?")


class PodFacts(NamedTuple):
    name: str
    node: str | None
    images: Mapping[str, str]  # container name -> image, init containers included
    waiting: Mapping[str, str]  # container name -> waiting reason (CrashLoopBackOff, ...)
    # The Ready condition: True/False as the kubelet wrote it, None when it is absent.
    ready: bool | None = None
    terminating: bool = False  # metadata.deletionTimestamp is set: the pod is going away


class SelectorRequirement(NamedTuple):
    """One matchExpressions entry of a label selector (operator as sent, unknown ones kept)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


class DisruptionBudget(NamedTuple):
    """A PodDisruptionBudget (policy/v1, or policy/v1beta1 where only that is served).

    ``match_labels`` None means the budget has no selector it can be matched by (absent or
    unreadable): it is taken to select nothing, as policy/v1beta1 does for a null selector.
    Status counts are the disruption controller's; None when it has not written them.
    """

    namespace: str
    name: str
    match_labels: Mapping[str, str] | None
    match_expressions: tuple[SelectorRequirement, ...]
    min_available: str | None  # an integer or a percentage, as text
    max_unavailable: str | None
    generation: int | None
    observed_generation: int | None
    current_healthy: int | None
    desired_healthy: int | None
    disruptions_allowed: int | None
    expected_pods: int | None


class KubernetesReader(Protocol):
    """The reading half of :class:`KubernetesGateway`: everything the checks, status and the
    gate need. Implementations raise only :mod:`eksaddon.errors` types."""

    @property
    def host(self) -> str:
        """The API server's URL, to match against the EKS cluster's endpoint."""
        ...

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The DaemonSet, or None when it does not exist."""

    def all_daemonsets(self) -> list[dict[str, Any]]:
        """Every DaemonSet in every namespace (another CNI lives in its own)."""

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Deployment, or None when it does not exist."""

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ConfigMap, or None when it does not exist."""

    def disruption_budgets(self, namespace: str) -> list[DisruptionBudget]:
        """Every PodDisruptionBudget in ``namespace``."""

    def nodes(self) -> list[NodeFacts]:
        """Every Node, with its labels and kubelet version."""

    def pods(self, namespace: str, selector: str) -> list[PodFacts]:
        """The pods in ``namespace`` matching a label selector (``k8s-app=kube-dns``)."""


class KubernetesWriter(Protocol):
    """The writing half: server-side apply of manifest objects, each read first for a backup."""

    def read(self, document: dict[str, Any]) -> dict[str, Any] | None:
        """The live object matching a manifest object, or None."""

    def apply(self, document: dict[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply of one manifest object (creating it when absent)."""


class KubernetesGateway(KubernetesReader, KubernetesWriter, Protocol):
    """The cluster's API server as the domain sees it: the one Kubernetes protocol
    (:class:`eksaddon.gateways.kube.KubeGateway` implements it). Code that only reads takes
    :class:`KubernetesReader`, so that its fakes need not pretend to write."""
