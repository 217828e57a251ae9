"""Has a DaemonSet rollout finished on every node? Pure: facts in, a verdict out.

A step of an upgrade is done only when the node side agrees with EKS: the controller has seen
the new generation; updated, available and desired counts agree; every aws-node pod on every
node that runs the CNI (Fargate nodes carry their own) runs the template's images in all its
containers; and no container is in CrashLoopBackOff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

FARGATE_LABEL = ("eks.amazonaws.com/compute-type", "fargate")


class NodeFacts(NamedTuple):
    name: str
    labels: Mapping[str, str]

    @property
    def fargate(self) -> bool:
        key, value = FARGATE_LABEL
        return self.labels.get(key) == value


class PodFacts(NamedTuple):
    name: str
    node: str | None
    images: Mapping[str, str]  # container name -> image, init containers included
    waiting: Mapping[str, str]  # container name -> waiting reason (CrashLoopBackOff, ...)


class Rollout(NamedTuple):
    generation_seen: bool
    desired: int
    updated: int
    available: int
    nodes: tuple[str, ...]  # nodes that must run the CNI
    behind: tuple[str, ...]  # of those, nodes whose pod is missing or runs other images
    crashlooping: tuple[str, ...]  # "pod/container on node"

    @property
    def done(self) -> bool:
        counts = self.updated == self.available == self.desired
        return self.generation_seen and counts and not self.behind and not self.crashlooping

    @property
    def progress(self) -> str:
        return f"{len(self.nodes) - len(self.behind)}/{len(self.nodes)} nodes updated"


def template_images(daemonset: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> image in the DaemonSet's pod template (init containers included)."""
    spec = daemonset.get("spec", {}).get("template", {}).get("spec", {})
    containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
    return {c["name"]: c["image"] for c in containers if "name" in c and "image" in c}


def assess(
    daemonset: Mapping[str, Any], pods: Iterable[PodFacts], nodes: Iterable[NodeFacts]
) -> Rollout:
    """The rollout's state from the DaemonSet, its pods and the cluster's nodes."""
    status = daemonset.get("status", {}) or {}
    generation = daemonset.get("metadata", {}).get("generation", 0) or 0
    expected = template_images(daemonset)
    cni_nodes = sorted(n.name for n in nodes if not n.fargate)
    by_node: dict[str, list[PodFacts]] = {}
    for pod in pods:
        if pod.node is not None:
            by_node.setdefault(pod.node, []).append(pod)
    behind = tuple(
        node
        for node in cni_nodes
        if not any(dict(p.images) == expected for p in by_node.get(node, []))
    )
    crashing = tuple(
        f"{pod.name}/{container} on {pod.node}"
        for node in cni_nodes
        for pod in by_node.get(node, [])
        for container, reason in sorted(pod.waiting.items())
        if reason == "CrashLoopBackOff"
    )
    return Rollout(
        generation_seen=(status.get("observedGeneration", 0) or 0) >= generation,
        desired=int(status.get("desiredNumberScheduled", 0) or 0),
        updated=int(status.get("updatedNumberScheduled", 0) or 0),
        available=int(status.get("numberAvailable", 0) or 0),
        nodes=tuple(cni_nodes),
        behind=behind,
        crashlooping=crashing,
    )


def describe_stall(rollout: Rollout, *, limit: int = 10) -> str:
    """One line naming what holds the rollout back: the nodes behind, crashing pods, counts."""
    parts = []
    if rollout.behind:
        shown = ", ".join(rollout.behind[:limit])
        more = f" and {len(rollout.behind) - limit} more" if len(rollout.behind) > limit else ""
        parts.append(f"nodes behind: {shown}{more}")
    if rollout.crashlooping:
        parts.append("CrashLoopBackOff: " + ", ".join(rollout.crashlooping[:limit]))
    if not rollout.generation_seen:
        parts.append("the DaemonSet controller has not seen the new generation")
    if not rollout.updated == rollout.available == rollout.desired:
        parts.append(
            f"updated {rollout.updated}, available {rollout.available}, desired {rollout.desired}"
        )
    return "; ".join(parts) or "rolled out"
