"""The boto3 gateway, with botocore's Stubber: requests checked against the service model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from eksaddon.engine.upgrade import RESOLVE_CONFLICTS
from eksaddon.errors import (
    AccessDeniedError,
    ApiError,
    ClusterNotFoundError,
    CredentialsError,
    EndpointUnreachableError,
    InsightsBlockedError,
    InvalidParameterError,
    ServiceError,
    ThrottledError,
    UnexpectedAnswerError,
    UpdateInProgressError,
)
from eksaddon.gateways.aws import AwsEksGateway
from eksaddon.gateways.protocols import (
    AddonCompatibilityDetail,
    AddonRequest,
    ClientStat,
    ClusterVersionRequest,
    DeprecationDetail,
    InsightResource,
    PodIdentityAssociation,
    PodIdentityConfiguration,
    UpdateState,
)
from eksaddon.versions import AddonVersion, KubernetesVersion

V = AddonVersion.parse
K = KubernetesVersion.parse


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def gateway(credentials: None) -> AwsEksGateway:
    return AwsEksGateway(region="us-west-2", max_attempts=1)


@pytest.fixture
def stub(gateway: AwsEksGateway) -> Iterator[Stubber]:
    with Stubber(gateway._client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _entry(version: str, *clusters: tuple[str, bool]) -> dict[str, Any]:
    return {
        "addonVersion": version,
        "architecture": ["amd64", "arm64"],
        "compatibilities": [
            {"clusterVersion": c, "platformVersions": ["*"], "defaultVersion": d}
            for c, d in clusters
        ],
        "requiresConfiguration": False,
    }


def test_catalogue_is_paginated_filtered_by_cluster_version_and_sorted(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    params = {"addonName": "vpc-cni", "kubernetesVersion": "1.29"}
    stub.add_response(
        "describe_addon_versions",
        {
            "addons": [
                {
                    "addonName": "vpc-cni",
                    "type": "networking",
                    "addonVersions": [
                        _entry("v1.16.0-eksbuild.1", ("1.28", False), ("1.29", True)),
                        _entry("v1.18.3-eksbuild.3", ("1.29", False)),
                        _entry("v1.12.6-eksbuild.2", ("1.27", True)),  # not for 1.29: dropped
                    ],
                }
            ],
            "nextToken": "page-2",
        },
        params,
    )
    stub.add_response(
        "describe_addon_versions",
        {
            "addons": [
                {
                    "addonName": "vpc-cni",
                    "addonVersions": [
                        _entry("v1.17.1-eksbuild.1", ("1.28", True), ("1.29", False)),
                        _entry("not-a-version", ("1.29", False)),
                    ],
                }
            ],
        },
        {**params, "nextToken": "page-2"},
    )
    entries = gateway.addon_versions("vpc-cni", K("1.29"))
    assert [(str(e.version), e.default) for e in entries] == [
        ("v1.18.3-eksbuild.3", False),
        ("v1.17.1-eksbuild.1", False),
        ("v1.16.0-eksbuild.1", True),
    ]


def test_describe_addon_maps_the_response(gateway: AwsEksGateway, stub: Stubber) -> None:
    stub.add_response(
        "describe_addon",
        {
            "addon": {
                "addonName": "vpc-cni",
                "clusterName": "prod",
                "status": "DEGRADED",
                "addonVersion": "v1.16.4-eksbuild.2",
                "health": {
                    "issues": [
                        {
                            "code": "InsufficientNumberOfReplicas",
                            "message": "m",
                            "resourceIds": ["aws-node"],
                        }
                    ]
                },
                "configurationValues": '{"env":{"WARM_IP_TARGET":"5"}}',
                "serviceAccountRoleArn": "arn:aws:iam::111122223333:role/cni",
            }
        },
        {"clusterName": "prod", "addonName": "vpc-cni"},
    )
    state = gateway.describe_addon("prod", "vpc-cni")
    assert state is not None
    assert state.version == V("v1.16.4-eksbuild.2")
    assert not state.healthy
    assert state.issues[0].code == "InsufficientNumberOfReplicas"
    assert state.configuration_values == '{"env":{"WARM_IP_TARGET":"5"}}'


def test_missing_addon_is_none_and_missing_cluster_an_error(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    stub.add_client_error(
        "describe_addon",
        "ResourceNotFoundException",
        "No addon: vpc-cni found in cluster: prod",
        404,
    )
    assert gateway.describe_addon("prod", "vpc-cni") is None
    stub.add_client_error(
        "describe_cluster", "ResourceNotFoundException", "No cluster found for name: nope.", 404
    )
    with pytest.raises(ClusterNotFoundError, match="cluster nope: No cluster found") as caught:
        gateway.describe_cluster("nope")
    assert caught.value.hint is not None and "--region" in caught.value.hint


def test_update_request_matches_the_service_model(gateway: AwsEksGateway, stub: Stubber) -> None:
    request = AddonRequest(
        "prod",
        "vpc-cni",
        V("v1.17.1-eksbuild.1"),
        "PRESERVE",
        "token-1",
        '{"env":{}}',
        "arn:aws:iam::111122223333:role/cni",
    )
    stub.add_response(
        "update_addon",
        {"update": {"id": "u-1", "status": "InProgress", "type": "AddonUpdate", "errors": []}},
        {
            "clusterName": "prod",
            "addonName": "vpc-cni",
            "addonVersion": "v1.17.1-eksbuild.1",
            "resolveConflicts": "PRESERVE",
            "clientRequestToken": "token-1",
            "configurationValues": '{"env":{}}',
            "serviceAccountRoleArn": "arn:aws:iam::111122223333:role/cni",
        },
    )
    update = gateway.update_addon(request)
    assert (update.id, update.status, update.finished) == ("u-1", "InProgress", False)


def test_enum_values_we_send_are_in_the_service_model() -> None:
    # Stubber does not check enums: do it against botocore's model directly.
    model = boto3.client("eks", region_name="us-west-2").meta.service_model
    assert set(RESOLVE_CONFLICTS) <= set(model.shape_for("ResolveConflicts").enum)
    statuses = set(model.shape_for("UpdateStatus").enum)
    assert {"Successful", "Failed", "Cancelled", "InProgress"} <= statuses
    assert {"ACTIVE", "DEGRADED", "UPDATE_FAILED"} <= set(model.shape_for("AddonStatus").enum)


@pytest.mark.parametrize(
    ("code", "status", "error", "text"),
    [
        ("AccessDeniedException", 403, AccessDeniedError, "access denied to eks:UpdateAddon"),
        ("ResourceInUseException", 409, UpdateInProgressError, "another update is in progress"),
        (
            "InvalidParameterException",
            400,
            InvalidParameterError,
            "Updating VPC-CNI can only go up or down 1 minor version at a time",
        ),
        ("ThrottlingException", 429, ThrottledError, "kept throttling UpdateAddon"),
        ("ServerException", 500, ServiceError, "EKS failed UpdateAddon"),
        ("ExpiredTokenException", 400, CredentialsError, "session expired"),
        ("SomethingNew", 400, ApiError, "SomethingNew"),
    ],
)
def test_client_errors_become_typed_errors(
    gateway: AwsEksGateway, stub: Stubber, code: str, status: int, error: type[ApiError], text: str
) -> None:
    message = "Updating VPC-CNI can only go up or down 1 minor version at a time"
    stub.add_client_error("update_addon", code, message, status)
    request = AddonRequest("prod", "vpc-cni", V("v1.18.3-eksbuild.3"), "PRESERVE", "t")
    with pytest.raises(error) as caught:
        gateway.update_addon(request)
    assert type(caught.value) is error
    assert text in caught.value.message
    assert "vpc-cni on cluster prod" in caught.value.message


def test_missing_credentials_say_how_to_provide_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    gateway = AwsEksGateway(region="us-west-2", max_attempts=1)
    with pytest.raises(CredentialsError) as caught:
        gateway.describe_cluster("prod")
    assert caught.value.hint is not None and "--profile" in caught.value.hint


def test_no_region_is_an_environment_error(
    monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(Exception, match="no AWS region is configured") as caught:
        AwsEksGateway()
    assert caught.value.exit_code == 3  # type: ignore[attr-defined]


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, credentials: None) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", "http://127.0.0.1:9")  # discard port: refused
    gateway = AwsEksGateway(region="us-west-2", max_attempts=1)
    with pytest.raises(EndpointUnreachableError) as caught:
        gateway.describe_cluster("prod")
    assert caught.value.temporary
    assert "AWS_ENDPOINT_URL_EKS" in (caught.value.hint or "")


def test_sdk_internal_errors_do_not_escape(
    monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # botocore refuses this host with a plain ValueError before any connection is made.
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://metadata.invalid/creds")
    with pytest.raises(ApiError, match="failed inside the AWS SDK: ValueError: Unsupported host"):
        AwsEksGateway(region="us-west-2", max_attempts=1)


# --- the cluster-upgrade calls ---------------------------------------------------------------------

WHEN = datetime(2024, 9, 12, 8, 30, tzinfo=timezone.utc)


def _summary(insight_id: str, status: str = "ERROR", **extra: Any) -> dict[str, Any]:
    return {
        "id": insight_id,
        "name": "Deprecated APIs removed in Kubernetes v1.30",
        "category": "UPGRADE_READINESS",
        "kubernetesVersion": "1.30",
        "lastRefreshTime": WHEN,
        "lastTransitionTime": WHEN,
        "description": "Checks for usage of deprecated APIs.",
        "insightStatus": {"status": status, "reason": "Deprecated API usage detected."},
        **extra,
    }


def test_list_addons_pages_through_every_addon(gateway: AwsEksGateway, stub: Stubber) -> None:
    stub.add_response(
        "list_addons",
        {"addons": ["vpc-cni", "kube-proxy"], "nextToken": "t"},
        {"clusterName": "prod"},
    )
    stub.add_response(
        "list_addons", {"addons": ["coredns"]}, {"clusterName": "prod", "nextToken": "t"}
    )
    assert gateway.list_addons("prod") == ["coredns", "kube-proxy", "vpc-cni"]


def test_list_insights_reads_every_page(gateway: AwsEksGateway, stub: Stubber) -> None:
    stub.add_response(
        "list_insights", {"insights": [_summary("a")], "nextToken": "t"}, {"clusterName": "prod"}
    )
    stub.add_response(
        "list_insights",
        {"insights": [_summary("b", "PASSING"), _summary("a")]},
        {"clusterName": "prod", "nextToken": "t"},
    )
    insights = gateway.list_insights("prod")
    assert [(i.id, i.status) for i in insights] == [("a", "ERROR"), ("b", "PASSING")]
    first = insights[0]
    assert first.category == "UPGRADE_READINESS"
    assert first.kubernetes_version == "1.30"
    assert first.last_refresh == "2024-09-12T08:30:00Z"
    assert first.reason == "Deprecated API usage detected."


def test_an_insight_without_a_status_is_a_misfit(gateway: AwsEksGateway, stub: Stubber) -> None:
    broken = _summary("a")
    del broken["insightStatus"]
    stub.add_response("list_insights", {"insights": [broken]}, {"clusterName": "prod"})
    with pytest.raises(UnexpectedAnswerError, match=r"insights\[0\]\.insightStatus"):
        gateway.list_insights("prod")


def test_describe_insight_maps_the_detail(gateway: AwsEksGateway, stub: Stubber) -> None:
    stub.add_response(
        "describe_insight",
        {
            "insight": _summary(
                "dep-1",
                recommendation="Update manifests before upgrading.",
                additionalInfo={"EKS update cluster documentation": "https://docs.aws.amazon.com/"},
                resources=[
                    {
                        "insightStatus": {"status": "ERROR", "reason": "used"},
                        "kubernetesResourceUri": "/apis/flowcontrol.apiserver.k8s.io/v1beta2",
                    }
                ],
                categorySpecificSummary={
                    "deprecationDetails": [
                        {
                            "usage": "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
                            "replacedWith": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
                            "stopServingVersion": "1.29",
                            "startServingReplacementVersion": "1.26",
                            "clientStats": [
                                {
                                    "userAgent": "kubectl/v1.27.1",
                                    "numberOfRequestsLast30Days": 12,
                                    "lastRequestTime": WHEN,
                                }
                            ],
                        }
                    ],
                    "addonCompatibilityDetails": [
                        {"name": "vpc-cni", "compatibleVersions": ["v1.18.3-eksbuild.3"]}
                    ],
                },
            )
        },
        {"clusterName": "prod", "id": "dep-1"},
    )
    detail = gateway.describe_insight("prod", "dep-1")
    assert detail.summary.id == "dep-1"
    assert detail.recommendation == "Update manifests before upgrading."
    assert detail.additional_info == (
        ("EKS update cluster documentation", "https://docs.aws.amazon.com/"),
    )
    assert detail.resources == (
        InsightResource("ERROR", "/apis/flowcontrol.apiserver.k8s.io/v1beta2", None),
    )
    assert detail.deprecations == (
        DeprecationDetail(
            "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
            "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
            "1.29",
            "1.26",
            (ClientStat("kubectl/v1.27.1", 12, "2024-09-12T08:30:00Z"),),
        ),
    )
    assert detail.addon_compatibility == (
        AddonCompatibilityDetail("vpc-cni", ("v1.18.3-eksbuild.3",)),
    )


def test_describe_insight_about_another_id_is_refused(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    stub.add_response(
        "describe_insight", {"insight": _summary("other")}, {"clusterName": "prod", "id": "dep-1"}
    )
    with pytest.raises(UnexpectedAnswerError, match=r"insight\.id"):
        gateway.describe_insight("prod", "dep-1")


def _version_update(update_id: str = "u-1", status: str = "InProgress") -> dict[str, Any]:
    return {
        "update": {
            "id": update_id,
            "status": status,
            "type": "VersionUpdate",
            "params": [{"type": "Version", "value": "1.30"}],
            "createdAt": WHEN,
            "errors": [],
        }
    }


def test_update_cluster_version_sends_force_only_when_asked(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    plain = ClusterVersionRequest("prod", K("1.30"), "token-1")
    stub.add_response(
        "update_cluster_version",
        _version_update(),
        {"name": "prod", "version": "1.30", "clientRequestToken": "token-1"},
    )
    stub.add_response(
        "update_cluster_version",
        _version_update("u-2"),
        {"name": "prod", "version": "1.30", "clientRequestToken": "token-2", "force": True},
    )
    assert gateway.update_cluster_version(plain) == UpdateState(
        "u-1", "InProgress", "VersionUpdate"
    )
    forced = plain._replace(client_request_token="token-2", force=True)
    assert gateway.update_cluster_version(forced).id == "u-2"


def test_the_insights_refusal_is_insights_blocked(gateway: AwsEksGateway, stub: Stubber) -> None:
    message = (
        "Upgrade readiness issues detected. Call the EKS ListInsights API to view upgrade "
        "blocking issues detected by EKS."
    )
    stub.add_client_error(
        "update_cluster_version",
        service_error_code="InvalidStateException",
        service_message=message,
        http_status_code=400,
    )
    with pytest.raises(InsightsBlockedError, match="Upgrade readiness issues detected") as raised:
        gateway.update_cluster_version(ClusterVersionRequest("prod", K("1.30"), "t"))
    assert raised.value.exit_code == 3
    stub.add_client_error(
        "update_cluster_version",
        service_error_code="InvalidParameterException",
        service_message="Unsupported Kubernetes minor version update from 1.29 to 1.31",
        http_status_code=400,
    )
    with pytest.raises(InvalidParameterError, match="from 1.29 to 1.31"):
        gateway.update_cluster_version(ClusterVersionRequest("prod", K("1.31"), "t"))


def test_a_misfit_after_update_cluster_version_says_eks_may_have_acted(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    answer = _version_update()
    del answer["update"]["status"]
    stub.add_response("update_cluster_version", answer)
    with pytest.raises(UnexpectedAnswerError) as raised:
        gateway.update_cluster_version(ClusterVersionRequest("prod", K("1.30"), "t"))
    assert "after UpdateClusterVersion: EKS may have started update u-1" in raised.value.one_line()


def test_describe_cluster_update_asks_without_an_addon(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    stub.add_response(
        "describe_update",
        _version_update(status="Successful"),
        {"name": "prod", "updateId": "u-1"},
    )
    assert gateway.describe_cluster_update("prod", "u-1").status == "Successful"
    stub.add_response(
        "describe_update", _version_update("u-9"), {"name": "prod", "updateId": "u-1"}
    )
    with pytest.raises(UnexpectedAnswerError, match="update.id"):
        gateway.describe_cluster_update("prod", "u-1")


def test_pod_identity_associations_are_sent_only_when_given(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    base = {
        "clusterName": "prod",
        "addonName": "aws-ebs-csi-driver",
        "addonVersion": "v1.31.0-eksbuild.1",
        "resolveConflicts": "PRESERVE",
        "clientRequestToken": "t",
    }
    request = AddonRequest("prod", "aws-ebs-csi-driver", V("v1.31.0-eksbuild.1"), "PRESERVE", "t")
    update = {"update": {"id": "u", "status": "InProgress", "type": "AddonUpdate"}}
    stub.add_response("update_addon", update, base)
    stub.add_response("update_addon", update, {**base, "podIdentityAssociations": []})
    role = "arn:aws:iam::123456789012:role/ebs"
    stub.add_response(
        "update_addon",
        update,
        {
            **base,
            "podIdentityAssociations": [
                {"serviceAccount": "ebs-csi-controller-sa", "roleArn": role}
            ],
        },
    )
    gateway.update_addon(request)
    gateway.update_addon(request._replace(pod_identity_associations=()))
    gateway.update_addon(
        request._replace(
            pod_identity_associations=(PodIdentityAssociation("ebs-csi-controller-sa", role),)
        )
    )


def test_describe_addon_reads_pod_identity_associations(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    arn = "arn:aws:eks:us-west-2:123456789012:podidentityassociation/prod/a-1"
    stub.add_response(
        "describe_addon",
        {
            "addon": {
                "addonName": "aws-ebs-csi-driver",
                "clusterName": "prod",
                "status": "ACTIVE",
                "addonVersion": "v1.31.0-eksbuild.1",
                "podIdentityAssociations": [arn],
            }
        },
        {"clusterName": "prod", "addonName": "aws-ebs-csi-driver"},
    )
    state = gateway.describe_addon("prod", "aws-ebs-csi-driver")
    assert state is not None and state.pod_identity_associations == (arn,)


def test_pod_identity_configuration_lists_the_recommended_policies(
    gateway: AwsEksGateway, stub: Stubber
) -> None:
    policy = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    stub.add_response(
        "describe_addon_configuration",
        {
            "addonName": "aws-ebs-csi-driver",
            "addonVersion": "v1.31.0-eksbuild.1",
            "configurationSchema": "{}",
            "podIdentityConfiguration": [
                {"serviceAccount": "ebs-csi-controller-sa", "recommendedManagedPolicies": [policy]}
            ],
        },
        {"addonName": "aws-ebs-csi-driver", "addonVersion": "v1.31.0-eksbuild.1"},
    )
    assert gateway.pod_identity_configuration("aws-ebs-csi-driver", V("v1.31.0-eksbuild.1")) == (
        PodIdentityConfiguration("ebs-csi-controller-sa", (policy,)),
    )
