"""A self-managed VPC CNI upgraded v1.12 → v1.18 → v1.23 with the installed CLI on a real
kube-apiserver: every step rendered, applied, rolled out on every node, and no custom setting lost."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from moto.eks.models import eks_backends

from eksaddon.gateways.kube import KubeGateway
from eksaddon.nodeside.detect import Customization
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion
from standins.controller import DaemonSetController
from standins.eks_addons import AddonRecord
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer
from tests_support import eksaddon_command

NODES = ("node-a", "node-b")
SETTINGS = (
    Customization("aws-node", "WARM_IP_TARGET", "5", None),
    Customization("aws-node", "MINIMUM_IP_TARGET", "10", None),
    Customization("aws-node", "ENABLE_PREFIX_DELEGATION", "true", "false"),
    Customization("aws-node", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "true", "false"),
)


@pytest.fixture
def cluster(
    eks_standin: StandInServer, kube_fresh: KubeApiServer
) -> tuple[StandInServer, KubeApiServer]:
    eks_standin.create_cluster("prod", "1.29")
    eks_backends[eks_standin.account_id][eks_standin.region].clusters[
        "prod"
    ].endpoint = kube_fresh.url
    api = kube_fresh.client()
    for node in NODES:
        make_node(api, node)
    kube = KubeGateway(kubeconfig=kube_fresh.kubeconfig_path, context=kube_fresh.context)
    for document in render(AddonVersion.parse("v1.12.6"), "us-west-2", customizations=SETTINGS):
        kube.apply(document)
    return eks_standin, kube_fresh


def run(
    eks: StandInServer, kube: KubeApiServer, tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **eks.env(),
        **kube.env(),
        "EKSADDON_STATE_DIR": str(tmp_path / "state"),
        "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [
            *eksaddon_command(),
            "upgrade",
            "--cluster",
            "prod",
            "--yes",
            "--poll-interval",
            "0.1",
            "--timeout",
            "10",
            "--kubeconfig",
            kube.kubeconfig_path,
            "--context",
            kube.context,
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_v1_12_to_v1_18_keeps_every_setting(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    with DaemonSetController(kube.client(), NODES):
        result = run(eks, kube, tmp_path, "--to", "v1.18.3")
    assert result.returncode == 0, result.stderr
    assert "[6/6] aws-node rollout: 2/2 nodes updated" in result.stderr
    gateway = KubeGateway(kubeconfig=kube.kubeconfig_path, context=kube.context)
    live = gateway.read_daemonset("kube-system", "aws-node")
    assert live is not None
    aws_node = next(
        c for c in live["spec"]["template"]["spec"]["containers"] if c["name"] == "aws-node"
    )
    assert aws_node["image"].endswith("amazon-k8s-cni:v1.18.3")
    env = {e["name"]: e.get("value") for e in aws_node["env"]}
    for setting in SETTINGS:
        assert env[setting.name] == setting.value
    backups = list((tmp_path / "state" / "backups").glob("*_objects.json"))
    assert len(backups) == 1
    kinds = {o["kind"] for o in json.loads(backups[0].read_text())["objects"]}
    assert {"DaemonSet", "ClusterRole", "ServiceAccount"} <= kinds
    assert eks.standin.count("UpdateAddon") == 0  # a self-managed add-on never touches the EKS API


def test_a_stuck_node_stops_the_self_managed_upgrade(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    with DaemonSetController(kube.client(), NODES) as controller:
        controller.stuck.add("node-b")
        result = run(eks, kube, tmp_path, "--to", "v1.13.4", "--timeout", "2")
    assert result.returncode == 4, result.stderr
    assert "nodes behind: node-b" in result.stderr


def test_a_node_agent_flag_survives_v1_15_to_v1_18(
    eks_standin: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    eks_standin.create_cluster("prod", "1.29")
    eks_backends[eks_standin.account_id][eks_standin.region].clusters[
        "prod"
    ].endpoint = kube_fresh.url
    api = kube_fresh.client()
    for node in NODES:
        make_node(api, node)
    flag = Customization("aws-eks-nodeagent", "--enable-policy-event-logs", "true", "false", "arg")
    kube = KubeGateway(kubeconfig=kube_fresh.kubeconfig_path, context=kube_fresh.context)
    for document in render(
        AddonVersion.parse("v1.15.5"), "us-west-2", customizations=(*SETTINGS, flag)
    ):
        kube.apply(document)
    with DaemonSetController(kube_fresh.client(), NODES):
        result = run(eks_standin, kube_fresh, tmp_path, "--to", "v1.18.3")
    assert result.returncode == 0, result.stderr
    live = kube.read_daemonset("kube-system", "aws-node")
    assert live is not None
    agent = next(
        c
        for c in live["spec"]["template"]["spec"]["containers"]
        if c["name"] == "aws-eks-nodeagent"
    )
    assert "--enable-policy-event-logs=true" in agent["args"]
    assert agent["image"].endswith(":v1.1.2")  # v1.18.3's node agent


def test_v1_18_to_v1_23_carries_every_setting_to_the_newest_release(
    eks_standin: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    eks_standin.create_cluster("prod", "1.30")
    eks_backends[eks_standin.account_id][eks_standin.region].clusters[
        "prod"
    ].endpoint = kube_fresh.url
    api = kube_fresh.client()
    for node in NODES:
        make_node(api, node)
    flag = Customization("aws-eks-nodeagent", "--enable-policy-event-logs", "true", "false", "arg")
    kube = KubeGateway(kubeconfig=kube_fresh.kubeconfig_path, context=kube_fresh.context)
    for document in render(
        AddonVersion.parse("v1.18.3"), "us-west-2", customizations=(*SETTINGS, flag)
    ):
        kube.apply(document)
    with DaemonSetController(kube_fresh.client(), NODES):
        result = run(eks_standin, kube_fresh, tmp_path, "--to", "v1.23.0")
    assert result.returncode == 0, result.stderr
    # One minor per step, the newest release of each: v1.22.0 (upstream's copy of v1.21.1) is
    # never a step.
    for number, release in enumerate(("v1.19.6", "v1.20.5", "v1.21.2", "v1.22.4", "v1.23.0"), 1):
        assert f"[{number}/5] applied the {release} manifest" in result.stderr
    assert "[5/5] aws-node rollout: 2/2 nodes updated" in result.stderr
    live = kube.read_daemonset("kube-system", "aws-node")
    assert live is not None
    running = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
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


def test_migration_to_the_eks_addon_changes_no_setting(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    gateway = KubeGateway(kubeconfig=kube.kubeconfig_path, context=kube.context)
    # Start from the self-managed release EKS also offers as a build.
    for document in render(AddonVersion.parse("v1.16.4"), "us-west-2", customizations=SETTINGS):
        gateway.apply(document)

    def eks_takes_over(record: AddonRecord) -> None:
        # EKS applies its build's images and the configuration values' env to the DaemonSet.
        values = json.loads(record.configuration_values or "{}")
        build = AddonVersion.parse(record.addon_version)
        custom = [Customization("aws-node", k, v, None) for k, v in values.get("env", {}).items()]
        for document in render(build.release, "us-west-2", customizations=custom):
            if document["kind"] == "DaemonSet":
                for container in (
                    document["spec"]["template"]["spec"]["containers"]
                    + document["spec"]["template"]["spec"]["initContainers"]
                ):
                    container["image"] = container["image"].replace(
                        f":{build.release}", f":{build}"
                    )
                gateway.apply(document)

    eks.standin.on_update_applied = eks_takes_over
    env = {
        **eks.env(),
        **kube.env(),
        "EKSADDON_STATE_DIR": str(tmp_path / "state"),
        "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
    }
    with DaemonSetController(kube.client(), NODES):
        result = subprocess.run(
            [
                *eksaddon_command(),
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
                "--kubeconfig",
                kube.kubeconfig_path,
                "--context",
                kube.context,
                "-o",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == "v1.16.4-eksbuild.2"
    assert json.loads(document["configuration_values"])["env"] == {
        s.name: s.value for s in SETTINGS
    }
    assert "no setting changed" in result.stderr


def test_dry_run_shows_each_steps_diff(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    result = run(eks, kube, tmp_path, "--to", "v1.14.1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "[1/2] DaemonSet changes:" in result.stderr
    assert "-    image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.12.6" in (
        result.stderr
    )
    assert "+    image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.13.4" in (
        result.stderr
    )
    assert "aws-eks-nodeagent" in result.stderr  # v1.14 adds the node agent
    live = KubeGateway(kubeconfig=kube.kubeconfig_path, context=kube.context).read_daemonset(
        "kube-system", "aws-node"
    )
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.12.6")


def test_a_rerun_resumes_without_applying_a_step_again(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    with DaemonSetController(kube.client(), NODES) as controller:
        controller.stuck.add("node-b")
        stopped = run(eks, kube, tmp_path, "--to", "v1.14.1", "--timeout", "2")
        assert stopped.returncode == 4, stopped.stderr
        assert "[1/2] applied the v1.13.4 manifest" in stopped.stderr
        controller.stuck.clear()
        controller.reconcile_all = True
        resumed = run(eks, kube, tmp_path, "--to", "v1.14.1")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming:" in resumed.stderr
    assert "applied the v1.13.4 manifest" not in resumed.stderr  # step 1 was applied already
    assert "[2/2] applied the v1.14.1 manifest" in resumed.stderr
