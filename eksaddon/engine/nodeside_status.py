"""What runs on the nodes: an add-on's main workload as the cluster has it, read through Kubernetes.

Answers what EKS cannot: whether the add-on runs at all or something replaced it (the profile
says what), which version the nodes run (from the version container's image, under the
profile's tag rule, or "unknown" and why), how far a rollout got, and, for an add-on whose matrix
describes its DaemonSet's defaults (vpc-cni), the settings that differ from that version's
defaults and where the images come from. Fargate nodes are left out.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from eksaddon.addons import profile_of
from eksaddon.addons.base import AddonProfile, main_workload, workload_version
from eksaddon.errors import EksAddonError
from eksaddon.matrix.model import AddonType, Matrix, WorkloadKind
from eksaddon.nodeside.detect import DetectedAddon, TypeEvidence, detect
from eksaddon.nodeside.rollout import NodeFacts, PodFacts, Rollout, assess
from eksaddon.versions import AddonVersion


class ClusterReader(Protocol):
    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def all_daemonsets(self) -> list[dict[str, Any]]: ...

    def nodes(self) -> list[NodeFacts]: ...

    def pods(self, namespace: str, selector: str) -> list[PodFacts]: ...


class NodeSide(NamedTuple):
    state: str  # "running", "absent" or "replaced"
    other_cni: str | None
    detected: DetectedAddon | None
    rollout: Rollout | None
    fargate_nodes: tuple[str, ...]
    findings: tuple[str, ...]
    # Which workload was read ("DaemonSet kube-system/aws-node"), and the version its image
    # shows when no DetectedAddon describes it (None: unknown, ``version_note`` says why).
    workload: str | None = None
    version: AddonVersion | None = None
    version_note: str | None = None

    @property
    def name(self) -> str:
        """The workload's name, for one-line messages."""
        return (self.workload or "the add-on's workload").rsplit("/", 1)[-1]


def read_node_side(
    kube: ClusterReader,
    matrix: Matrix,
    *,
    region: str,
    eks_managed: bool,
    profile: AddonProfile | None = None,
) -> NodeSide:
    """The add-on's main workload as the cluster has it (``profile`` defaults to the matrix's)."""
    profile = profile if profile is not None else profile_of(matrix)
    workload = main_workload(profile)
    if workload is None or workload.kind is not WorkloadKind.DAEMONSET:
        what = "no workload" if workload is None else f"a {workload.kind}"
        raise EksAddonError(f"eksaddon cannot read the node side of {matrix.addon} ({what})")
    label = f"{workload.kind} {workload.namespace}/{workload.name}"
    nodes = kube.nodes()
    fargate = tuple(sorted(n.name for n in nodes if n.fargate))
    other = profile.replaced_by(kube.all_daemonsets())
    daemonset = kube.read_daemonset(workload.namespace, workload.name)
    if daemonset is None:
        state = "replaced" if other else "absent"
        return NodeSide(state, other, None, None, fargate, (), label)
    if _scheduled(daemonset) == 0 and other:
        return NodeSide("replaced", other, None, None, fargate, (), label)
    rollout = assess(daemonset, kube.pods(workload.namespace, f"k8s-app={workload.name}"), nodes)
    if matrix.daemonset is None:  # no defaults to compare with: the version and the rollout
        reading = workload_version(workload, daemonset)
        return NodeSide("running", other, None, rollout, fargate, (), label, *reading)
    detected = detect(daemonset, matrix, label=label, region=region)
    # Live, EKS itself says whether the add-on is its own: that outweighs any mark on the object.
    detected = detected.with_type(
        AddonType.MANAGED if eks_managed else AddonType.SELF_MANAGED,
        TypeEvidence(
            "eks-describe-addon",
            AddonType.MANAGED if eks_managed else AddonType.SELF_MANAGED,
            "eks:DescribeAddon finds the EKS add-on"
            if eks_managed
            else "eks:DescribeAddon finds no EKS add-on",
        ),
    )
    findings = tuple(_registry_findings(detected, region)) if profile.renders_manifests else ()
    return NodeSide("running", other, detected, rollout, fargate, findings, label, detected.version)


def _scheduled(daemonset: dict[str, Any]) -> int | None:
    """status.desiredNumberScheduled, when the answer holds a number there."""
    status = daemonset.get("status")
    value = status.get("desiredNumberScheduled", 0) if isinstance(status, dict) else 0
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return None


def node_side_readable(profile: AddonProfile) -> str | None:
    """Why the node side of ``profile``'s add-on cannot be read (None: it can)."""
    workload = main_workload(profile)
    if workload is None:
        return profile.node_side_note or f"eksaddon knows no workload of {profile.name}"
    if workload.kind is not WorkloadKind.DAEMONSET:
        return (
            f"node side not read: eksaddon does not read a {workload.kind} yet "
            f"({workload.namespace}/{workload.name})"
        )
    return None


def _registry_findings(detected: DetectedAddon, region: str) -> list[str]:
    from eksaddon.nodeside.render import registry_for

    try:
        expected = registry_for(region)
    except EksAddonError:
        return []
    return [
        f"{container} pulls {image.split('/', 1)[0]}, not {region}'s registry {expected}: "
        "cross-region pulls are slower and fail when that region is unreachable "
        "(a private mirror is fine)"
        for container, image in sorted(detected.images.items())
        if ".dkr.ecr." in image and not image.startswith(expected + "/")
    ]
