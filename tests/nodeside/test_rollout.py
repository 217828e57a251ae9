from __future__ import annotations

from typing import Any

import pytest

from eksaddon.nodeside.rollout import NodeFacts, PodFacts, assess, describe_stall, template_images
from tests_support import daemonset

NEW = "v1.18.3-eksbuild.3"
OLD = "v1.17.1-eksbuild.1"


def ds(
    *,
    generation: int = 2,
    observed: int = 2,
    desired: int = 3,
    updated: int = 3,
    available: int = 3,
) -> dict[str, Any]:
    document = daemonset(NEW)
    document["metadata"]["generation"] = generation
    document["status"] = {
        "observedGeneration": observed,
        "desiredNumberScheduled": desired,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
    }
    return document


def pod(node: str, tag: str = NEW, *, waiting: dict[str, str] | None = None) -> PodFacts:
    images = {
        name: image.rsplit(":", 1)[0] + f":{tag}" for name, image in template_images(ds()).items()
    }
    return PodFacts(f"aws-node-{node}", node, images, waiting or {})


NODES = [NodeFacts(f"ip-10-0-0-{n}", {}) for n in (1, 2, 3)]


def test_a_finished_rollout() -> None:
    rollout = assess(ds(), [pod(n.name) for n in NODES], NODES)
    assert rollout.done
    assert rollout.progress == "3/3 nodes updated"


def test_a_node_still_on_the_old_images_is_named() -> None:
    pods = [pod("ip-10-0-0-1"), pod("ip-10-0-0-2", OLD), pod("ip-10-0-0-3")]
    rollout = assess(ds(updated=2), pods, NODES)
    assert not rollout.done
    assert rollout.behind == ("ip-10-0-0-2",)
    assert rollout.progress == "2/3 nodes updated"
    assert describe_stall(rollout).startswith("nodes behind: ip-10-0-0-2")


def test_a_node_without_a_pod_is_behind() -> None:
    rollout = assess(ds(), [pod("ip-10-0-0-1"), pod("ip-10-0-0-2")], NODES)
    assert rollout.behind == ("ip-10-0-0-3",)


def test_fargate_nodes_are_excluded() -> None:
    fargate = NodeFacts("fargate-ip-10-0-9-9", {"eks.amazonaws.com/compute-type": "fargate"})
    rollout = assess(ds(), [pod(n.name) for n in NODES], [*NODES, fargate])
    assert rollout.done
    assert "fargate-ip-10-0-9-9" not in rollout.nodes


def test_crashloopbackoff_blocks_the_step() -> None:
    pods = [pod(n.name) for n in NODES[:2]]
    pods.append(pod("ip-10-0-0-3", waiting={"aws-node": "CrashLoopBackOff"}))
    rollout = assess(ds(), pods, NODES)
    assert not rollout.done
    assert rollout.crashlooping == ("aws-node-ip-10-0-0-3/aws-node on ip-10-0-0-3",)
    assert "CrashLoopBackOff: aws-node-ip-10-0-0-3/aws-node" in describe_stall(rollout)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"observed": 1}, "has not seen the new generation"),
        ({"available": 2}, "updated 3, available 2, desired 3"),
        ({"desired": 4}, "updated 3, available 3, desired 4"),
    ],
)
def test_status_counts_must_agree(status: dict[str, int], expected: str) -> None:
    rollout = assess(ds(**status), [pod(n.name) for n in NODES], NODES)
    assert not rollout.done
    assert expected in describe_stall(rollout)


def test_long_lists_of_nodes_are_shortened() -> None:
    nodes = [NodeFacts(f"n{i:02d}", {}) for i in range(25)]
    rollout = assess(ds(desired=25, updated=0, available=25), [], nodes)
    assert describe_stall(rollout).startswith("nodes behind: n00, n01")
    assert "and 15 more" in describe_stall(rollout)


def _with_affinity(document: dict[str, Any], compute_types: list[str]) -> dict[str, Any]:
    # The nodeAffinity of the upstream manifest: v1.18 leaves out fargate, v1.19 also hybrid, auto.
    expressions = [
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": compute_types},
    ]
    document["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }
    }
    return document


LINUX = {"kubernetes.io/os": "linux"}
MIXED = [
    NodeFacts("ec2", LINUX),
    NodeFacts("hybrid", {**LINUX, "eks.amazonaws.com/compute-type": "hybrid"}),
    NodeFacts("auto", {**LINUX, "eks.amazonaws.com/compute-type": "auto"}),
    NodeFacts("fargate", {**LINUX, "eks.amazonaws.com/compute-type": "fargate"}),
    NodeFacts("windows", {"kubernetes.io/os": "windows"}),
]


def test_only_nodes_the_daemonset_selects_must_run_it() -> None:
    # From v1.19.0 hybrid and Auto Mode nodes carry their own networking: no aws-node pod there.
    v1_19 = _with_affinity(ds(desired=1, updated=1, available=1), ["fargate", "hybrid", "auto"])
    rollout = assess(v1_19, [pod("ec2")], MIXED)
    assert rollout.nodes == ("ec2",)
    assert rollout.done
    v1_18 = _with_affinity(ds(desired=3, updated=3, available=3), ["fargate"])
    rollout = assess(v1_18, [pod("ec2")], MIXED)
    assert rollout.nodes == ("auto", "ec2", "hybrid")
    assert rollout.behind == ("auto", "hybrid")


@pytest.mark.parametrize(
    ("spec", "selected"),
    [
        ({"nodeSelector": {"kubernetes.io/os": "linux"}}, ["ec2", "hybrid", "auto"]),
        ({"nodeSelector": {"pool": "cni"}}, []),
        ({"affinity": {"nodeAffinity": {}}}, ["ec2", "hybrid", "auto", "windows"]),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchFields": [
                                        {
                                            "key": "metadata.name",
                                            "operator": "In",
                                            "values": ["auto"],
                                        }
                                    ]
                                },
                                {
                                    "matchExpressions": [
                                        {"key": "kubernetes.io/os", "operator": "DoesNotExist"}
                                    ]
                                },
                                {},
                            ]
                        }
                    }
                }
            },
            ["auto"],
        ),
        ({"affinity": "not a mapping"}, ["ec2", "hybrid", "auto", "windows"]),
    ],
)
def test_node_selection_follows_the_pod_template(spec: dict[str, Any], selected: list[str]) -> None:
    document = ds()
    document["spec"]["template"]["spec"].pop("affinity", None)
    document["spec"]["template"]["spec"].update(spec)
    assert assess(document, [], MIXED).nodes == tuple(sorted(selected))
