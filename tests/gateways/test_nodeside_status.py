"""Reading the node side from a real kube-apiserver: version, settings, registry, rollout, other CNIs."""

from __future__ import annotations

from typing import Any

import kubernetes.client as k8s

from eksaddon.engine.nodeside_status import read_node_side
from eksaddon.gateways.kube import KubeGateway
from eksaddon.matrix import AddonType, Matrix
from eksaddon.versions import AddonVersion
from standins.kube import KubeApiServer, make_node, make_pod
from tests_support import daemonset

REGISTRY = "602401143452.dkr.ecr.us-east-1.amazonaws.com"


def create(server: KubeApiServer, document: dict[str, Any]) -> None:
    template = document["spec"]["template"]["spec"]
    for container in template["containers"] + template.get("initContainers", []):
        container.setdefault("imagePullPolicy", "IfNotPresent")
    namespace = document["metadata"].get("namespace", "kube-system")
    k8s.AppsV1Api(server.client()).create_namespaced_daemon_set(
        namespace,
        document,  # type: ignore[arg-type]
    )


def gateway(server: KubeApiServer) -> KubeGateway:
    return KubeGateway(kubeconfig=server.kubeconfig_path, context=server.context)


def test_a_running_vpc_cni(kube_fresh: KubeApiServer, bundled: Matrix) -> None:
    document = daemonset(
        "v1.18.3-eksbuild.3", env={"WARM_IP_TARGET": "5"}, registry=REGISTRY, managers=None
    )
    create(kube_fresh, document)
    api = kube_fresh.client()
    for name in ("node-a", "node-b"):
        make_node(api, name)
    make_node(api, "fargate-1", labels={"eks.amazonaws.com/compute-type": "fargate"})
    make_pod(
        api,
        "kube-system",
        "aws-node-a",
        labels={"k8s-app": "aws-node"},
        node_name="node-a",
        image=f"{REGISTRY}/amazon-k8s-cni:v1.18.3-eksbuild.3",
    )
    side = read_node_side(gateway(kube_fresh), bundled, region="us-west-2", eks_managed=True)
    assert side.state == "running"
    assert side.detected is not None
    assert side.detected.version == AddonVersion.parse("v1.18.3-eksbuild.3")
    assert side.detected.addon_type is AddonType.MANAGED
    assert [c.name for c in side.detected.customizations] == ["WARM_IP_TARGET"]
    assert side.fargate_nodes == ("fargate-1",)
    assert side.rollout is not None and "node-b" in side.rollout.behind
    assert any(
        "not us-west-2's registry 602401143452.dkr.ecr.us-west-2.amazonaws.com" in f
        for f in side.findings
    )


def test_another_cni_replaced_it(kube_fresh: KubeApiServer, bundled: Matrix) -> None:
    cilium = daemonset("v1.15.0", registry="quay.io/cilium")
    cilium["metadata"]["name"] = "cilium"
    cilium["spec"]["template"]["spec"]["containers"][0]["name"] = "cilium-agent"
    create(kube_fresh, cilium)
    side = read_node_side(gateway(kube_fresh), bundled, region="us-west-2", eks_managed=False)
    assert (side.state, side.other_cni, side.detected) == ("replaced", "Cilium", None)


def test_no_cni_daemonset_at_all(kube_fresh: KubeApiServer, bundled: Matrix) -> None:
    side = read_node_side(gateway(kube_fresh), bundled, region="us-west-2", eks_managed=False)
    assert (side.state, side.other_cni) == ("absent", None)


def test_status_reads_the_node_side_of_the_same_cluster_only(
    kube_fresh: KubeApiServer, bundled: Matrix
) -> None:
    from eksaddon.engine.rollout_check import ensure_same_cluster
    from eksaddon.engine.status import collect_status
    from eksaddon.gateways.protocols import ClusterInfo
    from fakes import FakeEks

    create(kube_fresh, daemonset("v1.16.4-eksbuild.2"))

    def connect(cluster: ClusterInfo) -> KubeGateway:
        kube = gateway(kube_fresh)
        ensure_same_cluster(kube.host, cluster)
        return kube

    eks = FakeEks(version="v1.16.4-eksbuild.2")
    eks.endpoint = kube_fresh.url
    report = collect_status(eks, bundled, cluster="prod", addon="vpc-cni", kube=connect)
    assert report.node_side is not None
    assert report.node_side.detected is not None
    assert str(report.node_side.detected.version) == "v1.16.4-eksbuild.2"
    eks.endpoint = "https://another-cluster.example"
    elsewhere = collect_status(eks, bundled, cluster="prod", addon="vpc-cni", kube=connect)
    assert elsewhere.node_side is None
    assert elsewhere.node_side_note is not None
    assert "not at cluster prod's API server https://another-cluster.example" in (
        elsewhere.node_side_note
    )


def test_live_check_compat_adds_the_node_side(kube_fresh: KubeApiServer, bundled: Matrix) -> None:
    from eksaddon.compat import Severity
    from eksaddon.engine.status import live_check_compat
    from eksaddon.gateways.protocols import ClusterInfo
    from fakes import FakeEks

    create(kube_fresh, daemonset("v1.16.4-eksbuild.2", env={"WARM_IP_TARGET": "5"}))

    def connect(cluster: ClusterInfo) -> KubeGateway:
        return gateway(kube_fresh)

    eks = FakeEks(version="v1.17.1-eksbuild.1")  # EKS says v1.17; the nodes still run v1.16
    report = live_check_compat(
        eks,
        bundled,
        cluster="prod",
        addon="vpc-cni",
        target_kubernetes=None,
        features=(),
        fail_on=Severity.ERROR,
        kube=connect,
    )
    codes = {f.code: f for f in report.findings if f.check == "node-side"}
    assert (
        codes["nodes-run"].message == "the nodes run v1.16.4-eksbuild.2 (from the aws-node image)"
    )
    assert codes["version-drift"].severity is Severity.WARNING
    assert "WARM_IP_TARGET" in codes["customizations"].message
    assert "node-side" in report.checks
