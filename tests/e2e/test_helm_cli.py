"""A Helm-installed self-managed VPC CNI on a real kube-apiserver, through the installed CLI:
`status` names the release, `upgrade` refuses to apply manifests over it (exit 2, the DaemonSet
untouched) and prints the `helm upgrade` steps, and `--take-over-from-helm` upgrades it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.selfmanaged import SelfManagedCluster
from eksaddon.nodeside.detect import Customization

SETTINGS = (Customization("aws-node", "WARM_IP_TARGET", "5", None),)
HELM_LABELS = {
    "app.kubernetes.io/managed-by": "Helm",
    "helm.sh/chart": "aws-vpc-cni-1.2.8",
}
HELM_ANNOTATIONS = {
    "meta.helm.sh/release-name": "aws-vpc-cni",
    "meta.helm.sh/release-namespace": "kube-system",
}
UPGRADE = ("upgrade", "--yes", "--poll-interval", "0.1", "--timeout", "10", "--to", "v1.13.4")


def helm_marks(document: dict[str, Any]) -> None:
    metadata = document["metadata"]
    metadata.setdefault("labels", {}).update(HELM_LABELS)
    metadata.setdefault("annotations", {}).update(HELM_ANNOTATIONS)


@pytest.fixture
def cluster(self_managed: SelfManagedCluster) -> SelfManagedCluster:
    """v1.12.6 as `helm install` leaves it: the manifest's objects with Helm's marks."""
    self_managed.create("1.29").install("v1.12.6", SETTINGS, mark=helm_marks)
    return self_managed


def on(cluster: SelfManagedCluster, *args: str) -> tuple[str, ...]:
    return (*args, "--cluster", "prod", *cluster.kube_args())


def test_status_names_the_helm_release(cluster: SelfManagedCluster) -> None:
    # The installed CLI, in a subprocess.
    result = cluster.installed(*on(cluster, "status", "-o", "json"))
    assert result.returncode == 0, result.stderr
    detected = json.loads(result.stdout)["node_side"]["detected"]
    assert detected["type"] == "self-managed"  # DescribeAddon finds no EKS add-on
    assert detected["helm"]["name"] == "aws-vpc-cni"
    assert detected["helm"]["namespace"] == "kube-system"
    assert detected["helm"]["chart_version"] == "1.2.8"
    table = cluster.in_process(*on(cluster, "status"))
    assert "Helm release aws-vpc-cni in namespace kube-system (chart aws-vpc-cni-1.2.8)" in (
        table.out
    )


def test_upgrade_refuses_to_apply_over_a_helm_release_then_takes_it_over(
    cluster: SelfManagedCluster,
) -> None:
    before = cluster.daemonset()["metadata"]["generation"]
    refused = cluster.installed(*on(cluster, *UPGRADE))
    assert refused.returncode == 2, refused.stderr
    assert "--take-over-from-helm" in refused.stderr
    assert "helm upgrade aws-vpc-cni eks/aws-vpc-cni --namespace kube-system" in refused.stderr
    assert "eksaddon render --helm-values --version v1.13.4" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cluster.daemonset()["metadata"]["generation"] == before
    assert not cluster.state.exists() or not list(cluster.state.rglob("*.json"))

    with cluster.controller() as controller:
        taken = cluster.in_process(
            *on(cluster, *UPGRADE, "--take-over-from-helm"), controller=controller
        )
    assert taken.code == 0, taken.err
    assert "owner=helm,name=aws-vpc-cni" in taken.err
    aws_node = cluster.daemonset()["spec"]["template"]["spec"]["containers"][0]
    assert aws_node["image"].endswith(":v1.13.4")
    assert {"name": "WARM_IP_TARGET", "value": "5"} in aws_node["env"]
