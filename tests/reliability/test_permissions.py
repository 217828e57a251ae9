"""docs/iam/ grants what the code can call, and nothing more.

The calls are read from the gateways' source (ast), not listed by hand, so a new SDK call fails
here until docs/iam/policy*.json (EKS) or docs/iam/rbac.yaml (Kubernetes) grant it:

* eksaddon/gateways/aws.py: ``self._call("DescribeCluster", ...)``, ``get_paginator("list_clusters")``,
  direct ``self._client.<method>(...)`` and ``<session>.client("sts").<method>(...)`` calls, named
  as IAM actions through botocore's own service models.
* eksaddon/gateways/kube.py: every ``self._core/_apps/_rbac/_extensions/_policy.<method>`` and the
  ``getattr(api, f"patch_{...}")`` calls over the ``_route`` table, turned into (verb, resource,
  API group) from the HTTP method and path the kubernetes client itself uses for that method;
  a module-level API path (an API version the client no longer has, read with a raw GET) used
  in a method counts as a GET of that path; and a server-side apply (a patch sent as
  ``application/apply-patch+yaml``) needs ``create`` too, since it creates an absent object.

Per command, a declared table maps each command to the gateway methods it may call; the table is
held to the policies statically. The commands themselves are run in this process (CLI_RUNS:
every command with a policy, the cluster-upgrade gate, ``upgrade --all-addons`` and the
``cluster-upgrade`` journey through an insights refusal and ``--force-upgrade-insights``
included) against the EKS stand-in; every AWS action they send is recorded at botocore
(tests/sent_requests.py), and must be in the command's policy, which must grant nothing the runs
never send (but NOT_SENT_BY_THE_RUNS). KUBE_RUNS run them against a real kube-apiserver as a
user bound to the command's roles of rbac.yaml only: every request recorded at the kubernetes
client must be granted by those roles, and the API server must refuse none.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import botocore.session
import kubernetes.client
import kubernetes.client as k8s
import pytest
import yaml
from rbac_roles import RoleBinder
from sent_requests import KubeRequest, kube_request, recording

from e2e.selfmanaged import NODES, SelfManagedCluster
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.selfmanaged import upgrade_self_managed
from eksaddon.engine.upgrade import UpgradeOptions
from eksaddon.errors import EksAddonError
from eksaddon.gateways.aws import AwsEksGateway
from eksaddon.gateways.protocols import ClusterVersionRequest
from eksaddon.matrix import Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion
from fakes import (
    FakeClock,
    FakeEks,
    FakeKube,
    RefusingObjectWriter,
    run_migration,
    self_managed_cluster,
)
from standins.catalogues import bundled_catalogue
from standins.controller import DaemonSetController
from standins.eks_addons import AddonRecord, StandIn
from standins.eks_upgrade import deprecated_api_insight
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import daemonset
from virtual_clock import FastForwardClock

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh"]

REPO = Path(__file__).resolve().parents[2]
AWS_GATEWAY = REPO / "eksaddon" / "gateways" / "aws.py"
KUBE_GATEWAY = REPO / "eksaddon" / "gateways" / "kube.py"
DOCS = REPO / "docs" / "iam"

# Permissions the policy needs although the code never sends them as a call of its own.
DOCUMENTED_IAM_EXTRAS = {"iam:PassRole"}  # EKS checks it when --service-account-role-arn is given
# Applying the aws-node ClusterRole and its binding: RBAC's privilege-escalation prevention.
DOCUMENTED_RBAC_EXTRAS = {
    ("escalate", "clusterroles", "rbac.authorization.k8s.io"),
    ("bind", "clusterroles", "rbac.authorization.k8s.io"),
}

# command (as docs/iam/policy-<command>.json names it) -> AwsEksGateway methods it may call.
# The cluster-upgrade gate (check-compat --cluster without --addon, and in a fleet) reads every
# add-on, the upgrade insights and the node groups; cluster-upgrade and upgrade --all-addons add
# the add-on steps and the control-plane update.
GATE_READS = {"list_addons", "list_insights", "describe_insight", "nodegroups", "fargate_profiles"}
ADDON_STEPS = {
    "describe_cluster",
    "describe_addon",
    "addon_versions",
    "configuration_schema",
    "update_addon",
    "describe_update",
}
COMMAND_EKS_METHODS: dict[str, set[str]] = {
    "status": {
        "describe_cluster",
        "describe_addon",
        "addon_versions",
        "nodegroups",
        "fargate_profiles",
        "pod_identity_configuration",
    },
    "check-compat-cluster": {"describe_cluster", "describe_addon", "addon_versions"} | GATE_READS,
    "check-compat-fleet": {
        "_assumed",
        "list_clusters",
        "describe_cluster",
        "describe_addon",
        "addon_versions",
    }
    | GATE_READS,
    "upgrade": {
        "describe_cluster",
        "describe_addon",
        "addon_versions",
        "configuration_schema",
        "update_addon",
        "describe_update",
    },
    "upgrade-dry-run": {
        "describe_cluster",
        "describe_addon",
        "addon_versions",
        "configuration_schema",
    },
    "upgrade-self-managed": {"describe_cluster", "describe_addon"},
    "install": {
        "describe_cluster",
        "describe_addon",
        "addon_versions",
        "configuration_schema",
        "create_addon",
    },
    "migrate": {
        "describe_cluster",
        "describe_addon",
        "addon_versions",
        "configuration_schema",
        "create_addon",
    },
    "matrix": {"addon_versions"},
    "upgrade-all-addons": ADDON_STEPS | GATE_READS,
    "cluster-upgrade": ADDON_STEPS
    | GATE_READS
    | {"fargate_profiles", "update_cluster_version", "describe_cluster_update"},
}
# Commands that may pass a role to EKS (--service-account-role-arn, pod identity associations,
# or the role an add-on already has, sent back with each step).
PASSES_ROLE = {"upgrade", "install", "migrate", "upgrade-all-addons", "cluster-upgrade"}

# command -> KubeGateway methods it may call, and the roles of docs/iam/rbac.yaml it needs.
NODE_SIDE_READS = {
    "nodes",
    "all_daemonsets",
    "read_daemonset",
    "pods",
    "read_deployment",
    "read_config_map",
    "disruption_budgets",
}
COMMAND_KUBE_METHODS: dict[str, set[str]] = {
    "status": NODE_SIDE_READS,
    "check-compat-cluster": NODE_SIDE_READS,
    "upgrade": NODE_SIDE_READS,
    "upgrade-dry-run": {"all_daemonsets", "read_daemonset"},
    "upgrade-self-managed": NODE_SIDE_READS | {"read", "apply", "apply_daemonset"},
    "migrate": NODE_SIDE_READS,
    # every add-on's rollout check, and the manifests of a self-managed one (upgrade --addon's)
    "upgrade-all-addons": NODE_SIDE_READS | {"read", "apply", "apply_daemonset"},
    "cluster-upgrade": NODE_SIDE_READS | {"read", "apply", "apply_daemonset"},
}
COMMAND_ROLES: dict[str, set[str]] = {
    "status": {"eksaddon-node-side-read"},
    "check-compat-cluster": {"eksaddon-node-side-read"},
    "upgrade": {"eksaddon-node-side-read"},
    "upgrade-dry-run": {"eksaddon-node-side-read"},
    "upgrade-self-managed": {"eksaddon-node-side-read", "eksaddon-self-managed-write"},
    "migrate": {"eksaddon-node-side-read"},
    "upgrade-all-addons": {"eksaddon-node-side-read", "eksaddon-self-managed-write"},
    "cluster-upgrade": {"eksaddon-node-side-read", "eksaddon-self-managed-write"},
}


# --- EKS: the detector ---------------------------------------------------------------------------


def _operation_names(service: str) -> dict[str, str]:
    """python method name (describe_addon) -> API operation (DescribeAddon) for a service."""
    model = botocore.session.get_session().get_service_model(service)
    return {botocore.xform_name(name): name for name in model.operation_names}


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    found: dict[str, ast.FunctionDef] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            found.setdefault(node.name, node)
    return found


def _is_self_attr(node: ast.AST, name: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def aws_calls(source: str) -> dict[str, set[str]]:
    """Each function of the gateway module -> the IAM actions it can cause, helpers included.

    Raises AssertionError for a call the detector cannot name (a new dynamic dispatch, an
    operation botocore does not know): the test then fails instead of passing blind.
    """
    services = {"eks": _operation_names("eks"), "sts": _operation_names("sts")}
    operations = {service: set(names.values()) for service, names in services.items()}
    tree = ast.parse(source)
    functions = _functions(tree)
    direct: dict[str, set[str]] = {name: set() for name in functions}
    calls: dict[str, set[str]] = {name: set() for name in functions}

    def eks_method(method: str, where: str) -> str:
        assert method in services["eks"], f"{where}: eks has no operation for .{method}()"
        return f"eks:{services['eks'][method]}"

    for name, function in functions.items():
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            where = f"{AWS_GATEWAY.name}:{node.lineno} ({name})"
            if isinstance(func, ast.Name):
                if func.id == "getattr" and node.args and _is_self_attr(node.args[0], "_client"):
                    # The one dynamic dispatch: _call(operation, ...) resolves the name; its
                    # callers are read below. Anywhere else it would hide a call from this test.
                    assert name == "_call", f"{where}: getattr on the EKS client outside _call"
                elif func.id in functions:
                    calls[name].add(func.id)
                continue
            if not isinstance(func, ast.Attribute):
                continue
            if func.attr in ("_call", "_pages"):
                # _pages(operation, ...) pages through a listing with the operation's paginator.
                operation = _constant(node.args[0]) if node.args else None
                assert operation is not None, (
                    f"{where}: {func.attr} with an operation not a literal"
                )
                assert operation in operations["eks"], f"{where}: eks has no {operation}"
                direct[name].add(f"eks:{operation}")
            elif func.attr == "get_paginator" and name == "_pages":
                continue  # the one paginator call: its callers name the operation (above)
            elif func.attr == "get_paginator":
                method = _constant(node.args[0]) if node.args else None
                assert method is not None, f"{where}: get_paginator with a name not a literal"
                direct[name].add(eks_method(method, where))
            elif isinstance(func.value, ast.Attribute) and func.value.attr == "_client":
                direct[name].add(eks_method(func.attr, where))
            elif (
                isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Attribute)
                and func.value.func.attr == "client"
            ):
                service = _constant(func.value.args[0]) if func.value.args else None
                assert service in services, f"{where}: a client of an unexpected service {service}"
                method = func.attr
                assert method in services[service], f"{where}: {service} has no .{method}()"
                direct[name].add(f"{service}:{services[service][method]}")
            elif (
                isinstance(func.value, ast.Name)
                and func.value.id == "self"
                and func.attr in functions
            ):
                calls[name].add(func.attr)

    closed: dict[str, set[str]] = {}

    def close(name: str, seen: frozenset[str]) -> set[str]:
        if name in closed:
            return closed[name]
        found = set(direct[name])
        for callee in calls[name] - seen:
            found |= close(callee, seen | {name})
        closed[name] = found
        return found

    return {name: close(name, frozenset()) for name in functions}


def policy_actions(path: Path) -> set[str]:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["Version"] == "2012-10-17"
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    assert not any("*" in a for a in actions), f"{path.name}: wildcard actions are not least"
    return actions


@pytest.fixture(scope="module")
def aws_map() -> dict[str, set[str]]:
    return aws_calls(AWS_GATEWAY.read_text(encoding="utf-8"))


def gateway_actions(aws_map: Mapping[str, set[str]]) -> set[str]:
    return set().union(*aws_map.values())


def test_the_detector_finds_known_calls_and_a_new_one(aws_map: dict[str, set[str]]) -> None:
    """Self-check: known calls are found, and an added call is caught (the test can fail)."""
    assert aws_map["describe_cluster"] == {"eks:DescribeCluster"}
    assert aws_map["nodegroups"] == {"eks:ListNodegroups", "eks:DescribeNodegroup"}
    assert aws_map["list_clusters"] == {"eks:ListClusters"}
    assert aws_map["_assumed"] == {"sts:AssumeRole"}
    assert "sts:AssumeRole" in aws_map["__init__"]  # through the helper
    added = AWS_GATEWAY.read_text(encoding="utf-8") + (
        "\n\ndef _sneaky(gateway: Any) -> None:\n"
        '    gateway._call("DeleteAddon", subject="x", clusterName="c", addonName="a")\n'
        "    gateway._client.tag_resource(resourceArn='a', tags={})\n"
        '    gateway._client.get_paginator("list_addons")\n'
    )
    sneaky = aws_calls(added)["_sneaky"]
    assert sneaky == {"eks:DeleteAddon", "eks:TagResource", "eks:ListAddons"}
    assert not sneaky <= policy_actions(DOCS / "policy.json")  # the policy test would fail
    with pytest.raises(AssertionError, match="getattr on the EKS client"):
        aws_calls(added + "\n\ndef _hidden(self: Any) -> None:\n    getattr(self._client, 'x')()\n")
    with pytest.raises(AssertionError, match="eks has no operation"):
        aws_calls(added + "\n\ndef _typo(self: Any) -> None:\n    self._client.describe_adon()\n")


def test_every_call_the_gateway_can_make_is_in_the_combined_policy(
    aws_map: dict[str, set[str]],
) -> None:
    granted = policy_actions(DOCS / "policy.json")
    called = gateway_actions(aws_map)
    assert called, "the detector found no call at all"
    assert called - granted == set(), (
        f"called but not granted in docs/iam/policy.json: {called - granted}"
    )
    unused = granted - called - DOCUMENTED_IAM_EXTRAS
    assert unused == set(), f"granted but never called (not least privilege): {unused}"


def test_each_command_policy_is_exactly_what_its_methods_call(
    aws_map: dict[str, set[str]],
) -> None:
    combined = policy_actions(DOCS / "policy.json")
    documented = {p.stem.removeprefix("policy-") for p in DOCS.glob("policy-*.json")}
    assert documented == set(COMMAND_EKS_METHODS)
    union: set[str] = set()
    for command, methods in COMMAND_EKS_METHODS.items():
        unknown = methods - set(aws_map)
        assert not unknown, f"{command}: no gateway function {unknown}"
        needed = set().union(*(aws_map[m] for m in methods))
        if command in PASSES_ROLE:
            needed |= {"iam:PassRole"}
        granted = policy_actions(DOCS / f"policy-{command}.json")
        assert granted == needed, f"{command}: missing {needed - granted}, extra {granted - needed}"
        assert granted <= combined
        union |= granted
    assert union == combined  # the combined policy adds nothing the commands do not need
    # Every gateway method that calls AWS is used by some command (else document it).
    calling = {m for m, actions in aws_map.items() if actions and not m.startswith("_")}
    assert calling - {"__init__"} <= set().union(*COMMAND_EKS_METHODS.values())


# --- EKS: the table against what the commands actually send --------------------------------------


def _sent(standin: StandInServer) -> set[str]:
    return {f"eks:{operation}" for operation, n in standin.standin.calls.items() if n}


ROLE = "arn:aws:iam::123456789012:role/vpc-cni"
FLEET_ROLE = "arn:aws:iam::123456789012:role/eksaddon-fleet"
VALUES = '{"env":{"WARM_IP_TARGET":"5"}}'
QUOTED_VALUES = shlex.quote(VALUES)
FAST = "--poll-interval 0.05 --timeout 20"
CARRY = f"{FAST} --skip-rollout-check --progress plain"
GATE = "--target-kubernetes-version 1.30"


class Invocation(NamedTuple):
    command_line: str  # after `eksaddon`; {fleet} stands for the fleet file
    code: int  # the exit code it must end with: each run does what its command is for

    def args(self, fleet: Path) -> list[str]:
        return shlex.split(self.command_line.replace("{fleet}", str(fleet)))


class CliRun(NamedTuple):
    """A command's invocations, in order, on one freshly seeded stand-in (``journey``: the
    cluster-upgrade cluster of seed_journey; else seed_simple)."""

    command: str  # as docs/iam/policy-<command>.json names it
    invocations: tuple[Invocation, ...]
    journey: bool = False


def seed_simple(server: StandInServer) -> None:
    """prod (vpc-cni one step behind, a node group) and bare (no add-on), on the vpc-cni
    catalogue."""
    server.create_cluster("prod", "1.29")
    server.create_cluster("bare", "1.29")
    server.put_addon("prod", "v1.17.1-eksbuild.1")
    server.create_nodegroup("prod", "workers")


def seed_journey(server: StandInServer) -> None:
    """prod at 1.29 on the bundled catalogue: vpc-cni (with settings and a role, which every
    step sends back and checks against the schema) and CoreDNS behind, a node group, and an
    ERROR upgrade insight for 1.30 (the gate refuses, and EKS would); bare has no add-on."""
    server.fresh(StandIn(bundled_catalogue()))
    server.create_cluster("prod", "1.29")
    server.create_cluster("bare", "1.29")
    server.put_addon(
        "prod", "v1.16.4-eksbuild.2", configuration_values=VALUES, service_account_role_arn=ROLE
    )
    server.put_addon("prod", "v1.10.1-eksbuild.7", addon_name="coredns")
    server.create_nodegroup("prod", "workers", "1.29")
    server.put_insight("prod", deprecated_api_insight("deprecated-1-30", "1.30"))


PROD = "--cluster prod"


def all_addons_runs(node_side: str) -> tuple[Invocation, ...]:
    """``upgrade --all-addons``: the before phase for 1.30 (the gate's reads), then every
    add-on to its latest build (``node_side``: how the run reaches the nodes, or skips them)."""
    return (
        Invocation(
            f"upgrade {PROD} --all-addons --for-kubernetes-version 1.30 --yes {node_side}", 0
        ),
        Invocation(f"upgrade {PROD} --all-addons --yes {node_side}", 0),
    )


def journey_runs(node_side: str) -> tuple[Invocation, ...]:
    """``cluster-upgrade`` refused for the ERROR insight (nothing changed), then forced past
    it: the phases, UpdateClusterVersion with force, DescribeUpdate until it succeeds."""
    forced = "--force-upgrade-insights --control-plane-timeout 60"
    return (
        Invocation(f"cluster-upgrade {PROD} --to 1.30 --yes {node_side}", 1),
        Invocation(f"cluster-upgrade {PROD} --to 1.30 --yes {forced} {node_side}", 0),
    )


CLI_RUNS: list[CliRun] = [
    CliRun("status", (Invocation(f"status {PROD} --skip-node-side -o json", 0),)),
    CliRun(
        "check-compat-cluster",
        (
            Invocation(f"check-compat {PROD} --skip-node-side", 0),
            # the whole-cluster gate, every add-on (no --addon): the ERROR insight fails it
            Invocation(f"check-compat {PROD} {GATE} --skip-node-side", 1),
        ),
        journey=True,
    ),
    CliRun(
        "upgrade-dry-run",
        (
            Invocation(
                f"upgrade {PROD} --dry-run --skip-rollout-check --configuration-values {QUOTED_VALUES}",
                0,
            ),
        ),
    ),
    CliRun(
        "upgrade",
        (
            Invocation(
                f"upgrade {PROD} --yes --skip-rollout-check {FAST} --configuration-values {QUOTED_VALUES}",
                0,
            ),
        ),
    ),
    CliRun(
        "install",
        (
            Invocation(
                f"install --cluster bare --yes {FAST} --configuration-values {QUOTED_VALUES}", 0
            ),
        ),
    ),
    CliRun("matrix", (Invocation("matrix diff -k 1.29", 1),)),  # 1: the catalogue differs
    CliRun(
        "check-compat-fleet",
        (
            # the add-on-less cluster is not checkable (exit 3): still a full read
            Invocation("check-compat --all-clusters", 3),
            Invocation(f"check-compat --all-clusters {GATE}", 1),
            # an entry with role_arn is read with that role's credentials (sts:AssumeRole)
            Invocation(f"check-compat --clusters {{fleet}} {GATE}", 1),
        ),
        journey=True,
    ),
    CliRun(
        "upgrade-all-addons",
        (Invocation(f"upgrade {PROD} --all-addons --dry-run {CARRY}", 0), *all_addons_runs(CARRY)),
        journey=True,
    ),
    CliRun(
        "cluster-upgrade",
        (
            Invocation(
                f"cluster-upgrade {PROD} --to 1.30 --dry-run --force-upgrade-insights {CARRY}", 0
            ),
            *journey_runs(CARRY),
        ),
        journey=True,
    ),
]
# What a command's policy grants that no run here can send, and why (everything else it grants,
# some run must send: the policy lists nothing the command never needs).
NOT_SENT_BY_THE_RUNS: dict[str, set[str]] = {
    # EKS checks iam:PassRole on the role an add-on request names; the caller never sends it.
    **{command: {"iam:PassRole"} for command in PASSES_ROLE},
}


def _fleet_file(tmp_path: Path, region: str) -> Path:
    path = tmp_path / "fleet.yaml"
    entries = [
        {"name": "prod", "region": region, "role_arn": FLEET_ROLE},
        {"name": "bare", "region": region},
    ]
    path.write_text(yaml.safe_dump(entries), encoding="utf-8")
    return path


@pytest.mark.parametrize("cli_run", CLI_RUNS, ids=[r.command for r in CLI_RUNS])
def test_what_each_command_sends_is_exactly_its_policy(
    cli_run: CliRun,
    eks_standin: StandInServer,
    run: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fast_clock: FastForwardClock,
) -> None:
    """Each command run against the stand-in: every AWS action it sends (recorded at botocore,
    STS included) is in its policy, and every action its policy grants is sent by some run."""
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", eks_standin.url)  # moto answers AssumeRole
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    (seed_journey if cli_run.journey else seed_simple)(eks_standin)
    fleet = _fleet_file(tmp_path, eks_standin.region)
    granted = policy_actions(DOCS / f"policy-{cli_run.command}.json")
    union: set[str] = set()
    with recording(monkeypatch) as sent:
        for invocation in cli_run.invocations:
            args = invocation.args(fleet)
            sent.clear()
            eks_standin.standin.reset_counters()
            result = run(*args)
            assert result.code == invocation.code, (args, result.err)
            assert sent.aws, f"{args}: nothing was sent"
            # the recorder misses nothing the stand-in itself counted
            assert _sent(eks_standin) <= sent.aws, args
            assert sent.aws <= granted, (
                f"{' '.join(args)} sent {sent.aws - granted}, not in policy-{cli_run.command}.json"
            )
            union |= sent.aws
    unused = granted - union - NOT_SENT_BY_THE_RUNS.get(cli_run.command, set())
    assert not unused, f"policy-{cli_run.command}.json grants {unused}, which no run sent"


def test_each_cluster_upgrade_call_sends_what_the_detector_names(
    eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch, aws_map: dict[str, set[str]]
) -> None:
    """The calls the gate and journey are built on, each sent to the stand-in on its own: what
    reaches it is exactly what the detector (and so the policies) name for that method."""
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    eks_standin.create_cluster("prod", "1.29")
    eks_standin.create_nodegroup("prod", "workers")
    eks_standin.put_addon("prod", "v1.17.1-eksbuild.1")
    eks_standin.put_insight("prod", deprecated_api_insight("dep", "1.30"))
    gateway = AwsEksGateway(region=eks_standin.region, max_attempts=1)
    version = AddonVersion.parse("v1.17.1-eksbuild.1")
    calls: dict[str, Callable[[], object]] = {
        "list_addons": lambda: gateway.list_addons("prod"),
        "list_insights": lambda: gateway.list_insights("prod"),
        "describe_insight": lambda: gateway.describe_insight("prod", "dep"),
        "nodegroups": lambda: gateway.nodegroups("prod"),
        "pod_identity_configuration": lambda: gateway.pod_identity_configuration(
            "vpc-cni", version
        ),
        "update_cluster_version": lambda: gateway.update_cluster_version(
            ClusterVersionRequest("prod", KubernetesVersion.parse("1.30"), "t", force=True)
        ),
    }
    for method, call in calls.items():
        eks_standin.standin.reset_counters()
        call()
        assert _sent(eks_standin) == aws_map[method], method
    update = eks_standin.standin.cluster_updates()[0]
    eks_standin.standin.reset_counters()
    gateway.describe_cluster_update("prod", update.id)
    assert _sent(eks_standin) == aws_map["describe_cluster_update"]
    granted = policy_actions(DOCS / "policy-cluster-upgrade.json")
    assert set().union(*(aws_map[m] for m in (*calls, "describe_cluster_update"))) <= granted


def _recording(eks: FakeEks) -> set[str]:
    return {f"eks:{operation}" for operation, n in eks.calls.items() if n}


def test_migrate_sends_only_what_its_policy_grants(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = self_managed_cluster({"WARM_IP_TARGET": "5"}, nodes=("node-a",))
    run_migration(bundled, tmp_path / "state", eks, kube)
    sent = _recording(eks)
    assert "eks:CreateAddon" in sent
    assert sent <= policy_actions(DOCS / "policy-migrate.json")


def test_a_self_managed_upgrade_sends_only_what_its_policy_grants(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version=None)
    kube = FakeKube(["node-a"], tag="v1.16.4")
    with pytest.raises(EksAddonError):
        upgrade_self_managed(
            gateway=eks,
            writer=RefusingObjectWriter(),
            nodes=RolloutCheck(kube),
            matrix=bundled,
            options=UpgradeOptions(cluster="prod", addon="vpc-cni", poll_interval=5, timeout=60),
            state_directory=tmp_path / "state",
            progress=lambda e: None,
            confirm=lambda plan: True,
            clock=FakeClock(),
        )
    sent = _recording(eks)
    assert sent == {"eks:DescribeCluster"}
    assert sent <= policy_actions(DOCS / "policy-upgrade-self-managed.json")


# --- Kubernetes: the detector --------------------------------------------------------------------


class Permission(NamedTuple):
    verb: str
    resource: str
    group: str
    namespaced: bool


_API_CLASSES = {
    "CoreV1Api": kubernetes.client.CoreV1Api,
    "AppsV1Api": kubernetes.client.AppsV1Api,
    "RbacAuthorizationV1Api": kubernetes.client.RbacAuthorizationV1Api,
    "ApiextensionsV1Api": kubernetes.client.ApiextensionsV1Api,
    "PolicyV1Api": kubernetes.client.PolicyV1Api,
}
APPLY_PATCH = "application/apply-patch+yaml"


def permission_of(api: type[Any], method: str) -> Permission:
    """The RBAC permission a kubernetes client method needs, from the HTTP request it makes."""
    assert hasattr(api, method), f"{api.__name__} has no method {method}"
    serializer = getattr(api, f"_{method}_serialize", None)
    source = inspect.getsource(serializer or getattr(api, f"{method}_with_http_info"))
    http = re.search(r"method='(\w+)'", source) or re.search(
        r"'(GET|PATCH|POST|PUT|DELETE)'", source
    )
    path = re.search(r"resource_path='([^']+)'", source) or re.search(r"'(/api[^']*)'", source)
    assert http is not None and path is not None, f"cannot read the request of {method}"
    return path_permission(http.group(1), path.group(1))


def path_permission(http: str, path: str) -> Permission:
    """The RBAC permission of an HTTP request to an API path (``{name}`` marks a named one)."""
    segments = path.strip("/").split("/")
    if segments[0] == "api":  # /api/v1/...
        group, rest = "", segments[2:]
    else:  # /apis/<group>/<version>/...
        group, rest = segments[1], segments[3:]
    namespaced = rest[:2] == ["namespaces", "{namespace}"]
    if namespaced:
        rest = rest[2:]
    resource, named = rest[0], len(rest) > 1 and rest[1] == "{name}"
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    verb = {
        "GET": "get" if named else "list",
        "PATCH": "patch",
        "POST": "create",
        "PUT": "update",
        "DELETE": "delete" if named else "deletecollection",
    }[http]
    return Permission(verb, resource, group, namespaced)


def kube_calls(source: str) -> dict[str, set[Permission]]:
    """Each KubeGateway method -> the permissions its client calls need (helpers included)."""
    tree = ast.parse(source)
    apis: dict[str, type[Any]] = {}  # "_core" -> CoreV1Api
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Attribute)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr.endswith("Api")
        ):
            name = node.value.func.attr
            assert name in _API_CLASSES, f"kube.py uses {name}: add it to this test"
            apis[node.targets[0].attr] = _API_CLASSES[name]
    assert apis, "no kubernetes API objects found in kube.py"
    paths = {  # module-level API paths: _PDB_V1BETA1 = "/apis/policy/v1beta1/..."
        node.targets[0].id: str(node.value.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and str(node.value.value).startswith(("/api/", "/apis/"))
    }
    routes: list[tuple[type[Any], str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            target, suffix = node.elts
            if isinstance(target, ast.Attribute) and target.attr in apis and _constant(suffix):
                routes.append((apis[target.attr], str(_constant(suffix))))
    found: dict[str, set[Permission]] = {}
    functions = _functions(tree)
    for name, function in functions.items():
        permissions: set[Permission] = set()
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in apis
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "self"
            ):
                permissions.add(permission_of(apis[node.value.attr], node.attr))
            if isinstance(node, ast.JoinedStr) and node.values:
                prefix = _constant(node.values[0])
                if prefix and re.fullmatch(r"(read|list|patch|create|replace|delete)_", prefix):
                    assert routes, f"{name}: dynamic {prefix}… call but no route table found"
                    permissions |= {permission_of(api, prefix + suffix) for api, suffix in routes}
            if isinstance(node, ast.Name) and node.id in paths:
                permissions.add(path_permission("GET", paths[node.id]))
        if any(isinstance(n, ast.Constant) and n.value == APPLY_PATCH for n in ast.walk(function)):
            permissions |= {p._replace(verb="create") for p in permissions if p.verb == "patch"}
        found[name] = permissions
    return found


@pytest.fixture(scope="module")
def kube_map() -> dict[str, set[Permission]]:
    return kube_calls(KUBE_GATEWAY.read_text(encoding="utf-8"))


class Grant(NamedTuple):
    role: str
    cluster_wide: bool  # a ClusterRole (else a Role in kube-system)
    verb: str
    resource: str
    group: str
    names: frozenset[str] | None = None  # the rule's resourceNames, if it names any


def rbac_grants() -> list[Grant]:
    grants: list[Grant] = []
    documents = [d for d in yaml.safe_load_all((DOCS / "rbac.yaml").read_text()) if d]
    for document in documents:
        assert document["apiVersion"] == "rbac.authorization.k8s.io/v1"
        kind = document["kind"]
        assert kind in ("ClusterRole", "Role")
        if kind == "Role":
            assert document["metadata"]["namespace"] == "kube-system"
        for rule in document["rules"]:
            for verb in rule["verbs"]:
                for resource in rule["resources"]:
                    for group in rule["apiGroups"]:
                        assert "*" not in (verb, resource, group), "wildcards are not least"
                        grants.append(
                            Grant(
                                document["metadata"]["name"],
                                kind == "ClusterRole",
                                verb,
                                resource,
                                group,
                                frozenset(rule["resourceNames"])
                                if "resourceNames" in rule
                                else None,
                            )
                        )
    return grants


def granted(permission: Permission, grants: Iterable[Grant]) -> bool:
    """A namespaced call (always kube-system) is granted by a Role or a ClusterRole; a
    cluster-scoped or all-namespaces call only by a ClusterRole."""
    return any(
        (g.verb, g.resource, g.group) == permission[:3]
        and (g.cluster_wide or permission.namespaced)
        for g in grants
    )


def test_the_kube_detector_reads_the_clients_requests(kube_map: dict[str, set[Permission]]) -> None:
    """Self-check: known calls come out right, and a new call is caught."""
    assert kube_map["nodes"] == {Permission("list", "nodes", "", False)}
    assert kube_map["read_daemonset"] == {Permission("get", "daemonsets", "apps", True)}
    assert kube_map["all_daemonsets"] == {Permission("list", "daemonsets", "apps", False)}
    assert (
        Permission("patch", "customresourcedefinitions", "apiextensions.k8s.io", False)
        in kube_map["apply"]
    )
    assert Permission("get", "configmaps", "", True) in kube_map["read"]
    assert kube_map["read_deployment"] == {Permission("get", "deployments", "apps", True)}
    assert kube_map["read_config_map"] == {Permission("get", "configmaps", "", True)}
    # policy/v1, and the same permission through v1beta1's raw path where only that is served
    assert kube_map["disruption_budgets"] == {
        Permission("list", "poddisruptionbudgets", "policy", True)
    }
    # a server-side apply creates what is absent: create as well as patch
    assert {
        Permission("patch", "configmaps", "", True),
        Permission("create", "configmaps", "", True),
    } <= kube_map["apply"]
    assert Permission("create", "daemonsets", "apps", True) in kube_map["apply_daemonset"]
    added = KUBE_GATEWAY.read_text(encoding="utf-8").replace(
        "    def nodes(self)",
        "    def evict(self) -> None:\n"
        "        self._core.delete_namespaced_pod('x', 'kube-system')\n\n"
        "    def nodes(self)",
    )
    new = kube_calls(added)["evict"]
    assert new == {Permission("delete", "pods", "", True)}
    assert not any(granted(p, rbac_grants()) for p in new)  # the RBAC test would fail


def test_every_kubernetes_call_is_granted_by_the_role(kube_map: dict[str, set[Permission]]) -> None:
    grants = rbac_grants()
    used = set().union(*kube_map.values())
    assert used, "the detector found no Kubernetes call at all"
    missing = {p for p in used if not granted(p, grants)}
    assert not missing, (
        f"used by eksaddon/gateways/kube.py but not granted in docs/iam/rbac.yaml: {missing}"
    )
    unused = {
        (g.verb, g.resource, g.group)
        for g in grants
        if (g.verb, g.resource, g.group) not in {p[:3] for p in used}
    } - DOCUMENTED_RBAC_EXTRAS
    assert not unused, f"granted but never used (not least privilege): {unused}"


def test_each_commands_roles_grant_its_kubernetes_calls(
    kube_map: dict[str, set[Permission]],
) -> None:
    grants = rbac_grants()
    roles = {g.role for g in grants}
    for command, methods in COMMAND_KUBE_METHODS.items():
        assert COMMAND_ROLES[command] <= roles
        mine = [g for g in grants if g.role in COMMAND_ROLES[command]]
        for method in methods:
            missing = {p for p in kube_map[method] if not granted(p, mine)}
            assert not missing, f"{command}: {method} needs {missing}"
    read_only = [g for g in grants if g.role == "eksaddon-node-side-read"]
    assert {g.verb for g in read_only} <= {"get", "list"}  # reading commands never write


def test_the_docs_page_shows_the_machine_readable_files() -> None:
    page = (REPO / "docs" / "iam.md").read_text(encoding="utf-8")
    combined = json.loads((DOCS / "policy.json").read_text(encoding="utf-8"))
    assert json.dumps(combined, indent=2) in page  # the page quotes the combined policy verbatim
    assert (DOCS / "rbac.yaml").read_text(encoding="utf-8").strip() in page
    for path in DOCS.glob("policy-*.json"):
        assert f"iam/{path.name}" in page, f"docs/iam.md does not link {path.name}"


# --- Kubernetes: what the commands actually ask of a real kube-apiserver -----------------------

KUBE = "{kube}"  # stands for --kubeconfig and --context of the kube-apiserver
KUBE_RUNS: list[CliRun] = [
    CliRun("status", (Invocation(f"status {PROD} {KUBE}", 0),), journey=True),
    CliRun(
        "check-compat-cluster",
        # the gate reads the nodes' kubelets and every self-managed add-on's workload; the
        # ERROR insight fails it
        (Invocation(f"check-compat {PROD} {GATE} {KUBE}", 1),),
        journey=True,
    ),
    # every step's rollout check on the nodes
    CliRun("upgrade", (Invocation(f"upgrade {PROD} --yes {FAST} {KUBE}", 0),), journey=True),
    # no EKS add-on: the VPC CNI's manifests read, applied and rolled out
    CliRun("upgrade-self-managed", (Invocation(f"upgrade {PROD} --yes {FAST} {KUBE}", 0),)),
    CliRun("upgrade-all-addons", all_addons_runs(f"{FAST} {KUBE}"), journey=True),
    # the after phase takes vpc-cni to 1.30's latest, checked on the nodes
    CliRun("cluster-upgrade", journey_runs(f"{FAST} {KUBE}"), journey=True),
]


def eks_rewrites_aws_node(api: k8s.ApiClient) -> Callable[[AddonRecord], None]:
    """What EKS does to the aws-node DaemonSet when a vpc-cni update succeeds: its images move
    to the build (the stand-in DaemonSet controller then rolls the pods on every node)."""

    def rewrite(record: AddonRecord) -> None:
        if record.addon_name != "vpc-cni":
            return
        apps = k8s.AppsV1Api(api)
        document = apps.read_namespaced_daemon_set("aws-node", "kube-system")
        spec = document.spec.template.spec
        assert spec is not None  # the DaemonSet seed_kube created
        for container in [*(spec.init_containers or []), *spec.containers]:
            repository = (container.image or "").rsplit(":", 1)[0]
            container.image = f"{repository}:{record.addon_version}"
        apps.replace_namespaced_daemon_set("aws-node", "kube-system", document)

    return rewrite


def seed_kube(cluster: SelfManagedCluster, *, managed: bool) -> None:
    """prod at 1.29 on the bundled catalogue, its endpoint the kube-apiserver, two nodes, a node
    group and an ERROR insight for 1.30; vpc-cni v1.16.4 either an EKS add-on (``managed``: EKS
    rewrites aws-node at each update) or self-managed (the v1.16.4 manifest, no EKS add-on)."""
    eks = cluster.eks
    eks.fresh(StandIn(bundled_catalogue()))
    cluster.create("1.29")
    if managed:
        build = "v1.16.4-eksbuild.2"
        eks.put_addon("prod", build)
        k8s.AppsV1Api(cluster.api).create_namespaced_daemon_set("kube-system", daemonset(build))  # type: ignore[arg-type]
        eks.standin.on_update_applied = eks_rewrites_aws_node(cluster.api)
    else:
        cluster.install("v1.16.4")
    DaemonSetController(cluster.api, NODES).reconcile()  # the pods of the starting version
    eks.create_nodegroup("prod", "workers", "1.29")
    eks.put_insight("prod", deprecated_api_insight("deprecated-1-30", "1.30"))


def allows(request: KubeRequest, grants: Iterable[Grant]) -> bool:
    """RBAC's own rule: the verb, resource and group granted; a Role only in its namespace
    (kube-system), a ClusterRole anywhere; a rule with resourceNames only a request naming one
    of them (a list, or a create by POST, names none)."""
    return any(
        (g.verb, g.resource, g.group) == request[:3]
        and (g.cluster_wide or request.namespace == "kube-system")
        and (g.names is None or request.name in g.names)
        for g in grants
    )


@pytest.mark.parametrize("cli_run", KUBE_RUNS, ids=[r.command for r in KUBE_RUNS])
def test_what_each_command_asks_kubernetes_is_granted_by_its_roles(
    cli_run: CliRun,
    eks_standin: StandInServer,
    kube_fresh: KubeApiServer,
    run: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Each command run in this process against the EKS stand-in and a real kube-apiserver
    (seed_kube; ``journey`` runs have the EKS add-on): every Kubernetes request it makes,
    recorded at the kubernetes client's HTTP layer, is granted by the docs/iam/rbac.yaml
    roles docs/iam.md names for it, and every AWS action it sends is in its policy."""
    cluster = SelfManagedCluster(
        eks_standin, kube_fresh, tmp_path, run, lambda: request.getfixturevalue("fast_clock")
    )
    seed_kube(cluster, managed=cli_run.journey)
    # eksaddon runs as the user bound to the command's roles only: the API server judges too
    binder = RoleBinder(cluster.api)
    request.addfinalizer(binder.unbind_all)
    for role in COMMAND_ROLES[cli_run.command]:
        binder.bind(role)
    roles = [g for g in rbac_grants() if g.role in COMMAND_ROLES[cli_run.command]]
    policy = policy_actions(DOCS / f"policy-{cli_run.command}.json")
    kube = f"--kubeconfig {kube_fresh.kubeconfig_path} --context {kube_fresh.forbidden_context}"
    asked: set[KubeRequest] = set()
    with cluster.controller() as controller, recording(monkeypatch, not_from=[cluster.api]) as sent:
        for invocation in cli_run.invocations:
            sent.clear()
            args = shlex.split(invocation.command_line.replace("{kube}", kube))
            result = cluster.in_process(*args, controller=controller)
            assert result.code == invocation.code, (args, result.err)
            assert "RBAC forbids" not in result.out + result.err, (args, result.err)
            assert sent.aws <= policy, f"{' '.join(args)} sent {sent.aws - policy}"
            refused = {r for r in sent.kube if not allows(r, roles)}
            assert not refused, (
                f"{' '.join(args)}: not granted by {COMMAND_ROLES[cli_run.command]}: {refused}"
            )
            asked |= sent.kube
    assert any(r.resource == "nodes" for r in asked), "the run never reached Kubernetes"
    if cli_run.command in (
        "upgrade",
        "upgrade-self-managed",
        "upgrade-all-addons",
        "cluster-upgrade",
    ):
        assert ("list", "pods") in {r[:2] for r in asked}, "no rollout was checked on the nodes"
    if cli_run.command == "upgrade-self-managed":  # the manifests were applied
        assert {("patch", "daemonsets"), ("create", "daemonsets")} <= {r[:2] for r in asked}


def test_the_recorder_names_each_request_as_rbac_authorizes_it() -> None:
    """Self-check of tests/sent_requests.py's mapping from an HTTP request to RBAC's terms."""
    base = "https://127.0.0.1:6443"
    assert kube_request("GET", f"{base}/api/v1/nodes?limit=500", None) == [
        KubeRequest("list", "nodes", "", None, None)
    ]
    assert kube_request(
        "GET", f"{base}/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node", None
    ) == [KubeRequest("get", "daemonsets", "apps", "kube-system", "aws-node")]
    assert kube_request("GET", f"{base}/api/v1/namespaces/kube-system/pods?watch=true", None) == [
        KubeRequest("watch", "pods", "", "kube-system", None)
    ]
    path = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node/status"
    assert kube_request("PUT", base + path, None) == [
        KubeRequest("update", "daemonsets/status", "apps", "kube-system", "aws-node")
    ]
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/eniconfigs.crd.k8s.amazonaws.com"
    assert kube_request("PATCH", base + crd, "application/apply-patch+yaml") == [
        KubeRequest(
            "patch",
            "customresourcedefinitions",
            "apiextensions.k8s.io",
            None,
            crd.rsplit("/", 1)[1],
        ),
        KubeRequest(
            "create",
            "customresourcedefinitions",
            "apiextensions.k8s.io",
            None,
            crd.rsplit("/", 1)[1],
        ),
    ]
    assert kube_request("GET", f"{base}/apis", None) == []  # discovery: every user may
    grants = [g for g in rbac_grants() if g.role == "eksaddon-node-side-read"]
    assert allows(KubeRequest("get", "configmaps", "", "kube-system", "coredns"), grants)
    assert not allows(KubeRequest("get", "configmaps", "", "kube-system", "aws-auth"), grants)
    assert not allows(
        KubeRequest("list", "pods", "", "default", None), grants
    )  # a Role: kube-system
