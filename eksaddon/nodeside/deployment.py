"""Has a Deployment rollout finished, within its PodDisruptionBudget? Pure: facts in, a verdict out.

The conditions are those of ``kubectl rollout status`` for a Deployment, checked against the pods
as well: the controller has observed the Deployment's generation; every desired replica is
updated (``updatedReplicas``), no replica of an older ReplicaSet is left (``replicas``), every
updated one is available (``availableReplicas``); and every pod of the Deployment that is not
going away runs the template's images, is Ready and has no container in CrashLoopBackOff. A
``Progressing`` condition with reason ``ProgressDeadlineExceeded`` means the controller gave up.

The PodDisruptionBudgets whose selector matches the pod template's labels are the Deployment's.
A rollout is not finished while one of them has fewer healthy pods than it requires (the
disruption controller's ``currentHealthy`` below ``desiredHealthy``). What a budget means for
what comes next is reported, not waited on: one that can never be met (it requires more healthy
pods than the Deployment has), one that allows no disruption at all (a node drain, as a node
group upgrade does, would wait on it), and pods covered by two budgets (the eviction API refuses
to evict them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from eksaddon.gateways.answers import Answer
from eksaddon.gateways.protocols import DisruptionBudget, PodFacts
from eksaddon.nodeside.rollout import requirement_matches

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


class BudgetState(NamedTuple):
    """One PodDisruptionBudget of the Deployment, as the verdict sees it."""

    name: str
    healthy: int | None
    required: int | None
    disruptions_allowed: int | None
    expected: int | None
    observed: bool  # the disruption controller has written status for the budget's generation

    @property
    def broken(self) -> bool:
        """Fewer healthy pods than the budget requires (and the requirement can be met)."""
        if not self.observed or self.healthy is None or self.required is None:
            return False
        return self.healthy < self.required and not self.unattainable

    @property
    def unattainable(self) -> bool:
        return (
            self.observed
            and self.required is not None
            and self.expected is not None
            and self.required > self.expected
        )

    def describe(self) -> str:
        counts = f"{_count(self.healthy)} healthy of {_count(self.required)} required"
        return f"PodDisruptionBudget {self.name} ({counts})"


class DeploymentRollout(NamedTuple):
    generation_seen: bool
    desired: int
    updated: int
    replicas: int  # every replica, old ReplicaSets' included
    available: int
    behind: tuple[str, ...]  # pods on another template, or not Ready ("pod (why)")
    crashlooping: tuple[str, ...]  # "pod/container"
    budgets: tuple[BudgetState, ...]
    deadline_exceeded: str | None  # the Progressing condition's message when the controller quit

    @property
    def rolled(self) -> bool:
        """The replicas are all current and available (the budgets aside)."""
        counts = self.updated == self.desired and self.replicas == self.updated
        return (
            self.generation_seen
            and counts
            and self.available >= self.updated
            and not self.behind
            and not self.crashlooping
        )

    @property
    def done(self) -> bool:
        return self.rolled and not any(b.broken for b in self.budgets)

    @property
    def progress(self) -> str:
        return f"{min(self.updated, self.available)}/{self.desired} replicas updated and available"


def _deployment(document: Mapping[str, Any]) -> Answer:
    # What the API server answered: a null container or a count that is text is one typed
    # error naming the field (UnexpectedAnswerError), never an AttributeError.
    return Answer(document, source="Kubernetes", path="deployment")


def pod_template(deployment: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, container name -> image) of the Deployment's pod template."""
    spec = _deployment(deployment).optional_child("spec")
    template = spec.optional_child("template") if spec else None
    if template is None:
        return {}, {}
    metadata = template.optional_child("metadata")
    labels = metadata.text_map("labels") if metadata else {}
    pod = template.optional_child("spec")
    images = {}
    for container in (*pod.children("initContainers"), *pod.children("containers")) if pod else ():
        name, image = container.optional_text("name"), container.optional_text("image")
        if name is not None and image is not None:
            images[name] = image
    return labels, images


def selector_of(deployment: Mapping[str, Any]) -> str | None:
    """The Deployment's spec.selector.matchLabels as a label selector (None: it has none)."""
    spec = _deployment(deployment).optional_child("spec")
    selector = spec.optional_child("selector") if spec else None
    labels = selector.text_map("matchLabels") if selector else {}
    if not labels:
        return None
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def selects(budget: DisruptionBudget, labels: Mapping[str, str]) -> bool:
    """Whether a budget's label selector matches pods with ``labels``."""
    if budget.match_labels is None:
        return False
    if any(labels.get(key) != value for key, value in budget.match_labels.items()):
        return False
    requirements = [
        {"key": r.key, "operator": r.operator, "values": list(r.values)}
        for r in budget.match_expressions
    ]
    # An operator a label selector does not have matches nothing (the API server refuses it).
    known = ("In", "NotIn", "Exists", "DoesNotExist")
    return all(r["operator"] in known and requirement_matches(r, labels) for r in requirements)


def assess_deployment(
    deployment: Mapping[str, Any],
    pods: Iterable[PodFacts],
    budgets: Iterable[DisruptionBudget],
) -> DeploymentRollout:
    """The rollout's state from the Deployment, its pods and its namespace's budgets."""
    answer = _deployment(deployment)
    metadata = answer.optional_child("metadata")
    spec = answer.optional_child("spec")
    status = answer.optional_child("status")
    generation = (metadata.optional("generation", int) if metadata else None) or 0
    # spec.replicas defaults to 1 where it is absent (the API server fills it in).
    desired = spec.optional("replicas", int) if spec else None
    desired = 1 if desired is None else desired

    def count(key: str) -> int:
        return (status.optional(key, int) if status else None) or 0

    labels, images = pod_template(deployment)
    behind, crashing = [], []
    for pod in sorted(pods, key=lambda p: p.name):
        if pod.terminating:
            continue
        if dict(pod.images) != images:
            behind.append(f"{pod.name} (another template)")
        elif pod.ready is not True:
            behind.append(f"{pod.name} (not Ready)")
        crashing += [
            f"{pod.name}/{container}"
            for container, reason in sorted(pod.waiting.items())
            if reason == "CrashLoopBackOff"
        ]
    generation_seen = count("observedGeneration") >= generation
    return DeploymentRollout(
        generation_seen=generation_seen,
        desired=desired,
        updated=count("updatedReplicas"),
        replicas=count("replicas"),
        available=count("availableReplicas"),
        behind=tuple(behind),
        crashlooping=tuple(crashing),
        budgets=tuple(
            _budget_state(b) for b in sorted(budgets, key=lambda b: b.name) if selects(b, labels)
        ),
        # A condition left from an earlier rollout counts only once the controller has looked
        # at the current generation (it then rewrites the condition for this rollout).
        deadline_exceeded=_deadline_exceeded(status) if generation_seen else None,
    )


def _budget_state(budget: DisruptionBudget) -> BudgetState:
    observed = budget.observed_generation is not None and budget.observed_generation >= (
        budget.generation or 0
    )
    return BudgetState(
        name=f"{budget.namespace}/{budget.name}",
        healthy=budget.current_healthy,
        required=budget.desired_healthy,
        disruptions_allowed=budget.disruptions_allowed,
        expected=budget.expected_pods,
        observed=observed,
    )


def _deadline_exceeded(status: Answer | None) -> str | None:
    for condition in status.children("conditions") if status else ():
        if (
            condition.optional_text("type") == "Progressing"
            and condition.optional_text("reason") == PROGRESS_DEADLINE_EXCEEDED
        ):
            return condition.shown_text("message") or PROGRESS_DEADLINE_EXCEEDED
    return None


def budget_findings(rollout: DeploymentRollout, workload: str) -> list[str]:
    """What the Deployment's budgets mean for what comes next (node drains, evictions)."""
    findings = []
    if len(rollout.budgets) > 1:
        names = ", ".join(b.name for b in rollout.budgets)
        findings.append(
            f"the pods of {workload} are covered by {len(rollout.budgets)} "
            f"PodDisruptionBudgets ({names}): the eviction API refuses to evict such pods, so "
            "a node drain (a node group upgrade) stalls on them"
        )
    for budget in rollout.budgets:
        if not budget.observed:
            findings.append(
                f"{budget.describe()} of {workload} has no current status from the disruption "
                "controller: whether it allows disruptions is unknown"
            )
        elif budget.unattainable:
            findings.append(
                f"{budget.describe()} of {workload} requires more healthy pods than the "
                f"{_count(budget.expected)} it selects: it can never be met, and no pod of it "
                "can be evicted"
            )
        elif budget.disruptions_allowed == 0:
            findings.append(
                f"{budget.describe()} of {workload} allows no disruption now: a node drain "
                "(a node group upgrade) waits until it does"
            )
    return findings


def describe_deployment_stall(rollout: DeploymentRollout, *, limit: int = 10) -> str:
    """One line naming what holds the rollout back: pods behind, crashing pods, counts, budgets."""
    parts = []
    if rollout.deadline_exceeded is not None:
        parts.append(f"the Deployment controller gave up: {rollout.deadline_exceeded}")
    if rollout.behind:
        shown = ", ".join(rollout.behind[:limit])
        more = f" and {len(rollout.behind) - limit} more" if len(rollout.behind) > limit else ""
        parts.append(f"pods behind: {shown}{more}")
    if rollout.crashlooping:
        parts.append("CrashLoopBackOff: " + ", ".join(rollout.crashlooping[:limit]))
    if not rollout.generation_seen:
        parts.append("the Deployment controller has not seen the new generation")
    if not (rollout.updated == rollout.desired == rollout.replicas <= rollout.available):
        parts.append(
            f"updated {rollout.updated}, available {rollout.available}, replicas "
            f"{rollout.replicas}, desired {rollout.desired}"
        )
    parts += [f"{b.describe()} is not met" for b in rollout.budgets if b.broken]
    return "; ".join(parts) or "rolled out"


def _count(value: int | None) -> str:
    return "unknown" if value is None else str(value)
