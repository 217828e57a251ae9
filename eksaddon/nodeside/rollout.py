"""Has a DaemonSet rollout finished on every node? Pure: facts in, a verdict out.

A step of an upgrade is done only when the node side agrees with EKS: the controller has seen
the new generation; updated, available and desired counts agree; every aws-node pod on every
node that runs the CNI runs the template's images in all its containers; and no container is in
CrashLoopBackOff.

The nodes that run the CNI are those the DaemonSet's own pod template selects (``nodeSelector``
and required node affinity), never Fargate's: from v1.19.0 the manifest also leaves out EKS
hybrid and Auto Mode nodes (compute types ``hybrid`` and ``auto``), which carry their own
networking. Taints are not considered: aws-node tolerates every taint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from eksaddon.gateways.answers import Answer

FARGATE_LABEL = ("eks.amazonaws.com/compute-type", "fargate")


class NodeFacts(NamedTuple):
    name: str
    labels: Mapping[str, str]
    # status.nodeInfo.kubeletVersion as the API server reports it ("v1.29.3-eks-ae9a62a"), or
    # None when it is absent or not text: the gate's kubelet skew check reads it.
    kubelet_version: str | None = None

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


def _daemonset(document: Mapping[str, Any]) -> Answer:
    # What the API server answered: a null container or a count that is text is one typed
    # error naming the field (UnexpectedAnswerError), never an AttributeError.
    return Answer(document, source="Kubernetes", path="daemonset")


def template_images(daemonset: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> image in the DaemonSet's pod template (init containers included)."""
    found = _daemonset(daemonset).optional_child("spec")
    template = found.optional_child("template") if found else None
    spec = template.optional_child("spec") if template else None
    if spec is None:
        return {}
    images = {}
    for container in (*spec.children("initContainers"), *spec.children("containers")):
        name, image = container.optional_text("name"), container.optional_text("image")
        if name is not None and image is not None:
            images[name] = image
    return images


def assess(
    daemonset: Mapping[str, Any], pods: Iterable[PodFacts], nodes: Iterable[NodeFacts]
) -> Rollout:
    """The rollout's state from the DaemonSet, its pods and the cluster's nodes."""
    answer = _daemonset(daemonset)
    status = answer.optional_child("status")
    metadata = answer.optional_child("metadata")
    generation = (metadata.optional("generation", int) if metadata else None) or 0

    def count(key: str) -> int:
        return (status.optional(key, int) if status else None) or 0

    expected = template_images(daemonset)
    pod_spec = _get(daemonset, "spec", "template", "spec")
    cni_nodes = sorted(n.name for n in nodes if not n.fargate and selects(pod_spec, n))
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
        generation_seen=count("observedGeneration") >= generation,
        desired=count("desiredNumberScheduled"),
        updated=count("updatedNumberScheduled"),
        available=count("numberAvailable"),
        nodes=tuple(cni_nodes),
        behind=behind,
        crashlooping=crashing,
    )


def selects(pod_spec: Any, node: NodeFacts) -> bool:
    """Whether a pod with ``pod_spec`` may run on ``node``: its nodeSelector and required affinity.

    A part that is not of the shape Kubernetes accepts is taken as no constraint: the API server
    would not have admitted it, so it cannot have kept a pod off a node.
    """
    if not isinstance(pod_spec, Mapping):
        return True
    selector = pod_spec.get("nodeSelector")
    if isinstance(selector, Mapping) and any(
        node.labels.get(str(key)) != value for key, value in selector.items()
    ):
        return False
    affinity = pod_spec.get("affinity")
    required = _get(affinity, "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    terms = _get(required, "nodeSelectorTerms")
    if not isinstance(terms, list) or not terms:
        return True
    # Terms are ORed, the requirements of one term ANDed; an empty term selects no node.
    return any(_term_selects(term, node) for term in terms)


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _term_selects(term: Any, node: NodeFacts) -> bool:
    if not isinstance(term, Mapping):
        return True
    expressions = [e for e in term.get("matchExpressions") or () if isinstance(e, Mapping)]
    fields = [e for e in term.get("matchFields") or () if isinstance(e, Mapping)]
    if not expressions and not fields:
        return False
    return all(_matches(e, node.labels) for e in expressions) and all(
        _matches(e, {"metadata.name": node.name}) for e in fields
    )


def _matches(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = str(requirement.get("key")), requirement.get("operator")
    values = [str(v) for v in requirement.get("values") or ()]
    value = labels.get(key)
    if operator == "In":
        return value in values
    if operator == "NotIn":
        return value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            found, bound = int(value), int(values[0])
        except ValueError:
            return False
        return found > bound if operator == "Gt" else found < bound
    return operator not in ("Gt", "Lt")  # an operator Kubernetes does not know: no constraint


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
