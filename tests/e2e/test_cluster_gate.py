"""The cluster-upgrade gate end to end: the installed CLI against the EKS stand-in.

A 1.29 cluster with vpc-cni, kube-proxy, CoreDNS and EBS CSI at mixed versions, an ERROR insight
(a deprecated API still called), a PASSING one, and a managed node group left at 1.26: the exit
code, every finding, the phases and steps, and that the gate changed nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from addon_objects import bare_kube_proxy_daemonset

import warm_cli
from standins.catalogues import bundled_catalogue
from standins.eks_addons import StandIn
from standins.eks_upgrade import deprecated_api_insight, passing_insight
from standins.kube import KubeApiServer
from standins.server import StandInServer

GATE = ["check-compat", "--cluster", "prod", "--target-kubernetes-version", "1.30"]
ADDONS = {
    "vpc-cni": "v1.16.4-eksbuild.2",
    "kube-proxy": "v1.26.13-eksbuild.2",
    "coredns": "v1.10.1-eksbuild.7",
    "aws-ebs-csi-driver": "v1.29.1-eksbuild.1",
}


@pytest.fixture
def prod(eks_server: StandInServer) -> StandInServer:
    return seed(eks_server, ADDONS)


def seed(eks_server: StandInServer, addons: dict[str, str]) -> StandInServer:
    standin = eks_server.fresh(StandIn(catalogue=bundled_catalogue()))
    catalogue = standin.catalogue
    # What a 1.30 cluster was offered besides the table's latest (kube-proxy builds of older
    # minors stay offered, kube-proxy.yaml): the bundled matrix records only the latest for 1.30.
    catalogue.add("kube-proxy", "v1.29.7-eksbuild.5", ["1.29", "1.30"])
    catalogue.add("coredns", "v1.11.3-eksbuild.1", ["1.29", "1.30"])
    # EBS CSI builds are offered across Kubernetes versions; the matrix ties each to one.
    catalogue.add("aws-ebs-csi-driver", "v1.29.1-eksbuild.1", ["1.29", "1.30"])
    catalogue.add("aws-ebs-csi-driver", "v1.31.0-eksbuild.1", ["1.29", "1.30"])
    eks_server.create_cluster("prod", "1.29")
    for addon, version in addons.items():
        eks_server.put_addon("prod", version, addon_name=addon)
    eks_server.put_insight(
        "prod",
        deprecated_api_insight(
            "deprecated-1-30",
            "1.30",
            usage="/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
            replaced_with="/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
            stop_serving_version="1.32",
            clients=[
                {
                    "userAgent": "argocd-application-controller/v2.8.0",
                    "numberOfRequestsLast30Days": 42,
                    "lastRequestTime": "2024-09-10T07:00:00Z",
                }
            ],
        ),
    )
    eks_server.put_insight(
        "prod",
        passing_insight(
            "kubelet-skew-1-30",
            "Kubelet version skew",
            "Node kubelet versions match the cluster control plane version.",
            "1.30",
        ),
    )
    eks_server.create_nodegroup("prod", "old", "1.26")
    eks_server.create_nodegroup("prod", "current", "1.29")
    standin.reset_counters()
    return eks_server


def gate(server: StandInServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server.env()
    env.update(
        {
            "EKSADDON_STATE_DIR": str(tmp_path / "state"),
            "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
            "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        }
    )
    # A process of its own, forked from the warm CLI server (tests/warm_cli.py); stdin is ours.
    return warm_cli.run([*GATE, *args], env=env, stdin=None, timeout=120)


def by_code(findings: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["code"] == code]


def test_the_gate_on_a_mixed_1_29_cluster(prod: StandInServer, tmp_path: Path) -> None:
    result = gate(prod, tmp_path, "--skip-node-side", "-o", "json")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["schema_version"] == 2
    assert (document["cluster"], document["kubernetes_version"]) == ("prod", "1.29")
    assert document["target_kubernetes_version"] == "1.30"

    addons = {a["addon"]: a for a in document["addons"]}
    assert set(addons) == set(ADDONS)
    assert {name: a["phase"] for name, a in addons.items()} == {
        "vpc-cni": "after",
        "kube-proxy": "before",
        "coredns": "before",
        "aws-ebs-csi-driver": "after",
    }
    steps = {name: [(s["from"], s["to"]) for s in a["steps"]] for name, a in addons.items()}
    # kube-proxy v1.26 would be four minors behind a 1.30 API server: to the newest build offered
    # for both versions before, to the target's minor after.
    assert steps["kube-proxy"] == [("v1.26.13-eksbuild.2", "v1.29.7-eksbuild.5")]
    assert [s["to"] for s in addons["kube-proxy"]["after_steps"]] == ["v1.30.3-eksbuild.5"]
    assert steps["coredns"] == [("v1.10.1-eksbuild.7", "v1.11.3-eksbuild.1")]
    # vpc-cni: one minor at a time, on the target.
    assert steps["vpc-cni"] == [
        ("v1.16.4-eksbuild.2", "v1.17.1-eksbuild.1"),
        ("v1.17.1-eksbuild.1", "v1.18.3-eksbuild.3"),
    ]
    assert steps["aws-ebs-csi-driver"][-1][1] == "v1.31.0-eksbuild.1"
    for addon in addons.values():
        assert addon["type"] == "managed"
        assert addon["source"] == "EKS API (eks:DescribeAddon)"
        assert addon["catalogue_source"] == "EKS API (eks:DescribeAddonVersions)"

    findings = document["findings"]
    errors = sorted((f["code"], f["addon"]) for f in findings if f["severity"] == "error")
    assert errors == [("insight-error", None), ("node-group-behind", None)]
    (insight,) = by_code(findings, "insight-error")
    assert "deprecated-1-30" in insight["message"]
    assert "argocd-application-controller/v2.8.0 (42 calls in 30 days)" in insight["message"]
    assert "replaced by /apis/flowcontrol.apiserver.k8s.io/v1/flowschemas" in insight["message"]
    (group,) = by_code(findings, "node-group-behind")
    assert "node group old runs Kubernetes 1.26" in group["message"]
    assert "4 minors behind" in group["message"]
    assert by_code(findings, "insight-passing")[0]["severity"] == "info"
    assert by_code(findings, "kubelets-unread")[0]["severity"] == "warning"
    assert by_code(findings, "one-minor")[0]["severity"] == "info"
    warnings = {(f["code"], f["addon"]) for f in findings if f["severity"] == "warning"}
    assert ("before-control-plane", "kube-proxy") in warnings
    assert ("before-control-plane", "coredns") in warnings
    assert ("behind-latest", "vpc-cni") in warnings

    insights = {i["id"]: i for i in document["insights"]}
    assert insights["deprecated-1-30"]["status"] == "ERROR"
    assert insights["deprecated-1-30"]["last_refresh"]
    assert insights["deprecated-1-30"]["recommendation"].startswith("Update manifests")
    assert insights["kubelet-skew-1-30"]["severity"] == "info"
    groups = {g["name"]: g["kubernetes_version"] for g in document["nodes"]["groups"]}
    assert groups == {"old": "1.26", "current": "1.29"}

    calls = prod.standin.calls
    assert calls["DescribeInsight"] == 1  # the PASSING one is not described
    # One catalogue read per add-on and version; nothing was changed.
    assert calls["DescribeAddonVersions"] == len(ADDONS) * 2
    assert not any(op.startswith(("Update", "Create", "Delete")) for op in calls if calls[op])


def test_the_gate_in_junit_and_a_fleet(prod: StandInServer, tmp_path: Path) -> None:
    junit = gate(prod, tmp_path, "--skip-node-side", "-o", "junit")
    assert junit.returncode == 1
    suite = ElementTree.fromstring(junit.stdout).find("testsuite")
    assert suite is not None
    names = {case.get("name") for case in suite}
    assert set(ADDONS) <= names
    assert "Deprecated APIs removed in Kubernetes v1.30" in names
    fleet_file = tmp_path / "clusters.yaml"
    fleet_file.write_text("- name: prod\n  region: us-west-2\n- name: gone\n  region: us-west-2\n")
    env = prod.env()
    env["EKSADDON_CACHE_DIR"] = str(tmp_path / "cache")
    fleet = warm_cli.run(
        [
            "check-compat",
            "--clusters",
            str(fleet_file),
            "--target-kubernetes-version",
            "1.30",
            "-o",
            "json",
        ],
        env=env,
        stdin=None,
        timeout=120,
    )
    assert fleet.returncode == 3, fleet.stderr  # the missing cluster is the worst outcome
    document = json.loads(fleet.stdout)
    clusters = {c["cluster"]: c for c in document["clusters"]}
    assert clusters["gone"]["result"] == "error"
    report = clusters["prod"]["report"]
    assert report["schema_version"] == 2
    assert {a["addon"]: a["phase"] for a in report["addons"]}["kube-proxy"] == "before"


def test_the_gate_reads_kubelets_and_self_managed_addons_through_kubernetes(
    eks_server: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    import kubernetes.client as k8s

    from standins.kube import make_node

    # kube-proxy runs self-managed here: no EKS add-on, only its DaemonSet.
    prod = seed(eks_server, {a: v for a, v in ADDONS.items() if a != "kube-proxy"})
    prod.cluster("prod").endpoint = kube_fresh.url  # the kubeconfig names this cluster
    api = kube_fresh.shared_client()
    image = (
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.28.12-minimal-eksbuild.5"
    )
    body: Any = bare_kube_proxy_daemonset(image)  # the client sends a dict body as it is
    k8s.AppsV1Api(api).create_namespaced_daemon_set("kube-system", body)
    make_node(api, "ip-10-0-1-1", kubelet_version="v1.26.15-eks-1", labels={})
    make_node(
        api,
        "fargate-ip-10-0-2-2",
        kubelet_version="v1.29.3-eks-1",
        labels={"eks.amazonaws.com/compute-type": "fargate"},
    )
    make_node(
        api,
        "ip-10-0-3-3",
        kubelet_version="v1.29.3-eks-1",
        labels={"eks.amazonaws.com/nodegroup": "current"},
    )
    env_kube = kube_fresh.env()
    result = gate(prod, tmp_path, "--kubeconfig", env_kube["KUBECONFIG"], "-o", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    addons = {a["addon"]: a for a in document["addons"]}
    proxy = addons["kube-proxy"]
    assert proxy["type"] == "self-managed" and proxy["version"] == "v1.28.12"
    assert proxy["source"] == "Kubernetes (DaemonSet kube-system/kube-proxy image tag)"
    assert document["nodes"]["kubelet_versions"] == {
        "ip-10-0-1-1": "v1.26.15-eks-1",
        "fargate-ip-10-0-2-2": "v1.29.3-eks-1",
        "ip-10-0-3-3": "v1.29.3-eks-1",
    }
    assert document["nodes"]["fargate_nodes"] == ["fargate-ip-10-0-2-2"]
    outside = [f for f in document["findings"] if f["code"] == "kubelet-outside-skew"]
    assert len(outside) == 1 and "ip-10-0-1-1" in outside[0]["message"]
    assert outside[0]["source"] == "Kubernetes (nodes' status.nodeInfo.kubeletVersion)"
    assert not [f for f in document["findings"] if f["code"] == "kubelets-unread"]
