"""A Helm-installed self-managed VPC CNI on a real kube-apiserver, through the installed CLI:
`status` names the release, `upgrade` refuses to apply manifests over it (exit 2, the DaemonSet
untouched) and prints the `helm upgrade` steps, and `--take-over-from-helm` upgrades it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from moto.eks.models import eks_backends

from eksaddon.gateways.kube import KubeGateway
from eksaddon.nodeside.detect import Customization
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion
from standins.controller import DaemonSetController
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer
from tests_support import eksaddon_command

NODES = ("node-a", "node-b")
SETTINGS = (Customization("aws-node", "WARM_IP_TARGET", "5", None),)
HELM_LABELS = {
    "app.kubernetes.io/managed-by": "Helm",
    "helm.sh/chart": "aws-vpc-cni-1.2.8",
}
HELM_ANNOTATIONS = {
    "meta.helm.sh/release-name": "aws-vpc-cni",
    "meta.helm.sh/release-namespace": "kube-system",
}


@pytest.fixture
def cluster(
    eks_standin: StandInServer, kube_fresh: KubeApiServer
) -> tuple[StandInServer, KubeApiServer]:
    """v1.12.6 as `helm install` leaves it: the manifest's objects with Helm's marks."""
    eks_standin.create_cluster("prod", "1.29")
    eks_backends[eks_standin.account_id][eks_standin.region].clusters[
        "prod"
    ].endpoint = kube_fresh.url
    api = kube_fresh.client()
    for node in NODES:
        make_node(api, node)
    kube = KubeGateway(kubeconfig=kube_fresh.kubeconfig_path, context=kube_fresh.context)
    for document in render(AddonVersion.parse("v1.12.6"), "us-west-2", customizations=SETTINGS):
        metadata = document["metadata"]
        metadata.setdefault("labels", {}).update(HELM_LABELS)
        metadata.setdefault("annotations", {}).update(HELM_ANNOTATIONS)
        kube.apply(document)
    return eks_standin, kube_fresh


def eksaddon(
    eks: StandInServer, kube: KubeApiServer, tmp_path: Path, *args: str
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
            *args,
            "--cluster",
            "prod",
            "--kubeconfig",
            kube.kubeconfig_path,
            "--context",
            kube.context,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def daemonset(kube: KubeApiServer) -> dict[str, Any]:
    found = KubeGateway(kubeconfig=kube.kubeconfig_path, context=kube.context).read_daemonset(
        "kube-system", "aws-node"
    )
    assert found is not None
    return found


def test_status_names_the_helm_release(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    result = eksaddon(eks, kube, tmp_path, "status", "-o", "json")
    assert result.returncode == 0, result.stderr
    detected = json.loads(result.stdout)["node_side"]["detected"]
    assert detected["type"] == "self-managed"  # DescribeAddon finds no EKS add-on
    assert detected["helm"]["name"] == "aws-vpc-cni"
    assert detected["helm"]["namespace"] == "kube-system"
    assert detected["helm"]["chart_version"] == "1.2.8"
    table = eksaddon(eks, kube, tmp_path, "status")
    assert "Helm release aws-vpc-cni in namespace kube-system (chart aws-vpc-cni-1.2.8)" in (
        table.stdout
    )


def test_upgrade_refuses_to_apply_over_a_helm_release_then_takes_it_over(
    cluster: tuple[StandInServer, KubeApiServer], tmp_path: Path
) -> None:
    eks, kube = cluster
    before = daemonset(kube)["metadata"]["generation"]
    upgrade = ("upgrade", "--yes", "--poll-interval", "0.1", "--timeout", "10", "--to", "v1.13.4")
    refused = eksaddon(eks, kube, tmp_path, *upgrade)
    assert refused.returncode == 2, refused.stderr
    assert "--take-over-from-helm" in refused.stderr
    assert "helm upgrade aws-vpc-cni eks/aws-vpc-cni --namespace kube-system" in refused.stderr
    assert "eksaddon render --helm-values --version v1.13.4" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert daemonset(kube)["metadata"]["generation"] == before
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.json"))

    with DaemonSetController(kube.client(), NODES):
        taken = eksaddon(eks, kube, tmp_path, *upgrade, "--take-over-from-helm")
    assert taken.returncode == 0, taken.stderr
    assert "owner=helm,name=aws-vpc-cni" in taken.stderr
    live = daemonset(kube)
    aws_node = live["spec"]["template"]["spec"]["containers"][0]
    assert aws_node["image"].endswith(":v1.13.4")
    assert {"name": "WARM_IP_TARGET", "value": "5"} in aws_node["env"]
