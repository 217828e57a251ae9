"""What Kubernetes tells the cluster-upgrade gate (:mod:`eksaddon.engine.gate`): each node's
kubelet, and the version of each self-managed add-on from its workload's image tag.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from eksaddon.engine.self_managed_status import image_version
from eksaddon.gate import KUBERNETES, AddonFacts, KubeletFacts
from eksaddon.matrix.model import AddonType, Matrix, Workload
from eksaddon.nodeside.rollout import NodeFacts

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
    # status and live check-compat read a self-managed add-on's version the same way.
    tag, reading = image_version(workload, document)
    version, problem = reading.version, reading.why_unknown
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
