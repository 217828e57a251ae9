"""The journey through the real AWS gateway against the EKS stand-in (moto + tests/standins), in
process: the control-plane update as the stand-in carries it (UpdateClusterVersion with its
client request token, DescribeUpdate InProgress → Successful, EKS's insights refusal and
``force``), a kill right after the update was sent, and a rerun that follows the same update.

The gate is the small one of tests/journey_fakes.py over the same gateway (the gate row's gate
is not in this build yet); the kill is a BaseException raised from the progress callback at the
moment the update is reported started, which nothing under test catches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from journey_fakes import Killed, fake_gate

from eksaddon.cli.all_addons import CarrySettings, make_carry
from eksaddon.engine.events import ControlPlaneStarted, Event
from eksaddon.engine.journey import Journey, JourneyOptions, JourneyResult
from eksaddon.errors import ExitCode, UpgradeStoppedError
from eksaddon.gateways.aws import AwsEksGateway
from eksaddon.versions import KubernetesVersion
from fakes import FakeClock
from standins.catalogues import bundled_catalogue
from standins.eks_addons import StandIn
from standins.eks_upgrade import deprecated_api_insight
from standins.server import StandInServer, eks_server, eks_standin

__all__ = ["eks_server", "eks_standin"]  # the stand-in's fixtures, used here

START = {
    "vpc-cni": "v1.16.4-eksbuild.2",
    "kube-proxy": "v1.29.0-eksbuild.1",
    "coredns": "v1.10.1-eksbuild.7",
}


@pytest.fixture
def eks(eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch) -> StandInServer:
    eks_standin.fresh(StandIn(bundled_catalogue()))
    eks_standin.create_cluster("prod", "1.29")
    for addon, version in START.items():
        eks_standin.put_addon("prod", version, addon_name=addon)
    eks_standin.create_nodegroup("prod", "workers", "1.29")
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    return eks_standin


Runner = Callable[..., JourneyResult]


@pytest.fixture
def run(eks: StandInServer, tmp_path: Path) -> Runner:
    def runner(
        progress: Callable[[Event], None] = lambda event: None, **options: Any
    ) -> JourneyResult:
        gateway = AwsEksGateway(region=eks.region)
        state = tmp_path / "state"
        return Journey(
            gateway=gateway,
            gate=fake_gate(gateway),
            carry=make_carry(
                CarrySettings("prod", "PRESERVE", 300, 1, False, True, None, None, False, None),
                gateway=gateway,
                state_directory=state,
                clock=FakeClock(),
            ),
            options=JourneyOptions(
                cluster="prod", target=KubernetesVersion.parse("1.30"), poll_interval=1, **options
            ),
            state_directory=state,
            progress=progress,
            confirm=lambda plan: True,
            confirm_changed=lambda plan: False,
            clock=FakeClock(),
        ).run()

    return runner


def addon_versions(eks: StandInServer) -> dict[str, str]:
    client = eks.client()
    return {
        addon: client.describe_addon(clusterName="prod", addonName=addon)["addon"]["addonVersion"]
        for addon in START
    }


def test_killed_after_sending_the_update_a_rerun_follows_the_same_update(
    eks: StandInServer, run: Runner
) -> None:
    def kill_once_started(event: Event) -> None:
        if isinstance(event, ControlPlaneStarted):
            raise Killed("SIGKILL")

    with pytest.raises(Killed):
        run(kill_once_started)
    (update,) = eks.standin.cluster_updates()
    assert update.status == "InProgress" and update.client_request_token
    seen: list[Event] = []
    result = run(seen.append)
    assert [u.id for u in eks.standin.cluster_updates()] == [update.id]  # never issued twice
    (started,) = [e for e in seen if isinstance(e, ControlPlaneStarted)]
    assert (started.update_id, started.resumed) == (update.id, True)
    assert str(eks.cluster("prod").version) == "1.30"
    versions = addon_versions(eks)
    assert versions["kube-proxy"].startswith("v1.30.")
    assert versions["coredns"] == "v1.11.3-eksbuild.1"
    assert versions["vpc-cni"] == "v1.18.3-eksbuild.3"
    assert result.control_plane["update_id"] == update.id
    assert [n.name for n in result.nodes][:1] == ["workers"]


def test_eks_refuses_for_insights_then_force_is_sent(eks: StandInServer, run: Runner) -> None:
    eks.put_insight("prod", deprecated_api_insight("insight-1", "1.30"))
    with pytest.raises(UpgradeStoppedError) as stopped:
        run()
    assert stopped.value.exit_code == ExitCode.UPGRADE_STOPPED  # coredns moved before it
    assert "Upgrade readiness issues detected" in stopped.value.message
    assert eks.standin.cluster_updates() == []
    run(force_upgrade_insights=True)
    (update,) = eks.standin.cluster_updates()
    assert update.force is True
    assert str(eks.cluster("prod").version) == "1.30"
