"""The compatibility matrix as typed, immutable data: what the planner and the checks read.

Records here (and in the other domain modules) are NamedTuples rather than dataclasses: every
offline command defines all of them at start-up, and a NamedTuple costs about a seventh of a frozen
dataclass to define (0.08 ms against 0.58 ms on CPython 3.11), which keeps ``check-compat``
within its cold-start budget (bench/startup.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import NamedTuple

from eksaddon.errors import UnknownKubernetesVersionError
from eksaddon.versions import AddonVersion, ImageTagRule, KubernetesVersion


class AddonType(str, Enum):
    """How the add-on is installed: through the EKS add-on API, or by applying a manifest."""

    MANAGED = "managed"
    SELF_MANAGED = "self-managed"

    def __str__(self) -> str:
        return self.value


class Build(NamedTuple):
    """An EKS add-on build and the Kubernetes versions a source shows it offered for."""

    version: AddonVersion
    kubernetes_versions: frozenset[KubernetesVersion]
    sources: tuple[str, ...] = ()
    notes: str | None = None
    # Known NOT offered (withdrawn, or absent from a full capture): absence here is evidence.
    not_offered_for: frozenset[KubernetesVersion] = frozenset()


class Release(NamedTuple):
    """A self-managed upstream release (a GitHub tag)."""

    version: AddonVersion
    date: str | None = None
    kubernetes_min: KubernetesVersion | None = None
    notes: str | None = None

    def runs_on(self, kubernetes: KubernetesVersion) -> bool:
        return self.kubernetes_min is None or kubernetes >= self.kubernetes_min


class KubernetesEntry(NamedTuple):
    """What the matrix knows about one Kubernetes version."""

    version: KubernetesVersion
    latest: AddonVersion
    default: AddonVersion | None
    default_as_of: str | None
    catalogue_complete: bool
    notes: str | None
    complete_through: AddonVersion | None = None
    # When a source showed ``latest`` as the newest build (where that predates the matrix's as_of).
    latest_as_of: str | None = None

    def knows_absence_of(self, version: AddonVersion) -> bool:
        """Whether a build missing from this version's catalogue is known not to be offered.

        True when the catalogue is complete, or complete up to a build (a full capture of
        describe-addon-versions at some date lists every build up to its newest one).
        """
        if self.catalogue_complete:
            return True
        return self.complete_through is not None and version <= self.complete_through


class Gate(NamedTuple):
    """A stepping stone: reaching ``target_at_least`` needs ``requires_current_at_least`` first."""

    id: str
    target_at_least: AddonVersion
    requires_current_at_least: AddonVersion
    reason: str


class DowngradeWarning(NamedTuple):
    id: str
    from_at_least: AddonVersion
    to_below: AddonVersion
    message: str


class PolicyKind(str, Enum):
    """How far one update may move an add-on (upgrade_policy.kind in the matrix file)."""

    # At most max_minor_step minors per update, newest build at each minor (vpc-cni: EKS refuses
    # more with "Updating VPC-CNI can only go up or down 1 minor version at a time").
    MINOR_STEPS = "minor-steps"
    # Any build the catalogue offers for the cluster's version, in one update (CoreDNS, EBS CSI,
    # pod identity agent: no step rule documented or enforced, upgrade-rules.yaml).
    CATALOGUE = "catalogue"
    # As CATALOGUE, and the add-on's minor is a Kubernetes minor held to the version-skew policy
    # against the control plane (kube-proxy).
    KUBERNETES_SKEW = "kubernetes-skew"

    def __str__(self) -> str:
        return self.value


class SkewLimit(NamedTuple):
    """For add-on versions whose Kubernetes minor is below ``below``: at most ``max_older``."""

    below: KubernetesVersion
    max_older: int


class SkewPolicy(NamedTuple):
    """How many minors the add-on may be newer or older than the control plane."""

    max_newer: int
    max_older: int
    older_limits: tuple[SkewLimit, ...] = ()
    source: str | None = None

    def max_older_for(self, addon_minor: KubernetesVersion) -> int:
        """The allowed lag for an add-on at ``addon_minor`` (the tightest limit that applies)."""
        limits = [limit.max_older for limit in self.older_limits if addon_minor < limit.below]
        return min([self.max_older, *limits])


class UpgradePolicy(NamedTuple):
    max_minor_step: int | None
    gates: tuple[Gate, ...] = ()
    downgrade_warnings: tuple[DowngradeWarning, ...] = ()
    source: str | None = None
    kind: PolicyKind = PolicyKind.MINOR_STEPS
    skew: SkewPolicy | None = None


class Detector(NamedTuple):
    """One way to see a feature is on: an env var or a ``--flag=value`` arg equal to ``equals``."""

    container: str
    equals: str
    env: str | None = None
    arg: str | None = None

    @property
    def setting(self) -> str:
        return self.env if self.env is not None else str(self.arg)


class Feature(NamedTuple):
    name: str
    description: str
    detect: tuple[Detector, ...]
    requires_addon: AddonVersion | None = None
    requires_kubernetes: KubernetesVersion | None = None
    downgrade_floor: AddonVersion | None = None
    floor_reason: str | None = None
    source: str | None = None
    # (dotted path into the EKS add-on's configuration values, value that turns the feature on)
    configuration: tuple[tuple[str, str], ...] = ()


class SettingDefault(NamedTuple):
    """A default env var or arg of one container, and the releases whose manifest carries it."""

    name: str
    default: str | None
    since: AddonVersion | None = None
    until: AddonVersion | None = None
    value_from: str | None = None

    def applies_to(self, version: AddonVersion) -> bool:
        release = version.release
        if self.since is not None and release < self.since:
            return False
        return self.until is None or release <= self.until

    def default_for(self, version: AddonVersion) -> str | None:
        """The default value at ``version``; ``{version}`` stands for the release tag."""
        if self.default is None:
            return None
        return self.default.replace("{version}", str(version.release))


class Customization(NamedTuple):
    """A setting that differs from the manifest default (``default`` None: not in the manifest)."""

    container: str
    name: str
    value: str | None
    default: str | None
    kind: str = "env"


class ContainerDefaults(NamedTuple):
    name: str
    since: AddonVersion | None = None
    env: tuple[SettingDefault, ...] = ()
    args: tuple[SettingDefault, ...] = ()


class DaemonSetSpec(NamedTuple):
    """Where the add-on lives on the nodes, and its containers' defaults."""

    name: str
    namespace: str
    version_container: str
    version_image: str
    managed_field_manager: str
    containers: Mapping[str, ContainerDefaults]


class WorkloadKind(str, Enum):
    DAEMONSET = "DaemonSet"
    DEPLOYMENT = "Deployment"

    def __str__(self) -> str:
        return self.value


class Workload(NamedTuple):
    """A Kubernetes workload the add-on runs, and how its image shows the add-on's version."""

    kind: WorkloadKind
    namespace: str
    name: str
    version_container: str
    image_tag: ImageTagRule | None  # None: no source shows how the image is tagged
    version_image: str | None = None
    source: str | None = None
    notes: str | None = None


class Matrix(NamedTuple):
    """One add-on's compatibility matrix. Builds and releases are held newest first."""

    addon: str
    display_name: str
    as_of: str | None
    origin: str
    kubernetes: Mapping[KubernetesVersion, KubernetesEntry]
    builds: tuple[Build, ...]
    releases: tuple[Release, ...]
    policy: UpgradePolicy
    features: Mapping[str, Feature]
    daemonset: DaemonSetSpec | None
    notes: tuple[str, ...] = ()
    workloads: tuple[Workload, ...] = ()

    @property
    def kubernetes_versions(self) -> list[KubernetesVersion]:
        """Covered Kubernetes versions, newest first."""
        return sorted(self.kubernetes, reverse=True)

    def entry(self, kubernetes: KubernetesVersion) -> KubernetesEntry:
        """The entry for ``kubernetes``; an error naming the covered range when there is none."""
        try:
            return self.kubernetes[kubernetes]
        except KeyError:
            covered = self.kubernetes_versions
            span = f"it covers {covered[-1]}–{covered[0]}" if covered else "it covers none"
            raise UnknownKubernetesVersionError(
                f"Kubernetes {kubernetes} is not in the {self.addon} matrix ({span})",
                hint="pass a covered version, or a newer matrix with --matrix FILE",
            ) from None

    def builds_for(self, kubernetes: KubernetesVersion) -> list[AddonVersion]:
        """EKS add-on builds offered for ``kubernetes``, newest first."""
        return [b.version for b in self.builds if kubernetes in b.kubernetes_versions]

    def releases_for(self, kubernetes: KubernetesVersion) -> list[AddonVersion]:
        """Self-managed releases that run on ``kubernetes``, newest first."""
        return [r.version for r in self.releases if r.runs_on(kubernetes)]

    def candidates(
        self, addon_type: AddonType, kubernetes: KubernetesVersion
    ) -> list[AddonVersion]:
        """Versions an add-on of ``addon_type`` can move to on ``kubernetes``, newest first."""
        if addon_type is AddonType.MANAGED:
            return self.builds_for(kubernetes)
        return self.releases_for(kubernetes)

    def known_not_offered(self, version: AddonVersion, kubernetes: KubernetesVersion) -> bool:
        """Whether the matrix knows ``version`` is not offered for ``kubernetes``."""
        if version in self.builds_for(kubernetes):
            return False
        build = self.find_build(version)
        if build is not None and kubernetes in build.not_offered_for:
            return True
        return self.entry(kubernetes).knows_absence_of(version)

    def find_build(self, version: AddonVersion) -> Build | None:
        return next((b for b in self.builds if b.version == version), None)

    def find_release(self, version: AddonVersion) -> Release | None:
        return next((r for r in self.releases if r.version == version), None)
