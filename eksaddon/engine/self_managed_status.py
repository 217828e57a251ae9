"""A self-managed add-on found through Kubernetes, for ``status`` and live ``check-compat``.

Clusters created before EKS add-ons run kube-proxy and CoreDNS (and sometimes others) as plain
Kubernetes workloads: eks:DescribeAddon finds nothing, yet the add-on runs. When EKS has no
add-on of that name, the profile's main workload is read; the version its image shows (under the
profile's tag rule, or "unknown" and why), who its metadata says manages it, and the next step
are reported. A Kubernetes API that cannot be read is said to be one, never taken for "absent".

The cluster-upgrade gate reads self-managed add-ons the same way (:func:`image_version`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from eksaddon.addons import workload_objects as objs
from eksaddon.addons.base import (
    AddonProfile,
    ObjectRef,
    VersionReading,
    image_tag,
    main_workload,
    workload_version,
)
from eksaddon.compat import Finding, Severity
from eksaddon.engine.profile_objects import read_objects
from eksaddon.errors import EksAddonError
from eksaddon.gateways.protocols import ClusterInfo, KubernetesReader
from eksaddon.matrix.model import AddonType, Workload
from eksaddon.versions import AddonVersion

SELF_MANAGED = "self-managed"
ABSENT = "absent"
UNKNOWN = "unknown"  # Kubernetes could not be read: self-managed or absent cannot be told
NOT_EKS = "eks:DescribeAddon finds no EKS add-on"


class SelfManaged(NamedTuple):
    """What Kubernetes shows of an add-on EKS does not manage."""

    state: str  # SELF_MANAGED, ABSENT or UNKNOWN
    workload: str  # "DaemonSet kube-system/kube-proxy"
    image_tag: str | None = None
    version: AddonVersion | None = None
    version_note: str | None = None  # why the version is unknown
    evidence: tuple[str, ...] = ()
    next_step: str | None = None
    problem: str | None = None  # why Kubernetes could not be read (state UNKNOWN)

    def describe(self) -> str:
        """One line for a table or a finding."""
        if self.state == UNKNOWN:
            return f"not an EKS add-on; Kubernetes could not be read: {self.problem}"
        if self.state == ABSENT:
            return f"not an EKS add-on, and {self.workload} is absent: the add-on does not run"
        version = str(self.version) if self.version else f"version unknown ({self.version_note})"
        return f"self-managed: {self.workload} runs {version}"


def image_version(
    workload: Workload, document: Mapping[str, Any]
) -> tuple[str | None, VersionReading]:
    """The image tag of ``workload``'s version container and the add-on version it shows (None
    and why when it does not say: no tag, no known tag rule, a tag of another form)."""
    tag = image_tag(document, workload.version_container)
    try:
        return tag, workload_version(workload, document)
    except EksAddonError as error:  # a tag of another form than the add-on's
        return tag, VersionReading(None, error.one_line())


def applies(profile: AddonProfile) -> bool:
    """Whether self-managed detection reads this add-on: it names a workload, and its matrix has
    no DaemonSet defaults table (those add-ons, vpc-cni, are detected with their settings)."""
    return main_workload(profile) is not None and profile.matrix.daemonset is None


def detect_self_managed(
    connect: Callable[[ClusterInfo], KubernetesReader],
    profile: AddonProfile,
    info: ClusterInfo,
) -> SelfManaged:
    """``profile``'s add-on on a cluster where EKS has none: self-managed, absent, or unknown."""
    workload = main_workload(profile)
    assert workload is not None  # callers check applies()
    label = f"{workload.kind} {workload.namespace}/{workload.name}"
    ref = ObjectRef(str(workload.kind), workload.namespace, workload.name)
    try:
        document = read_objects(connect(info), [ref]).get(ref)
    except EksAddonError as error:
        return SelfManaged(UNKNOWN, label, evidence=(NOT_EKS,), problem=error.one_line())
    if document is None:
        return SelfManaged(
            ABSENT,
            label,
            evidence=(NOT_EKS, f"{label} is absent"),
            next_step=f"`eksaddon install --cluster {info.name} --addon {profile.name}` "
            "creates the EKS add-on",
        )
    tag, reading = image_version(workload, document)
    evidence = [NOT_EKS, f"{label} runs image tag {tag or '(none)'}"]
    ownership = objs.ownership(document, label)
    evidence.append(ownership.basis)
    if ownership.addon_type is AddonType.MANAGED:
        evidence.append("EKS once managed it (an add-on deleted with --preserve?)")
    return SelfManaged(
        SELF_MANAGED,
        label,
        image_tag=tag,
        version=reading.version,
        version_note=reading.why_unknown,
        evidence=tuple(evidence),
        next_step=next_step(profile, info.name),
    )


def next_step(profile: AddonProfile, cluster: str) -> str:
    """What makes a self-managed install of ``profile``'s add-on an EKS add-on."""
    command = f"eksaddon migrate --cluster {cluster} --addon {profile.name}"
    if profile.settings.sources(profile.matrix) or profile.renders_manifests:
        return f"`{command}` makes it the EKS add-on at the same release, its settings carried"
    return (
        f"eksaddon does not read {profile.name}'s settings on the nodes: back them up, then "
        f"`eksaddon install --cluster {cluster} --addon {profile.name}` (EKS overwrites them)"
    )


def not_checkable(found: SelfManaged, *, addon: str, cluster: str) -> EksAddonError:
    """Why live ``check-compat`` has no version to check: EKS has no add-on, and Kubernetes
    shows none either or cannot be read."""
    where = f"{addon} is not an EKS add-on on cluster {cluster}"
    if found.state == UNKNOWN:
        return EksAddonError(
            f"{where}, and Kubernetes could not be read to look for a self-managed one: "
            f"{found.problem}",
            hint="check --kubeconfig and --context, or pass --addon-version to check offline",
        )
    return EksAddonError(
        f"{where}, and {found.workload} is absent: {addon} does not run there",
        hint=found.next_step,
    )


def self_managed_findings(found: SelfManaged, addon: str) -> list[Finding]:
    """The report's own lines for a self-managed add-on: where its version came from, the
    evidence, the next step, and (ERROR) a version its image does not show."""
    findings = [
        Finding(
            "sources",
            "source",
            Severity.INFO,
            f"{addon} image tag {found.image_tag or '(none)'} from Kubernetes ({found.workload})",
        ),
        Finding(
            "self-managed",
            "self-managed",
            Severity.INFO,
            f"{addon} is self-managed ({'; '.join(found.evidence)}): EKS's add-on API does not "
            f"update it; next: {found.next_step}",
        ),
    ]
    if found.version is None:
        findings.append(
            Finding(
                "self-managed",
                "version-unreadable",
                Severity.ERROR,
                f"which {addon} version {found.workload} runs is unknown: {found.version_note}; "
                "its compatibility is unknown",
            )
        )
    return findings
