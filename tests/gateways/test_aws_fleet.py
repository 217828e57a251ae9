"""The boto3 gateway in a fleet: regions share one session per profile, and a cluster's node
groups are described side by side (against the EKS stand-in)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from eksaddon.gateways.aws import AwsEksGateway, Sessions
from standins.server import StandInServer, eks_server, eks_standin

__all__ = ["eks_server", "eks_standin"]


@pytest.fixture
def standin_env(eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch) -> StandInServer:
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    return eks_standin


def test_the_regions_of_a_fleet_share_one_session(standin_env: StandInServer) -> None:
    sessions = Sessions()
    west = AwsEksGateway(region="us-west-2", sessions=sessions)
    east = AwsEksGateway(region="us-east-1", sessions=sessions)
    default = AwsEksGateway(sessions=sessions)  # AWS_REGION of the environment
    assert west._session is east._session is default._session
    assert (west.region, east.region, default.region) == ("us-west-2", "us-east-1", "us-west-2")
    assert west._client.meta.region_name == "us-west-2"
    assert east._client.meta.region_name == "us-east-1"
    standin_env.create_cluster("prod")
    assert west.list_clusters() == ["prod"]
    # Without a shared Sessions, each gateway has a session of its own (as before fleets).
    assert AwsEksGateway(region="us-west-2")._session is not west._session


def test_a_clusters_node_groups_are_described_side_by_side(standin_env: StandInServer) -> None:
    """The stand-in holds each DescribeNodegroup answer at a barrier only three requests in
    flight together can pass: described one after the other, the call would time out."""
    standin_env.create_cluster("prod", "1.29")
    for name in ("a", "b", "c"):
        standin_env.create_nodegroup("prod", name)
    barrier = threading.Barrier(3, timeout=10)

    def together(answer: Any) -> Any:
        barrier.wait()
        return answer

    standin_env.standin.rewrite_answer("DescribeNodegroup", together)
    gateway = AwsEksGateway(region=standin_env.region, max_attempts=1)
    groups = gateway.nodegroups("prod")
    assert [g.name for g in groups] == ["a", "b", "c"]  # in name order, as before
    assert all(g.kubernetes_version == "1.29" for g in groups)
    assert standin_env.standin.calls["DescribeNodegroup"] == 3
