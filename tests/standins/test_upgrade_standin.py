"""The stand-in's cluster-upgrade side (insights, control-plane updates, node groups), its
per-add-on catalogues and pod identity associations, through plain boto3 clients. Every answer
the client receives is checked against botocore's output shape (shapes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

from .catalogues import bundled_catalogue
from .eks_addons import NOT_SUPPORTED_MESSAGE, FakeClock, StandIn
from .eks_upgrade import (
    INSIGHTS_BLOCKED_MESSAGE,
    addon_compatibility_insight,
    client_stat,
    deprecated_api_insight,
    insight_resource,
    passing_insight,
)
from .server import StandInServer, eks_server, eks_standin
from .shapes import problems, register_checks

__all__ = ["eks_server", "eks_standin"]

CLUSTER = "prod"
ROLE = "arn:aws:iam::123456789012:role/ebs-csi"
OTHER_ROLE = "arn:aws:iam::123456789012:role/ebs-csi-2"


@pytest.fixture
def srv(eks_standin: StandInServer) -> StandInServer:
    """A stand-in with every bundled catalogue and the 1.29 cluster `prod`."""
    eks_standin.fresh(StandIn(bundled_catalogue(), clock=FakeClock()))
    eks_standin.create_cluster(CLUSTER, "1.29")
    return eks_standin


@pytest.fixture
def eks(srv: StandInServer) -> Iterator[Any]:
    """A client whose every successful answer must fit botocore's output shape."""
    client = srv.client()
    seen: list[tuple[str, list[str]]] = []
    register_checks(client, seen)
    yield client
    assert [(op, found) for op, found in seen if found] == []


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def offered(eks: Any, addon: str, kubernetes: str) -> list[str]:
    pages = eks.get_paginator("describe_addon_versions").paginate(
        addonName=addon, kubernetesVersion=kubernetes
    )
    return [v["addonVersion"] for p in pages for a in p["addons"] for v in a["addonVersions"]]


# === the shape check itself =======================================================================


def test_the_shape_check_finds_what_botocore_would_let_through() -> None:
    assert problems("ListInsights", {"insights": []}) == []
    found = problems(
        "ListInsights",
        {
            "insights": [
                {"id": "a", "insightStatus": {"status": "BROKEN"}, "lastRefreshTime": "soon"},
                {"id": 7, "extra": True},
            ]
        },
    )
    assert sorted(found) == [
        "ListInsights.insights[0].insightStatus.status: 'BROKEN' not in InsightStatusValue",
        "ListInsights.insights[0].lastRefreshTime: 'soon' is not a timestamp",
        "ListInsights.insights[1].extra: not in the model",
        "ListInsights.insights[1].id: int, not text",
    ]


# === per-add-on catalogues ========================================================================


def test_each_bundled_addon_has_its_catalogue(eks: Any) -> None:
    assert "v1.29.7-eksbuild.5" in offered(eks, "kube-proxy", "1.29")
    assert "v1.30.3-eksbuild.5" not in offered(eks, "kube-proxy", "1.29")
    assert "v1.11.3-eksbuild.1" in offered(eks, "coredns", "1.29")
    assert "v1.29.1-eksbuild.1" in offered(eks, "aws-ebs-csi-driver", "1.29")
    assert "v1.2.0-eksbuild.1" in offered(eks, "eks-pod-identity-agent", "1.29")
    assert "v1.18.3-eksbuild.3" in offered(eks, "vpc-cni", "1.29")
    defaults = {
        a["addonName"]: v["addonVersion"]
        for a in eks.describe_addon_versions(kubernetesVersion="1.29")["addons"]
        for v in a["addonVersions"]
        if v["compatibilities"][0]["defaultVersion"]
    }
    assert defaults == {
        "aws-ebs-csi-driver": "v1.29.1-eksbuild.1",
        "coredns": "v1.11.1-eksbuild.4",
        "eks-pod-identity-agent": "v1.2.0-eksbuild.1",
        "kube-proxy": "v1.29.0-eksbuild.1",
        "vpc-cni": "v1.16.4-eksbuild.2",
    }


def test_a_build_not_offered_for_the_cluster_is_refused(srv: StandInServer, eks: Any) -> None:
    with pytest.raises(ClientError) as raised:
        eks.create_addon(
            clusterName=CLUSTER, addonName="kube-proxy", addonVersion="v1.30.3-eksbuild.5"
        )
    assert error_of(raised) == ("InvalidParameterException", NOT_SUPPORTED_MESSAGE)
    srv.put_addon(CLUSTER, "v1.28.12-eksbuild.5", addon_name="kube-proxy")
    with pytest.raises(ClientError) as raised:
        eks.update_addon(
            clusterName=CLUSTER, addonName="kube-proxy", addonVersion="v1.28.2-eksbuild.2"
        )
    assert error_of(raised) == ("InvalidParameterException", NOT_SUPPORTED_MESSAGE)
    # kube-proxy has no one-minor rule at the API: v1.28 -> v1.29 is one update.
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="kube-proxy", addonVersion="v1.29.7-eksbuild.5"
    )["update"]
    assert update["status"] == "InProgress"


def test_coredns_moves_lines_in_one_update(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.10.1-eksbuild.13", addon_name="coredns")
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="coredns", addonVersion="v1.11.3-eksbuild.1"
    )["update"]
    for _ in range(2):
        eks.describe_update(name=CLUSTER, updateId=update["id"], addonName="coredns")
    addon = eks.describe_addon(clusterName=CLUSTER, addonName="coredns")["addon"]
    assert (addon["addonVersion"], addon["status"]) == ("v1.11.3-eksbuild.1", "ACTIVE")


def test_a_test_offers_an_addon_with_no_bundled_matrix(srv: StandInServer, eks: Any) -> None:
    srv.standin.catalogue.offer(
        "snapshot-controller",
        {"v6.3.2-eksbuild.1": ["1.29"], "v8.0.0-eksbuild.1": ["1.29", "1.30"]},
        defaults={"1.29": "v6.3.2-eksbuild.1"},
        type="storage",
    )
    assert sorted(offered(eks, "snapshot-controller", "1.29")) == [
        "v6.3.2-eksbuild.1",
        "v8.0.0-eksbuild.1",
    ]
    created = eks.create_addon(clusterName=CLUSTER, addonName="snapshot-controller")["addon"]
    assert created["addonVersion"] == "v6.3.2-eksbuild.1"
    with pytest.raises(ValueError, match="not offered"):
        srv.standin.catalogue.offer("x", {"v1.0.0-eksbuild.1": ["1.29"]}, defaults={"1.30": "v1"})


def test_list_addons_across_addons(srv: StandInServer, eks: Any) -> None:
    for name in ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"):
        eks.create_addon(clusterName=CLUSTER, addonName=name)
    pages = eks.get_paginator("list_addons").paginate(
        clusterName=CLUSTER, PaginationConfig={"PageSize": 3}
    )
    assert [len(p["addons"]) for p in pages] == [3, 1]
    assert eks.list_addons(clusterName=CLUSTER)["addons"] == [
        "aws-ebs-csi-driver",
        "coredns",
        "kube-proxy",
        "vpc-cni",
    ]


# === pod identity =================================================================================


def associations(eks: Any, addon: str = "aws-ebs-csi-driver") -> list[str]:
    found: list[str] = eks.describe_addon(clusterName=CLUSTER, addonName=addon)["addon"][
        "podIdentityAssociations"
    ]
    return found


def finish(eks: Any, update_id: str, addon: str = "aws-ebs-csi-driver") -> None:
    for _ in range(2):
        eks.describe_update(name=CLUSTER, updateId=update_id, addonName=addon)


def test_pod_identity_associations_keep_delete_replace(srv: StandInServer, eks: Any) -> None:
    srv.standin.catalogue.add("aws-ebs-csi-driver", "v1.31.0-eksbuild.1", ["1.29", "1.30"])
    sent = [{"serviceAccount": "ebs-csi-controller-sa", "roleArn": ROLE}]
    eks.create_addon(
        clusterName=CLUSTER, addonName="aws-ebs-csi-driver", podIdentityAssociations=sent
    )
    first = associations(eks)
    assert len(first) == 1 and first[0].startswith(
        "arn:aws:eks:us-west-2:123456789012:podidentityassociation/prod/a-"
    )
    record = srv.standin.addon(CLUSTER, "aws-ebs-csi-driver")
    assert record is not None
    assert [(a["serviceAccount"], a["roleArn"]) for a in record.pod_identity_associations] == [
        ("ebs-csi-controller-sa", ROLE)
    ]

    # omitted: kept (and the same pair sent again keeps its association)
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="aws-ebs-csi-driver", addonVersion="v1.31.0-eksbuild.1"
    )["update"]
    assert "PodIdentityAssociations" not in [p["type"] for p in update["params"]]
    finish(eks, update["id"])
    assert associations(eks) == first
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="aws-ebs-csi-driver", podIdentityAssociations=sent
    )["update"]
    finish(eks, update["id"])
    assert associations(eks) == first

    # a list replaces
    update = eks.update_addon(
        clusterName=CLUSTER,
        addonName="aws-ebs-csi-driver",
        podIdentityAssociations=[
            {"serviceAccount": "ebs-csi-controller-sa", "roleArn": OTHER_ROLE}
        ],
    )["update"]
    assert "PodIdentityAssociations" in [p["type"] for p in update["params"]]
    assert associations(eks) == first  # not before the update is done
    finish(eks, update["id"])
    replaced = associations(eks)
    assert len(replaced) == 1 and replaced != first

    # [] deletes
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="aws-ebs-csi-driver", podIdentityAssociations=[]
    )["update"]
    finish(eks, update["id"])
    assert associations(eks) == []


def test_put_addon_seeds_associations(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(
        CLUSTER,
        "v1.29.1-eksbuild.1",
        addon_name="aws-ebs-csi-driver",
        pod_identity_associations=[("ebs-csi-controller-sa", ROLE)],
    )
    assert len(associations(eks)) == 1


def test_pod_identity_associations_are_checked(eks: Any) -> None:
    twice = [{"serviceAccount": "sa", "roleArn": ROLE}, {"serviceAccount": "sa", "roleArn": ROLE}]
    with pytest.raises(ClientError) as raised:
        eks.create_addon(
            clusterName=CLUSTER, addonName="aws-ebs-csi-driver", podIdentityAssociations=twice
        )
    assert error_of(raised)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as raised:
        eks.create_addon(
            clusterName=CLUSTER,
            addonName="aws-ebs-csi-driver",
            podIdentityAssociations=[{"serviceAccount": "sa", "roleArn": "not-an-arn"}],
        )
    assert error_of(raised)[0] == "InvalidParameterException"


def test_describe_addon_configuration_pod_identity(eks: Any) -> None:
    answer = eks.describe_addon_configuration(
        addonName="aws-ebs-csi-driver", addonVersion="v1.31.0-eksbuild.1"
    )
    assert answer["podIdentityConfiguration"] == [
        {
            "serviceAccount": "ebs-csi-controller-sa",
            "recommendedManagedPolicies": [
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
            ],
        }
    ]
    older = eks.describe_addon_configuration(
        addonName="aws-ebs-csi-driver", addonVersion="v1.29.1-eksbuild.1"
    )
    assert older["podIdentityConfiguration"] == []
    kube_proxy = eks.describe_addon_configuration(
        addonName="kube-proxy", addonVersion="v1.29.7-eksbuild.5"
    )
    assert '"mode":{"enum":["iptables","ipvs"]' in kube_proxy["configurationSchema"]


# === insights =====================================================================================


def seed_insights(srv: StandInServer) -> None:
    srv.put_insight(
        CLUSTER,
        deprecated_api_insight(
            "dep-1.30",
            "1.30",
            usage="/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
            clients=[client_stat("kubectl/v1.27.1", 12)],
        ),
    )
    compat = addon_compatibility_insight("addons-1.30", "1.30", {"vpc-cni": ["v1.18.3-eksbuild.3"]})
    compat.resources = [insight_resource("/api/v1/namespaces/kube-system/daemonsets/aws-node")]
    srv.put_insight(CLUSTER, compat)
    srv.put_insight(
        CLUSTER,
        passing_insight(
            "skew-1.30",
            "Kubelet version skew",
            "Node kubelet versions match the cluster control plane version.",
            "1.30",
        ),
    )


def test_list_insights_paginates_and_filters(srv: StandInServer, eks: Any) -> None:
    seed_insights(srv)
    pages = list(
        eks.get_paginator("list_insights").paginate(
            clusterName=CLUSTER, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["insights"]) for p in pages] == [2, 1]
    assert [i["id"] for p in pages for i in p["insights"]] == [
        "dep-1.30",
        "addons-1.30",
        "skew-1.30",
    ]
    errors = eks.list_insights(clusterName=CLUSTER, filter={"statuses": ["ERROR"]})["insights"]
    assert [i["id"] for i in errors] == ["dep-1.30", "addons-1.30"]
    assert errors[0]["insightStatus"]["status"] == "ERROR"
    assert errors[0]["kubernetesVersion"] == "1.30"
    assert (
        eks.list_insights(clusterName=CLUSTER, filter={"kubernetesVersions": ["1.31"]})["insights"]
        == []
    )
    assert (
        eks.list_insights(clusterName=CLUSTER, filter={"categories": ["MISCONFIGURATION"]})[
            "insights"
        ]
        == []
    )


def test_describe_insight_answers_the_detail(srv: StandInServer, eks: Any) -> None:
    seed_insights(srv)
    insight = eks.describe_insight(clusterName=CLUSTER, id="dep-1.30")["insight"]
    assert insight["name"] == "Deprecated APIs removed in Kubernetes v1.30"
    detail = insight["categorySpecificSummary"]["deprecationDetails"][0]
    assert detail["usage"] == "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas"
    assert detail["clientStats"][0]["userAgent"] == "kubectl/v1.27.1"
    assert detail["clientStats"][0]["numberOfRequestsLast30Days"] == 12
    assert "EKS update cluster documentation" in insight["additionalInfo"]
    compat = eks.describe_insight(clusterName=CLUSTER, id="addons-1.30")["insight"]
    assert compat["categorySpecificSummary"]["addonCompatibilityDetails"] == [
        {"name": "vpc-cni", "compatibleVersions": ["v1.18.3-eksbuild.3"]}
    ]
    assert compat["resources"][0]["kubernetesResourceUri"].endswith("/daemonsets/aws-node")
    with pytest.raises(ClientError) as raised:
        eks.describe_insight(clusterName=CLUSTER, id="nope")
    assert error_of(raised)[0] == "ResourceNotFoundException"


# === control-plane updates ========================================================================


def version_of(eks: Any) -> tuple[str, str]:
    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    return cluster["version"], cluster["status"]


def test_update_cluster_version_in_progress_then_successful(srv: StandInServer, eks: Any) -> None:
    update = eks.update_cluster_version(name=CLUSTER, version="1.30", clientRequestToken="t-1")[
        "update"
    ]
    assert (update["status"], update["type"]) == ("InProgress", "VersionUpdate")
    assert {"type": "Version", "value": "1.30"} in update["params"]
    assert version_of(eks) == ("1.29", "UPDATING")
    # the same token answers the same update, never a second one
    again = eks.update_cluster_version(name=CLUSTER, version="1.30", clientRequestToken="t-1")
    assert again["update"]["id"] == update["id"]
    with pytest.raises(ClientError) as raised:
        eks.update_cluster_version(name=CLUSTER, version="1.30", clientRequestToken="t-2")
    assert error_of(raised)[0] == "ResourceInUseException"
    assert eks.list_updates(name=CLUSTER)["updateIds"] == [update["id"]]

    first = eks.describe_update(name=CLUSTER, updateId=update["id"])["update"]
    assert first["status"] == "InProgress"
    second = eks.describe_update(name=CLUSTER, updateId=update["id"])["update"]
    assert second["status"] == "Successful"
    assert version_of(eks) == ("1.30", "ACTIVE")
    # an add-on's DescribeUpdate does not find a cluster update
    with pytest.raises(ClientError) as raised:
        eks.describe_update(name=CLUSTER, updateId=update["id"], addonName="vpc-cni")
    assert error_of(raised)[0] == "ResourceNotFoundException"


def test_a_failed_update_keeps_the_version(srv: StandInServer, eks: Any) -> None:
    srv.standin.fail_next_cluster_update()
    update = eks.update_cluster_version(name=CLUSTER, version="1.30")["update"]
    srv.standin.finish_cluster_update(update["id"])
    failed = eks.describe_update(name=CLUSTER, updateId=update["id"])["update"]
    assert failed["status"] == "Failed"
    assert failed["errors"][0]["errorCode"] == "Unknown"
    assert version_of(eks) == ("1.29", "ACTIVE")


def test_time_moves_the_update_when_polls_do_not(srv: StandInServer, eks: Any) -> None:
    standin = srv.standin
    standin.cluster_update_polls = None
    standin.cluster_update_seconds = 1800
    update = eks.update_cluster_version(name=CLUSTER, version="1.30")["update"]
    for _ in range(5):
        assert eks.describe_update(name=CLUSTER, updateId=update["id"])["update"]["status"] == (
            "InProgress"
        )
    assert isinstance(standin.clock, FakeClock)
    standin.clock.advance(1800)
    assert version_of(eks) == ("1.30", "ACTIVE")  # any request applies time's progress


def test_one_minor_at_a_time_and_versions_eks_offers(eks: Any) -> None:
    for target in ("1.31", "1.29", "1.28"):
        with pytest.raises(ClientError) as raised:
            eks.update_cluster_version(name=CLUSTER, version=target)
        assert error_of(raised) == (
            "InvalidParameterException",
            f"Unsupported Kubernetes minor version update from 1.29 to {target}",
        )
    with pytest.raises(ClientError) as raised:
        eks.update_cluster_version(name=CLUSTER, version="2.0")
    assert error_of(raised) == ("InvalidParameterException", "unsupported Kubernetes version")
    with pytest.raises(ClientError) as raised:
        eks.update_cluster_version(name="nope", version="1.30")
    assert error_of(raised)[0] == "ResourceNotFoundException"


def test_error_insights_refuse_unless_forced(srv: StandInServer, eks: Any) -> None:
    seed_insights(srv)
    with pytest.raises(ClientError) as raised:
        eks.update_cluster_version(name=CLUSTER, version="1.30")
    assert error_of(raised) == ("InvalidStateException", INSIGHTS_BLOCKED_MESSAGE)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert srv.standin.cluster_updates() == []
    update = eks.update_cluster_version(name=CLUSTER, version="1.30", force=True)["update"]
    assert update["status"] == "InProgress"
    record = srv.standin.cluster_update(update["id"])
    assert record is not None and record.force


def test_warning_and_other_target_insights_do_not_refuse(srv: StandInServer, eks: Any) -> None:
    srv.put_insight(CLUSTER, deprecated_api_insight("dep", "1.30", status="WARNING"))
    srv.put_insight(CLUSTER, deprecated_api_insight("dep-1.31", "1.31"))
    assert eks.update_cluster_version(name=CLUSTER, version="1.30")["update"]["status"] == (
        "InProgress"
    )


def test_node_groups_at_different_versions(srv: StandInServer, eks: Any) -> None:
    srv.create_nodegroup(CLUSTER, "current")
    srv.create_nodegroup(CLUSTER, "old", "1.26", release_version="1.26.15-20240910")
    pages = eks.get_paginator("list_nodegroups").paginate(clusterName=CLUSTER)
    assert sorted(n for p in pages for n in p["nodegroups"]) == ["current", "old"]
    old = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="old")["nodegroup"]
    assert (old["version"], old["releaseVersion"]) == ("1.26", "1.26.15-20240910")
    current = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="current")["nodegroup"]
    assert current["version"] == "1.29"
    # a managed node group behind the control plane blocks its update
    with pytest.raises(ClientError) as raised:
        eks.update_cluster_version(name=CLUSTER, version="1.30")
    assert error_of(raised)[0] == "InvalidRequestException"
    assert "old" in error_of(raised)[1]
    srv.set_nodegroup_version(CLUSTER, "old", "1.29")
    assert eks.update_cluster_version(name=CLUSTER, version="1.30")["update"]["status"] == (
        "InProgress"
    )


def test_faults_reach_the_new_operations(srv: StandInServer, eks: Any) -> None:
    srv.standin.inject_error(
        "UpdateClusterVersion", code="AccessDeniedException", status=403, message="denied"
    )
    with pytest.raises(ClientError) as raised:
        eks.update_cluster_version(name=CLUSTER, version="1.30")
    assert error_of(raised) == ("AccessDeniedException", "denied")
    assert srv.standin.cluster_updates() == []
    srv.standin.throttle("ListInsights", times=1)
    with pytest.raises(ClientError) as raised:
        srv.client(retries={"mode": "standard", "total_max_attempts": 1}).list_insights(
            clusterName=CLUSTER
        )
    assert error_of(raised)[0] == "ThrottlingException"
    assert eks.list_insights(clusterName=CLUSTER)["insights"] == []
    assert srv.standin.count("ListInsights") == 2
