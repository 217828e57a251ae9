"""``upgrade --all-addons`` on a cluster older than EKS add-ons, against the real kube-apiserver:
a self-managed aws-node (vpc-cni) and kube-proxy run as plain workloads, CoreDNS is an EKS
add-on. The run finds the self-managed ones through Kubernetes (the gate's detection), carries
vpc-cni through its manifests (backup, settings, rollout on every node) and shows kube-proxy as
"not carried" with the command that makes it an EKS add-on, and exits 0.
"""

from __future__ import annotations

import json

from addon_objects import bare_kube_proxy_daemonset

from e2e.selfmanaged import SelfManagedCluster
from eksaddon.nodeside.detect import Customization
from standins.catalogues import bundled_catalogue
from standins.eks_addons import StandIn

SETTINGS = (
    Customization("aws-node", "WARM_IP_TARGET", "5", None),
    Customization("aws-node", "ENABLE_PREFIX_DELEGATION", "true", "false"),
)
PROXY_IMAGE = (
    "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.29.0-minimal-eksbuild.1"
)


def all_addons(cluster: SelfManagedCluster, *extra: str) -> tuple[str, ...]:
    return (
        "upgrade",
        "--cluster",
        "prod",
        "--all-addons",
        "--yes",
        "--poll-interval",
        "0.1",
        "--timeout",
        "10",
        *cluster.kube_args(),
        *extra,
    )


def mixed_cluster(self_managed: SelfManagedCluster, aws_node: str) -> SelfManagedCluster:
    """1.29: aws-node at ``aws_node`` and kube-proxy self-managed, CoreDNS the EKS add-on at its
    latest build."""
    standin = self_managed.eks.fresh(StandIn(catalogue=bundled_catalogue()))
    standin.catalogue.add("coredns", "v1.11.3-eksbuild.1", ["1.29"])
    cluster = self_managed.create("1.29")
    cluster.install(aws_node, SETTINGS)
    cluster.gateway.apply(bare_kube_proxy_daemonset(PROXY_IMAGE))
    cluster.eks.put_addon("prod", "v1.11.3-eksbuild.1", addon_name="coredns")
    return cluster


def test_all_addons_carries_a_self_managed_aws_node_and_names_kube_proxy_not_carried(
    self_managed: SelfManagedCluster,
) -> None:
    cluster = mixed_cluster(self_managed, "v1.17.1")

    plan = cluster.in_process(*all_addons(cluster, "--dry-run", "--progress", "none"))
    assert plan.code == 0, plan.err
    lines = plan.out.splitlines()
    assert any(
        line.split()[:2] == ["vpc-cni", "planned"] and line.endswith("(self-managed)")
        for line in lines
    ), plan.out
    assert any(
        line.split()[:4] == ["kube-proxy", "self-managed:", "not", "carried"] for line in lines
    )
    assert "`eksaddon migrate --cluster prod --addon kube-proxy`" in plan.out
    assert cluster.containers()["aws-node"]["image"].endswith("amazon-k8s-cni:v1.17.1")

    with cluster.controller() as controller:
        result = cluster.in_process(*all_addons(cluster, "-o", "json"), controller=controller)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    addons = {a["addon"]: a for a in document["addons"]}
    assert [a["addon"] for a in document["addons"]] == ["vpc-cni", "kube-proxy", "coredns"]
    assert addons["vpc-cni"]["state"] == "upgraded" and addons["vpc-cni"]["self_managed"]
    # The latest self-managed release for 1.29 is the release of EKS's latest build (AWS's advice).
    assert addons["vpc-cni"]["version"] == "v1.18.3"
    assert addons["kube-proxy"]["state"] == "not carried"
    assert "eksaddon migrate --cluster prod --addon kube-proxy" in addons["kube-proxy"]["next_step"]
    assert addons["coredns"]["state"] == "up to date" and not addons["coredns"]["self_managed"]
    assert document["self_managed_unknown"] is None
    # vpc-cni through its manifests: rolled out on every node, settings kept, a backup first.
    assert "aws-node rollout: 2/2 nodes updated" in result.err
    assert "kube-proxy is not carried" in result.err
    running = cluster.containers()["aws-node"]
    assert running["image"].endswith("amazon-k8s-cni:v1.18.3")
    env = {e["name"]: e.get("value") for e in running["env"]}
    assert all(env[s.name] == s.value for s in SETTINGS)
    assert list((cluster.state / "backups").glob("*_objects.json"))
    # kube-proxy was left as it ran; EKS was asked to update nothing.
    proxy = cluster.gateway.read_daemonset("kube-system", "kube-proxy")
    assert proxy is not None
    assert proxy["spec"]["template"]["spec"]["containers"][0]["image"] == PROXY_IMAGE
    assert cluster.eks.standin.count("UpdateAddon") == 0


def test_a_self_managed_aws_node_newer_than_latest_is_never_downgraded(
    self_managed: SelfManagedCluster,
) -> None:
    cluster = mixed_cluster(self_managed, "v1.22.4")
    plan = cluster.in_process(*all_addons(cluster, "--dry-run", "-o", "json"))
    assert plan.code == 0, plan.err
    states = {a["addon"]: a["state"] for a in json.loads(plan.out)["addons"]}
    assert states == {"vpc-cni": "up to date", "kube-proxy": "not carried", "coredns": "up to date"}
    assert "vpc-cni runs v1.22.4, newer than the latest v1.18.3" in plan.err
    assert "never downgraded" in plan.err
    assert "DaemonSet changes" not in plan.err  # the downgrade's plan is never shown
