"""The EKS add-on API for moto: a deterministic stand-in that tests control.

moto 5.2 implements EKS clusters, node groups and Fargate profiles but no add-on operation. This
module adds DescribeAddonVersions, DescribeAddonConfiguration (with podIdentityConfiguration),
CreateAddon, DescribeAddon, UpdateAddon (podIdentityAssociations: omitted = keep, [] = delete,
a list = replace), DescribeUpdate, ListAddons, ListUpdates and DeleteAddon to moto's
``EKSResponse`` and URL table, backed by a :class:`StandIn` that holds the add-on state, the
versions on offer (an :class:`AddonCatalogue`), fault controls and call counters; and, from
eks_upgrade.py, ListInsights, DescribeInsight and UpdateClusterVersion (followed with DescribeUpdate
and ListUpdates without an add-on name).

Catalogues: :func:`vpc_cni_catalogue` (the default), catalogues.bundled_catalogue() (every bundled
add-on, from the facts its matrix records) and ``catalogue.offer(...)`` for any other add-on.

Nothing here sleeps: creations and updates progress in polls (``describe_addon`` /
``describe_update`` calls) or in seconds of an injectable clock (:class:`FakeClock` by default,
which only moves when a test advances it).

Usage::

    standin = install(StandIn())          # before the first request reaches moto
    standin.throttle("DescribeAddonVersions", times=2)
    standin.fail_next_update()
    standin.fail_next_cluster_update()    # the next UpdateClusterVersion ends Failed
    ...
    standin.calls["UpdateAddon"]          # every request seen, injected faults included

Through the server (server.py): ``create_nodegroup(cluster, name, "1.26")``,
``set_nodegroup_version``, ``put_insight(cluster, deprecated_api_insight("id", "1.30"))``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs
import yaml
from moto.core.common_types import TYPE_RESPONSE
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.eks import urls as eks_urls
from moto.eks.exceptions import ResourceNotFoundException as MotoResourceNotFound
from moto.eks.models import Cluster, eks_backends
from moto.eks.responses import EKSResponse

from .eks_errors import (
    InvalidParameterError,
    ResourceInUseError,
    ResourceNotFoundError,
    decode_token,
    encode_token,
)
from .eks_upgrade import ClusterUpdateRecord, ClusterUpgradeState
from .keepalive import paced, serving

DEFAULT_REGION = "us-west-2"

# --- exact texts of the real service (see shared/domain/upgrade-guidance.md) --------------------
ONE_MINOR_MESSAGE = "Updating VPC-CNI can only go up or down 1 minor version at a time"
NOT_SUPPORTED_MESSAGE = "Addon version specified is not supported"
ADDON_NOT_FOUND_MESSAGE = "No addon: {addon} found in cluster: {cluster}"
# --- texts of this stand-in's own wording (the real ones were not found in public sources) -------
ADDON_EXISTS_MESSAGE = "Addon already exists with name: {addon} in cluster: {cluster}"
ADDON_BUSY_MESSAGE = (
    "Addon {addon} is currently {status} in cluster: {cluster}; wait for it to finish"
)
UNKNOWN_ADDON_MESSAGE = "Addon {addon} specified is not supported"
UPDATE_NOT_FOUND_MESSAGE = "No update found for ID: {update_id}"
BAD_CONFIGURATION_MESSAGE = (
    "ConfigurationValue provided in request is not supported: "
    "configurationValues must be a JSON or YAML object"
)
SCHEMA_MISMATCH_MESSAGE = (
    "ConfigurationValue provided in request is not supported: "
    "Json schema validation failed with error: [{errors}]"
)
THROTTLING_MESSAGE = "Rate exceeded"
SERVER_ERROR_MESSAGE = "An internal error occurred (injected by the stand-in)"

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
RESOLVE_CONFLICTS = ("OVERWRITE", "NONE", "PRESERVE")

# The operations this module adds to moto (API names).
ADDON_OPERATIONS = (
    "DescribeAddonVersions",
    "DescribeAddonConfiguration",
    "CreateAddon",
    "DescribeAddon",
    "UpdateAddon",
    "DescribeUpdate",
    "ListAddons",
    "ListUpdates",
    "DeleteAddon",
    "ListInsights",
    "DescribeInsight",
    "UpdateClusterVersion",
)

# moto matches the request against botocore's model; the URL table only has to let it through.
ADDON_URL_PATHS = (
    "{0}/addons/supported-versions$",
    "{0}/addons/configuration-schemas$",
    "{0}/clusters/(?P<name>[^/]+)/addons$",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$",
    "{0}/clusters/(?P<name>[^/]+)/updates$",
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$",
    "{0}/clusters/(?P<name>[^/]+)/insights$",
    "{0}/clusters/(?P<name>[^/]+)/insights/(?P<id>[^/]+)$",
)

VPC_CNI = "vpc-cni"
VPC_CNI_CLUSTER_VERSIONS = tuple(f"1.{minor}" for minor in range(23, 31))
VPC_CNI_VERSIONS = (
    "v1.6.3-eksbuild.2",
    "v1.7.10-eksbuild.2",
    "v1.8.0-eksbuild.3",
    "v1.9.3-eksbuild.3",
    "v1.10.4-eksbuild.3",
    "v1.11.4-eksbuild.3",
    "v1.12.6-eksbuild.2",
    "v1.13.4-eksbuild.1",
    "v1.14.1-eksbuild.1",
    "v1.15.5-eksbuild.1",
    "v1.16.4-eksbuild.2",
    "v1.17.1-eksbuild.1",
    "v1.18.0-eksbuild.1",
    "v1.18.3-eksbuild.3",
)
VPC_CNI_DEFAULT = "v1.16.4-eksbuild.2"

_SHARED_SCHEMA = (
    Path(__file__).resolve().parents[3] / "shared" / "domain" / "vpc-cni-config-schema.json"
)
# Used only when ../shared is not beside the repository: accepts any object.
_FALLBACK_SCHEMA = '{"$schema":"http://json-schema.org/draft-06/schema#","type":"object"}'
_UUID_NAMESPACE = uuid.UUID("6c6f6e67-6c69-7665-2d65-6b7361646f6e")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def operation_name(name: str) -> str:
    """'describe_addon_versions' or 'DescribeAddonVersions' → 'DescribeAddonVersions'."""
    if "_" in name or name[:1].islower():
        return "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return name


def minor_of(version: str) -> tuple[int, int] | None:
    """(major, minor) of 'v1.16.4-eksbuild.2'; None when it is not of that form."""
    match = _VERSION.match(version)
    return (int(match.group(1)), int(match.group(2))) if match else None


# Real describe-addon-configuration schemas of other add-ons in ../shared (absent: any object).
SHARED_SCHEMAS = {
    "kube-proxy": "kube-proxy-config-schema-v1.28.8-eksbuild.5.json",
    "coredns": "coredns-config-schema-v1.10.1-eksbuild.11.json",
}


def shared_schema(addon: str) -> str | None:
    """The configuration schema text of `addon` from ../shared/domain/addons, or None."""
    name = SHARED_SCHEMAS.get(addon)
    path = _SHARED_SCHEMA.parent / "addons" / name if name else None
    if path is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip()


def load_vpc_cni_schema() -> str:
    """The configurationSchema text of the real describe-addon-configuration answer in ../shared."""
    if not _SHARED_SCHEMA.is_file():
        return _FALLBACK_SCHEMA
    document = json.loads(_SHARED_SCHEMA.read_text(encoding="utf-8"))
    schema = document["describeAddonConfigurationResponse"]["configurationSchema"]
    assert isinstance(schema, str)
    return schema


# ================================================================================================
# The catalogue of versions on offer
# ================================================================================================


@dataclass(frozen=True)
class CatalogueEntry:
    """One add-on build: where it may run, and for which cluster versions it is the default."""

    version: str
    cluster_versions: tuple[str, ...]
    default_for: frozenset[str] = frozenset()
    architecture: tuple[str, ...] = ("amd64", "arm64")
    compute_types: tuple[str, ...] = ()
    requires_configuration: bool = False
    requires_iam_permissions: bool = False
    # DescribeAddonConfiguration's podIdentityConfiguration for this build
    pod_identity: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class AddonDescription:
    """The AddonInfo fields that do not depend on the version."""

    name: str
    type: str = "networking"
    owner: str = "aws"
    publisher: str = "eks"
    default_namespace: str | None = "kube-system"


class AddonCatalogue:
    """Add-on name → builds on offer. The API lists them in a scrambled (but fixed) order."""

    def __init__(
        self,
        addons: Mapping[str, Sequence[CatalogueEntry]] | None = None,
        *,
        scrambled: bool = True,
    ) -> None:
        self.scrambled = scrambled
        self._descriptions: dict[str, AddonDescription] = {}
        self._entries: dict[str, list[CatalogueEntry]] = {}
        for name, entries in (addons or {}).items():
            self.describe_addon(name)
            self._entries[name] = list(entries)

    def describe_addon(
        self,
        name: str,
        *,
        type: str = "networking",
        owner: str = "aws",
        publisher: str = "eks",
        default_namespace: str | None = "kube-system",
    ) -> AddonDescription:
        description = AddonDescription(name, type, owner, publisher, default_namespace)
        self._descriptions[name] = description
        self._entries.setdefault(name, [])
        return description

    def add(
        self,
        addon_name: str,
        version: str,
        cluster_versions: Iterable[str],
        *,
        default_for: Iterable[str] = (),
        architecture: Sequence[str] = ("amd64", "arm64"),
        compute_types: Sequence[str] = (),
        requires_configuration: bool = False,
        requires_iam_permissions: bool = False,
        pod_identity: Sequence[Mapping[str, Any]] = (),
    ) -> CatalogueEntry:
        if addon_name not in self._descriptions:
            self.describe_addon(addon_name)
        entry = CatalogueEntry(
            version=version,
            cluster_versions=tuple(cluster_versions),
            default_for=frozenset(default_for),
            architecture=tuple(architecture),
            compute_types=tuple(compute_types),
            requires_configuration=requires_configuration,
            requires_iam_permissions=requires_iam_permissions,
            pod_identity=tuple(dict(p) for p in pod_identity),
        )
        self._entries[addon_name] = [e for e in self._entries[addon_name] if e.version != version]
        self._entries[addon_name].append(entry)
        return entry

    def offer(
        self,
        addon_name: str,
        builds: Mapping[str, Sequence[str]],
        *,
        defaults: Mapping[str, str] | None = None,
        type: str = "networking",
        owner: str = "aws",
        publisher: str = "eks",
        default_namespace: str | None = "kube-system",
        requires_iam_permissions: bool = False,
    ) -> None:
        """Offer an add-on with no bundled matrix: `builds` maps each build to the Kubernetes
        versions it is offered for (oldest build first); `defaults` maps a Kubernetes version to
        its default build (which must be offered for it)."""
        self.describe_addon(
            addon_name,
            type=type,
            owner=owner,
            publisher=publisher,
            default_namespace=default_namespace,
        )
        chosen = dict(defaults or {})
        for kubernetes, version in chosen.items():
            if kubernetes not in builds.get(version, ()):
                raise ValueError(f"default {version} is not offered for {kubernetes}")
        for version, cluster_versions in builds.items():
            self.add(
                addon_name,
                version,
                cluster_versions,
                default_for=[k for k, v in chosen.items() if v == version],
                requires_iam_permissions=requires_iam_permissions,
            )

    def remove(self, addon_name: str, version: str) -> None:
        self._entries[addon_name] = [e for e in self._entries[addon_name] if e.version != version]

    def set_default(self, addon_name: str, version: str, cluster_versions: Iterable[str]) -> None:
        """Make `version` the default for `cluster_versions` (and no other build for them)."""
        chosen = frozenset(cluster_versions)
        self._entries[addon_name] = [
            replace(
                e,
                default_for=(e.default_for | chosen)
                if e.version == version
                else e.default_for - chosen,
            )
            for e in self._entries[addon_name]
        ]

    def addon_names(self) -> list[str]:
        return sorted(self._entries)

    def description(self, addon_name: str) -> AddonDescription:
        return self._descriptions.get(addon_name) or AddonDescription(addon_name)

    def entries(self, addon_name: str) -> list[CatalogueEntry]:
        """The builds in the order they were added."""
        return list(self._entries.get(addon_name, []))

    def listing(self, addon_name: str) -> list[CatalogueEntry]:
        """The builds in the order the API returns them: scrambled unless `scrambled` is off."""
        entries = self.entries(addon_name)
        if not self.scrambled:
            return entries
        return sorted(
            entries, key=lambda e: hashlib.sha256(f"{addon_name}/{e.version}".encode()).hexdigest()
        )

    def find(self, addon_name: str, version: str) -> CatalogueEntry | None:
        return next((e for e in self._entries.get(addon_name, []) if e.version == version), None)

    def offers(self, addon_name: str, version: str, cluster_version: str) -> bool:
        entry = self.find(addon_name, version)
        return entry is not None and cluster_version in entry.cluster_versions

    def default_version(self, addon_name: str, cluster_version: str) -> str | None:
        return next(
            (
                e.version
                for e in self._entries.get(addon_name, [])
                if cluster_version in e.cluster_versions and cluster_version in e.default_for
            ),
            None,
        )


def vpc_cni_catalogue(
    versions: Sequence[str] = VPC_CNI_VERSIONS,
    cluster_versions: Sequence[str] = VPC_CNI_CLUSTER_VERSIONS,
    default: str = VPC_CNI_DEFAULT,
    *,
    scrambled: bool = True,
) -> AddonCatalogue:
    """A realistic vpc-cni offer: a build of every minor v1.6 … v1.18 for Kubernetes 1.23–1.30."""
    catalogue = AddonCatalogue(scrambled=scrambled)
    catalogue.describe_addon(VPC_CNI, type="networking", default_namespace="kube-system")
    for version in versions:
        catalogue.add(
            VPC_CNI,
            version,
            cluster_versions,
            default_for=cluster_versions if version == default else (),
            requires_iam_permissions=True,
        )
    return catalogue


# ================================================================================================
# State
# ================================================================================================


class FakeClock:
    """A clock that moves only when told to: `clock.advance(30)`."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


AddonKey = tuple[str, str, str, str]  # account, region, cluster, add-on


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def health_issue(
    code: str = "InsufficientNumberOfReplicas",
    message: str = "The add-on is unhealthy because it doesn't have the desired number of replicas.",
    resource_ids: Sequence[str] = ("kube-system/aws-node",),
) -> dict[str, Any]:
    """An AddonIssue ({code, message, resourceIds}); code is an AddonIssueCode."""
    return {"code": code, "message": message, "resourceIds": list(resource_ids)}


def error_detail(
    code: str = "ConfigurationConflict",
    message: str = (
        "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. "
        'Conflicts:\nDaemonSet.apps aws-node - .spec.template.spec.containers[name="aws-node"].image'
    ),
    resource_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """An ErrorDetail ({errorCode, errorMessage, resourceIds}); code is an ErrorCode."""
    return {"errorCode": code, "errorMessage": message, "resourceIds": list(resource_ids)}


@dataclass
class UpdateOutcome:
    """How an update ends. addon_status None: ACTIVE (DEGRADED with health issues) on success,
    UPDATE_FAILED on failure, ACTIVE on cancellation."""

    status: Literal["Successful", "Failed", "Cancelled"] = "Successful"
    errors: list[dict[str, Any]] = field(default_factory=list)
    health_issues: list[dict[str, Any]] = field(default_factory=list)
    addon_status: str | None = None

    def final_addon_status(self) -> str:
        if self.addon_status is not None:
            return self.addon_status
        if self.status == "Failed":
            return "UPDATE_FAILED"
        return "DEGRADED" if self.health_issues else "ACTIVE"


@dataclass
class AddonRecord:
    account_id: str
    region: str
    cluster_name: str
    addon_name: str
    addon_version: str
    status: str
    arn: str
    created_at: float
    modified_at: float
    service_account_role_arn: str | None = None
    configuration_values: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    health_issues: list[dict[str, Any]] = field(default_factory=list)
    create_token: str | None = None
    # creation progress
    create_polls_needed: int | None = None
    create_seconds_needed: float | None = None
    create_polls_seen: int = 0
    # the update in progress, if any
    active_update: str | None = None
    # the pod identity associations the add-on owns: {associationArn, serviceAccount, roleArn}
    pod_identity_associations: list[dict[str, str]] = field(default_factory=list)
    # the moto Cluster object it belongs to (a cluster deleted and made again has no add-ons)
    cluster_ref: object | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> AddonKey:
        return (self.account_id, self.region, self.cluster_name, self.addon_name)

    def to_api(self, description: AddonDescription | None = None) -> dict[str, Any]:
        view: dict[str, Any] = {
            "addonName": self.addon_name,
            "clusterName": self.cluster_name,
            "status": self.status,
            "addonVersion": self.addon_version,
            "health": {"issues": [dict(i) for i in self.health_issues]},
            "addonArn": self.arn,
            "createdAt": _timestamp(self.created_at),
            "modifiedAt": _timestamp(self.modified_at),
            "tags": dict(self.tags),
            "podIdentityAssociations": [
                a["associationArn"] for a in self.pod_identity_associations
            ],
        }
        if self.service_account_role_arn is not None:
            view["serviceAccountRoleArn"] = self.service_account_role_arn
        if self.configuration_values is not None:
            view["configurationValues"] = self.configuration_values
        if description is not None:
            view["owner"] = description.owner
            view["publisher"] = description.publisher
        return view


@dataclass
class UpdateRecord:
    id: str
    key: AddonKey
    status: str
    params: list[dict[str, str]]
    created_at: float
    outcome: UpdateOutcome
    polls_needed: int | None
    seconds_needed: float | None
    target_version: str | None = None
    configuration_values: str | None = None
    service_account_role_arn: str | None = None
    client_request_token: str | None = None
    polls: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    # None: not sent (keep); []: delete the add-on's associations; else replace them
    pod_identity_associations: list[dict[str, str]] | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "type": "AddonUpdate",
            "params": [dict(p) for p in self.params],
            "createdAt": _timestamp(self.created_at),
            "errors": [dict(e) for e in self.errors],
        }


@dataclass
class _Fault:
    status: int
    code: str
    message: str
    after_processing: bool = False

    def response(self) -> TYPE_RESPONSE:
        headers = {"x-amzn-ErrorType": self.code, "Content-Type": "application/json"}
        body = json.dumps({"message": self.message})
        return self.status, headers, body


@dataclass
class _Rewrite:
    rewrite: Callable[[Any], Any]
    times: int | None
    serve: bool

    def apply(self, served: TYPE_RESPONSE | None) -> TYPE_RESPONSE:
        status, headers, body = served if served is not None else (200, {}, "{}")
        if not 200 <= int(status) < 300:
            return status, headers, body
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        result = self.rewrite(json.loads(text) if text else {})
        if not isinstance(result, str | bytes):
            result = json.dumps(result)
        headers = {k: v for k, v in dict(headers).items() if k.lower() != "content-length"}
        headers.setdefault("Content-Type", "application/json")
        return status, headers, result


class StandIn(ClusterUpgradeState):
    """Add-on state, the catalogue, fault controls and counters of the EKS add-on stand-in.

    Settings (plain attributes, change them freely between requests):
      catalogue           the versions on offer (default: `vpc_cni_catalogue()`)
      clock               seconds, for timestamps and time-based progress (default: FakeClock())
      create_polls        a new add-on is ACTIVE from this describe_addon call on (None: never by polls)
      create_seconds      … or once this many clock seconds have passed (None: never by time)
      update_polls        an update ends on this poll (None: never by polls)
      update_seconds      … or once this many clock seconds have passed (None: never by time)
      poll_operations     which calls count as polls of an update (default: DescribeUpdate only)
      default_page_size   page size of DescribeAddonVersions/ListAddons when maxResults is absent
      page_by             "version": maxResults counts builds, so one add-on's builds can span pages
                          (each page has its own AddonInfo for it); "addon": counts AddonInfo entries
      one_minor_rule      add-ons whose UpdateAddon refuses to move more than one minor version
      configuration_schemas  add-on name → configurationSchema text
      validate_configuration also check configurationValues against that schema (off by default)
      latency             seconds slept before serving every request (benchmarks; default 0); on
                          the keep-alive server, seconds from a request's arrival to its answer

    Answers that do not fit the model: `rewrite_answer(operation, rewrite, times=…, serve=…)` passes
    an operation's served JSON through `rewrite` (moto's own operations too), or answers without
    serving at all; `clear_faults()` drops those with the injected errors.

    Counters: `calls` (every request per API operation name, injected faults included),
    `faulted` (requests answered by an injected fault), `history` (operation names in order);
    `count("update_addon")` reads `calls` with either spelling.
    """

    def __init__(
        self,
        catalogue: AddonCatalogue | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.catalogue = catalogue if catalogue is not None else vpc_cni_catalogue()
        self.clock: Callable[[], float] = clock if clock is not None else FakeClock()
        self.create_polls: int | None = 1
        self.create_seconds: float | None = None
        self.update_polls: int | None = 2
        self.update_seconds: float | None = None
        self.poll_operations: frozenset[str] = frozenset({"DescribeUpdate"})
        self.default_page_size = 100
        self.page_by: Literal["version", "addon"] = "version"
        self.one_minor_rule: set[str] = {VPC_CNI}
        self.configuration_schemas: dict[str, str] = {VPC_CNI: load_vpc_cni_schema()}
        self.validate_configuration = False
        self.latency = 0.0  # seconds added to every request (benchmarks)
        # Called when a created add-on turns ACTIVE or an update succeeds: what EKS does next on
        # the cluster (tests wire it to a kube-apiserver).
        self.on_update_applied: Callable[[AddonRecord], None] | None = None
        self.calls: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self.history: list[str] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._rewrites: dict[str, list[_Rewrite]] = {}
        self._outcomes: deque[UpdateOutcome] = deque()
        self._addons: dict[AddonKey, AddonRecord] = {}
        self._updates: dict[str, UpdateRecord] = {}
        self._tokens: dict[tuple[AddonKey, str], str] = {}
        self._sequence = 0
        for name in SHARED_SCHEMAS:
            schema = shared_schema(name)
            if schema is not None:
                self.configuration_schemas[name] = schema
        self._init_cluster_upgrade()

    # --- fault controls ------------------------------------------------------------------------

    def inject_error(
        self,
        operation: str,
        *,
        code: str,
        status: int,
        message: str,
        times: int = 1,
        after_processing: bool = False,
    ) -> None:
        """Answer the next `times` requests of `operation` with this error instead of serving them.

        after_processing: serve the request first (state changes, e.g. an update starts), then
        answer with the error anyway — a lost response, which the client will retry.
        """
        with self.lock:
            queue = self._faults.setdefault(operation_name(operation), deque())
            queue.extend(_Fault(status, code, message, after_processing) for _ in range(times))

    def throttle(self, operation: str, times: int = 1) -> None:
        """ThrottlingException (HTTP 429) for the next `times` requests: botocore retries these."""
        self.inject_error(
            operation,
            code="ThrottlingException",
            status=429,
            message=THROTTLING_MESSAGE,
            times=times,
        )

    def server_error(
        self, operation: str, times: int = 1, *, status: int = 500, after_processing: bool = False
    ) -> None:
        """ServerException (HTTP 5xx; ServiceUnavailableException for 503) for the next `times`
        requests; after_processing=True serves them first (see inject_error)."""
        code = "ServiceUnavailableException" if status == 503 else "ServerException"
        self.inject_error(
            operation,
            code=code,
            status=status,
            message=SERVER_ERROR_MESSAGE,
            times=times,
            after_processing=after_processing,
        )

    def rewrite_answer(
        self,
        operation: str,
        rewrite: Callable[[Any], Any],
        *,
        times: int | None = None,
        serve: bool = True,
    ) -> None:
        """Pass the next `times` (None: every) successful answers of `operation` through
        `rewrite`: it gets the JSON document the stand-in (or moto) served and returns what is
        sent instead — any JSON value, or `str`/`bytes` sent as the body as it is.

        serve=False: the request is not served at all (nothing changes) and `rewrite` gets {}.
        A misbehaving endpoint whose answers do not fit the API's model, one test at a time.
        """
        with self.lock:
            self._rewrites.setdefault(operation_name(operation), []).append(
                _Rewrite(rewrite, times, serve)
            )

    def clear_rewrites(self) -> None:
        with self.lock:
            self._rewrites.clear()

    def take_rewrite(self, operation: str) -> _Rewrite | None:
        with self.lock:
            queue = self._rewrites.get(operation)
            if not queue:
                return None
            rewrite = queue[0]
            if rewrite.times is not None:
                rewrite.times -= 1
                if rewrite.times <= 0:
                    queue.pop(0)
            return rewrite

    def pending_faults(self, operation: str) -> int:
        with self.lock:
            return len(self._faults.get(operation_name(operation), ()))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._outcomes.clear()
            self._rewrites.clear()

    def queue_update_outcome(self, outcome: UpdateOutcome) -> None:
        """The next update started (after those already queued) ends this way."""
        with self.lock:
            self._outcomes.append(outcome)

    def fail_next_update(
        self,
        errors: Sequence[Mapping[str, Any]] | None = None,
        *,
        addon_status: str = "UPDATE_FAILED",
        health_issues: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """The next update ends Failed with these ErrorDetails (default: a ConfigurationConflict)."""
        self.queue_update_outcome(
            UpdateOutcome(
                status="Failed",
                errors=[dict(e) for e in (errors if errors is not None else [error_detail()])],
                health_issues=[dict(i) for i in health_issues],
                addon_status=addon_status,
            )
        )

    def cancel_next_update(self) -> None:
        """The next update ends Cancelled; the add-on keeps its version and is ACTIVE again."""
        self.queue_update_outcome(UpdateOutcome(status="Cancelled"))

    def degrade_after_next_update(self, issues: Sequence[Mapping[str, Any]] | None = None) -> None:
        """The next update succeeds (version switches) but leaves the add-on DEGRADED."""
        self.queue_update_outcome(
            UpdateOutcome(
                status="Successful",
                health_issues=[
                    dict(i) for i in (issues if issues is not None else [health_issue()])
                ],
            )
        )

    # --- counters ------------------------------------------------------------------------------

    def count(self, operation: str) -> int:
        with self.lock:
            return self.calls[operation_name(operation)]

    def reset_counters(self) -> None:
        with self.lock:
            self.calls.clear()
            self.faulted.clear()
            self.history.clear()

    def count_replayed(self, operation: str) -> bool:
        """Count a request that the keep-alive server answers from its record (benchmarks) as
        :meth:`take_fault` counts one served; False, and nothing counted, when a fault or a
        rewrite is pending for the operation: the request is then served, to take it."""
        with self.lock:
            if self._faults.get(operation) or self._rewrites.get(operation):
                return False
            self.calls[operation] += 1
            self.history.append(operation)
            return True

    def at_rest(self) -> bool:
        """Whether a read's answer cannot change until a write: no fault or rewrite pending, no
        add-on being created or updated, no control-plane update in progress (what replaying
        recorded answers needs, see keepalive.KeepAliveServer.replay_answers)."""
        with self.lock:
            return (
                not any(self._faults.values())
                and not any(self._rewrites.values())
                and all(
                    record.status != "CREATING" and record.active_update is None
                    for record in self._addons.values()
                )
                and self.cluster_updates_settled()
            )

    def take_fault(self, operation: str) -> _Fault | None:
        """Record a request of `operation`; the injected fault to answer it with, if any."""
        with self.lock:
            self.calls[operation] += 1
            self.history.append(operation)
            queue = self._faults.get(operation)
            if not queue:
                return None
            self.faulted[operation] += 1
            return queue.popleft()

    # --- direct state access for tests ----------------------------------------------------------

    def put_addon(
        self,
        cluster_name: str,
        version: str,
        *,
        addon_name: str = VPC_CNI,
        status: str = "ACTIVE",
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        configuration_values: str | None = None,
        service_account_role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
        health_issues: Sequence[Mapping[str, Any]] = (),
        cluster: object | None = None,
        pod_identity_associations: Sequence[tuple[str, str]] = (),
    ) -> AddonRecord:
        """Place an add-on at any version, bypassing CreateAddon's checks (the cluster is not checked).

        pod_identity_associations: (service account, role ARN) pairs the add-on owns.

        `cluster` is the moto Cluster object; None binds the add-on to the cluster of that name
        that the next request finds."""
        with self.lock:
            now = self.clock()
            record = AddonRecord(
                account_id=account_id,
                region=region,
                cluster_name=cluster_name,
                addon_name=addon_name,
                addon_version=version,
                status=status,
                arn=self._addon_arn(account_id, region, cluster_name, addon_name),
                created_at=now,
                modified_at=now,
                service_account_role_arn=service_account_role_arn,
                configuration_values=configuration_values,
                tags=dict(tags or {}),
                health_issues=[dict(i) for i in health_issues],
                cluster_ref=cluster,
                create_polls_needed=self.create_polls if status == "CREATING" else None,
                create_seconds_needed=self.create_seconds if status == "CREATING" else None,
            )
            record.pod_identity_associations = self._associate(
                record,
                [{"serviceAccount": a, "roleArn": r} for a, r in pod_identity_associations],
            )
            self._addons[record.key] = record
            return record

    def addon(
        self,
        cluster_name: str,
        addon_name: str = VPC_CNI,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> AddonRecord | None:
        """The live record (None when absent); time-based progress is applied first."""
        with self.lock:
            record = self._addons.get((account_id, region, cluster_name, addon_name))
            if record is not None:
                self._progress(record, poll_create=False, poll_update=False)
            return record

    def set_health(
        self,
        cluster_name: str,
        issues: Sequence[Mapping[str, Any]],
        *,
        addon_name: str = VPC_CNI,
        status: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> AddonRecord:
        """Set health issues now; status defaults to DEGRADED with issues, ACTIVE without."""
        with self.lock:
            record = self._addons[(account_id, region, cluster_name, addon_name)]
            record.health_issues = [dict(i) for i in issues]
            record.status = status or ("DEGRADED" if issues else "ACTIVE")
            record.modified_at = self.clock()
            return record

    def update(self, update_id: str) -> UpdateRecord | None:
        with self.lock:
            return self._updates.get(update_id)

    def updates(self) -> list[UpdateRecord]:
        """Every add-on update started, oldest first."""
        with self.lock:
            return sorted(self._updates.values(), key=lambda u: (u.created_at, u.id))

    def bind_cluster(
        self, account_id: str, region: str, cluster_name: str, cluster: object
    ) -> None:
        """Drop the add-ons of an earlier cluster of the same name; adopt unbound ones."""
        with self.lock:
            for key, record in list(self._addons.items()):
                if key[:3] != (account_id, region, cluster_name):
                    continue
                if record.cluster_ref is None:
                    record.cluster_ref = cluster
                elif record.cluster_ref is not cluster:
                    del self._addons[key]

    def forget_cluster(self, account_id: str, region: str, cluster_name: str) -> None:
        self.forget_cluster_insights(account_id, region, cluster_name)
        with self.lock:
            for key in [k for k in self._addons if k[:3] == (account_id, region, cluster_name)]:
                del self._addons[key]

    # --- the operations (called by the moto handlers below, under `lock`) ----------------------

    def describe_addon_versions(
        self,
        *,
        addon_name: str | None,
        kubernetes_version: str | None,
        max_results: int | None,
        next_token: str | None,
        types: Sequence[str] = (),
        owners: Sequence[str] = (),
        publishers: Sequence[str] = (),
    ) -> dict[str, Any]:
        page_size = self._page_size(max_results)
        units: list[list[tuple[AddonDescription, CatalogueEntry]]] = []
        for name in self.catalogue.addon_names():
            description = self.catalogue.description(name)
            if addon_name and name != addon_name:
                continue
            if types and description.type not in types:
                continue
            if owners and description.owner not in owners:
                continue
            if publishers and description.publisher not in publishers:
                continue
            rows = [
                (description, entry)
                for entry in self.catalogue.listing(name)
                if not kubernetes_version or kubernetes_version in entry.cluster_versions
            ]
            if not rows:
                continue
            if self.page_by == "addon":
                units.append(rows)
            else:
                units.extend([row] for row in rows)
        start = decode_token(next_token)
        page = units[start : start + page_size]
        addons: list[dict[str, Any]] = []
        for unit in page:
            for description, entry in unit:
                if not addons or addons[-1]["addonName"] != description.name:
                    addons.append(_addon_info(description))
                addons[-1]["addonVersions"].append(_version_info(entry, kubernetes_version))
        result: dict[str, Any] = {"addons": addons}
        if start + page_size < len(units):
            result["nextToken"] = encode_token(start + page_size)
        return result

    def describe_addon_configuration(self, addon_name: str, addon_version: str) -> dict[str, Any]:
        entry = self.catalogue.find(addon_name, addon_version)
        if entry is None:
            raise InvalidParameterError(NOT_SUPPORTED_MESSAGE, addon_name=addon_name)
        return {
            "addonName": addon_name,
            "addonVersion": addon_version,
            "configurationSchema": self.configuration_schemas.get(addon_name, _FALLBACK_SCHEMA),
            "podIdentityConfiguration": [
                {
                    "serviceAccount": p["serviceAccount"],
                    "recommendedManagedPolicies": list(p["recommendedManagedPolicies"]),
                }
                for p in entry.pod_identity
            ],
        }

    def create_addon(
        self,
        account_id: str,
        region: str,
        cluster: Cluster,
        *,
        addon_name: str,
        addon_version: str | None,
        service_account_role_arn: str | None,
        resolve_conflicts: str | None,
        client_request_token: str | None,
        tags: Mapping[str, str] | None,
        configuration_values: str | None,
        pod_identity_associations: Sequence[Mapping[str, Any]] | None = None,
    ) -> AddonRecord:
        key = (account_id, region, cluster.name, addon_name)
        existing = self._addons.get(key)
        if existing is not None:
            if client_request_token and existing.create_token == client_request_token:
                return existing
            raise ResourceInUseError(
                ADDON_EXISTS_MESSAGE.format(addon=addon_name, cluster=cluster.name),
                cluster_name=cluster.name,
                addon_name=addon_name,
            )
        if not self.catalogue.entries(addon_name):
            raise InvalidParameterError(
                UNKNOWN_ADDON_MESSAGE.format(addon=addon_name),
                cluster_name=cluster.name,
                addon_name=addon_name,
            )
        version = addon_version or self.catalogue.default_version(addon_name, cluster.version)
        if version is None or not self.catalogue.offers(addon_name, version, cluster.version):
            raise InvalidParameterError(
                NOT_SUPPORTED_MESSAGE, cluster_name=cluster.name, addon_name=addon_name
            )
        self._check_resolve_conflicts(resolve_conflicts, cluster.name, addon_name)
        self._check_configuration(addon_name, configuration_values, cluster.name)
        associations = self._check_associations(
            pod_identity_associations or [], cluster.name, addon_name
        )
        now = self.clock()
        record = AddonRecord(
            account_id=account_id,
            region=region,
            cluster_name=cluster.name,
            addon_name=addon_name,
            addon_version=version,
            status="CREATING",
            arn=self._addon_arn(account_id, region, cluster.name, addon_name),
            created_at=now,
            modified_at=now,
            service_account_role_arn=service_account_role_arn,
            configuration_values=configuration_values or None,
            tags=dict(tags or {}),
            create_token=client_request_token,
            create_polls_needed=self.create_polls,
            create_seconds_needed=self.create_seconds,
            cluster_ref=cluster,
        )
        record.pod_identity_associations = self._associate(record, associations)
        self._addons[key] = record
        return record

    def describe_addon(
        self, account_id: str, region: str, cluster_name: str, addon_name: str
    ) -> AddonRecord:
        record = self._existing(account_id, region, cluster_name, addon_name)
        self._progress(
            record, poll_create=True, poll_update="DescribeAddon" in self.poll_operations
        )
        return record

    def update_addon(
        self,
        account_id: str,
        region: str,
        cluster: Cluster,
        *,
        addon_name: str,
        addon_version: str | None,
        service_account_role_arn: str | None,
        resolve_conflicts: str | None,
        client_request_token: str | None,
        configuration_values: str | None,
        pod_identity_associations: Sequence[Mapping[str, Any]] | None = None,
    ) -> UpdateRecord:
        record = self._existing(account_id, region, cluster.name, addon_name)
        self._progress(record, poll_create=False, poll_update=False)
        if client_request_token:
            known = self._tokens.get((record.key, client_request_token))
            if known is not None:
                return self._updates[known]
        if record.active_update is not None or record.status in ("CREATING", "DELETING"):
            raise ResourceInUseError(
                ADDON_BUSY_MESSAGE.format(
                    addon=addon_name, status=record.status, cluster=cluster.name
                ),
                cluster_name=cluster.name,
                addon_name=addon_name,
            )
        self._check_resolve_conflicts(resolve_conflicts, cluster.name, addon_name)
        self._check_configuration(addon_name, configuration_values, cluster.name)
        associations = (
            None
            if pod_identity_associations is None
            else self._check_associations(pod_identity_associations, cluster.name, addon_name)
        )
        if addon_version is not None:
            if not self.catalogue.offers(addon_name, addon_version, cluster.version):
                raise InvalidParameterError(
                    NOT_SUPPORTED_MESSAGE, cluster_name=cluster.name, addon_name=addon_name
                )
            if (
                addon_name in self.one_minor_rule
                and _minor_distance(record.addon_version, addon_version) > 1
            ):
                raise InvalidParameterError(
                    ONE_MINOR_MESSAGE, cluster_name=cluster.name, addon_name=addon_name
                )
        params: list[dict[str, str]] = []
        for param_type, value in (
            ("AddonVersion", addon_version),
            ("ResolveConflicts", resolve_conflicts),
            ("ConfigurationValues", configuration_values),
            ("ServiceAccountRoleArn", service_account_role_arn),
        ):
            if value is not None:
                params.append({"type": param_type, "value": value})
        if associations is not None:
            params.append({"type": "PodIdentityAssociations", "value": json.dumps(associations)})
        now = self.clock()
        update = UpdateRecord(
            id=self._next_id("update"),
            key=record.key,
            status="InProgress",
            params=params,
            created_at=now,
            outcome=self._outcomes.popleft() if self._outcomes else UpdateOutcome(),
            polls_needed=self.update_polls,
            seconds_needed=self.update_seconds,
            target_version=addon_version,
            configuration_values=configuration_values,
            service_account_role_arn=service_account_role_arn,
            client_request_token=client_request_token,
            pod_identity_associations=associations,
        )
        self._updates[update.id] = update
        if client_request_token:
            self._tokens[(record.key, client_request_token)] = update.id
        record.active_update = update.id
        record.status = "UPDATING"
        record.modified_at = now
        return update

    def describe_update(
        self,
        account_id: str,
        region: str,
        cluster_name: str,
        update_id: str,
        addon_name: str | None,
    ) -> UpdateRecord | ClusterUpdateRecord:
        if addon_name is None:
            cluster_update = self.describe_cluster_update(
                (account_id, region, cluster_name), update_id
            )
            if cluster_update is not None:
                return cluster_update
        update = self._updates.get(update_id)
        if (
            update is None
            or update.key[:3] != (account_id, region, cluster_name)
            or update.key[3] != addon_name
        ):
            raise ResourceNotFoundError(
                UPDATE_NOT_FOUND_MESSAGE.format(update_id=update_id),
                cluster_name=cluster_name,
                addon_name=addon_name,
            )
        self._progress_update(update, poll="DescribeUpdate" in self.poll_operations)
        return update

    def list_updates(
        self,
        account_id: str,
        region: str,
        cluster_name: str,
        addon_name: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> dict[str, Any]:
        if addon_name is None:  # the cluster's own updates (control-plane versions)
            ids = self.cluster_update_ids((account_id, region, cluster_name))
        else:
            ids = [
                u.id
                for u in self.updates()
                if u.key == (account_id, region, cluster_name, addon_name)
            ]
        return _page(ids, "updateIds", self._page_size(max_results), next_token)

    def list_addons(
        self,
        account_id: str,
        region: str,
        cluster_name: str,
        max_results: int | None,
        next_token: str | None,
    ) -> dict[str, Any]:
        names = sorted(k[3] for k in self._addons if k[:3] == (account_id, region, cluster_name))
        return _page(names, "addons", self._page_size(max_results), next_token)

    def delete_addon(
        self, account_id: str, region: str, cluster_name: str, addon_name: str
    ) -> AddonRecord:
        record = self._existing(account_id, region, cluster_name, addon_name)
        del self._addons[record.key]
        record.status = "DELETING"
        record.modified_at = self.clock()
        return record

    # --- internals -----------------------------------------------------------------------------

    def _next_id(self, kind: str) -> str:
        self._sequence += 1
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{kind}/{self._sequence}"))

    def _addon_arn(self, account_id: str, region: str, cluster_name: str, addon_name: str) -> str:
        return (
            f"arn:aws:eks:{region}:{account_id}:addon/{cluster_name}/{addon_name}/"
            f"{self._next_id('addon')}"
        )

    def _page_size(self, max_results: int | None) -> int:
        if max_results is None:
            return self.default_page_size
        if not 1 <= max_results <= 100:
            raise InvalidParameterError("maxResults must be between 1 and 100")
        return max_results

    def _existing(
        self, account_id: str, region: str, cluster_name: str, addon_name: str
    ) -> AddonRecord:
        record = self._addons.get((account_id, region, cluster_name, addon_name))
        if record is None:
            raise ResourceNotFoundError(
                ADDON_NOT_FOUND_MESSAGE.format(addon=addon_name, cluster=cluster_name),
                cluster_name=cluster_name,
                addon_name=addon_name,
            )
        return record

    def _check_associations(
        self, associations: Sequence[Mapping[str, Any]], cluster: str, addon: str
    ) -> list[dict[str, str]]:
        """[{serviceAccount, roleArn}] as sent; one association per service account."""
        checked: list[dict[str, str]] = []
        for item in associations:
            account, role = item.get("serviceAccount"), item.get("roleArn")
            if not isinstance(account, str) or not account or not isinstance(role, str):
                raise InvalidParameterError(
                    "podIdentityAssociations need serviceAccount and roleArn",
                    cluster_name=cluster,
                    addon_name=addon,
                )
            if not role.startswith("arn:"):
                raise InvalidParameterError(
                    f"roleArn {role} is not a valid ARN", cluster_name=cluster, addon_name=addon
                )
            if any(c["serviceAccount"] == account for c in checked):
                raise InvalidParameterError(
                    f"service account {account} appears twice in podIdentityAssociations",
                    cluster_name=cluster,
                    addon_name=addon,
                )
            checked.append({"serviceAccount": account, "roleArn": role})
        return checked

    def _associate(
        self, record: AddonRecord, associations: Sequence[Mapping[str, str]]
    ) -> list[dict[str, str]]:
        """The add-on's associations after a replace: an unchanged pair keeps its ARN."""
        kept = {
            (a["serviceAccount"], a["roleArn"]): a["associationArn"]
            for a in record.pod_identity_associations
        }
        result = []
        for item in associations:
            pair = (item["serviceAccount"], item["roleArn"])
            arn = kept.get(pair) or (
                f"arn:aws:eks:{record.region}:{record.account_id}:podidentityassociation/"
                f"{record.cluster_name}/a-{self._next_id('association').replace('-', '')[:17]}"
            )
            result.append({"associationArn": arn, "serviceAccount": pair[0], "roleArn": pair[1]})
        return result

    def _check_resolve_conflicts(self, value: str | None, cluster: str, addon: str) -> None:
        if value is not None and value not in RESOLVE_CONFLICTS:
            raise InvalidParameterError(
                f"resolveConflicts must be one of {', '.join(RESOLVE_CONFLICTS)}",
                cluster_name=cluster,
                addon_name=addon,
            )

    def _check_configuration(self, addon_name: str, text: str | None, cluster: str) -> None:
        if not text:
            return  # absent, or "" (no configuration)
        document: Any
        try:
            document = json.loads(text)
        except ValueError:
            try:
                document = yaml.safe_load(text)
            except yaml.YAMLError:
                document = None
        if not isinstance(document, dict):
            raise InvalidParameterError(
                BAD_CONFIGURATION_MESSAGE, cluster_name=cluster, addon_name=addon_name
            )
        schema_text = self.configuration_schemas.get(addon_name)
        if self.validate_configuration and schema_text is not None:
            validator = jsonschema_rs.validator_for(json.loads(schema_text))
            problems = [
                f"$.{'.'.join(str(p) for p in e.instance_path)}: {e.message}".replace("$.:", "$:")
                for e in validator.iter_errors(document)
            ]
            if problems:
                raise InvalidParameterError(
                    SCHEMA_MISMATCH_MESSAGE.format(errors=", ".join(problems)),
                    cluster_name=cluster,
                    addon_name=addon_name,
                )

    def _progress(self, record: AddonRecord, *, poll_create: bool, poll_update: bool) -> None:
        if record.status == "CREATING":
            if poll_create:
                record.create_polls_seen += 1
            if _due(
                record.create_polls_seen,
                record.create_polls_needed,
                self.clock() - record.created_at,
                record.create_seconds_needed,
            ):
                record.status = "ACTIVE"
                record.modified_at = self.clock()
                if self.on_update_applied is not None:  # EKS now owns the DaemonSet
                    self.on_update_applied(record)
        if record.active_update is not None:
            self._progress_update(self._updates[record.active_update], poll=poll_update)

    def _progress_update(self, update: UpdateRecord, *, poll: bool) -> None:
        if update.status != "InProgress":
            return
        if poll:
            update.polls += 1
        if _due(
            update.polls,
            update.polls_needed,
            self.clock() - update.created_at,
            update.seconds_needed,
        ):
            self._finish(update)

    def _finish(self, update: UpdateRecord) -> None:
        outcome = update.outcome
        update.status = outcome.status
        update.errors = [dict(e) for e in outcome.errors]
        record = self._addons.get(update.key)
        if record is None or record.active_update != update.id:
            return
        if outcome.status == "Successful":
            if update.target_version is not None:
                record.addon_version = update.target_version
            if update.configuration_values is not None:
                record.configuration_values = update.configuration_values or None
            if update.service_account_role_arn is not None:
                record.service_account_role_arn = update.service_account_role_arn
            if update.pod_identity_associations is not None:
                record.pod_identity_associations = self._associate(
                    record, update.pod_identity_associations
                )
        record.health_issues = [dict(i) for i in outcome.health_issues]
        record.status = outcome.final_addon_status()
        record.active_update = None
        record.modified_at = self.clock()
        if outcome.status == "Successful" and self.on_update_applied is not None:
            # What EKS does next on the cluster (rewrite the DaemonSet): tests wire this to a
            # real kube-apiserver so both sides of an upgrade can be checked together.
            self.on_update_applied(record)


def _due(polls: int, polls_needed: int | None, elapsed: float, seconds: float | None) -> bool:
    by_polls = polls_needed is not None and polls >= polls_needed
    by_time = seconds is not None and elapsed >= seconds
    return by_polls or by_time


def _minor_distance(current: str, target: str) -> int:
    a, b = minor_of(current), minor_of(target)
    if a is None or b is None:
        return 0  # unknown forms: the rule cannot be judged, let it through
    if a[0] != b[0]:
        return 1_000
    return abs(a[1] - b[1])


def _page(items: list[str], key: str, size: int, token: str | None) -> dict[str, Any]:
    start = decode_token(token)
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["nextToken"] = encode_token(start + size)
    return result


def _addon_info(description: AddonDescription) -> dict[str, Any]:
    info: dict[str, Any] = {
        "addonName": description.name,
        "type": description.type,
        "addonVersions": [],
        "publisher": description.publisher,
        "owner": description.owner,
    }
    if description.default_namespace is not None:
        info["defaultNamespace"] = description.default_namespace
    return info


def _version_info(entry: CatalogueEntry, kubernetes_version: str | None) -> dict[str, Any]:
    cluster_versions = [kubernetes_version] if kubernetes_version else list(entry.cluster_versions)
    info: dict[str, Any] = {
        "addonVersion": entry.version,
        "architecture": list(entry.architecture),
        "compatibilities": [
            {
                "clusterVersion": version,
                "platformVersions": ["*"],
                "defaultVersion": version in entry.default_for,
            }
            for version in cluster_versions
        ],
        "requiresConfiguration": entry.requires_configuration,
        "requiresIamPermissions": entry.requires_iam_permissions,
    }
    if entry.compute_types:
        info["computeTypes"] = list(entry.compute_types)
    return info


# ================================================================================================
# moto wiring
# ================================================================================================

_active: StandIn | None = None
_original_call_action: Callable[[EKSResponse], TYPE_RESPONSE] | None = None
_replaced_methods: dict[str, Any] = {}


def active() -> StandIn:
    """The StandIn the moto handlers currently serve."""
    if _active is None:
        raise RuntimeError("the EKS add-on stand-in is not installed: call install() first")
    return _active


def install(standin: StandIn | None = None) -> StandIn:
    """Add the add-on operations to moto (once) and make `standin` the state they serve.

    Call it before the first EKS request reaches a moto server (the server builds its URL table
    then); calling it again only swaps the StandIn, which is how tests get a fresh one.
    """
    global _active, _original_call_action
    if _original_call_action is None:
        for name, handler in _HANDLERS.items():
            _replaced_methods[name] = EKSResponse.__dict__.get(name)
            setattr(EKSResponse, name, handler)
        _original_call_action = EKSResponse.call_action
        setattr(EKSResponse, "call_action", _call_action)  # noqa: B010 - a method swap, on purpose
        for path in ADDON_URL_PATHS:
            eks_urls.url_paths[path] = eks_urls.response.dispatch
    _active = standin if standin is not None else StandIn()
    return _active


def uninstall() -> None:
    """Undo install() for moto's class and URL table (already-built server apps keep their routes)."""
    global _active, _original_call_action
    if _original_call_action is None:
        return
    setattr(EKSResponse, "call_action", _original_call_action)  # noqa: B010
    for name, previous in _replaced_methods.items():
        if previous is None:
            delattr(EKSResponse, name)
        else:
            setattr(EKSResponse, name, previous)
    _replaced_methods.clear()
    for path in ADDON_URL_PATHS:
        eks_urls.url_paths.pop(path, None)
    _original_call_action = None
    _active = None


def _call_action(self: EKSResponse) -> TYPE_RESPONSE:
    assert _original_call_action is not None
    standin = _active
    if standin is None:
        return _original_call_action(self)
    operation = self._get_action() or "Unknown"
    if standin.latency > 0 and not paced():
        # Outside the lock: concurrent requests overlap as they would against a real endpoint.
        # (The keep-alive server paces its answers itself, counting moto's processing in.)
        time.sleep(standin.latency)
    fault = standin.take_fault(operation)
    standin.tick()  # time-based progress of control-plane updates, whatever the request
    if fault is not None and not fault.after_processing:
        return fault.response()
    rewrite = standin.take_rewrite(operation)
    if rewrite is not None and not rewrite.serve:
        return rewrite.apply(None)
    with standin.lock:
        served = _original_call_action(self)
    if fault is not None:
        return fault.response()
    if rewrite is None:
        serving(operation)  # moto's answer as it is: the keep-alive server may record it
        return served
    return rewrite.apply(served)


def _scope(self: EKSResponse) -> tuple[str, str]:
    return str(self.current_account), str(self.region)


def _uri(self: EKSResponse, key: str) -> str:
    return str(self.uri_match[key])


def _query(self: EKSResponse, key: str) -> str | None:
    values = self.querystring.get(key)
    if isinstance(values, list) and values:
        return str(values[0])
    return None


def _query_list(self: EKSResponse, key: str) -> list[str]:
    values = self.querystring.get(key)
    return [str(v) for v in values] if isinstance(values, list) else []


def _query_int(self: EKSResponse, key: str) -> int | None:
    value = _query(self, key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterError(f"{key} must be an integer") from None


def _body(self: EKSResponse) -> dict[str, Any]:
    raw = self.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        raise InvalidParameterError("The request body is not valid JSON") from None
    return document if isinstance(document, dict) else {}


def _cluster(self: EKSResponse, name: str) -> Cluster:
    account_id, region = _scope(self)
    try:
        cluster = self.eks_backend.describe_cluster(name=name)
    except MotoResourceNotFound:
        active().forget_cluster(account_id, region, name)
        raise
    active().bind_cluster(account_id, region, name, cluster)
    return cluster


def _optional_str(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return None if value is None else str(value)


def _describe_addon_versions(self: EKSResponse) -> ActionResult:
    return ActionResult(
        active().describe_addon_versions(
            addon_name=_query(self, "addonName"),
            kubernetes_version=_query(self, "kubernetesVersion"),
            max_results=_query_int(self, "maxResults"),
            next_token=_query(self, "nextToken"),
            types=_query_list(self, "types"),
            owners=_query_list(self, "owners"),
            publishers=_query_list(self, "publishers"),
        )
    )


def _describe_addon_configuration(self: EKSResponse) -> ActionResult:
    addon_name, addon_version = _query(self, "addonName"), _query(self, "addonVersion")
    if not addon_name or not addon_version:
        raise InvalidParameterError("addonName and addonVersion are required")
    return ActionResult(active().describe_addon_configuration(addon_name, addon_version))


def _create_addon(self: EKSResponse) -> ActionResult:
    standin = active()
    cluster = _cluster(self, _uri(self, "name"))
    body = _body(self)
    tags = body.get("tags")
    record = standin.create_addon(
        *_scope(self),
        cluster,
        addon_name=str(body.get("addonName", "")),
        addon_version=_optional_str(body, "addonVersion"),
        service_account_role_arn=_optional_str(body, "serviceAccountRoleArn"),
        resolve_conflicts=_optional_str(body, "resolveConflicts"),
        client_request_token=_optional_str(body, "clientRequestToken"),
        tags=tags if isinstance(tags, dict) else None,
        configuration_values=_optional_str(body, "configurationValues"),
        pod_identity_associations=_associations(body),
    )
    description = standin.catalogue.description(record.addon_name)
    return ActionResult({"addon": record.to_api(description)})


def _describe_addon(self: EKSResponse) -> ActionResult:
    standin = active()
    cluster = _cluster(self, _uri(self, "name"))
    record = standin.describe_addon(*_scope(self), cluster.name, _uri(self, "addonName"))
    description = standin.catalogue.description(record.addon_name)
    return ActionResult({"addon": record.to_api(description)})


def _update_addon(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    body = _body(self)
    update = active().update_addon(
        *_scope(self),
        cluster,
        addon_name=_uri(self, "addonName"),
        addon_version=_optional_str(body, "addonVersion"),
        service_account_role_arn=_optional_str(body, "serviceAccountRoleArn"),
        resolve_conflicts=_optional_str(body, "resolveConflicts"),
        client_request_token=_optional_str(body, "clientRequestToken"),
        configuration_values=_optional_str(body, "configurationValues"),
        pod_identity_associations=_associations(body),
    )
    return ActionResult({"update": update.to_api()})


def _describe_update(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    update = active().describe_update(
        *_scope(self), cluster.name, _uri(self, "updateId"), _query(self, "addonName")
    )
    return ActionResult({"update": update.to_api()})


def _list_updates(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    return ActionResult(
        active().list_updates(
            *_scope(self),
            cluster.name,
            _query(self, "addonName"),
            _query_int(self, "maxResults"),
            _query(self, "nextToken"),
        )
    )


def _list_addons(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    return ActionResult(
        active().list_addons(
            *_scope(self), cluster.name, _query_int(self, "maxResults"), _query(self, "nextToken")
        )
    )


def _delete_addon(self: EKSResponse) -> ActionResult:
    standin = active()
    cluster = _cluster(self, _uri(self, "name"))
    record = standin.delete_addon(*_scope(self), cluster.name, _uri(self, "addonName"))
    description = standin.catalogue.description(record.addon_name)
    return ActionResult({"addon": record.to_api(description)})


def _associations(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """podIdentityAssociations as sent: None when absent (keep), else the list."""
    if "podIdentityAssociations" not in body or body["podIdentityAssociations"] is None:
        return None
    value = body["podIdentityAssociations"]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidParameterError("podIdentityAssociations must be a list of objects")
    return value


def _list_insights(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    body = _body(self)
    raw_filter = body.get("filter")
    chosen: Mapping[str, Any] = raw_filter if isinstance(raw_filter, dict) else {}
    max_results = body.get("maxResults")
    return ActionResult(
        active().list_insights(
            (*_scope(self), cluster.name),
            categories=[str(v) for v in chosen.get("categories") or []],
            kubernetes_versions=[str(v) for v in chosen.get("kubernetesVersions") or []],
            statuses=[str(v) for v in chosen.get("statuses") or []],
            max_results=max_results if isinstance(max_results, int) else None,
            next_token=_optional_str(body, "nextToken"),
        )
    )


def _describe_insight(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    insight = active().describe_insight((*_scope(self), cluster.name), _uri(self, "id"))
    return ActionResult({"insight": insight})


def _update_cluster_version(self: EKSResponse) -> ActionResult:
    cluster = _cluster(self, _uri(self, "name"))
    body = _body(self)
    update = active().update_cluster_version(
        (*_scope(self), cluster.name),
        cluster,
        version=_optional_str(body, "version"),
        client_request_token=_optional_str(body, "clientRequestToken"),
        force=body.get("force") is True,
    )
    return ActionResult({"update": update.to_api()})


_HANDLERS: dict[str, Callable[[EKSResponse], ActionResult]] = {
    "describe_addon_versions": _describe_addon_versions,
    "describe_addon_configuration": _describe_addon_configuration,
    "create_addon": _create_addon,
    "describe_addon": _describe_addon,
    "update_addon": _update_addon,
    "describe_update": _describe_update,
    "list_updates": _list_updates,
    "list_addons": _list_addons,
    "delete_addon": _delete_addon,
    "list_insights": _list_insights,
    "describe_insight": _describe_insight,
    "update_cluster_version": _update_cluster_version,
}


def moto_backend_reset() -> None:
    """Empty moto's EKS backends (clusters, node groups, …) in every account and region."""
    for account_backends in list(eks_backends.values()):
        account_backends.reset()
