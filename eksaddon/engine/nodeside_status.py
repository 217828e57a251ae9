"""What runs on the nodes: the aws-node DaemonSet as the cluster has it, read through Kubernetes.

Answers what EKS cannot: whether the VPC CNI runs at all or another CNI replaced it, which version
the nodes run (from the ``aws-node`` container's image, not the init container's), the settings
that differ from that version's defaults, where the images come from, and how far a rollout got.
Fargate nodes carry their own CNI and are left out.
"""

from __future__ import annotations

from typing import NamedTuple

from eksaddon.errors import EksAddonError
from eksaddon.gateways.protocols import KubernetesReader
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.nodeside.detect import DetectedAddon, TypeEvidence, detect
from eksaddon.nodeside.rollout import Rollout, assess

# DaemonSet names of CNIs that replace the VPC CNI (EKS "alternate CNI plugins").
OTHER_CNIS = {
    "cilium": "Cilium",
    "calico-node": "Calico",
    "kube-router": "kube-router",
    "weave-net": "Weave Net",
    "antrea-agent": "Antrea",
}


class NodeSide(NamedTuple):
    state: str  # "running", "absent" or "replaced"
    other_cni: str | None
    detected: DetectedAddon | None
    rollout: Rollout | None
    fargate_nodes: tuple[str, ...]
    findings: tuple[str, ...]


def read_node_side(
    kube: KubernetesReader, matrix: Matrix, *, region: str, eks_managed: bool
) -> NodeSide:
    spec = matrix.daemonset
    if spec is None:
        raise EksAddonError(f"the {matrix.addon} matrix describes no DaemonSet to read")
    nodes = kube.nodes()
    fargate = tuple(sorted(n.name for n in nodes if n.fargate))
    others = sorted(
        {
            OTHER_CNIS[name]
            for d in kube.all_daemonsets()
            if (name := d.get("metadata", {}).get("name")) in OTHER_CNIS
        }
    )
    other = ", ".join(others) or None
    daemonset = kube.read_daemonset(spec.namespace, spec.name)
    if daemonset is None:
        return NodeSide("replaced" if other else "absent", other, None, None, fargate, ())
    scheduled = int((daemonset.get("status") or {}).get("desiredNumberScheduled", 0) or 0)
    if scheduled == 0 and other:
        return NodeSide("replaced", other, None, None, fargate, ())
    detected = detect(daemonset, matrix, label=f"DaemonSet {spec.namespace}/{spec.name}")
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
    rollout = assess(daemonset, kube.pods(spec.namespace, f"k8s-app={spec.name}"), nodes)
    return NodeSide(
        "running", other, detected, rollout, fargate, tuple(_registry_findings(detected, region))
    )


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
