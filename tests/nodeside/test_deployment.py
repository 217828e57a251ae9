"""The Deployment rollout verdict: replicas, generation, pods and PodDisruptionBudgets (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from eksaddon.errors import UnexpectedAnswerError
from eksaddon.gateways.protocols import DisruptionBudget, PodFacts, SelectorRequirement
from eksaddon.nodeside.deployment import (
    assess_deployment,
    budget_findings,
    describe_deployment_stall,
    selector_of,
    selects,
)

IMAGE = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.3-eksbuild.1"
OLD = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.10.1-eksbuild.13"
LABELS = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}


def deployment(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "coredns", "namespace": "kube-system", "generation": 3},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {"containers": [{"name": "coredns", "image": IMAGE}]},
            },
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            **status,
        },
    }


def pod(name: str, image: str = IMAGE, *, ready: bool | None = True, **more: Any) -> PodFacts:
    return PodFacts(name, "node-a", {"coredns": image}, {}, ready=ready, **more)


def budget(
    name: str = "coredns",
    *,
    healthy: int | None = 2,
    required: int | None = 1,
    allowed: int | None = 1,
    expected: int | None = 2,
    labels: dict[str, str] | None = None,
    expressions: tuple[SelectorRequirement, ...] = (),
    observed: int | None = 1,
) -> DisruptionBudget:
    return DisruptionBudget(
        "kube-system",
        name,
        {"k8s-app": "kube-dns"} if labels is None else labels,
        expressions,
        None,
        "1",
        1,
        observed,
        healthy,
        required,
        allowed,
        expected,
    )


def test_a_finished_rollout_within_its_budget_is_done() -> None:
    rollout = assess_deployment(deployment(), [pod("a"), pod("b")], [budget()])
    assert rollout.done
    assert rollout.progress == "2/2 replicas updated and available"
    assert describe_deployment_stall(rollout) == "rolled out"
    assert budget_findings(rollout, "Deployment kube-system/coredns") == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"observedGeneration": 2}, "has not seen the new generation"),
        ({"updatedReplicas": 1}, "updated 1, available 2, replicas 2, desired 2"),
        ({"replicas": 3}, "updated 2, available 2, replicas 3, desired 2"),  # an old pod left
        ({"availableReplicas": 1}, "updated 2, available 1, replicas 2, desired 2"),
    ],
)
def test_each_count_holds_the_rollout(status: dict[str, Any], expected: str) -> None:
    rollout = assess_deployment(deployment(**status), [pod("a"), pod("b")], [])
    assert not rollout.done
    assert expected in describe_deployment_stall(rollout)


def test_pods_behind_are_named_and_terminating_ones_ignored() -> None:
    pods = [
        pod("a"),
        pod("old-1", OLD),
        pod("b", ready=False),
        pod("old-2", OLD, terminating=True),
        PodFacts("c", "node-b", {"coredns": IMAGE}, {"coredns": "CrashLoopBackOff"}, ready=False),
    ]
    rollout = assess_deployment(deployment(), pods, [])
    assert not rollout.done
    assert rollout.behind == ("b (not Ready)", "c (not Ready)", "old-1 (another template)")
    assert rollout.crashlooping == ("c/coredns",)
    stall = describe_deployment_stall(rollout)
    assert "pods behind: b (not Ready), c (not Ready), old-1 (another template)" in stall
    assert "CrashLoopBackOff: c/coredns" in stall


def test_replicas_default_to_one_and_an_absent_status_is_not_done() -> None:
    document = deployment()
    del document["spec"]["replicas"]
    document["status"] = None
    rollout = assess_deployment(document, [], [])
    assert rollout.desired == 1 and not rollout.done


def test_a_broken_budget_holds_the_rollout_and_is_named() -> None:
    rollout = assess_deployment(
        deployment(), [pod("a"), pod("b")], [budget(healthy=1, required=2, allowed=0)]
    )
    assert rollout.rolled and not rollout.done
    assert (
        "PodDisruptionBudget kube-system/coredns (1 healthy of 2 required) is not met"
        in describe_deployment_stall(rollout)
    )


def test_budgets_of_other_pods_and_unreadable_selectors_are_not_the_deployments() -> None:
    others = budget("other", labels={"k8s-app": "metrics"}, healthy=0, required=5)
    unmatched = budget(
        "expr",
        expressions=(SelectorRequirement("k8s-app", "NotIn", ("kube-dns",)),),
        healthy=0,
    )
    none = budget("none", healthy=0)._replace(match_labels=None)
    rollout = assess_deployment(deployment(), [pod("a"), pod("b")], [others, unmatched, none])
    assert rollout.budgets == () and rollout.done


def test_selectors_follow_kubernetes_rules() -> None:
    assert selects(budget(), LABELS)
    assert selects(budget(labels={}), LABELS)  # an empty selector selects every pod
    exists = SelectorRequirement("eks.amazonaws.com/component", "Exists")
    assert selects(budget(labels={}, expressions=(exists,)), LABELS)
    assert not selects(budget(labels={}, expressions=(exists,)), {"k8s-app": "kube-dns"})
    unknown = SelectorRequirement("k8s-app", "Matches", ("kube-dns",))
    assert not selects(budget(labels={}, expressions=(unknown,)), LABELS)


def test_what_the_budgets_mean_for_node_drains_is_reported() -> None:
    label = "Deployment kube-system/coredns"
    blocking = assess_deployment(
        deployment(), [pod("a"), pod("b")], [budget(required=2, allowed=0)]
    )
    assert blocking.done
    (finding,) = budget_findings(blocking, label)
    assert "allows no disruption now: a node drain" in finding
    unattainable = assess_deployment(
        deployment(), [pod("a"), pod("b")], [budget(required=3, allowed=0)]
    )
    assert unattainable.done  # a budget that can never be met is reported, not waited on
    assert "can never be met" in budget_findings(unattainable, label)[0]
    two = assess_deployment(deployment(), [pod("a"), pod("b")], [budget("a"), budget("b")])
    assert (
        "covered by 2 PodDisruptionBudgets (kube-system/a, kube-system/b)"
        in (budget_findings(two, label)[0])
    )
    unobserved = assess_deployment(
        deployment(), [pod("a"), pod("b")], [budget(observed=None, healthy=0, required=2)]
    )
    assert unobserved.done
    assert "whether it allows disruptions is unknown" in budget_findings(unobserved, label)[0]


def test_a_controller_that_gave_up_is_seen() -> None:
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "coredns-5d" has timed out progressing.',
    }
    rollout = assess_deployment(deployment(updatedReplicas=1, conditions=[condition]), [], [])
    assert rollout.deadline_exceeded == 'ReplicaSet "coredns-5d" has timed out progressing.'
    assert describe_deployment_stall(rollout).startswith("the Deployment controller gave up: ")
    # Left from an earlier rollout: the controller has not looked at this generation yet.
    stale = deployment(updatedReplicas=1, observedGeneration=2, conditions=[condition])
    assert assess_deployment(stale, [], []).deadline_exceeded is None


def test_the_selector_is_read_from_match_labels() -> None:
    document = deployment()
    document["spec"]["selector"]["matchLabels"]["tier"] = "dns"
    assert selector_of(document) == "k8s-app=kube-dns,tier=dns"
    document["spec"]["selector"] = None
    assert selector_of(document) is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("status", "updatedReplicas"), "2"),
        (("spec", "replicas"), True),
        (("metadata", "generation"), 3.5),
        (("spec", "template"), []),
        (("status", "conditions"), "Progressing"),
    ],
)
def test_a_field_of_another_type_is_a_typed_error_naming_it(
    path: tuple[str, str], value: object
) -> None:
    document = deployment()
    document[path[0]][path[1]] = value
    with pytest.raises(UnexpectedAnswerError, match=f"deployment.{path[0]}.{path[1]}"):
        assess_deployment(document, [], [])
