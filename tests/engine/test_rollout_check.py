"""Every upgrade step waits for the aws-node rollout on every node (in-memory EKS and Kubernetes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eksaddon.cli.progress import ProgressPrinter
from eksaddon.engine.events import Event, Notice, PlanReady, RolloutProgressed
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader, UpgradeResult
from eksaddon.errors import ExitCode, InputError, UpgradeStoppedError
from eksaddon.matrix import Matrix
from fakes import FakeClock, FakeEks, FakeKube

NODES = ["node-a", "node-b", "node-c"]


def upgrade(
    bundled: Matrix,
    tmp_path: Path,
    eks: FakeEks,
    kube: FakeKube,
    events: list[Event],
    **options: object,
) -> UpgradeResult:
    chosen: dict[str, object] = {"poll_interval": 5, "timeout": 120, **options}
    return Upgrader(
        gateway=eks,
        matrix=bundled,
        options=UpgradeOptions(cluster="prod", addon="vpc-cni", **chosen),  # type: ignore[arg-type]
        state_directory=tmp_path,
        progress=events.append,
        confirm=lambda plan: True,
        clock=FakeClock(),
        node_side=RolloutCheck(kube),
    ).run()


def test_each_step_waits_for_every_node(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    kube = FakeKube(NODES, fargate=("fargate-1",), tag="v1.16.4-eksbuild.2")
    kube.follow(eks)
    events: list[Event] = []
    result = upgrade(bundled, tmp_path, eks, kube, events)
    assert result.steps_done == 2
    rollouts = [e for e in events if isinstance(e, RolloutProgressed)]
    # Fargate nodes carry their own CNI: three nodes, not four.
    assert RolloutProgressed(1, 2, "aws-node", 3, 3, ()) in rollouts
    assert RolloutProgressed(2, 2, "aws-node", 3, 3, ()) in rollouts
    assert all(e.nodes == 3 and e.updated + len(e.behind) == 3 for e in rollouts)
    lines = [ProgressPrinter().line(e) for e in rollouts]
    assert "[1/2] aws-node rollout: 3/3 nodes updated" in lines
    assert "[2/2] aws-node rollout: 3/3 nodes updated" in lines
    assert all(tag == "v1.18.3-eksbuild.3" for tag in kube.pod_tags.values())


def test_a_stuck_node_stops_the_run_and_is_named(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    kube = FakeKube(NODES, tag="v1.17.1-eksbuild.1")
    kube.follow(eks)
    kube.stuck.add("node-b")
    with pytest.raises(UpgradeStoppedError) as caught:
        upgrade(bundled, tmp_path, eks, kube, [], timeout=60)
    assert caught.value.exit_code is ExitCode.UPGRADE_STOPPED
    assert "did not finish on cluster prod" in caught.value.message
    assert "nodes behind: node-b" in caught.value.message
    kube.stuck.clear()
    result = upgrade(bundled, tmp_path, eks, kube, [])  # the node recovered: the rerun finishes
    assert result.steps_done == 1
    assert eks.calls["UpdateAddon"] == 1


def test_a_kubeconfig_for_another_cluster_is_refused_before_any_change(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.endpoint = "https://PROD.gr7.us-west-2.eks.amazonaws.com:443"  # same server, other spelling
    kube = FakeKube(NODES, tag="v1.17.1-eksbuild.1")
    kube.follow(eks)
    assert upgrade(bundled, tmp_path / "ok", eks, kube, []).steps_done == 1
    other = FakeEks(version="v1.17.1-eksbuild.1")
    other.endpoint = "https://staging.gr7.us-west-2.eks.amazonaws.com"
    with pytest.raises(
        InputError,
        match="points at https://prod.gr7.us-west-2.eks.amazonaws.com, "
        "not at cluster prod's API server https://staging",
    ):
        upgrade(bundled, tmp_path / "refused", other, FakeKube(NODES), [])
    assert other.calls["UpdateAddon"] == 0


def test_settings_on_the_nodes_are_carried_and_proven_after_each_step(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    kube = FakeKube(NODES, tag="v1.16.4-eksbuild.2")
    kube.env = {"WARM_IP_TARGET": "5"}  # set with kubectl: not in the configuration values
    kube.follow(eks)
    events: list[Event] = []
    upgrade(bundled, tmp_path, eks, kube, events)
    assert {r.configuration_values for r in eks.requests} == {'{"env": {"WARM_IP_TARGET": "5"}}'}
    assert any(
        "carrying settings from the nodes" in e.text and "WARM_IP_TARGET" in e.text
        for e in events
        if isinstance(e, Notice)
    )
    assert kube.env == {"WARM_IP_TARGET": "5"}


def test_a_setting_lost_on_the_nodes_stops_the_run(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    kube = FakeKube(NODES, tag="v1.17.1-eksbuild.1")
    kube.env = {"WARM_IP_TARGET": "5"}
    kube.apply_configuration = False  # the update rewrote the DaemonSet without it
    kube.follow(eks)
    with pytest.raises(UpgradeStoppedError) as caught:
        upgrade(bundled, tmp_path, eks, kube, [])
    assert (
        "do not run the carried settings: aws-node/WARM_IP_TARGET: expected '5', found "
        "'the default'" in caught.value.message
    )


def test_a_cluster_whose_cni_was_replaced_is_left_alone(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    kube = FakeKube(NODES, tag="v1.17.1-eksbuild.1")
    kube.present = False
    kube.others = ["cilium"]
    with pytest.raises(
        InputError, match="DaemonSet is absent on cluster prod; Cilium runs instead"
    ):
        upgrade(bundled, tmp_path, eks, kube, [])
    assert eks.calls["UpdateAddon"] == 0


NARROW_SCHEMA = {
    "type": "object",
    "properties": {
        "env": {
            "type": "object",
            "properties": {"WARM_IP_TARGET": {"type": "string"}},
            "additionalProperties": False,
        }
    },
}


def test_a_setting_the_target_does_not_know_is_refused_or_dropped_with_force(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.configuration_schema = lambda addon, version: NARROW_SCHEMA  # type: ignore[method-assign]
    kube = FakeKube(NODES, tag="v1.17.1-eksbuild.1")
    kube.env = {"WARM_IP_TARGET": "5", "RETIRED_SETTING": "x"}
    kube.follow(eks)
    with pytest.raises(InputError) as caught:
        upgrade(bundled, tmp_path / "refused", eks, kube, [])
    assert (
        "would be lost: RETIRED_SETTING (not known to v1.18.3-eksbuild.3)" in caught.value.message
    )
    assert caught.value.hint is not None and "--force" in caught.value.hint
    assert eks.calls["UpdateAddon"] == 0
    events: list[Event] = []
    result = upgrade(bundled, tmp_path / "forced", eks, kube, events, force=True)
    assert result.steps_done == 1
    assert eks.requests[0].configuration_values == '{"env": {"WARM_IP_TARGET": "5"}}'
    # Shown with the plan, before the confirmation, not found out afterwards.
    (ready,) = [e for e in events if isinstance(e, PlanReady)]
    assert any(
        w.startswith("--force drops settings the target does not know: ")
        for w in ready.plan.warnings
    ), ready.plan.warnings
