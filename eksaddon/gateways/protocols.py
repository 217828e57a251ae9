"""What the domain asks of EKS, as plain typed records (no SDK types cross this line)."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from eksaddon.versions import AddonVersion, KubernetesVersion


class ClusterInfo(NamedTuple):
    name: str
    version: KubernetesVersion
    platform_version: str | None
    status: str | None
    region: str
    endpoint: str | None = None  # the API server URL, to match a kubeconfig against
    arn: str | None = None  # names the account: a journal is resumed only on its own cluster


class HealthIssue(NamedTuple):
    code: str
    message: str
    resource_ids: tuple[str, ...] = ()


class AddonState(NamedTuple):
    """An EKS add-on as describe_addon returns it."""

    name: str
    cluster: str
    version: AddonVersion
    status: str
    issues: tuple[HealthIssue, ...]
    configuration_values: str | None
    service_account_role_arn: str | None
    arn: str | None = None

    @property
    def healthy(self) -> bool:
        return self.status == "ACTIVE" and not self.issues


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
        return self.status in ("Successful", "Failed", "Cancelled")


class NodegroupInfo(NamedTuple):
    name: str
    kubernetes_version: str | None
    release_version: str | None
    status: str | None


class AddonRequest(NamedTuple):
    """The parameters of a create_addon or update_addon call."""

    cluster: str
    addon: str
    version: AddonVersion
    resolve_conflicts: str
    client_request_token: str
    configuration_values: str | None = None
    service_account_role_arn: str | None = None


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
