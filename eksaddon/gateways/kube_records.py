"""Kubernetes answers read into the Kubernetes protocol's records (pure: no client here).

Every field may be absent, null or of another type: a misfit where eksaddon acts on the value
is an :class:`~eksaddon.errors.UnexpectedAnswerError` naming the field; where the value is only
a fact to report (a node's kubelet version) it becomes None, "unknown".
"""

from __future__ import annotations

from eksaddon.gateways.answers import Answer
from eksaddon.gateways.protocols import DisruptionBudget, NodeFacts, PodFacts, SelectorRequirement


def node_facts(item: Answer) -> NodeFacts:
    metadata = item.child("metadata")
    return NodeFacts(metadata.text("name"), metadata.text_map("labels"), _kubelet_version(item))


def _kubelet_version(item: Answer) -> str | None:
    """status.nodeInfo.kubeletVersion, or None when absent or not text: the gate says
    "unknown" for that node rather than failing on the whole cluster."""
    status = item.raw.get("status")
    info = status.get("nodeInfo") if isinstance(status, dict) else None
    version = info.get("kubeletVersion") if isinstance(info, dict) else None
    return version if isinstance(version, str) and version else None


def budget(item: Answer, namespace: str) -> DisruptionBudget:
    metadata = item.child("metadata")
    spec = item.optional_child("spec")
    status = item.optional_child("status")
    selector = spec.optional_child("selector") if spec else None
    labels: dict[str, str] | None = None
    expressions: list[SelectorRequirement] = []
    if selector is not None:
        labels = selector.text_map("matchLabels")
        for entry in selector.children("matchExpressions"):
            expressions.append(
                SelectorRequirement(
                    entry.text("key"), entry.text("operator"), tuple(entry.texts("values"))
                )
            )

    def count(key: str) -> int | None:
        return status.optional(key, int) if status else None

    return DisruptionBudget(
        namespace=metadata.optional_text("namespace") or namespace,
        name=metadata.text("name"),
        match_labels=labels,
        match_expressions=tuple(expressions),
        min_available=_int_or_percent(spec, "minAvailable"),
        max_unavailable=_int_or_percent(spec, "maxUnavailable"),
        generation=metadata.optional("generation", int),
        observed_generation=count("observedGeneration"),
        current_healthy=count("currentHealthy"),
        desired_healthy=count("desiredHealthy"),
        disruptions_allowed=count("disruptionsAllowed"),
        expected_pods=count("expectedPods"),
    )


def _int_or_percent(spec: Answer | None, key: str) -> str | None:
    """An IntOrString field (2, "50%") as text; another type is a misfit naming the field."""
    if spec is None:
        return None
    value = spec.raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise spec.misfit(f"{spec.path}.{key}", value)
    return str(value)


def pod_facts(item: Answer) -> PodFacts:
    spec = item.optional_child("spec")
    status = item.optional_child("status")
    containers = [*spec.children("initContainers"), *spec.children("containers")] if spec else []
    statuses = (
        [*status.children("initContainerStatuses"), *status.children("containerStatuses")]
        if status
        else []
    )
    waiting = {}
    for entry in statuses:
        state = entry.optional_child("state")
        reason = state.optional_child("waiting") if state else None
        if reason is not None:
            waiting[entry.text("name")] = reason.shown_text("reason") or ""
    metadata = item.child("metadata")
    return PodFacts(
        metadata.text("name"),
        spec.optional_text("nodeName") if spec else None,
        {c.text("name"): c.text("image") for c in containers},
        waiting,
        ready=_ready(status),
        terminating=metadata.optional_text("deletionTimestamp") is not None,
    )


def _ready(status: Answer | None) -> bool | None:
    """The pod's Ready condition: True or False as written, None when absent or another text."""
    if status is None:
        return None
    for condition in status.children("conditions"):
        if condition.optional_text("type") == "Ready":
            value = condition.optional_text("status")
            return {"True": True, "False": False}.get(value or "")
    return None
