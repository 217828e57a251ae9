"""Answers that do not fit the model: every field the gateway can receive, absent, null, of
another type or an unknown enum value, generated from botocore's output shapes.

For each EKS operation the gateway calls, a valid answer is taken from the stand-in (moto plus
tests/standins/eks_addons.py), enriched where the model allows lists the stand-in leaves empty,
and then mutated at every field botocore's output shape reaches: the gateway must return a typed
record or raise UnexpectedAnswerError naming that field, never any other exception; the fields
eksaddon cannot do without (names, versions, statuses, update ids) must be refused. Then the
CLI, for the cases found by hand: the exit code, the one line, the calls made, the journal.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import botocore.session
import pytest

import eksaddon.gateways.aws as aws_module
from eksaddon.errors import UnexpectedAnswerError
from eksaddon.gateways.aws import AwsEksGateway
from eksaddon.gateways.protocols import (
    ADDON_STATUSES,
    INSIGHT_STATUSES,
    UPDATE_STATUSES,
    AddonRequest,
    ClusterVersionRequest,
)
from eksaddon.textsafety import for_terminal
from eksaddon.versions import AddonVersion, KubernetesVersion
from reliability_ledger import LEDGER
from standins.catalogues import EBS_CSI_POD_IDENTITY
from standins.eks_addons import VPC_CNI, error_detail, health_issue
from standins.eks_upgrade import (
    addon_compatibility_insight,
    client_stat,
    deprecated_api_insight,
    insight_resource,
)
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import Result

__all__ = ["eks_server", "eks_standin"]

Run = Callable[..., Result]
CLUSTER = "demo"
START = "v1.16.4-eksbuild.2"
NEXT = "v1.17.1-eksbuild.1"
ROLE = "arn:aws:iam::123456789012:role/cni"
VALUES = '{"env":{"WARM_IP_TARGET":"5"}}'
INSIGHT = "deprecated-apis-1.30"
EBS_CSI = "aws-ebs-csi-driver"
EBS_CSI_BUILD = "v1.31.0-eksbuild.1"
CONTROL_PLANE = ClusterVersionRequest("bare", KubernetesVersion.parse("1.30"), "hostile-cluster")
PREFIX = "EKS answered something eksaddon does not understand: "
MODEL = botocore.session.get_session().get_service_model("eks")

# Wrong types for each shape type (JSON values the model rules out), and one enum value that no
# model lists.
WRONG: dict[str, tuple[Any, ...]] = {
    "string": (12345, {"not": "text"}, ["text"]),
    "boolean": ("true", 1),
    "integer": ("7", 1.5),
    "long": ("7",),
    "float": ("1.5",),
    "double": ("1.5",),
    "timestamp": ("not a time", {"t": 1}, True),
    "structure": ("text", [1], 7),
    "list": ("text", {"a": 1}, 7),
    "map": ("text", [1]),
    "blob": (12345,),
}
UNKNOWN_ENUM = "SurelyNotAnEnumValue"

# Fields eksaddon cannot do without: absent, null or wrongly typed, each must be refused.
REQUIRED = {
    "DescribeCluster": {"cluster", "cluster.name", "cluster.version"},
    "DescribeAddon": {
        "addon",
        "addon.addonName",
        "addon.clusterName",
        "addon.addonVersion",
        "addon.status",
    },
    "CreateAddon": {"addon", "addon.addonName", "addon.clusterName", "addon.addonVersion"},
    "UpdateAddon": {"update", "update.id", "update.status"},
    "DescribeUpdate": {"update", "update.id", "update.status"},
    "DescribeAddonVersions": {
        "addons[0].addonName",
        "addons[0].addonVersions[0].addonVersion",
    },
    "DescribeNodegroup": {"nodegroup"},
    "ListInsights": {
        "insights[0].id",
        "insights[0].name",
        "insights[0].category",
        "insights[0].insightStatus",
        "insights[0].insightStatus.status",
    },
    "DescribeInsight": {
        "insight",
        "insight.id",
        "insight.name",
        "insight.category",
        "insight.insightStatus",
        "insight.insightStatus.status",
        "insight.categorySpecificSummary.deprecationDetails[0].usage",
        "insight.categorySpecificSummary.addonCompatibilityDetails[0].name",
    },
    "UpdateClusterVersion": {"update", "update.id", "update.status"},
    "DescribeUpdate#cluster": {"update", "update.id", "update.status"},
    "DescribeAddonConfiguration#pod-identity": {"podIdentityConfiguration[0].serviceAccount"},
}
# Fields sent back to EKS or acted on: another type must be refused (absent is allowed).
ACTED_ON = {
    "addon.configurationValues",
    "addon.serviceAccountRoleArn",
    "cluster.endpoint",
    "addons[0].addonVersions[0].compatibilities[0].defaultVersion",
    "addons[0].addonVersions[0].compatibilities[0].clusterVersion",
    "configurationSchema",
    "nextToken",
    "clusters[0]",
    "nodegroups[0]",
    "fargateProfileNames[0]",
    "update.errors[0]",
    "addon.health.issues[0]",
    "addons[0]",
    "addon.podIdentityAssociations[0]",
    "insights[0].kubernetesVersion",
    "podIdentityConfiguration[0].recommendedManagedPolicies[0]",
}

# Fields a call does not read although its operation's answer carries them (another call does).
NOT_READ = {
    "DescribeAddonConfiguration": {"podIdentityConfiguration[0].recommendedManagedPolicies[0]"},
    "DescribeAddonConfiguration#pod-identity": {"configurationSchema"},
}


class World(NamedTuple):
    server: StandInServer
    gateway: AwsEksGateway
    update_id: str
    cluster_update_id: str


def _request(cluster: str, version: str) -> AddonRequest:
    return AddonRequest(
        cluster=cluster,
        addon=VPC_CNI,
        version=AddonVersion.parse(version),
        resolve_conflicts="PRESERVE",
        client_request_token=f"hostile-{cluster}-{version}",
        configuration_values=VALUES,
        service_account_role_arn=ROLE,
    )


CALLS: dict[str, Callable[[World], object]] = {
    "ListClusters": lambda w: w.gateway.list_clusters(),
    "DescribeCluster": lambda w: w.gateway.describe_cluster(CLUSTER),
    "DescribeAddon": lambda w: w.gateway.describe_addon(CLUSTER, VPC_CNI),
    "DescribeAddonVersions": lambda w: w.gateway.addon_versions(
        VPC_CNI, KubernetesVersion.parse("1.29")
    ),
    "DescribeAddonConfiguration": lambda w: w.gateway.configuration_schema(
        VPC_CNI, AddonVersion.parse(START)
    ),
    "CreateAddon": lambda w: w.gateway.create_addon(_request("bare", START)),
    "UpdateAddon": lambda w: w.gateway.update_addon(_request(CLUSTER, NEXT)),
    "DescribeUpdate": lambda w: w.gateway.describe_update(CLUSTER, VPC_CNI, w.update_id),
    "ListNodegroups": lambda w: w.gateway.nodegroups(CLUSTER),
    "DescribeNodegroup": lambda w: w.gateway.nodegroups(CLUSTER),
    "ListFargateProfiles": lambda w: w.gateway.fargate_profiles(CLUSTER),
    "ListAddons": lambda w: w.gateway.list_addons(CLUSTER),
    "ListInsights": lambda w: w.gateway.list_insights(CLUSTER),
    "DescribeInsight": lambda w: w.gateway.describe_insight(CLUSTER, INSIGHT),
    "UpdateClusterVersion": lambda w: w.gateway.update_cluster_version(CONTROL_PLANE),
    "DescribeUpdate#cluster": lambda w: w.gateway.describe_cluster_update(
        "bare", w.cluster_update_id
    ),
    "DescribeAddonConfiguration#pod-identity": lambda w: w.gateway.pod_identity_configuration(
        EBS_CSI, AddonVersion.parse(EBS_CSI_BUILD)
    ),
}
# "Operation#variant": another gateway method reading the same operation's answer.


def operation_of(call: str) -> str:
    return call.split("#")[0]


# Lists the model allows and the stand-in leaves empty: filled so their elements are mutated too.
ENRICH: dict[str, Callable[[dict[str, Any]], None]] = {
    "DescribeAddon": lambda d: d["addon"].setdefault("health", {}).update(issues=[health_issue()]),
    "CreateAddon": lambda d: d["addon"].setdefault("health", {}).update(issues=[health_issue()]),
    "UpdateAddon": lambda d: d["update"].update(errors=[error_detail()]),
    "DescribeUpdate": lambda d: d["update"].update(errors=[error_detail()]),
    "DescribeUpdate#cluster": lambda d: d["update"].update(errors=[error_detail()]),
    "UpdateClusterVersion": lambda d: d["update"].update(errors=[error_detail()]),
}
ASSOCIATION = "arn:aws:eks:us-west-2:123456789012:podidentityassociation/demo/a-0123456789abcdef0"


def _with_association(enrich: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def both(document: dict[str, Any]) -> None:
        enrich(document)
        document["addon"].update(podIdentityAssociations=[ASSOCIATION])

    return both


for _operation in ("DescribeAddon", "CreateAddon"):
    ENRICH[_operation] = _with_association(ENRICH[_operation])


@pytest.fixture
def world(eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch) -> World:
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    eks_standin.create_cluster(CLUSTER, "1.29")
    eks_standin.create_cluster("bare", "1.29")
    eks_standin.put_addon(
        CLUSTER, START, configuration_values=VALUES, service_account_role_arn=ROLE
    )
    client = eks_standin.client()
    client.create_nodegroup(
        clusterName=CLUSTER,
        nodegroupName="ng-1",
        subnets=["subnet-1"],
        nodeRole="arn:aws:iam::123456789012:role/node",
    )
    client.create_fargate_profile(
        fargateProfileName="fp-1",
        clusterName=CLUSTER,
        podExecutionRoleArn="arn:aws:iam::123456789012:role/pod",
        selectors=[{"namespace": "fargate"}],
    )
    eks_standin.standin.catalogue.add(
        EBS_CSI, EBS_CSI_BUILD, ["1.29", "1.30"], pod_identity=EBS_CSI_POD_IDENTITY
    )
    insight = deprecated_api_insight(INSIGHT, "1.30", clients=[client_stat("kubectl/v1.27.1", 3)])
    insight.resources = [insight_resource("/apis/flowcontrol.apiserver.k8s.io/v1beta2")]
    insight.addon_compatibility_details = addon_compatibility_insight(
        "x", "1.30", {VPC_CNI: ["v1.18.3-eksbuild.3"]}
    ).addon_compatibility_details
    eks_standin.put_insight(CLUSTER, insight)
    gateway = AwsEksGateway(region=eks_standin.region, max_attempts=1)
    update = gateway.update_addon(_request(CLUSTER, NEXT))
    eks_standin.standin.cluster_update_polls = None  # stays InProgress: answers stay the same
    cluster_update = gateway.update_cluster_version(CONTROL_PLANE)
    return World(eks_standin, gateway, update.id, cluster_update.id)


# -- the generator -------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


def reachable(shape: Any, path: Path_ = (), depth: int = 0) -> Iterator[tuple[Path_, Any]]:
    """Every field an answer of ``shape`` can hold: (path, member shape), lists at [0] and maps
    at their first key ("*")."""
    if depth > 12:
        return
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            where = (*path, member.serialization.get("name", name))
            yield where, member
            yield from reachable(member, where, depth + 1)
    elif shape.type_name == "list":
        yield (*path, 0), shape.member
        yield from reachable(shape.member, (*path, 0), depth + 1)
    elif shape.type_name == "map":
        yield (*path, "*"), shape.value
        yield from reachable(shape.value, (*path, "*"), depth + 1)


def dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class Mutation(NamedTuple):
    path: str
    kind: str  # absent, null, wrong type, unknown enum
    value: Any
    document: dict[str, Any]


def _resolve(document: Any, path: Path_) -> tuple[Any, str | int] | None:
    """The container holding ``path``'s last part in ``document`` and that part, when present."""
    node = document
    parts = list(path)
    for index, part in enumerate(parts):
        if part == "*":
            if not isinstance(node, dict) or not node:
                return None
            part = parts[index] = next(iter(node))
        last = index == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list) or len(node) <= part:
                return None
        elif not isinstance(node, dict) or (not last and part not in node):
            return None
        if last:
            return node, part
        node = node[part]
    return None


def mutations(valid: dict[str, Any], shape: Any) -> Iterator[Mutation]:
    for path, member in reachable(shape):
        found = _resolve(valid, path)
        if found is None:
            continue
        container, key = found
        present = key in container if isinstance(container, dict) else True
        kinds: list[tuple[str, Any]] = []
        if present and isinstance(container, dict):
            kinds.append(("absent", None))
        if present:
            kinds.append(("null", None))
        kinds += [("wrong type", value) for value in WRONG.get(member.type_name, ())]
        if getattr(member, "enum", None):
            kinds.append(("unknown enum", UNKNOWN_ENUM))
        for kind, value in kinds:
            document = copy.deepcopy(valid)
            target, part = _resolve(document, path)  # type: ignore[misc]
            if kind == "absent":
                del target[part]
            else:
                target[part] = value
            real = [part if p == "*" else p for p in path]  # the key actually used
            yield Mutation(dotted(tuple(real)), kind, value, document)


def _capture(world: World, call: str) -> dict[str, Any]:
    """The valid answer the stand-in serves for ``call`` (served once, so it is real)."""
    operation = operation_of(call)
    seen: list[dict[str, Any]] = []

    def keep(document: Any) -> Any:
        seen.append(copy.deepcopy(document))
        return document

    world.server.standin.rewrite_answer(operation, keep, times=1)
    # UpdateAddon / UpdateClusterVersion: a second request with the same token, which EKS
    # answers with the update it started.
    CALLS[call](world)
    assert seen, f"the gateway did not call {operation}"
    valid = seen[0]
    if call in ENRICH:
        ENRICH[call](valid)
    return valid


def _constant(document: dict[str, Any]) -> Callable[[Any], Any]:
    return lambda _: document


def _operations_the_gateway_calls() -> set[str]:
    source = Path(aws_module.__file__).read_text(encoding="utf-8")
    return set(re.findall(r'self\._(?:call|pages)\(\s*"(\w+)"', source))


def test_every_operation_the_gateway_calls_is_mutated() -> None:
    assert _operations_the_gateway_calls() == {operation_of(call) for call in CALLS}


def test_the_statuses_eksaddon_knows_are_the_models() -> None:
    assert set(UPDATE_STATUSES) == set(MODEL.shape_for("UpdateStatus").enum)
    assert set(ADDON_STATUSES) == set(MODEL.shape_for("AddonStatus").enum)
    assert set(INSIGHT_STATUSES) == set(MODEL.shape_for("InsightStatusValue").enum)


@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_field_absent_null_or_misfit(world: World, call: str) -> None:
    standin = world.server.standin
    operation = operation_of(call)
    valid = _capture(world, call)
    CALLS[call](world)  # the valid answer itself is read without complaint
    shape = MODEL.operation_model(operation).output_shape
    tried = refused = 0
    problems = []
    for mutation in mutations(valid, shape):
        standin.rewrite_answer(operation, _constant(mutation.document), times=1, serve=False)
        tried += 1
        LEDGER.hostile_answer(operation)
        label = f"{call} {mutation.path} {mutation.kind} {mutation.value!r}"
        try:
            CALLS[call](world)
        except UnexpectedAnswerError as error:
            refused += 1
            line = error.one_line()
            if not (line.startswith(PREFIX) and error.field.startswith(mutation.path)):
                problems.append(f"{label}: refused naming another field: {line}")
            if for_terminal(line) != line:
                problems.append(f"{label}: unsafe message {line!r}")
        except Exception as error:  # the point: nothing else may escape
            problems.append(f"{label}: {type(error).__name__}: {error}")
        else:
            must = mutation.path in REQUIRED.get(call, ()) and mutation.kind != "unknown enum"
            acted_on = (
                mutation.path in ACTED_ON - NOT_READ.get(call, set())
                and mutation.kind == "wrong type"
            )
            if must or acted_on:
                problems.append(f"{label}: accepted")
        assert standin.take_rewrite(operation) is None, f"{label}: the answer was never asked for"
    assert not problems, "\n".join(problems)
    assert tried >= 10 and refused >= 3, (tried, refused)


def test_the_generator_reaches_nested_fields(world: World) -> None:
    """Self-check: the mutations reach list elements and nested objects of a real answer."""
    valid = _capture(world, "DescribeAddon")
    paths = {m.path for m in mutations(valid, MODEL.operation_model("DescribeAddon").output_shape)}
    assert {"addon.health.issues[0].code", "addon.health.issues[0]", "addon.addonVersion"} <= paths


# -- the paginator ---------------------------------------------------------------------------------


def test_the_same_next_token_again_stops(world: World) -> None:
    def again(document: Any) -> Any:
        return {**document, "nextToken": "same-token"}

    world.server.standin.rewrite_answer("ListFargateProfiles", again, serve=False)
    with pytest.raises(UnexpectedAnswerError, match="nextToken"):
        world.gateway.fargate_profiles(CLUSTER)
    assert world.server.standin.count("ListFargateProfiles") == 2
    LEDGER.hostile_answer("ListFargateProfiles")


def test_a_listing_that_never_ends_stops(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_module, "MAX_PAGES", 25)
    pages = iter(range(10_000))

    def more(document: Any) -> Any:
        return {"clusters": [], "nextToken": f"page-{next(pages)}"}

    world.server.standin.rewrite_answer("ListClusters", more, serve=False)
    with pytest.raises(UnexpectedAnswerError, match="still more after 25 pages"):
        world.gateway.list_clusters()
    assert world.server.standin.count("ListClusters") == 25
    LEDGER.hostile_answer("ListClusters")


# -- through the CLI ---------------------------------------------------------------------------------

# Every upgrade these tests run: consented, polled fast, no node-side rollout check.
CARRY_FLAGS = ("--yes", "--poll-interval", "0.05", "--timeout", "600", "--skip-rollout-check")
UPGRADE = ("upgrade", "--cluster", CLUSTER, "--to", "v1.18.3-eksbuild.3", *CARRY_FLAGS)


@pytest.fixture
def cluster(eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch) -> StandInServer:
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    eks_standin.create_cluster(CLUSTER, "1.29")
    eks_standin.put_addon(
        CLUSTER, START, configuration_values=VALUES, service_account_role_arn=ROLE
    )
    return eks_standin


def _rewrite_addon(server: StandInServer, change: Callable[[dict[str, Any]], None]) -> None:
    def rewrite(document: Any) -> Any:
        change(document["addon"])
        return document

    server.standin.rewrite_answer("DescribeAddon", rewrite)


def _error_line(result: Result) -> str:
    """The one error line (progress lines go to stderr before it)."""
    lines = [line for line in result.err.splitlines() if line.startswith("eksaddon: error:")]
    assert len(lines) == 1 and result.err.rstrip().endswith(lines[0]), result.err
    assert "Traceback" not in result.err
    LEDGER.saw_output(result.out, result.err)
    return lines[0]


def _journals(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state").rglob("journals/*.json"))


def test_status_shows_a_version_it_cannot_read(cluster: StandInServer, run: Run) -> None:
    hotfix = "v1.12.6-eksbuild.2-hotfix.1"
    _rewrite_addon(cluster, lambda addon: addon.update(addonVersion=hotfix))
    result = run("status", "--cluster", CLUSTER, "--skip-node-side")
    assert result.code == 0, result.err
    squeezed = re.sub(r"[\s\u2500-\u257f]+", "", result.out)  # the table wraps long cells
    assert hotfix in squeezed and "cannotread" in squeezed
    document = json.loads(run("status", "--cluster", CLUSTER, "--skip-node-side", "-o", "json").out)
    assert document["installed"]["version"] == hotfix
    assert "cannot read" in document["plan_problem"] and document["plan"] is None
    gate = run("check-compat", "--cluster", CLUSTER, "--skip-node-side", "-o", "json")
    assert gate.code == 1, gate.err  # the gate cannot pass on a version it cannot read
    findings = json.loads(gate.out)["findings"]
    assert any(f["code"] == "version-unreadable" for f in findings), findings
    LEDGER.hostile_answer("DescribeAddon")


def test_upgrade_refuses_a_version_it_cannot_read_before_any_change(
    cluster: StandInServer, run: Run, tmp_path: Path
) -> None:
    _rewrite_addon(cluster, lambda addon: addon.update(addonVersion="v1.12.6-eksbuild.2-hotfix.1"))
    result = run(*UPGRADE)
    assert result.code == 3, result.err
    line = _error_line(result)
    assert PREFIX + "addon.addonVersion of vpc-cni on cluster demo" in line
    assert cluster.standin.count("UpdateAddon") == 0 and not _journals(tmp_path)
    LEDGER.hostile_answer("DescribeAddon")


@pytest.mark.parametrize("command", ["status", "upgrade"])
def test_a_null_health_issue_is_one_line_not_an_attribute_error(
    cluster: StandInServer, run: Run, tmp_path: Path, command: str
) -> None:
    _rewrite_addon(cluster, lambda addon: addon.update(health={"issues": [None]}))
    args = UPGRADE if command == "upgrade" else ("status", "--cluster", CLUSTER, "--skip-node-side")
    result = run(*args)
    assert result.code == 3, result.err
    assert _error_line(result) == f"eksaddon: error: {PREFIX}addon.health.issues[0]: null"
    assert cluster.standin.count("UpdateAddon") == 0 and not _journals(tmp_path)
    LEDGER.hostile_answer("DescribeAddon")


def test_a_catalogue_with_null_entries(cluster: StandInServer, run: Run, tmp_path: Path) -> None:
    def nulls(document: Any) -> Any:
        document["addons"][0]["addonVersions"].append(None)
        return document

    cluster.standin.rewrite_answer("DescribeAddonVersions", nulls)
    result = run(*UPGRADE)
    assert result.code == 3, result.err
    assert f"{PREFIX}addons[0].addonVersions[" in _error_line(result)
    assert cluster.standin.count("UpdateAddon") == 0 and not _journals(tmp_path)
    status = run("status", "--cluster", CLUSTER, "--skip-node-side")
    assert status.code == 0 and "could not read the live catalogue" in status.out
    LEDGER.hostile_answer("DescribeAddonVersions")


def test_an_update_answer_without_update_stops_part_way_and_the_rerun_follows_it(
    cluster: StandInServer, run: Run, tmp_path: Path
) -> None:
    cluster.standin.rewrite_answer("UpdateAddon", lambda document: {}, times=1)
    result = run(*UPGRADE)
    assert result.code == 4, result.err
    line = _error_line(result)
    assert f"{PREFIX}update: absent (after UpdateAddon: EKS may have started" in line
    assert "journal is kept" in line
    assert len(cluster.standin.updates()) == 1  # EKS did start it
    assert len(_journals(tmp_path)) == 1
    again = run(*UPGRADE)
    assert again.code == 0, again.err
    # The rerun re-sent step 1 with its clientRequestToken: EKS answered with the same update.
    assert len(cluster.standin.updates()) == 2  # step 1 once, step 2 once
    final = cluster.standin.addon(CLUSTER)
    assert final is not None and final.addon_version == "v1.18.3-eksbuild.3"
    LEDGER.hostile_answer("UpdateAddon")


def test_an_update_answer_naming_its_id_names_it(cluster: StandInServer, run: Run) -> None:
    def no_status(document: Any) -> Any:
        del document["update"]["status"]
        return document

    cluster.standin.rewrite_answer("UpdateAddon", no_status, times=1)
    result = run(*UPGRADE)
    assert result.code == 4, result.err
    update = cluster.standin.updates()[0]
    assert f"EKS may have started update {update.id}" in _error_line(result)
    LEDGER.hostile_answer("UpdateAddon")


def test_an_unknown_update_status_stops_at_once(
    cluster: StandInServer, run: Run, tmp_path: Path
) -> None:
    def succeeded(document: Any) -> Any:
        document["update"]["status"] = "Succeeded\n[6/6] done: vpc-cni is ACTIVE"
        return document

    cluster.standin.rewrite_answer("DescribeUpdate", succeeded, times=1)
    started = time.monotonic()
    result = run(*UPGRADE)
    assert result.code == 4, result.err
    assert time.monotonic() - started < 60  # stopped, not polled until the 600 s timeout
    line = _error_line(result)
    assert 'has a status eksaddon does not know: "Succeeded\\n[6/6] done' in line
    assert cluster.standin.count("DescribeUpdate") == 1
    document = json.loads(_journals(tmp_path)[0].read_text())
    first = document["steps"][0]
    assert first["state"] == "in-flight" and first["update_id"]
    again = run(*UPGRADE)
    assert again.code == 0, again.err
    assert len(cluster.standin.updates()) == 2  # the rerun followed step 1's update
    LEDGER.hostile_answer("DescribeUpdate")


def test_null_update_errors_stop_part_way(cluster: StandInServer, run: Run) -> None:
    cluster.standin.fail_next_update()

    def null_errors(document: Any) -> Any:
        document["update"]["errors"] = [None]
        return document

    cluster.standin.rewrite_answer("DescribeUpdate", null_errors)
    result = run(*UPGRADE)
    assert result.code == 4, result.err
    assert f"{PREFIX}update.errors[0]: null" in _error_line(result)
    LEDGER.hostile_answer("DescribeUpdate")


def test_an_endless_catalogue_stops_before_any_change(
    cluster: StandInServer, run: Run, tmp_path: Path
) -> None:
    def again(document: Any) -> Any:
        return {**document, "nextToken": "same-token"}

    cluster.standin.rewrite_answer("DescribeAddonVersions", again)
    result = run(*UPGRADE)
    assert result.code == 3, result.err
    assert "nextToken" in _error_line(result)
    assert cluster.standin.count("UpdateAddon") == 0 and not _journals(tmp_path)
    LEDGER.hostile_answer("DescribeAddonVersions")


# -- Kubernetes answers --------------------------------------------------------------------------

POD = {
    "metadata": {"name": "aws-node-1", "labels": {"k8s-app": "aws-node"}},
    "spec": {
        "nodeName": "node-1",
        "initContainers": [{"name": "aws-vpc-cni-init", "image": "init:v1.16.4"}],
        "containers": [{"name": "aws-node", "image": "cni:v1.16.4"}],
    },
    "status": {
        "containerStatuses": [
            {"name": "aws-node", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
        ]
    },
}
DAEMONSET = {
    "metadata": {"name": "aws-node", "namespace": "kube-system", "generation": 3},
    "spec": {"template": {"spec": copy.deepcopy(POD["spec"])}},
    "status": {
        "observedGeneration": 3,
        "desiredNumberScheduled": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
    },
}
NODE_LIST = {"items": [{"metadata": {"name": "node-1", "labels": {"zone": "a"}}}]}


def document_paths(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every path inside a JSON document (the Kubernetes objects have no botocore model)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from document_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from document_paths(item, (*path, index))


def kube_mutations(valid: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in document_paths(valid):
        for value in (None, "text", 7, [None], {"x": None}):
            document = copy.deepcopy(valid)
            node: Any = document
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            yield f"{dotted(path)} = {value!r}", document


BUDGET: dict[str, Any] = {
    "metadata": {"name": "coredns", "namespace": "kube-system", "generation": 1},
    "spec": {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {"k8s-app": "kube-dns"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["dns"]}],
        },
    },
    "status": {
        "observedGeneration": 1,
        "currentHealthy": 2,
        "desiredHealthy": 1,
        "disruptionsAllowed": 1,
        "expectedPods": 2,
    },
}
DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "coredns", "namespace": "kube-system", "generation": 2},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "containers": [{"name": "coredns", "image": "eks/coredns:v1.11.3-eksbuild.1"}]
            },
        },
    },
    "status": {
        "observedGeneration": 2,
        "replicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 2,
        "conditions": [
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        ],
    },
}


def test_kubernetes_answers_that_do_not_fit() -> None:
    from eksaddon.gateways import kube, kube_records
    from eksaddon.nodeside.deployment import assess_deployment
    from eksaddon.nodeside.rollout import NodeFacts, assess, template_images

    readers: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], object]]] = {
        "pod": (POD, lambda d: kube_records.pod_facts(kube._answer(d, "pod"))),
        "node": (
            NODE_LIST["items"][0],
            lambda d: kube_records.node_facts(kube._answer(d, "node")),
        ),
        "PodDisruptionBudget": (
            BUDGET,
            lambda d: kube_records.budget(kube._answer(d, "pdb"), "kube-system"),
        ),
        "Deployment": (DEPLOYMENT, lambda d: assess_deployment(d, [], [])),
        "DaemonSet": (
            DAEMONSET,
            lambda d: (template_images(d), assess(d, [], [NodeFacts("node-1", {})])),
        ),
        "DaemonSet list": ({"items": [DAEMONSET]}, lambda d: kube._items(d, "daemonsets")),
        "node list": (
            NODE_LIST,
            lambda d: [item.raw for item in kube._answer(d, "nodes").children("items")],
        ),
    }
    readers.update(_self_managed_scan_readers())
    problems = []
    for what, (valid, read) in readers.items():
        read(copy.deepcopy(valid))
        for label, document in kube_mutations(valid):
            LEDGER.hostile_answer(f"Kubernetes {what}")
            try:
                read(document)
            except UnexpectedAnswerError as error:
                if not error.one_line().startswith("Kubernetes answered something"):
                    problems.append(f"{what} {label}: {error.one_line()}")
            except Exception as error:  # the point: nothing else may escape
                problems.append(f"{what} {label}: {type(error).__name__}: {error}")
    assert not problems, "\n".join(problems)


SELF_MANAGED_PROXY: dict[str, Any] = {
    "metadata": {"name": "kube-proxy", "namespace": "kube-system", "generation": 1},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "kube-proxy",
                        "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:"
                        "v1.29.0-minimal-eksbuild.1",
                    }
                ]
            }
        }
    },
}


def _self_managed_scan_readers() -> dict[str, tuple[dict[str, Any], Callable[..., object]]]:
    """The reads of ``upgrade --all-addons``'s self-managed scan (the gate's detection): every
    bundled add-on's workload, read from a DaemonSet or Deployment of any shape."""
    from eksaddon.engine.gate import find_self_managed, matrices
    from eksaddon.matrix.loader import bundled_addons

    documents = {"DaemonSet": SELF_MANAGED_PROXY, "Deployment": DEPLOYMENT}

    def scan(kind: str) -> Callable[[dict[str, Any]], object]:
        served: dict[str, dict[str, Any]] = {}

        class Reader:  # every workload of ``kind`` answers with the document under test
            def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
                return served["document"] if kind == "DaemonSet" else None

            def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
                return served["document"] if kind == "Deployment" else None

            def nodes(self) -> list[Any]:
                return []

        def read(document: dict[str, Any]) -> object:
            served["document"] = document
            found, problems = find_self_managed(
                Reader(), frozenset(), matrices(None), _now, only=tuple(bundled_addons())
            )
            return [f.version for f in found], problems

        return read

    return {f"self-managed scan {kind}": (doc, scan(kind)) for kind, doc in documents.items()}


def _now(call: Callable[..., Any], *args: Any) -> Any:
    """An executor's submit that runs the read at once (its Future holds the answer)."""
    from concurrent.futures import Future

    future: Future[Any] = Future()
    try:
        future.set_result(call(*args))
    except Exception as error:  # handed to the reader of the Future, as an executor would
        future.set_exception(error)
    return future


# -- upgrade --all-addons: the answers its run reads (ListAddons, and DescribeAddon per add-on) ----

ALL_ADDONS = ("upgrade", "--cluster", CLUSTER, "--all-addons", *CARRY_FLAGS)
COREDNS = "coredns"


def _with_coredns(cluster: StandInServer) -> None:
    cluster.standin.catalogue.add(COREDNS, "v1.11.1-eksbuild.4", ["1.29"])
    cluster.standin.catalogue.add(COREDNS, "v1.11.3-eksbuild.1", ["1.29"])
    cluster.put_addon(CLUSTER, "v1.11.1-eksbuild.4", addon_name=COREDNS)


@pytest.mark.parametrize("names", [[None, VPC_CNI], [VPC_CNI, 7], VPC_CNI, [[VPC_CNI]], [""]])
def test_all_addons_refuses_a_listing_of_another_shape_before_any_change(
    cluster: StandInServer, run: Run, tmp_path: Path, names: object
) -> None:
    cluster.standin.rewrite_answer("ListAddons", lambda document: {**document, "addons": names})
    result = run(*ALL_ADDONS)
    assert result.code == 3, result.err
    assert _error_line(result).startswith("eksaddon: error: " + PREFIX + "addons")
    assert cluster.standin.count("UpdateAddon") == 0 and not _journals(tmp_path)
    LEDGER.hostile_answer("ListAddons")


def test_all_addons_refuses_a_listed_name_no_addon_can_have_before_any_plan(
    cluster: StandInServer, run: Run, tmp_path: Path
) -> None:
    hostile = "evil\x1b]0;owned\x07\nvpc-cni upgraded"
    cluster.standin.rewrite_answer(
        "ListAddons", lambda document: {**document, "addons": [VPC_CNI, hostile]}
    )
    for result in (run(*ALL_ADDONS, "--dry-run"), run(*ALL_ADDONS)):
        # EKS's answer does not fit (exit 3, refused before any plan), not the user's typing
        assert result.code == 3, result.err
        assert _error_line(result).startswith(f"eksaddon: error: {PREFIX}addons: "), result.err
        for text in (result.out, result.err):
            assert "\x1b" not in text and "\x07" not in text, text
            assert "\nvpc-cni upgraded" not in text, text
    assert cluster.standin.count("UpdateAddon") == 0 and not _journals(tmp_path)
    LEDGER.hostile_answer("ListAddons")


def test_all_addons_an_addon_failing_after_another_was_carried_is_part_way(
    cluster: StandInServer, run: Run, tmp_path: Path
) -> None:
    """CoreDNS's answer turns unreadable between its plan and its carrying, after vpc-cni was
    upgraded: exit 4 with every add-on's state, the run journal kept; never coredns's exit 3."""
    _with_coredns(cluster)
    seen = {COREDNS: 0}

    def break_coredns(document: dict[str, Any]) -> dict[str, Any]:
        if document["addon"]["addonName"] == COREDNS:
            seen[COREDNS] += 1
            if seen[COREDNS] > 1:  # its plan was read; the reading just before acting is not
                document["addon"]["status"] = None
        return document

    cluster.standin.rewrite_answer("DescribeAddon", break_coredns)
    result = run(*ALL_ADDONS)
    assert result.code == 4, result.err
    line = _error_line(result)
    assert "stopped at coredns" in line and "vpc-cni done, coredns stopped" in line, line
    assert cluster.standin.count("UpdateAddon") == 2  # vpc-cni's two steps, nothing for coredns
    assert any("__all-addons" in p.name for p in _journals(tmp_path))
    LEDGER.hostile_answer("DescribeAddon")
