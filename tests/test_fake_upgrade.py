"""The fakes' cluster-upgrade calls honour the contract the stand-in and EKS keep, and the fleet's
caching wrapper passes every one of them through."""

from __future__ import annotations

import pytest

from eksaddon.engine.fleet import CachingGateway, SharedCatalogue
from eksaddon.errors import InsightsBlockedError, InvalidParameterError, UpdateInProgressError
from eksaddon.gateways.protocols import (
    ClusterUpgradeGateway,
    ClusterVersionRequest,
    EksGateway,
    NodegroupInfo,
    PodIdentityConfiguration,
)
from eksaddon.versions import AddonVersion, KubernetesVersion
from fake_upgrade import insight
from fakes import FakeEks, FakeRegion

K = KubernetesVersion.parse


def request(token: str, version: str = "1.30", *, force: bool = False) -> ClusterVersionRequest:
    return ClusterVersionRequest("prod", K(version), token, force)


def test_the_old_protocol_name_is_the_merged_protocol() -> None:
    assert ClusterUpgradeGateway is EksGateway


def test_a_control_plane_update_moves_the_version_after_its_polls() -> None:
    eks = FakeEks()
    update = eks.update_cluster_version(request("t-1"))
    assert (update.status, update.type) == ("InProgress", "VersionUpdate")
    assert eks.update_cluster_version(request("t-1")).id == update.id  # same token, same update
    with pytest.raises(UpdateInProgressError):
        eks.update_cluster_version(request("t-2"))
    assert eks.describe_cluster_update("prod", update.id).status == "InProgress"
    assert eks.describe_cluster_update("prod", update.id).status == "Successful"
    assert eks.describe_cluster("prod").version == K("1.30")


def test_one_minor_node_groups_and_insights_refuse() -> None:
    eks = FakeEks()
    with pytest.raises(InvalidParameterError, match="from 1.29 to 1.31"):
        eks.update_cluster_version(request("a", "1.31"))
    eks.node_groups = [NodegroupInfo("old", "1.28", None, "ACTIVE")]
    with pytest.raises(InvalidParameterError, match="Nodegroup old"):
        eks.update_cluster_version(request("b"))
    eks.node_groups = None
    eks.insights = [insight("dep", "ERROR"), insight("warn", "WARNING")]
    with pytest.raises(InsightsBlockedError):
        eks.update_cluster_version(request("c"))
    assert eks.cluster_requests == []
    assert eks.update_cluster_version(request("d", force=True)).status == "InProgress"
    assert [i.id for i in eks.list_insights("prod")] == ["dep", "warn"]
    assert eks.describe_insight("prod", "warn").summary.status == "WARNING"


def test_a_failed_control_plane_update_keeps_the_version() -> None:
    eks = FakeEks()
    eks.fail_next_cluster_update = "Failed"
    update = eks.update_cluster_version(request("t"))
    eks.describe_cluster_update("prod", update.id)
    failed = eks.describe_cluster_update("prod", update.id)
    assert failed.status == "Failed" and failed.errors
    assert eks.describe_cluster("prod").version == K("1.29")


def test_the_fleet_wrapper_passes_the_new_calls_through() -> None:
    eks = FakeEks()
    eks.insights = [insight("dep", "ERROR")]
    eks.pod_identity = {"aws-ebs-csi-driver": (PodIdentityConfiguration("sa", ("policy",)),)}
    wrapped = CachingGateway(FakeRegion("us-west-2", {"prod": eks}), SharedCatalogue())
    assert wrapped.list_addons("prod") == ["vpc-cni"]
    assert [i.id for i in wrapped.list_insights("prod")] == ["dep"]
    assert wrapped.describe_insight("prod", "dep").summary.id == "dep"
    update = wrapped.update_cluster_version(request("t", force=True))
    assert wrapped.describe_cluster_update("prod", update.id).id == update.id
    direct = CachingGateway(eks, SharedCatalogue())
    version = AddonVersion.parse("v1.31.0-eksbuild.1")
    assert direct.pod_identity_configuration("aws-ebs-csi-driver", version) == (
        PodIdentityConfiguration("sa", ("policy",)),
    )
    assert eks.calls["UpdateClusterVersion"] == 1 and eks.calls["ListInsights"] == 1
