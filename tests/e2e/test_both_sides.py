"""A managed upgrade checked on both sides: the EKS stand-in rewrites the aws-node DaemonSet on a
real kube-apiserver as EKS would, and the installed CLI verifies the rollout on every node.

The cluster is the fault matrix's (tests/reliability/world.py), with no fault injected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import kubernetes.client as k8s
import pytest

from reliability.world import World
from standins.kube import KubeApiServer
from standins.server import StandInServer


@pytest.fixture
def world(eks_standin: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path) -> Iterator[World]:
    with ExitStack() as stack:
        yield World(eks_standin, kube_fresh, tmp_path, stack)


def upgrade(world: World) -> tuple[int, str]:
    """The installed CLI as a subprocess: its exit code and stderr."""
    process = world.start()
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def test_every_step_is_verified_on_every_node_and_settings_survive(world: World) -> None:
    code, err = upgrade(world)
    assert code == 0, err
    assert "carrying settings from the nodes" in err
    assert "[1/2] aws-node rollout: 2/2 nodes updated" in err
    assert "[2/2] aws-node rollout: 2/2 nodes updated" in err
    live = k8s.AppsV1Api(world.api).read_namespaced_daemon_set("aws-node", "kube-system")
    container = live.spec.template.spec.containers[0]  # type: ignore[union-attr]
    assert str(container.image).endswith(":v1.18.3-eksbuild.3")
    assert {e.name: e.value for e in container.env or []}["WARM_IP_TARGET"] == "5"


def test_a_stuck_node_stops_the_run_naming_it(world: World) -> None:
    world.controller.stuck.add("node-b")
    code, err = upgrade(world)
    assert code == 4, err
    assert "nodes behind: node-b" in err
    assert world.eks.standin.count("UpdateAddon") == 1
