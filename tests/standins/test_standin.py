"""The EKS add-on stand-in itself, driven by plain boto3 clients against its moto server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

from .eks_addons import (
    ADDON_STATUSES,
    NOT_SUPPORTED_MESSAGE,
    ONE_MINOR_MESSAGE,
    UPDATE_STATUSES,
    VPC_CNI_CLUSTER_VERSIONS,
    VPC_CNI_DEFAULT,
    VPC_CNI_VERSIONS,
    AddonCatalogue,
    FakeClock,
    StandIn,
    error_detail,
    health_issue,
    minor_of,
    operation_name,
    vpc_cni_catalogue,
)
from .server import StandInServer, eks_server, eks_standin

__all__ = ["eks_server", "eks_standin"]  # the fixtures, imported for pytest

CLUSTER = "demo"
ROLE = "arn:aws:iam::123456789012:role/AmazonEKSVPCCNIRole"
STANDARD_RETRIES = {"mode": "standard", "max_attempts": 5}


@pytest.fixture
def srv(eks_standin: StandInServer) -> StandInServer:
    """A fresh stand-in with the 1.29 cluster `demo` and no add-on."""
    eks_standin.create_cluster(CLUSTER, "1.29")
    return eks_standin


@pytest.fixture
def eks(srv: StandInServer) -> Any:
    return srv.client()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retry backoff sleeps for real: make it zero so retry tests stay fast."""
    monkeypatch.setattr(
        "botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0.0
    )


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def versions_of(response: dict[str, Any]) -> list[str]:
    return [v["addonVersion"] for a in response["addons"] for v in a["addonVersions"]]


def sort_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").replace("-eksbuild.", ".").split("."))


def poll_update(eks: Any, update_id: str) -> str:
    status: str = eks.describe_update(name=CLUSTER, updateId=update_id, addonName="vpc-cni")[
        "update"
    ]["status"]
    return status


def addon_of(eks: Any) -> dict[str, Any]:
    addon: dict[str, Any] = eks.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")["addon"]
    return addon


# === catalogue ===================================================================================


def test_vpc_cni_catalogue_offers_every_minor_with_one_default() -> None:
    catalogue = vpc_cni_catalogue()
    entries = catalogue.entries("vpc-cni")
    assert [e.version for e in entries] == list(VPC_CNI_VERSIONS)
    assert {minor_of(e.version) for e in entries} == {(1, m) for m in range(6, 19)}
    for cluster_version in VPC_CNI_CLUSTER_VERSIONS:
        assert catalogue.default_version("vpc-cni", cluster_version) == VPC_CNI_DEFAULT
        assert catalogue.offers("vpc-cni", "v1.6.3-eksbuild.2", cluster_version)
    assert not catalogue.offers("vpc-cni", "v1.6.3-eksbuild.2", "1.31")
    listed = [e.version for e in catalogue.listing("vpc-cni")]
    assert sorted(listed) == sorted(VPC_CNI_VERSIONS)
    assert listed not in (sorted(listed, key=sort_key), sorted(listed, key=sort_key, reverse=True))
    assert [e.version for e in vpc_cni_catalogue(scrambled=False).listing("vpc-cni")] == list(
        VPC_CNI_VERSIONS
    )


def test_catalogue_set_default_moves_the_flag() -> None:
    catalogue = vpc_cni_catalogue()
    catalogue.set_default("vpc-cni", "v1.18.3-eksbuild.3", ["1.30"])
    assert catalogue.default_version("vpc-cni", "1.30") == "v1.18.3-eksbuild.3"
    assert catalogue.default_version("vpc-cni", "1.29") == VPC_CNI_DEFAULT


def test_operation_names_accept_both_spellings() -> None:
    assert operation_name("describe_addon_versions") == "DescribeAddonVersions"
    assert operation_name("UpdateAddon") == "UpdateAddon"


# === DescribeAddonVersions =======================================================================


def test_describe_addon_versions_pages_through_every_build_unsorted(srv: StandInServer) -> None:
    eks = srv.client()
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"addonName": "vpc-cni", "kubernetesVersion": "1.29"}
        if token:
            kwargs["nextToken"] = token
        page = eks.describe_addon_versions(maxResults=4, **kwargs)
        assert len(versions_of(page)) <= 4
        assert all(a["addonName"] == "vpc-cni" for a in page["addons"])
        seen += versions_of(page)
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 4
    assert sorted(seen) == sorted(VPC_CNI_VERSIONS)
    assert seen not in (sorted(seen, key=sort_key), sorted(seen, key=sort_key, reverse=True))

    paginated = eks.get_paginator("describe_addon_versions").paginate(
        addonName="vpc-cni", kubernetesVersion="1.29", PaginationConfig={"PageSize": 5}
    )
    assert [v for page in paginated for v in versions_of(page)] == seen


def test_describe_addon_versions_compatibility_filter(srv: StandInServer) -> None:
    eks = srv.client()
    answer = eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.29")
    assert "nextToken" not in answer
    (info,) = answer["addons"]
    assert (info["type"], info["owner"], info["publisher"]) == ("networking", "aws", "eks")
    defaults = []
    for version in info["addonVersions"]:
        assert version["architecture"] == ["amd64", "arm64"]
        assert version["requiresConfiguration"] is False
        (compatibility,) = version["compatibilities"]
        assert compatibility["clusterVersion"] == "1.29"
        assert compatibility["platformVersions"] == ["*"]
        if compatibility["defaultVersion"]:
            defaults.append(version["addonVersion"])
    assert defaults == [VPC_CNI_DEFAULT]

    unfiltered = eks.describe_addon_versions(addonName="vpc-cni")["addons"][0]["addonVersions"][0]
    assert [c["clusterVersion"] for c in unfiltered["compatibilities"]] == list(
        VPC_CNI_CLUSTER_VERSIONS
    )
    assert (
        eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.22")["addons"] == []
    )
    assert eks.describe_addon_versions(addonName="coredns")["addons"] == []

    srv.standin.catalogue.add("vpc-cni", "v1.19.0-eksbuild.1", ["1.30"])
    assert "v1.19.0-eksbuild.1" not in versions_of(
        eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.29")
    )
    assert "v1.19.0-eksbuild.1" in versions_of(
        eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.30")
    )


def test_describe_addon_versions_page_by_addon_and_default_page_size(srv: StandInServer) -> None:
    catalogue = AddonCatalogue()
    catalogue.add("vpc-cni", "v1.18.3-eksbuild.3", ["1.29"], default_for=["1.29"])
    catalogue.add("vpc-cni", "v1.17.1-eksbuild.1", ["1.29"])
    catalogue.describe_addon("coredns", type="networking")
    catalogue.add("coredns", "v1.11.1-eksbuild.9", ["1.29"], default_for=["1.29"])
    srv.standin.catalogue = catalogue
    eks = srv.client()

    srv.standin.page_by = "addon"
    first = eks.describe_addon_versions(maxResults=1)
    assert [a["addonName"] for a in first["addons"]] == ["coredns"]
    second = eks.describe_addon_versions(maxResults=1, nextToken=first["nextToken"])
    assert [a["addonName"] for a in second["addons"]] == ["vpc-cni"]
    assert len(second["addons"][0]["addonVersions"]) == 2
    assert "nextToken" not in second

    srv.standin.page_by = "version"
    srv.standin.default_page_size = 2
    split = eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.29")
    assert len(versions_of(split)) == 2 and "nextToken" not in split
    everything = eks.describe_addon_versions()
    assert len(versions_of(everything)) == 2 and "nextToken" in everything


def test_describe_addon_versions_rejects_bad_tokens_and_sizes(srv: StandInServer) -> None:
    eks = srv.client()
    with pytest.raises(ClientError) as raised:
        eks.describe_addon_versions(addonName="vpc-cni", nextToken="garbage")
    assert error_of(raised)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as raised:
        eks.describe_addon_versions(addonName="vpc-cni", maxResults=101)
    assert error_of(raised)[0] == "InvalidParameterException"


# === DescribeAddonConfiguration ==================================================================


def test_describe_addon_configuration_returns_the_real_schema(srv: StandInServer) -> None:
    answer = srv.client().describe_addon_configuration(
        addonName="vpc-cni", addonVersion="v1.18.3-eksbuild.3"
    )
    assert answer["addonVersion"] == "v1.18.3-eksbuild.3"
    assert answer["podIdentityConfiguration"] == []
    schema = json.loads(answer["configurationSchema"])
    assert schema.get("$ref") == "#/definitions/VpcCni" or schema.get("type") == "object"


def test_describe_addon_configuration_unknown_version(srv: StandInServer) -> None:
    with pytest.raises(ClientError) as raised:
        srv.client().describe_addon_configuration(
            addonName="vpc-cni", addonVersion="v9.9.9-eksbuild.1"
        )
    assert error_of(raised) == ("InvalidParameterException", NOT_SUPPORTED_MESSAGE, 400)


# === CreateAddon / DescribeAddon / ListAddons / DeleteAddon ======================================


def test_create_addon_goes_creating_then_active(srv: StandInServer, eks: Any) -> None:
    srv.standin.create_polls = 3
    created = eks.create_addon(
        clusterName=CLUSTER,
        addonName="vpc-cni",
        addonVersion="v1.15.5-eksbuild.1",
        serviceAccountRoleArn=ROLE,
        tags={"team": "net"},
    )["addon"]
    assert created["status"] == "CREATING"
    assert created["addonArn"].startswith(f"arn:aws:eks:us-west-2:123456789012:addon/{CLUSTER}/")
    assert created["health"] == {"issues": []}
    assert [addon_of(eks)["status"] for _ in range(3)] == ["CREATING", "CREATING", "ACTIVE"]
    addon = addon_of(eks)
    assert addon["addonVersion"] == "v1.15.5-eksbuild.1"
    assert addon["serviceAccountRoleArn"] == ROLE
    assert addon["tags"] == {"team": "net"}
    assert {"createdAt", "modifiedAt", "clusterName"} <= addon.keys()


def test_create_addon_by_clock(srv: StandInServer, eks: Any) -> None:
    clock = FakeClock()
    srv.fresh(StandIn(clock=clock))
    srv.create_cluster(CLUSTER, "1.29")
    srv.standin.create_polls = None
    srv.standin.create_seconds = 60
    eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni")
    assert addon_of(eks)["status"] == "CREATING"
    clock.advance(59)
    assert addon_of(eks)["status"] == "CREATING"
    clock.advance(1)
    assert addon_of(eks)["status"] == "ACTIVE"


def test_create_addon_defaults_to_the_default_version(srv: StandInServer, eks: Any) -> None:
    created = eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni")["addon"]
    assert created["addonVersion"] == VPC_CNI_DEFAULT


def test_create_addon_errors(srv: StandInServer, eks: Any) -> None:
    eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.15.5-eksbuild.1")
    with pytest.raises(ClientError) as raised:
        eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni")
    assert error_of(raised)[0::2] == ("ResourceInUseException", 409)

    srv.create_cluster("new", "1.31")
    with pytest.raises(ClientError) as raised:
        eks.create_addon(clusterName="new", addonName="vpc-cni", addonVersion="v1.18.3-eksbuild.3")
    assert error_of(raised) == ("InvalidParameterException", NOT_SUPPORTED_MESSAGE, 400)

    with pytest.raises(ClientError) as raised:
        eks.create_addon(clusterName="nope", addonName="vpc-cni")
    assert error_of(raised) == (
        "ResourceNotFoundException",
        "No cluster found for name: nope.",
        404,
    )


def test_create_addon_same_token_is_idempotent(srv: StandInServer, eks: Any) -> None:
    first = eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni", clientRequestToken="t-1")
    again = eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni", clientRequestToken="t-1")
    assert first["addon"]["addonArn"] == again["addon"]["addonArn"]


def test_describe_addon_not_found_texts(srv: StandInServer, eks: Any) -> None:
    with pytest.raises(ClientError) as raised:
        eks.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")
    assert error_of(raised) == (
        "ResourceNotFoundException",
        f"No addon: vpc-cni found in cluster: {CLUSTER}",
        404,
    )
    assert raised.value.response["addonName"] == "vpc-cni"
    with pytest.raises(ClientError) as raised:
        eks.describe_addon(clusterName="nope", addonName="vpc-cni")
    assert error_of(raised)[:2] == ("ResourceNotFoundException", "No cluster found for name: nope.")


def test_list_and_delete_addons(srv: StandInServer, eks: Any) -> None:
    srv.standin.catalogue.add("kube-proxy", "v1.29.0-eksbuild.1", ["1.29"], default_for=["1.29"])
    srv.standin.catalogue.add("coredns", "v1.11.1-eksbuild.4", ["1.29"], default_for=["1.29"])
    for name in ("vpc-cni", "kube-proxy", "coredns"):
        eks.create_addon(clusterName=CLUSTER, addonName=name)
    first = eks.list_addons(clusterName=CLUSTER, maxResults=2)
    rest = eks.list_addons(clusterName=CLUSTER, nextToken=first["nextToken"])
    assert first["addons"] + rest["addons"] == ["coredns", "kube-proxy", "vpc-cni"]

    deleted = eks.delete_addon(clusterName=CLUSTER, addonName="kube-proxy")["addon"]
    assert deleted["status"] == "DELETING"
    assert eks.list_addons(clusterName=CLUSTER)["addons"] == ["coredns", "vpc-cni"]
    with pytest.raises(ClientError) as raised:
        eks.delete_addon(clusterName=CLUSTER, addonName="kube-proxy")
    assert error_of(raised)[0] == "ResourceNotFoundException"


def test_deleting_the_cluster_drops_its_addons(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    eks.delete_cluster(name=CLUSTER)
    srv.create_cluster(CLUSTER, "1.29")
    assert eks.list_addons(clusterName=CLUSTER)["addons"] == []


def test_put_addon_needs_the_cluster(srv: StandInServer) -> None:
    with pytest.raises(LookupError):
        srv.put_addon("missing", "v1.6.3-eksbuild.2")


# === UpdateAddon / DescribeUpdate ================================================================


def test_update_addon_returns_an_addon_update(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    update = eks.update_addon(
        clusterName=CLUSTER,
        addonName="vpc-cni",
        addonVersion="v1.7.10-eksbuild.2",
        resolveConflicts="PRESERVE",
        configurationValues='{"env": {"WARM_IP_TARGET": "5"}}',
        serviceAccountRoleArn=ROLE,
    )["update"]
    assert update["status"] == "InProgress"
    assert update["type"] == "AddonUpdate"
    assert update["id"]
    assert update["errors"] == []
    assert update["params"] == [
        {"type": "AddonVersion", "value": "v1.7.10-eksbuild.2"},
        {"type": "ResolveConflicts", "value": "PRESERVE"},
        {"type": "ConfigurationValues", "value": '{"env": {"WARM_IP_TARGET": "5"}}'},
        {"type": "ServiceAccountRoleArn", "value": ROLE},
    ]
    assert eks.list_updates(name=CLUSTER, addonName="vpc-cni")["updateIds"] == [update["id"]]


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("v1.6.3-eksbuild.2", "v1.7.10-eksbuild.2", True),
        ("v1.6.3-eksbuild.2", "v1.8.0-eksbuild.3", False),
        ("v1.10.4-eksbuild.3", "v1.12.6-eksbuild.2", False),
        ("v1.16.4-eksbuild.2", "v1.15.5-eksbuild.1", True),
        ("v1.16.4-eksbuild.2", "v1.14.1-eksbuild.1", False),
        ("v1.18.0-eksbuild.1", "v1.18.3-eksbuild.3", True),
    ],
)
def test_update_addon_one_minor_rule(
    srv: StandInServer, eks: Any, current: str, target: str, allowed: bool
) -> None:
    srv.put_addon(CLUSTER, current)
    if allowed:
        eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion=target)
        return
    with pytest.raises(ClientError) as raised:
        eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion=target)
    assert error_of(raised) == ("InvalidParameterException", ONE_MINOR_MESSAGE, 400)
    assert srv.standin.updates() == []


def test_update_addon_version_not_offered(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.18.0-eksbuild.1")
    with pytest.raises(ClientError) as raised:
        eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.18.5-eksbuild.1"
        )
    assert error_of(raised) == ("InvalidParameterException", NOT_SUPPORTED_MESSAGE, 400)

    srv.standin.catalogue.add("vpc-cni", "v1.18.5-eksbuild.1", ["1.30"])
    with pytest.raises(ClientError) as raised:
        eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.18.5-eksbuild.1"
        )
    assert error_of(raised)[1] == NOT_SUPPORTED_MESSAGE


def test_update_addon_missing_addon_or_cluster(srv: StandInServer, eks: Any) -> None:
    with pytest.raises(ClientError) as raised:
        eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion=VPC_CNI_DEFAULT)
    assert error_of(raised)[:2] == (
        "ResourceNotFoundException",
        f"No addon: vpc-cni found in cluster: {CLUSTER}",
    )
    with pytest.raises(ClientError) as raised:
        eks.update_addon(clusterName="nope", addonName="vpc-cni")
    assert error_of(raised)[:2] == ("ResourceNotFoundException", "No cluster found for name: nope.")


def test_update_addon_in_use_while_an_update_runs(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    with pytest.raises(ClientError) as raised:
        eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
        )
    assert error_of(raised)[0::2] == ("ResourceInUseException", 409)
    while poll_update(eks, update["id"]) == "InProgress":
        pass
    eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.8.0-eksbuild.3")


def test_update_addon_in_use_while_creating(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2", status="CREATING")
    with pytest.raises(ClientError) as raised:
        eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
        )
    assert error_of(raised)[0] == "ResourceInUseException"
    assert addon_of(eks)["status"] == "ACTIVE"  # create_polls applies to seeded CREATING add-ons


def test_update_addon_client_request_token_is_idempotent(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    kwargs = {
        "clusterName": CLUSTER,
        "addonName": "vpc-cni",
        "addonVersion": "v1.7.10-eksbuild.2",
        "clientRequestToken": "run-42",
    }
    first = eks.update_addon(**kwargs)["update"]
    again = eks.update_addon(**kwargs)["update"]
    assert again["id"] == first["id"]
    assert len(srv.standin.updates()) == 1
    assert srv.standin.count("update_addon") == 2
    while poll_update(eks, first["id"]) == "InProgress":
        pass
    assert eks.update_addon(**kwargs)["update"] == {**first, "status": "Successful"}
    assert len(srv.standin.updates()) == 1
    other = eks.update_addon(**{**kwargs, "clientRequestToken": "run-43"})["update"]
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    ("values", "valid"),
    [
        ('{"env": {"WARM_IP_TARGET": "5"}}', True),
        ("env:\n  WARM_IP_TARGET: '5'\n", True),
        ("{}", True),
        ('{"env": ', False),
        ("just a sentence", False),
        ("- a\n- list\n", False),
        ("key: [unclosed", False),
    ],
)
def test_update_addon_configuration_values_must_be_json_or_yaml(
    srv: StandInServer, eks: Any, values: str, valid: bool
) -> None:
    srv.put_addon(CLUSTER, VPC_CNI_DEFAULT)
    if valid:
        eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", configurationValues=values)
        return
    with pytest.raises(ClientError) as raised:
        eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", configurationValues=values)
    assert error_of(raised)[0] == "InvalidParameterException"


def test_update_addon_schema_validation_is_opt_in(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, VPC_CNI_DEFAULT)
    schema = json.loads(srv.standin.configuration_schemas["vpc-cni"])
    if "definitions" not in schema:
        pytest.skip("../shared/domain/vpc-cni-config-schema.json is absent")
    srv.standin.validate_configuration = True
    with pytest.raises(ClientError) as raised:
        eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", configurationValues='{"env": {"NOPE": "1"}}'
        )
    assert "Json schema validation failed" in error_of(raised)[1]
    eks.update_addon(
        clusterName=CLUSTER,
        addonName="vpc-cni",
        configurationValues='{"env": {"WARM_IP_TARGET": "5"}}',
    )


def test_update_progresses_after_n_polls(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 3
    update = eks.update_addon(
        clusterName=CLUSTER,
        addonName="vpc-cni",
        addonVersion="v1.7.10-eksbuild.2",
        configurationValues='{"env": {"AWS_VPC_K8S_CNI_EXTERNALSNAT": "true"}}',
    )["update"]
    observed = []
    for _ in range(3):
        addon = addon_of(eks)
        observed.append((addon["status"], addon["addonVersion"], poll_update(eks, update["id"])))
    assert observed == [
        ("UPDATING", "v1.6.3-eksbuild.2", "InProgress"),
        ("UPDATING", "v1.6.3-eksbuild.2", "InProgress"),
        ("UPDATING", "v1.6.3-eksbuild.2", "Successful"),
    ]
    addon = addon_of(eks)
    assert (addon["status"], addon["addonVersion"]) == ("ACTIVE", "v1.7.10-eksbuild.2")
    assert addon["configurationValues"] == '{"env": {"AWS_VPC_K8S_CNI_EXTERNALSNAT": "true"}}'
    assert addon["health"] == {"issues": []}


def test_update_progress_can_count_describe_addon(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.poll_operations = frozenset({"DescribeUpdate", "DescribeAddon"})
    eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2")
    assert [addon_of(eks)["status"] for _ in range(2)] == ["UPDATING", "ACTIVE"]


def test_update_progress_by_clock_or_never(srv: StandInServer, eks: Any) -> None:
    clock = FakeClock()
    srv.fresh(StandIn(clock=clock))
    srv.create_cluster(CLUSTER, "1.29")
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = None
    srv.standin.update_seconds = 30
    first = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    assert {poll_update(eks, first["id"]) for _ in range(10)} == {"InProgress"}
    clock.advance(30)
    assert poll_update(eks, first["id"]) == "Successful"
    assert addon_of(eks)["modifiedAt"] > addon_of(eks)["createdAt"]

    srv.standin.update_seconds = None  # never ends: for timeout handling
    stuck = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.8.0-eksbuild.3"
    )["update"]
    clock.advance(10_000)
    assert {poll_update(eks, stuck["id"]) for _ in range(5)} == {"InProgress"}


def test_describe_update_needs_the_addon_name(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    with pytest.raises(ClientError) as raised:
        eks.describe_update(name=CLUSTER, updateId=update["id"])
    assert error_of(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        eks.describe_update(name=CLUSTER, updateId="no-such-update", addonName="vpc-cni")
    assert error_of(raised)[:2] == (
        "ResourceNotFoundException",
        "No update found for ID: no-such-update",
    )


def test_update_failed(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 1
    detail = error_detail("InsufficientNumberOfReplicas", "aws-node rollout stalled", ["aws-node"])
    srv.standin.fail_next_update([detail])
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    described = eks.describe_update(name=CLUSTER, updateId=update["id"], addonName="vpc-cni")
    assert described["update"]["status"] == "Failed"
    assert described["update"]["errors"] == [
        {
            "errorCode": "InsufficientNumberOfReplicas",
            "errorMessage": "aws-node rollout stalled",
            "resourceIds": ["aws-node"],
        }
    ]
    addon = addon_of(eks)
    assert (addon["status"], addon["addonVersion"]) == ("UPDATE_FAILED", "v1.6.3-eksbuild.2")

    again = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    assert poll_update(eks, again["id"]) == "Successful"
    assert addon_of(eks)["status"] == "ACTIVE"


def test_update_failed_default_error_is_a_configuration_conflict(
    srv: StandInServer, eks: Any
) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 1
    srv.standin.fail_next_update()
    update = eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni")["update"]
    described = eks.describe_update(name=CLUSTER, updateId=update["id"], addonName="vpc-cni")
    (error,) = described["update"]["errors"]
    assert error["errorCode"] == "ConfigurationConflict"
    assert error["errorMessage"].startswith("Conflicts found when trying to apply.")


def test_update_cancelled(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 1
    srv.standin.cancel_next_update()
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    assert poll_update(eks, update["id"]) == "Cancelled"
    addon = addon_of(eks)
    assert (addon["status"], addon["addonVersion"]) == ("ACTIVE", "v1.6.3-eksbuild.2")


def test_update_leaves_the_addon_degraded(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 1
    issue = health_issue("ConfigurationConflict", "conflict on aws-node env", ["aws-node"])
    srv.standin.degrade_after_next_update([issue])
    update = eks.update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    assert poll_update(eks, update["id"]) == "Successful"
    addon = addon_of(eks)
    assert (addon["status"], addon["addonVersion"]) == ("DEGRADED", "v1.7.10-eksbuild.2")
    assert addon["health"]["issues"] == [
        {
            "code": "ConfigurationConflict",
            "message": "conflict on aws-node env",
            "resourceIds": ["aws-node"],
        }
    ]

    srv.standin.set_health(CLUSTER, [])
    assert addon_of(eks)["status"] == "ACTIVE"
    srv.standin.set_health(CLUSTER, [health_issue()])
    addon = addon_of(eks)
    assert addon["status"] == "DEGRADED"
    assert addon["health"]["issues"][0]["code"] == "InsufficientNumberOfReplicas"


def test_queued_outcomes_apply_in_order(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 1
    srv.standin.cancel_next_update()
    srv.standin.fail_next_update()
    results = []
    for _ in range(3):
        update = eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
        )["update"]
        results.append(poll_update(eks, update["id"]))
    assert results == ["Cancelled", "Failed", "Successful"]


# === faults and counters =========================================================================


@pytest.mark.usefixtures("no_backoff")
def test_throttling_is_absorbed_by_standard_retries(srv: StandInServer) -> None:
    srv.standin.throttle("describe_addon_versions", times=2)
    answer = srv.client(retries=STANDARD_RETRIES).describe_addon_versions(addonName="vpc-cni")
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(versions_of(answer)) == len(VPC_CNI_VERSIONS)
    assert srv.standin.calls["DescribeAddonVersions"] == 3
    assert srv.standin.faulted["DescribeAddonVersions"] == 2
    assert srv.standin.pending_faults("DescribeAddonVersions") == 0


def test_throttling_without_retries_is_a_429(srv: StandInServer) -> None:
    srv.standin.throttle("DescribeAddon")
    with pytest.raises(ClientError) as raised:
        srv.client(retries={"mode": "standard", "total_max_attempts": 1}).describe_addon(
            clusterName=CLUSTER, addonName="vpc-cni"
        )
    assert error_of(raised) == ("ThrottlingException", "Rate exceeded", 429)


@pytest.mark.usefixtures("no_backoff")
def test_server_errors(srv: StandInServer) -> None:
    srv.put_addon(CLUSTER, VPC_CNI_DEFAULT)
    client = srv.client(retries={"mode": "standard", "total_max_attempts": 3})
    srv.standin.server_error("DescribeAddon", times=2)
    assert (
        client.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")["ResponseMetadata"][
            "RetryAttempts"
        ]
        == 2
    )

    srv.standin.server_error("UpdateAddon", times=3)
    with pytest.raises(ClientError) as raised:
        client.update_addon(clusterName=CLUSTER, addonName="vpc-cni")
    assert error_of(raised)[0::2] == ("ServerException", 500)
    assert srv.standin.updates() == []

    srv.standin.server_error("ListAddons", times=1, status=503)
    with pytest.raises(ClientError) as raised:
        srv.client(retries={"mode": "standard", "total_max_attempts": 1}).list_addons(
            clusterName=CLUSTER
        )
    assert error_of(raised)[0::2] == ("ServiceUnavailableException", 503)


@pytest.mark.usefixtures("no_backoff")
def test_a_lost_update_response_is_retried_idempotently(srv: StandInServer) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.server_error("UpdateAddon", after_processing=True)
    update = srv.client(retries=STANDARD_RETRIES).update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2"
    )["update"]
    assert srv.standin.count("UpdateAddon") == 2
    assert [u.id for u in srv.standin.updates()] == [update["id"]]


def test_faults_also_apply_to_moto_operations(srv: StandInServer) -> None:
    srv.standin.inject_error(
        "DescribeCluster", code="AccessDeniedException", status=403, message="no", times=1
    )
    with pytest.raises(ClientError) as raised:
        srv.client().describe_cluster(name=CLUSTER)
    assert error_of(raised) == ("AccessDeniedException", "no", 403)
    assert srv.client().describe_cluster(name=CLUSTER)["cluster"]["version"] == "1.29"


def test_call_counters(srv: StandInServer, eks: Any) -> None:
    eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.29")
    eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni")
    addon_of(eks)
    addon_of(eks)
    assert srv.standin.calls == {"DescribeAddonVersions": 1, "CreateAddon": 1, "DescribeAddon": 2}
    assert srv.standin.count("describe_addon") == 2
    assert srv.standin.count("UpdateAddon") == 0
    assert srv.standin.history == [
        "DescribeAddonVersions",
        "CreateAddon",
        "DescribeAddon",
        "DescribeAddon",
    ]
    srv.standin.reset_counters()
    assert srv.standin.calls == {}
    assert srv.standin.history == []


def test_a_fresh_standin_forgets_everything(srv: StandInServer, eks: Any) -> None:
    srv.put_addon(CLUSTER, VPC_CNI_DEFAULT)
    srv.standin.throttle("DescribeAddon", times=5)
    srv.fresh()
    assert srv.standin.pending_faults("DescribeAddon") == 0
    with pytest.raises(ClientError) as raised:
        eks.describe_cluster(name=CLUSTER)
    assert error_of(raised)[0] == "ResourceNotFoundException"


# === the responses match botocore's model ========================================================


def _check(
    value: Any, shape: Any, path: str, problems: list[str], enums: dict[str, set[str]]
) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: {value!r} is not an object")
            return
        for key, item in value.items():
            if key in ("__type", "Message") and "error" in shape.metadata:
                continue  # moto's error envelope: botocore reads code and message from it
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                _check(item, shape.members[key], f"{path}.{key}", problems, enums)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: {value!r} is not a list")
            return
        for index, item in enumerate(value):
            _check(item, shape.member, f"{path}[{index}]", problems, enums)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: {value!r} is not a map")
            return
        for key, item in value.items():
            _check(item, shape.value, f"{path}.{key}", problems, enums)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: {value!r} is not a string")
        elif shape.enum:
            enums[shape.name].add(value)
            if value not in shape.enum:
                problems.append(f"{path}: {value!r} is not in {shape.name}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: {value!r} is not a boolean")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: {value!r} is not an integer")
    elif kind == "timestamp" and not isinstance(value, (int, float, str)):
        problems.append(f"{path}: {value!r} is not a timestamp")


class ModelChecker:
    """Checks every raw response body against the operation's output (or error) shape."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.enums: dict[str, set[str]] = defaultdict(set)
        self.operations: set[str] = set()

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        name = operation_model.name
        self.operations.add(name)
        body = json.loads(response_dict["body"] or b"{}")
        status = response_dict["status_code"]
        if status < 300:
            _check(body, operation_model.output_shape, name, self.problems, self.enums)
            return
        headers = {k.lower(): v for k, v in response_dict["headers"].items()}
        code = headers.get("x-amzn-errortype", "").split(":")[0]
        modelled = {shape.name: shape for shape in operation_model.error_shapes}
        if code in modelled:
            _check(body, modelled[code], f"{name}!{code}", self.problems, self.enums)
            wanted = modelled[code].metadata.get("error", {}).get("httpStatusCode")
            if wanted is not None and wanted != status:
                self.problems.append(f"{name}!{code}: HTTP {status}, model says {wanted}")
        elif code not in ("ThrottlingException", "ServiceUnavailableException"):
            self.problems.append(f"{name}: error {code!r} is not modelled for the operation")


@pytest.fixture
def checked(srv: StandInServer) -> Iterator[tuple[Any, ModelChecker]]:
    client = srv.client()
    checker = ModelChecker()
    client.meta.events.register("before-parse.eks.*", checker)
    yield client, checker
    client.meta.events.unregister("before-parse.eks.*", checker)


def test_every_response_matches_the_service_model(
    srv: StandInServer, checked: tuple[Any, ModelChecker]
) -> None:
    eks, checker = checked
    srv.standin.update_polls = 1
    eks.describe_addon_versions(addonName="vpc-cni", maxResults=3)
    eks.describe_addon_versions()
    eks.describe_addon_configuration(addonName="vpc-cni", addonVersion=VPC_CNI_DEFAULT)
    eks.create_addon(
        clusterName=CLUSTER,
        addonName="vpc-cni",
        addonVersion="v1.6.3-eksbuild.2",
        serviceAccountRoleArn=ROLE,
        configurationValues="{}",
        tags={"a": "b"},
    )
    addon_of(eks)
    for outcome in ("fail", "cancel", "degrade", None):
        if outcome == "fail":
            srv.standin.fail_next_update(health_issues=[health_issue("ConfigurationConflict")])
        elif outcome == "cancel":
            srv.standin.cancel_next_update()
        elif outcome == "degrade":
            srv.standin.degrade_after_next_update()
        update = eks.update_addon(
            clusterName=CLUSTER,
            addonName="vpc-cni",
            addonVersion="v1.7.10-eksbuild.2",
            resolveConflicts="OVERWRITE",
            configurationValues='{"env": {"WARM_IP_TARGET": "5"}}',
            serviceAccountRoleArn=ROLE,
        )["update"]
        addon_of(eks)
        poll_update(eks, update["id"])
        addon_of(eks)
    eks.list_addons(clusterName=CLUSTER)
    eks.list_updates(name=CLUSTER, addonName="vpc-cni")
    failing: list[Callable[[], Any]] = [
        lambda: eks.describe_addon(clusterName=CLUSTER, addonName="coredns"),
        lambda: eks.update_addon(
            clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.18.0-eksbuild.1"
        ),
        lambda: eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni"),
        lambda: eks.describe_update(name=CLUSTER, updateId="nope", addonName="vpc-cni"),
    ]
    for call in failing:
        with pytest.raises(ClientError):
            call()
    eks.delete_addon(clusterName=CLUSTER, addonName="vpc-cni")

    assert "\n".join(checker.problems) == ""
    assert set(checker.operations) >= {
        "DescribeAddonVersions",
        "DescribeAddonConfiguration",
        "CreateAddon",
        "DescribeAddon",
        "UpdateAddon",
        "DescribeUpdate",
        "ListAddons",
        "ListUpdates",
        "DeleteAddon",
    }
    assert checker.enums["AddonStatus"] >= {
        "CREATING",
        "ACTIVE",
        "UPDATING",
        "UPDATE_FAILED",
        "DEGRADED",
        "DELETING",
    }
    assert checker.enums["UpdateStatus"] == {"InProgress", "Successful", "Failed", "Cancelled"}
    assert checker.enums["UpdateType"] == {"AddonUpdate"}
    assert checker.enums["UpdateParamType"] == {
        "AddonVersion",
        "ResolveConflicts",
        "ConfigurationValues",
        "ServiceAccountRoleArn",
    }
    assert checker.enums["AddonIssueCode"] >= {
        "ConfigurationConflict",
        "InsufficientNumberOfReplicas",
    }
    assert checker.enums["ErrorCode"] == {"ConfigurationConflict"}


def test_emitted_enum_values_are_in_botocore_enums(eks: Any) -> None:
    model = eks.meta.service_model

    def enum(name: str) -> set[str]:
        return set(model.shape_for(name).enum)

    assert set(ADDON_STATUSES) == enum("AddonStatus")
    assert set(UPDATE_STATUSES) == enum("UpdateStatus")
    assert "AddonUpdate" in enum("UpdateType")
    assert {
        "AddonVersion",
        "ResolveConflicts",
        "ConfigurationValues",
        "ServiceAccountRoleArn",
    } <= enum("UpdateParamType")
    assert {health_issue()["code"], "ConfigurationConflict"} <= enum("AddonIssueCode")
    assert {error_detail()["errorCode"], "InsufficientNumberOfReplicas"} <= enum("ErrorCode")
    assert {"OVERWRITE", "NONE", "PRESERVE"} == enum("ResolveConflicts")


# === a subprocess sees the same state ============================================================


def test_a_subprocess_reaches_the_standin_through_the_environment(srv: StandInServer) -> None:
    srv.put_addon(CLUSTER, "v1.6.3-eksbuild.2")
    srv.standin.update_polls = 1
    script = textwrap.dedent(
        """
        import json, boto3
        eks = boto3.client("eks")
        before = eks.describe_addon(clusterName="demo", addonName="vpc-cni")["addon"]["addonVersion"]
        update = eks.update_addon(
            clusterName="demo", addonName="vpc-cni", addonVersion="v1.7.10-eksbuild.2",
            clientRequestToken="sub-1",
        )["update"]
        status = eks.describe_update(name="demo", updateId=update["id"], addonName="vpc-cni")
        print(json.dumps({"before": before, "status": status["update"]["status"]}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=srv.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"before": "v1.6.3-eksbuild.2", "status": "Successful"}
    record = srv.standin.addon(CLUSTER)
    assert record is not None and record.addon_version == "v1.7.10-eksbuild.2"
    assert srv.standin.calls == {"DescribeAddon": 1, "UpdateAddon": 1, "DescribeUpdate": 1}
