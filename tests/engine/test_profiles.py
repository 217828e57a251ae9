"""The add-on profiles: the registry, the generic profile, and an add-on added with a YAML file.

The core asks a profile what an add-on is; these tests pin what each kind of profile answers and
that an add-on with standard rules needs nothing but its matrix file (passed with ``--matrix``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eksaddon.addons import DEFAULT_ADDON, profile_for
from eksaddon.addons.base import DataProfile, NoNodeSide, NoSettings, workload_version
from eksaddon.addons.generic import GenericProfile
from eksaddon.addons.vpc_cni import VpcCniProfile
from eksaddon.engine.hooks import hook_for, needs_kubernetes
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader
from eksaddon.errors import InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import DisruptionBudget, NodeFacts, PodFacts
from eksaddon.matrix.model import PolicyKind, WorkloadKind
from eksaddon.versions import AddonVersion, ImageTagRule
from fakes import FakeClock, FakeEks
from tests_support import Result, write_yaml

ADDON = "example-agent"
IMAGE = "example.invalid/example-agent"

# A new add-on with standard rules: a matrix file and nothing else (no module, no code).
EXAMPLE_AGENT: dict[str, Any] = {
    "format_version": 1,
    "addon": ADDON,
    "display_name": "Example node agent",
    "as_of": "2026-01-01",
    "sources": {"S-TEST": "made up for this test"},
    "kubernetes_versions": {
        "1.29": {
            "latest": "v2.1.0-eksbuild.1",
            "default": "v2.0.0-eksbuild.3",
            "catalogue_complete": True,
        },
        "1.28": {"latest": "v1.4.0-eksbuild.1", "default": None, "catalogue_complete": True},
    },
    "builds": [
        {"version": "v2.1.0-eksbuild.1", "kubernetes_versions": ["1.29"]},
        {"version": "v2.0.0-eksbuild.3", "kubernetes_versions": ["1.29"]},
        {"version": "v1.4.0-eksbuild.1", "kubernetes_versions": ["1.28"]},
    ],
    "upgrade_policy": {"kind": "catalogue"},
    "workloads": [
        {
            "kind": "DaemonSet",
            "namespace": "kube-system",
            "name": ADDON,
            "version_container": "agent",
            "image_tag": "addon-version",
        },
    ],
}


@pytest.fixture
def matrix_file(tmp_path: Path) -> Path:
    return write_yaml(tmp_path / f"{ADDON}.yaml", EXAMPLE_AGENT)


# --- the registry ---------------------------------------------------------------------------


def test_vpc_cni_keeps_its_own_profile() -> None:
    profile = profile_for("vpc-cni")
    assert isinstance(profile, VpcCniProfile) and DEFAULT_ADDON == "vpc-cni"
    (workload,) = profile.workloads
    assert (workload.kind, workload.namespace, workload.name) == (
        WorkloadKind.DAEMONSET,
        "kube-system",
        "aws-node",
    )
    assert workload.version_container == "aws-node"
    assert workload.image_tag is ImageTagRule.ADDON_VERSION
    assert profile.renders_manifests and profile.node_side_note is None
    assert profile.matrix.policy.max_minor_step == 1  # one minor per update, as before


def test_a_bundled_addon_without_a_module_is_read_from_its_yaml() -> None:
    # (coredns and kube-proxy have profile modules of their own: addons/coredns.py, kube_proxy.py)
    profile = profile_for("aws-ebs-csi-driver")
    assert type(profile) is DataProfile
    assert [w.kind for w in profile.workloads] == [WorkloadKind.DEPLOYMENT, WorkloadKind.DAEMONSET]
    assert profile.matrix.policy.kind is PolicyKind.CATALOGUE
    assert not profile.renders_manifests
    assert "reads no custom settings of aws-ebs-csi-driver" in str(profile.node_side_note)


def test_any_other_name_gets_the_generic_profile() -> None:
    profile = profile_for("snapshot-controller")
    assert isinstance(profile, GenericProfile) and profile.live_only
    assert profile.workloads == () and isinstance(profile.settings, NoSettings)
    assert profile.matrix.kubernetes == {} and profile.matrix.builds == ()
    assert profile.matrix.policy.kind is PolicyKind.CATALOGUE
    assert "nothing is checked on the nodes" in str(profile.node_side_note)
    hook = hook_for(profile, None)
    assert isinstance(hook, NoNodeSide) and hook.notice == profile.node_side_note
    assert not needs_kubernetes(profile)


@pytest.mark.parametrize("name", ["", "VPC-CNI", "../../etc/passwd", "a b", "x\x1b[2J"])
def test_a_name_that_cannot_be_an_eks_addon_is_refused(name: str) -> None:
    with pytest.raises(InputError, match="is not an EKS add-on name"):
        profile_for(name)


def test_a_deployment_gets_the_deployment_rollout_check() -> None:
    from eksaddon.engine.deployment_rollout import DeploymentRolloutCheck

    hook = hook_for(profile_for("coredns"), None)
    assert isinstance(hook, DeploymentRolloutCheck)
    assert (hook.workload.namespace, hook.workload.name) == ("kube-system", "coredns")
    # What the profile says is not checked is still said.
    assert hook.notice == profile_for("coredns").node_side_note


@pytest.mark.parametrize(
    ("rule", "tag", "expected", "why"),
    [
        (ImageTagRule.ADDON_VERSION, "v1.11.3-eksbuild.1", "v1.11.3-eksbuild.1", None),
        (ImageTagRule.MINIMAL_VARIANT, "v1.29.7-minimal-eksbuild.5", "v1.29.7-eksbuild.5", None),
        (ImageTagRule.UNRELATED, "v0.1.37", None, "follows the image's own numbering"),
    ],
)
def test_a_workload_image_shows_the_version_or_says_why_not(
    rule: ImageTagRule, tag: str, expected: str | None, why: str | None
) -> None:
    workload = profile_for("kube-proxy").workloads[0]._replace(image_tag=rule)
    document = daemonset(workload.version_container, tag)
    reading = workload_version(workload, document)
    assert str(reading.version) == expected if expected else reading.version is None
    assert (why or "") in (reading.why_unknown or "")


# --- a new add-on: only a YAML file ---------------------------------------------------------


def test_a_new_addon_needs_only_its_yaml_file(
    run: Callable[..., Result], matrix_file: Path
) -> None:
    profile = profile_for(ADDON, matrix_file)
    assert type(profile) is DataProfile and not profile.live_only
    assert [(w.kind, w.name) for w in profile.workloads] == [(WorkloadKind.DAEMONSET, ADDON)]
    planned = run(
        "--matrix", str(matrix_file), "plan", "--addon", ADDON, "-k", "1.29", "--from",
        "v1.4.0-eksbuild.1", "-o", "json",
    )  # fmt: skip
    assert planned.code == 0, planned.err
    document = json.loads(planned.out)
    # catalogue policy: across a major version, to the newest build offered, in one update
    assert [(s["from"], s["to"]) for s in document["steps"]] == [
        ("v1.4.0-eksbuild.1", "v2.1.0-eksbuild.1")
    ]
    fits = run(
        "--matrix", str(matrix_file), "check-compat", "--addon", ADDON,
        "--kubernetes-version", "1.29", "--addon-version", "v2.1.0-eksbuild.1", "-o", "json",
    )  # fmt: skip
    assert fits.code == 0, fits.err
    stale = run(
        "--matrix", str(matrix_file), "check-compat", "--addon", ADDON,
        "--kubernetes-version", "1.29", "--addon-version", "v1.4.0-eksbuild.1", "-o", "json",
    )  # fmt: skip
    assert stale.code == 1, stale.err  # not offered for 1.29: the complete catalogue says so


class AgentKube:
    """Kubernetes with the new add-on's DaemonSet; its pods follow the EKS add-on one node per
    look (``stuck`` nodes never do)."""

    host = "https://prod.gr7.us-west-2.eks.amazonaws.com"  # where FakeEks says it is

    def __init__(self, eks: FakeEks, nodes: tuple[str, ...], stuck: tuple[str, ...] = ()) -> None:
        self.eks = eks
        self.node_names = nodes
        self.stuck = stuck
        self.pods_at: dict[str, str] = dict.fromkeys(nodes, self._tag())

    def _tag(self) -> str:
        return str(self.eks.addon["version"]) if self.eks.addon else "none"

    # Nothing but the add-on's DaemonSet runs here (the Kubernetes protocol's other reads).
    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def disruption_budgets(self, namespace: str) -> list[DisruptionBudget]:
        return []

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        if (namespace, name) != ("kube-system", ADDON):
            return None
        tag = self._tag()
        behind = [n for n, t in self.pods_at.items() if t != tag and n not in self.stuck]
        if behind:
            self.pods_at[behind[0]] = tag
        document = daemonset("agent", tag)
        document["status"] = {
            "observedGeneration": 1,
            "desiredNumberScheduled": len(self.node_names),
            "updatedNumberScheduled": sum(1 for t in self.pods_at.values() if t == tag),
            "numberAvailable": len(self.node_names),
        }
        return document

    def all_daemonsets(self) -> list[dict[str, Any]]:
        return [{"metadata": {"name": ADDON, "namespace": "kube-system"}}]

    def nodes(self) -> list[NodeFacts]:
        return [NodeFacts(n, {}) for n in self.node_names]

    def pods(self, namespace: str, selector: str) -> list[PodFacts]:
        assert selector == f"k8s-app={ADDON}"
        return [
            PodFacts(f"{ADDON}-{n}", n, {"agent": f"{IMAGE}:{t}"}, {})
            for n, t in self.pods_at.items()
        ]


def upgrader(matrix_file: Path, eks: FakeEks, kube: AgentKube, state: Path) -> Upgrader:
    profile = profile_for(ADDON, matrix_file)
    hook = hook_for(profile, kube)
    assert isinstance(hook, RolloutCheck)  # the DaemonSet hook, from the YAML's workload
    return Upgrader(
        gateway=eks,
        matrix=profile.matrix,
        options=UpgradeOptions(cluster="prod", addon=ADDON, poll_interval=5, timeout=60),
        state_directory=state,
        progress=lambda event: None,
        confirm=lambda plan: True,
        clock=FakeClock(),
        node_side=hook,
        profile=profile,
    )


def agent_eks() -> FakeEks:
    eks = FakeEks(version="v2.0.0-eksbuild.3")
    eks.catalogue = [AddonVersion.parse(v) for v in ("v2.0.0-eksbuild.3", "v2.1.0-eksbuild.1")]
    eks.default = AddonVersion.parse("v2.0.0-eksbuild.3")
    return eks


def test_the_new_addons_daemonset_is_checked_on_every_node(
    matrix_file: Path, tmp_path: Path
) -> None:
    eks = agent_eks()
    kube = AgentKube(eks, ("node-a", "node-b", "node-c"))
    result = upgrader(matrix_file, eks, kube, tmp_path / "state").run()
    assert str(result.final.version if result.final else None) == "v2.1.0-eksbuild.1"
    assert set(kube.pods_at.values()) == {"v2.1.0-eksbuild.1"}  # waited for every node
    assert any("reads no custom settings" in note for note in result.plan.notes)


def test_the_new_addons_stalled_rollout_stops_the_run(matrix_file: Path, tmp_path: Path) -> None:
    eks = agent_eks()
    kube = AgentKube(eks, ("node-a", "node-b"), stuck=("node-b",))
    with pytest.raises(UpgradeStoppedError) as stopped:
        upgrader(matrix_file, eks, kube, tmp_path / "state").run()
    assert stopped.value.exit_code == 4
    assert f"the {ADDON} rollout of v2.1.0-eksbuild.1 did not finish" in stopped.value.message
    assert "node-b" in stopped.value.message


def daemonset(container: str, tag: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": ADDON, "namespace": "kube-system", "generation": 1},
        "spec": {
            "template": {"spec": {"containers": [{"name": container, "image": f"{IMAGE}:{tag}"}]}}
        },
    }


def test_status_reads_the_new_addons_daemonset_from_its_profile(
    matrix_file: Path, tmp_path: Path
) -> None:
    from eksaddon.compat import Severity
    from eksaddon.engine.status import collect_status, live_check_compat

    eks = agent_eks()
    kube = AgentKube(eks, ("node-a", "node-b"))
    profile = profile_for(ADDON, matrix_file)
    report = collect_status(
        eks, profile.matrix, cluster="prod", addon=ADDON, kube=lambda info: kube, profile=profile
    )
    side = report.node_side
    assert side is not None and side.state == "running" and side.detected is None
    assert side.workload == f"DaemonSet kube-system/{ADDON}"
    assert str(side.version) == "v2.0.0-eksbuild.3"
    assert side.rollout is not None and side.rollout.done
    compat = live_check_compat(
        eks,
        profile.matrix,
        cluster="prod",
        addon=ADDON,
        target_kubernetes=None,
        features=(),
        fail_on=Severity.ERROR,
        kube=lambda info: kube,
        profile=profile,
    )
    messages = [f.message for f in compat.findings if f.check == "node-side"]
    assert messages == [f"the nodes run v2.0.0-eksbuild.3 (from the {ADDON} image)"]


def test_render_refuses_an_addon_whose_manifests_eksaddon_does_not_ship(
    run: Callable[..., Result],
) -> None:
    result = run("render", "--addon", "coredns", "--version", "v1.11.3", "--region", "us-west-2")
    assert result.code == 2, result.err
    assert "eksaddon ships no manifests for coredns" in result.err
    assert result.out == ""


@pytest.mark.parametrize(
    ("rule", "tag", "shows"),
    [
        (ImageTagRule.ADDON_VERSION, "v1.29.7-eksbuild.5", True),
        (ImageTagRule.ADDON_VERSION, "v1.28.12-eksbuild.5", False),
        (ImageTagRule.MINIMAL_VARIANT, "v1.29.7-minimal-eksbuild.5", True),
        (ImageTagRule.MINIMAL_VARIANT, "v1.29.7-minimal-eksbuild.4", False),
        (ImageTagRule.MINIMAL_VARIANT, "latest", False),
        (ImageTagRule.UNRELATED, "v0.1.37", None),  # cannot tell: the rollout decides alone
        (None, "v1.29.7-eksbuild.5", None),
    ],
)
def test_an_image_tag_shows_the_target_only_where_its_rule_can_tell(
    rule: ImageTagRule | None, tag: str, shows: bool | None
) -> None:
    from eksaddon.addons.base import tag_shows

    workload = profile_for("kube-proxy").workloads[0]._replace(image_tag=rule)
    assert tag_shows(workload, tag, AddonVersion.parse("v1.29.7-eksbuild.5")) is shows
