"""What Kubernetes tells the cluster-upgrade gate (:mod:`eksaddon.engine.gate`): each node's
kubelet, and the version of each self-managed add-on from its workload's image tag.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from eksaddon.errors import EksAddonError
from eksaddon.gate import KUBERNETES, AddonFacts, KubeletFacts
from eksaddon.matrix.model import AddonType, Matrix, Workload
from eksaddon.nodeside.rollout import NodeFacts, template_images
from eksaddon.versions import parse_image_tag

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"


class GateKube(Protocol):
    """What the gate reads through Kubernetes (gateways.kube.KubeGateway answers it)."""

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def nodes(self) -> list[NodeFacts]: ...


class KubeFacts(NamedTuple):
    kubelets: tuple[KubeletFacts, ...]
    addons: tuple[AddonFacts, ...]
    nodes_problem: str | None
    workloads_problem: str | None


def workloads_of(matrix: Matrix) -> tuple[Workload, ...]:
    """The workloads the add-on's profile names (where its version shows on the cluster)."""
    from eksaddon.addons import profile_of

    return profile_of(matrix).workloads


def self_managed_facts(
    addon: str, matrix: Matrix, workload: Workload, document: dict[str, Any]
) -> AddonFacts:
    where = f"{workload.kind} {workload.namespace}/{workload.name}"
    image = template_images(document).get(workload.version_container)
    tag = image.rsplit(":", 1)[1] if image and ":" in image.rsplit("/", 1)[-1] else None
    version, problem = None, None
    if tag is None:
        problem = f"container {workload.version_container} of {where} shows no image tag"
    elif workload.image_tag is None:
        problem = f"no source shows how {where}'s image tag maps to the add-on version"
    else:
        try:
            reading = parse_image_tag(tag, workload.image_tag)
            version, problem = reading.addon_version, reading.why_unknown
        except EksAddonError as error:
            problem = error.one_line()
    return AddonFacts(
        name=addon,
        type=AddonType.SELF_MANAGED,
        reported_version=tag,
        version=version.release if version is not None else None,
        source=f"{KUBERNETES} ({where} image tag)",
        matrix=matrix,
        catalogue_sources=(),
        version_problem=problem,
    )


def kubelet_facts(node: NodeFacts) -> KubeletFacts:
    return KubeletFacts(
        node.name, node.kubelet_version, node.fargate, NODEGROUP_LABEL in node.labels
    )
