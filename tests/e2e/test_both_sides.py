"""A managed upgrade checked on both sides: the EKS stand-in rewrites the aws-node DaemonSet on a
real kube-apiserver as EKS would, and the installed CLI verifies the rollout on every node."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
from moto.eks.models import eks_backends

from standins.eks_addons import AddonRecord
from standins.kube import KubeApiServer, make_node, set_daemonset_status
from standins.server import StandInServer
from tests_support import daemonset, eksaddon_command

REGISTRY = "602401143452.dkr.ecr.us-west-2.amazonaws.com"
NODES = ("node-a", "node-b")


class FakeController:
    """What EKS and the DaemonSet controller do on the cluster after an update succeeds."""

    def __init__(self, kube: KubeApiServer) -> None:
        self.api = kube.client()
        self.stuck: set[str] = set()

    def images(self, tag: str) -> dict[str, str]:
        return {
            "aws-vpc-cni-init": f"{REGISTRY}/amazon-k8s-cni-init:{tag}",
            "aws-node": f"{REGISTRY}/amazon-k8s-cni:{tag}",
        }

    def start(self, tag: str, env: dict[str, str]) -> None:
        document = daemonset(tag, env=env)
        template = document["spec"]["template"]["spec"]
        for container in template["containers"] + template["initContainers"]:
            container["imagePullPolicy"] = "IfNotPresent"
        k8s.AppsV1Api(self.api).create_namespaced_daemon_set("kube-system", document)  # type: ignore[arg-type]
        for node in NODES:
            make_node(self.api, node)
        make_node(self.api, "fargate-1", labels={"eks.amazonaws.com/compute-type": "fargate"})
        self.roll(tag)

    def roll(self, tag: str) -> None:
        core = k8s.CoreV1Api(self.api)
        updated = 0
        for node in NODES:
            if node in self.stuck:
                continue
            name = f"aws-node-{node}"
            try:
                core.delete_namespaced_pod(name, "kube-system", grace_period_seconds=0)
            except k8s.exceptions.ApiException:
                pass
            images = self.images(tag)
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": {"k8s-app": "aws-node"}},
                "spec": {
                    "nodeName": node,
                    "initContainers": [
                        {"name": "aws-vpc-cni-init", "image": images["aws-vpc-cni-init"]}
                    ],
                    "containers": [{"name": "aws-node", "image": images["aws-node"]}],
                },
            }
            core.create_namespaced_pod("kube-system", pod)  # type: ignore[arg-type]
            updated += 1
        set_daemonset_status(
            self.api,
            "kube-system",
            "aws-node",
            observed_generation="current",
            desired_number_scheduled=len(NODES),
            current_number_scheduled=len(NODES),
            updated_number_scheduled=updated,
            number_available=len(NODES),
            number_ready=len(NODES),
            number_misscheduled=0,
        )

    def apply(self, record: AddonRecord) -> None:
        """EKS rewrites the DaemonSet: the build's images and the configuration's env."""
        apps = k8s.AppsV1Api(self.api)
        values: dict[str, Any] = json.loads(record.configuration_values or "{}")
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [
                            {
                                "name": "aws-vpc-cni-init",
                                "image": self.images(record.addon_version)["aws-vpc-cni-init"],
                            }
                        ],
                        "containers": [
                            {
                                "name": "aws-node",
                                "image": self.images(record.addon_version)["aws-node"],
                                "env": [
                                    {"name": k, "value": v}
                                    for k, v in values.get("env", {}).items()
                                ],
                            }
                        ],
                    }
                }
            }
        }
        apps.patch_namespaced_daemon_set(
            "aws-node",
            "kube-system",
            patch,
            _content_type="application/strategic-merge-patch+json",
        )
        self.roll(record.addon_version)


@pytest.fixture
def both(
    eks_standin: StandInServer, kube_fresh: KubeApiServer
) -> tuple[StandInServer, KubeApiServer, FakeController]:
    controller = FakeController(kube_fresh)
    eks_standin.create_cluster("prod", "1.29")
    cluster = eks_backends[eks_standin.account_id][eks_standin.region].clusters["prod"]
    cluster.endpoint = kube_fresh.url  # the kubeconfig must point at this cluster's API server
    eks_standin.put_addon("prod", "v1.16.4-eksbuild.2")
    controller.start("v1.16.4-eksbuild.2", {"WARM_IP_TARGET": "5"})
    eks_standin.standin.on_update_applied = controller.apply
    return eks_standin, kube_fresh, controller


def upgrade(
    eks: StandInServer, kube: KubeApiServer, tmp_path: Path
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
            "0.05",
            "--timeout",
            "3",
            "--kubeconfig",
            kube.kubeconfig_path,
            "--context",
            kube.context,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_every_step_is_verified_on_every_node_and_settings_survive(
    both: tuple[StandInServer, KubeApiServer, FakeController], tmp_path: Path
) -> None:
    eks, kube, _ = both
    result = upgrade(eks, kube, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "carrying settings from the nodes" in result.stderr
    assert "[1/2] aws-node rollout: 2/2 nodes updated" in result.stderr
    assert "[2/2] aws-node rollout: 2/2 nodes updated" in result.stderr
    live = k8s.AppsV1Api(kube.client()).read_namespaced_daemon_set("aws-node", "kube-system")
    container = live.spec.template.spec.containers[0]  # type: ignore[union-attr]
    assert str(container.image).endswith(":v1.18.3-eksbuild.3")
    assert {e.name: e.value for e in container.env or []}["WARM_IP_TARGET"] == "5"


def test_a_stuck_node_stops_the_run_naming_it(
    both: tuple[StandInServer, KubeApiServer, FakeController], tmp_path: Path
) -> None:
    eks, kube, controller = both
    controller.stuck.add("node-b")
    result = upgrade(eks, kube, tmp_path)
    assert result.returncode == 4, result.stderr
    assert "nodes behind: node-b" in result.stderr
    assert eks.standin.count("UpdateAddon") == 1
