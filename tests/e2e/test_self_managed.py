"""A self-managed VPC CNI upgraded v1.12 → v1.18 → v1.23 on a real kube-apiserver: every step
rendered, applied, rolled out on every node, and no custom setting lost.

The first test runs the installed CLI in a subprocess (the script, its environment and exit code
as a user gets them); the others run the same entry point in-process on the fast clock, where
the polls and the step timeouts a stuck node runs into cost no real time (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.selfmanaged import SelfManagedCluster
from eksaddon.nodeside.detect import Customization
from eksaddon.versions import AddonVersion
from standins.eks_addons import AddonRecord
from tests_support import Result

SETTINGS = (
    Customization("aws-node", "WARM_IP_TARGET", "5", None),
    Customization("aws-node", "MINIMUM_IP_TARGET", "10", None),
    Customization("aws-node", "ENABLE_PREFIX_DELEGATION", "true", "false"),
    Customization("aws-node", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "true", "false"),
)
AGENT_FLAG = Customization(
    "aws-eks-nodeagent", "--enable-policy-event-logs", "true", "false", "arg"
)


def upgrade(cluster: SelfManagedCluster, *extra: str) -> tuple[str, ...]:
    return (
        "upgrade",
        "--cluster",
        "prod",
        "--yes",
        "--poll-interval",
        "0.1",
        "--timeout",
        "10",
        *cluster.kube_args(),
        *extra,
    )


@pytest.fixture
def cluster(self_managed: SelfManagedCluster) -> SelfManagedCluster:
    """v1.12.6 with the custom settings, on two nodes."""
    self_managed.create("1.29").install("v1.12.6", SETTINGS)
    return self_managed


def test_v1_12_to_v1_18_keeps_every_setting(cluster: SelfManagedCluster) -> None:
    # The installed CLI, in a subprocess, on real time.
    with cluster.controller():
        result = cluster.installed(*upgrade(cluster, "--to", "v1.18.3"))
    assert result.returncode == 0, result.stderr
    assert "[6/6] aws-node rollout: 2/2 nodes updated" in result.stderr
    aws_node = cluster.containers()["aws-node"]
    assert aws_node["image"].endswith("amazon-k8s-cni:v1.18.3")
    env = {e["name"]: e.get("value") for e in aws_node["env"]}
    for setting in SETTINGS:
        assert env[setting.name] == setting.value
    backups = list((cluster.state / "backups").glob("*_objects.json"))
    assert len(backups) == 1
    kinds = {o["kind"] for o in json.loads(backups[0].read_text())["objects"]}
    assert {"DaemonSet", "ClusterRole", "ServiceAccount"} <= kinds
    # A self-managed add-on never touches the EKS API.
    assert cluster.eks.standin.count("UpdateAddon") == 0


def test_a_stuck_node_stops_the_self_managed_upgrade(cluster: SelfManagedCluster) -> None:
    with cluster.controller() as controller:
        controller.stuck.add("node-b")
        result = cluster.in_process(
            *upgrade(cluster, "--to", "v1.13.4", "--timeout", "2"), controller=controller
        )
    assert result.code == 4, result.err
    assert "nodes behind: node-b" in result.err


def test_a_node_agent_flag_survives_v1_15_to_v1_18(self_managed: SelfManagedCluster) -> None:
    cluster = self_managed.create("1.29")
    cluster.install("v1.15.5", (*SETTINGS, AGENT_FLAG))
    with cluster.controller() as controller:
        result = cluster.in_process(*upgrade(cluster, "--to", "v1.18.3"), controller=controller)
    assert result.code == 0, result.err
    agent = cluster.containers()["aws-eks-nodeagent"]
    assert "--enable-policy-event-logs=true" in agent["args"]
    assert agent["image"].endswith(":v1.1.2")  # v1.18.3's node agent


def test_v1_18_to_v1_23_carries_every_setting_to_the_newest_release(
    self_managed: SelfManagedCluster,
) -> None:
    cluster = self_managed.create("1.30")
    cluster.install("v1.18.3", (*SETTINGS, AGENT_FLAG))
    with cluster.controller() as controller:
        result = cluster.in_process(*upgrade(cluster, "--to", "v1.23.0"), controller=controller)
    assert result.code == 0, result.err
    # One minor per step, the newest release of each: v1.22.0 (upstream's copy of v1.21.1) is
    # never a step.
    for number, release in enumerate(("v1.19.6", "v1.20.5", "v1.21.2", "v1.22.4", "v1.23.0"), 1):
        assert f"[{number}/5] applied the {release} manifest" in result.err
    assert "[5/5] aws-node rollout: 2/2 nodes updated" in result.err
    running = cluster.containers()
    assert running["aws-node"]["image"].endswith("amazon-k8s-cni:v1.23.0")
    assert running["aws-eks-nodeagent"]["image"].endswith(":v1.4.1")  # v1.23.0's node agent
    env = {e["name"]: e.get("value") for e in running["aws-node"]["env"]}
    for setting in SETTINGS:
        assert env[setting.name] == setting.value
    assert env["VPC_CNI_VERSION"] == "v1.23.0"
    assert "--enable-policy-event-logs=true" in running["aws-eks-nodeagent"]["args"]
    assert "--conntrack-cache-table-size=524288" in running["aws-eks-nodeagent"]["args"]
    probe = running["aws-node"]["livenessProbe"]["exec"]["command"]
    assert "-addr=unix:///var/run/aws-node/ipamd.sock" in probe


def test_migration_to_the_eks_addon_changes_no_setting(cluster: SelfManagedCluster) -> None:
    # Start from the self-managed release EKS also offers as a build.
    cluster.install("v1.16.4", SETTINGS)

    def eks_takes_over(record: AddonRecord) -> None:
        # EKS applies its build's images and the configuration values' env to the DaemonSet.
        values = json.loads(record.configuration_values or "{}")
        build = AddonVersion.parse(record.addon_version)
        custom = [Customization("aws-node", k, v, None) for k, v in values.get("env", {}).items()]

        def eks_images(document: dict[str, Any]) -> None:
            if document["kind"] != "DaemonSet":
                return
            pod = document["spec"]["template"]["spec"]
            for container in pod["containers"] + pod["initContainers"]:
                container["image"] = container["image"].replace(f":{build.release}", f":{build}")

        cluster.install(str(build.release), custom, mark=eks_images, only=("DaemonSet",))

    cluster.eks.standin.on_update_applied = eks_takes_over
    with cluster.controller() as controller:
        result = cluster.in_process(
            "migrate",
            "--cluster",
            "prod",
            "--yes",
            "--resolve-conflicts",
            "overwrite",
            "--poll-interval",
            "0.1",
            "--timeout",
            "10",
            *cluster.kube_args(),
            "-o",
            "json",
            controller=controller,
        )
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["version"] == "v1.16.4-eksbuild.2"
    assert json.loads(document["configuration_values"])["env"] == {
        s.name: s.value for s in SETTINGS
    }
    assert "no setting changed" in result.err


def test_dry_run_shows_each_steps_diff(cluster: SelfManagedCluster) -> None:
    result: Result = cluster.in_process(*upgrade(cluster, "--to", "v1.14.1", "--dry-run"))
    assert result.code == 0, result.err
    assert "[1/2] DaemonSet changes:" in result.err
    assert "-    image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.12.6" in (
        result.err
    )
    assert "+    image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.13.4" in (
        result.err
    )
    assert "aws-eks-nodeagent" in result.err  # v1.14 adds the node agent
    assert cluster.containers()["aws-node"]["image"].endswith(":v1.12.6")


def test_a_rerun_resumes_without_applying_a_step_again(cluster: SelfManagedCluster) -> None:
    with cluster.controller() as controller:
        controller.stuck.add("node-b")
        stopped = cluster.in_process(
            *upgrade(cluster, "--to", "v1.14.1", "--timeout", "2"), controller=controller
        )
        assert stopped.code == 4, stopped.err
        assert "[1/2] applied the v1.13.4 manifest" in stopped.err
        controller.stuck.clear()
        controller.reconcile_all = True
        resumed = cluster.in_process(*upgrade(cluster, "--to", "v1.14.1"), controller=controller)
    assert resumed.code == 0, resumed.err
    assert "resuming:" in resumed.err
    assert "applied the v1.13.4 manifest" not in resumed.err  # step 1 was applied already
    assert "[2/2] applied the v1.14.1 manifest" in resumed.err
