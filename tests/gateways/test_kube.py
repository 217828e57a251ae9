"""The Kubernetes gateway against a real kube-apiserver (tests/standins/kube.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml

from eksaddon.errors import (
    EnvironmentProblemError,
    InputError,
    KubernetesForbiddenError,
    KubernetesServerError,
    KubernetesUnreachableError,
)
from eksaddon.gateways.kube import ATTEMPTS, FIRST_BACKOFF, KubeGateway
from eksaddon.nodeside.rollout import assess
from standins.faultproxy import FaultProxy, Rule, fault_proxy
from standins.kube import KubeApiServer, make_node, make_pod, set_daemonset_status
from tests_support import daemonset

NEW = "v1.18.3-eksbuild.3"


def gateway(server: KubeApiServer, context: str | None = None) -> KubeGateway:
    return KubeGateway(kubeconfig=server.kubeconfig_path, context=context or server.context)


def create_daemonset(server: KubeApiServer, tag: str = NEW) -> dict[str, Any]:
    document = daemonset(tag)
    template = document["spec"]["template"]["spec"]
    for container in template["containers"] + template["initContainers"]:
        container.setdefault("imagePullPolicy", "IfNotPresent")
    # The client's strict models are not ours to build: a plain JSON body is what the API takes.
    k8s.AppsV1Api(server.client()).create_namespaced_daemon_set(
        "kube-system",
        document,  # type: ignore[arg-type]
    )
    return document


def test_read_missing_and_present_daemonsets(kube_fresh: KubeApiServer) -> None:
    kube = gateway(kube_fresh)
    assert kube.read_daemonset("kube-system", "aws-node") is None
    create_daemonset(kube_fresh)
    found = kube.read_daemonset("kube-system", "aws-node")
    assert found is not None
    assert found["kind"] == "DaemonSet"
    image = found["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f"amazon-k8s-cni:{NEW}")
    assert [d["metadata"]["name"] for d in kube.daemonsets("kube-system")] == ["aws-node"]


def test_server_side_apply_as_eksaddon(kube_fresh: KubeApiServer) -> None:
    kube = gateway(kube_fresh)
    document = create_daemonset(kube_fresh)
    document["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "WARM_IP_TARGET", "value": "5"}
    )
    applied = kube.apply_daemonset(document, force=True)
    managers = {f["manager"] for f in applied["metadata"]["managedFields"]}
    assert "eksaddon" in managers
    env = applied["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "WARM_IP_TARGET", "value": "5"} in env


def test_nodes_pods_and_a_rollout(kube_fresh: KubeApiServer) -> None:
    api = kube_fresh.client()
    create_daemonset(kube_fresh)
    for name in ("node-a", "node-b"):
        make_node(api, name)
    make_node(api, "fargate-x", labels={"eks.amazonaws.com/compute-type": "fargate"})
    image = f"602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:{NEW}"
    make_pod(
        api,
        "kube-system",
        "aws-node-a",
        labels={"k8s-app": "aws-node"},
        node_name="node-a",
        image=image,
    )
    kube = gateway(kube_fresh)
    nodes = kube.nodes()
    assert {n.name: n.fargate for n in nodes} == {
        "node-a": False,
        "node-b": False,
        "fargate-x": True,
    }
    pods = kube.pods("kube-system", "k8s-app=aws-node")
    assert [(p.name, p.node) for p in pods] == [("aws-node-a", "node-a")]
    set_daemonset_status(
        api,
        "kube-system",
        "aws-node",
        observed_generation="current",
        desired_number_scheduled=2,
        updated_number_scheduled=1,
        number_available=1,
        current_number_scheduled=2,
        number_misscheduled=0,
        number_ready=1,
    )
    rollout = assess(kube.read_daemonset("kube-system", "aws-node") or {}, pods, nodes)
    assert not rollout.done
    assert rollout.nodes == ("node-a", "node-b")
    assert "node-b" in rollout.behind


def test_forbidden_names_the_verb_and_resource(kube_fresh: KubeApiServer) -> None:
    kube = gateway(kube_fresh, context=kube_fresh.forbidden_context)
    with pytest.raises(KubernetesForbiddenError) as caught:
        kube.nodes()
    assert "RBAC forbids list on nodes" in caught.value.message
    assert caught.value.hint is not None and "'list'" in caught.value.hint


def test_unreachable_api_server(tmp_path: Path, kube_apiserver: KubeApiServer) -> None:
    config = Path(kube_apiserver.kubeconfig_path).read_text()
    moved = tmp_path / "kubeconfig"
    moved.write_text(config.replace(kube_apiserver.url, "https://127.0.0.1:9"))
    kube = KubeGateway(kubeconfig=str(moved), context=kube_apiserver.context)
    with pytest.raises(KubernetesUnreachableError, match="cannot reach the Kubernetes API server"):
        kube.nodes()


def test_a_broken_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(EnvironmentProblemError, match="cannot load the Kubernetes configuration"):
        KubeGateway(kubeconfig=str(path), context="nope")


def test_inside_a_pod_without_a_kubeconfig_the_service_account_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "9")
    # No service-account token is mounted here: the in-cluster loader is the one that refuses.
    with pytest.raises(EnvironmentProblemError, match="cannot load the in-cluster service account"):
        KubeGateway()


def test_crashloopbackoff_on_a_node_is_seen(kube_fresh: KubeApiServer) -> None:
    api = kube_fresh.client()
    create_daemonset(kube_fresh)
    make_node(api, "node-a")
    image = f"602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:{NEW}"
    make_pod(
        api,
        "kube-system",
        "aws-node-a",
        labels={"k8s-app": "aws-node"},
        node_name="node-a",
        image=image,
        waiting_reason="CrashLoopBackOff",
    )
    kube = gateway(kube_fresh)
    (pod,) = kube.pods("kube-system", "k8s-app=aws-node")
    assert pod.waiting == {"aws-node": "CrashLoopBackOff"}
    set_daemonset_status(
        api,
        "kube-system",
        "aws-node",
        observed_generation="current",
        desired_number_scheduled=1,
        updated_number_scheduled=1,
        number_available=1,
        current_number_scheduled=1,
        number_misscheduled=0,
        number_ready=0,
    )
    rollout = assess(kube.read_daemonset("kube-system", "aws-node") or {}, [pod], kube.nodes())
    assert rollout.crashlooping == ("aws-node-a/aws-node on node-a",)
    assert not rollout.done


# --- transient failures, through a fault proxy in front of the real API server -----------------


def proxied_gateway(
    server: KubeApiServer, proxy: FaultProxy, tmp_path: Path, sleeps: list[float]
) -> KubeGateway:
    kubeconfig = tmp_path / "proxied-kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": proxy.url}}],
                "users": [{"name": "u", "user": {"token": server.token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        ),
        encoding="utf-8",
    )
    kube = KubeGateway(kubeconfig=str(kubeconfig))
    kube.sleep = sleeps.append  # record the backoff instead of sleeping it
    return kube


STATUS_500 = json.dumps({"kind": "Status", "code": 500, "message": "etcd leader changed"}).encode()
NODES = r"^/api/v1/nodes"


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "status", "status": 500, "body": STATUS_500},
        {"action": "status", "status": 503, "body": STATUS_500},
        {"action": "status", "status": 429, "body": STATUS_500},
        {"action": "reset"},
    ],
    ids=["500", "503", "429", "reset"],
)
def test_a_transient_failure_is_retried_with_growing_jittered_backoff(
    kube_fresh: KubeApiServer, tmp_path: Path, fault: dict[str, Any]
) -> None:
    make_node(kube_fresh.client(), "node-a")
    sleeps: list[float] = []
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, sleeps)
        rule = proxy.add(Rule("GET", NODES, times=ATTEMPTS - 1, **fault))
        assert [n.name for n in kube.nodes()] == ["node-a"]
    assert rule.hits == ATTEMPTS - 1
    assert len(sleeps) == ATTEMPTS - 1
    assert all(0 <= s <= FIRST_BACKOFF * 2**i for i, s in enumerate(sleeps)), sleeps


def test_a_failure_that_outlasts_the_attempts_is_a_temporary_typed_error(
    kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    sleeps: list[float] = []
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, sleeps)
        proxy.add(Rule("GET", NODES, "status", times=100, status=503, body=STATUS_500))
        with pytest.raises(KubernetesServerError) as caught:
            kube.nodes()
    assert caught.value.temporary
    assert "(503): etcd leader changed" in caught.value.message
    assert len(sleeps) == ATTEMPTS - 1


def test_forbidden_is_not_retried(kube_fresh: KubeApiServer, tmp_path: Path) -> None:
    sleeps: list[float] = []
    forbidden = json.dumps({"kind": "Status", "code": 403, "message": "no"}).encode()
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, sleeps)
        rule = proxy.add(Rule("GET", NODES, "status", times=100, status=403, body=forbidden))
        with pytest.raises(KubernetesForbiddenError):
            kube.nodes()
    assert rule.hits == 1 and sleeps == []


def test_a_hung_request_times_out(
    kube_fresh: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EKSADDON_API_TIMEOUT", "0.3")
    sleeps: list[float] = []
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, sleeps)
        proxy.add(Rule("GET", NODES, "hang", times=100, seconds=5))
        with pytest.raises(KubernetesUnreachableError, match="list nodes"):
            kube.nodes()
    assert len(sleeps) == ATTEMPTS - 1


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "99999"])
def test_a_bad_api_timeout_is_an_input_error(
    kube_apiserver: KubeApiServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("EKSADDON_API_TIMEOUT", value)
    with pytest.raises(InputError, match="EKSADDON_API_TIMEOUT"):
        gateway(kube_apiserver)


# --- Deployments, ConfigMaps, PodDisruptionBudgets and the nodes' kubelets ---------------------


def test_read_a_deployment_and_a_config_map(kube_fresh: KubeApiServer) -> None:
    api = kube_fresh.shared_client()
    kube = gateway(kube_fresh)
    assert kube.read_deployment("kube-system", "coredns") is None
    assert kube.read_config_map("kube-system", "eksaddon-test-coredns") is None
    labels = {"k8s-app": "kube-dns"}
    k8s.AppsV1Api(api).create_namespaced_deployment(
        "kube-system",
        {  # type: ignore[arg-type]
            "metadata": {"name": "coredns"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "coredns", "image": "eks/coredns:v1"}]},
                },
            },
        },
    )
    core = k8s.CoreV1Api(api)
    core.create_namespaced_config_map(
        "kube-system",
        {"metadata": {"name": "eksaddon-test-coredns"}, "data": {"Corefile": ".:53 {}"}},  # type: ignore[arg-type]
    )
    try:
        found = kube.read_deployment("kube-system", "coredns")
        assert found is not None and found["kind"] == "Deployment"
        assert found["spec"]["replicas"] == 1  # the API server's default, as sent
        config = kube.read_config_map("kube-system", "eksaddon-test-coredns")
        assert config is not None and config["data"] == {"Corefile": ".:53 {}"}
    finally:
        core.delete_namespaced_config_map("eksaddon-test-coredns", "kube-system")


def test_disruption_budgets_from_a_server_that_serves_only_v1beta1(
    kube_fresh: KubeApiServer,
) -> None:
    from standins.deployment_controller import PDB_PATH, raw

    api = kube_fresh.shared_client()
    kube = gateway(kube_fresh)
    assert kube.disruption_budgets("kube-system") == []
    body = {
        "apiVersion": "policy/v1beta1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "coredns"},
        "spec": {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {"k8s-app": "kube-dns"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["dns"]}],
            },
        },
    }
    path = PDB_PATH.format(namespace="kube-system")
    raw(api, "POST", path, body)
    (budget,) = kube.disruption_budgets("kube-system")
    assert budget.namespace == "kube-system" and budget.name == "coredns"
    assert budget.match_labels == {"k8s-app": "kube-dns"}
    assert [tuple(r) for r in budget.match_expressions] == [("tier", "In", ("dns",))]
    assert (budget.max_unavailable, budget.min_available) == ("1", None)
    assert budget.generation == 1
    # No disruption controller has written status: the server sends zero counts and no
    # observedGeneration, which the rollout check reads as "status not current".
    assert budget.observed_generation is None
    assert (budget.current_healthy, budget.desired_healthy, budget.disruptions_allowed) == (0, 0, 0)


PDB_V1 = r"^/apis/policy/v1/namespaces/kube-system/poddisruptionbudgets"


def v1_list(*items: object) -> bytes:
    return json.dumps({"kind": "PodDisruptionBudgetList", "items": list(items)}).encode()


def test_disruption_budgets_from_policy_v1_with_every_field_checked(
    kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    budget = {
        "metadata": {"name": "coredns", "namespace": "kube-system", "generation": 2},
        "spec": {"minAvailable": "50%", "selector": {}},
        "status": {
            "observedGeneration": 2,
            "currentHealthy": 2,
            "desiredHealthy": 1,
            "disruptionsAllowed": 1,
            "expectedPods": 2,
            "newFieldFromTheFuture": {"x": 1},
        },
    }
    sparse = {"metadata": {"name": "bare"}, "spec": None, "status": None}
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, [])
        proxy.add(Rule("GET", PDB_V1, "status", status=200, body=v1_list(budget, sparse)))
        full, bare = kube.disruption_budgets("kube-system")
    assert full.match_labels == {}  # an empty v1 selector: every pod of the namespace
    assert (full.min_available, full.desired_healthy, full.disruptions_allowed) == ("50%", 1, 1)
    assert (full.observed_generation, full.current_healthy, full.expected_pods) == (2, 2, 2)
    assert bare.match_labels is None and bare.namespace == "kube-system"
    assert bare.disruptions_allowed is None and bare.min_available is None


@pytest.mark.parametrize(
    ("budget", "field"),
    [
        ({"metadata": {"name": "x"}, "status": {"disruptionsAllowed": "1"}}, "disruptionsAllowed"),
        ({"metadata": {"name": "x"}, "spec": {"minAvailable": [1]}}, "spec.minAvailable"),
        ({"metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": "a"}}}, "matchLabels"),
        ({"metadata": {"name": 7}}, "metadata.name"),
        (None, "items[0]"),
    ],
)
def test_a_budget_field_of_another_type_is_a_typed_error(
    kube_fresh: KubeApiServer, tmp_path: Path, budget: object, field: str
) -> None:
    from eksaddon.errors import UnexpectedAnswerError

    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, [])
        proxy.add(Rule("GET", PDB_V1, "status", status=200, body=v1_list(budget)))
        with pytest.raises(UnexpectedAnswerError, match=re.escape(field)):
            kube.disruption_budgets("kube-system")


def test_nodes_carry_their_kubelet_version_and_fargate_mark(kube_fresh: KubeApiServer) -> None:
    api = kube_fresh.shared_client()
    make_node(api, "node-a", kubelet_version="v1.26.15-eks-59bf375")
    make_node(
        api,
        "fargate-ip-10-0-1-2",
        labels={"eks.amazonaws.com/compute-type": "fargate"},
        kubelet_version="v1.29.8-eks-a737599",
    )
    nodes = {n.name: n for n in gateway(kube_fresh).nodes()}
    assert nodes["node-a"].kubelet_version == "v1.26.15-eks-59bf375"
    assert not nodes["node-a"].fargate
    assert nodes["fargate-ip-10-0-1-2"].kubelet_version == "v1.29.8-eks-a737599"
    assert nodes["fargate-ip-10-0-1-2"].fargate


@pytest.mark.parametrize(
    "status",
    [None, {}, {"nodeInfo": None}, {"nodeInfo": {"kubeletVersion": 1.29}}, {"nodeInfo": "v1"}],
)
def test_a_kubelet_version_the_node_does_not_report_readably_is_unknown(
    kube_fresh: KubeApiServer, tmp_path: Path, status: object
) -> None:
    node = {"metadata": {"name": "node-x", "labels": {}}, "status": status}
    body = json.dumps({"kind": "NodeList", "items": [node]}).encode()
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kube = proxied_gateway(kube_fresh, proxy, tmp_path, [])
        proxy.add(Rule("GET", NODES, "status", status=200, body=body))
        (found,) = kube.nodes()
    assert found.name == "node-x" and found.kubelet_version is None


def test_pods_say_whether_they_are_ready_and_going_away(kube_fresh: KubeApiServer) -> None:
    api = kube_fresh.shared_client()
    make_node(api, "node-a")
    make_pod(api, "kube-system", "ready", labels={"k8s-app": "x"}, node_name="node-a")
    make_pod(api, "kube-system", "starting", labels={"k8s-app": "x"}, ready=False)
    make_pod(api, "kube-system", "leaving", labels={"k8s-app": "x"})
    core = k8s.CoreV1Api(api)
    # A finalizer keeps the deleted pod visible, as a kubelet does while the pod shuts down.
    core.patch_namespaced_pod("leaving", "kube-system", {"metadata": {"finalizers": ["x/y"]}})
    core.delete_namespaced_pod("leaving", "kube-system")
    try:
        pods = {p.name: p for p in gateway(kube_fresh).pods("kube-system", "k8s-app=x")}
    finally:
        core.patch_namespaced_pod("leaving", "kube-system", {"metadata": {"finalizers": None}})
    assert pods["ready"].ready is True and not pods["ready"].terminating
    assert pods["starting"].ready is False and not pods["starting"].terminating
    assert pods["leaving"].terminating


@pytest.mark.parametrize(
    ("reported", "minor"),
    [
        ("v1.29.0-eks-5e0fdde", "1.29"),
        ("v1.30.4-eks-a737599", "1.30"),
        ("1.28.1", "1.28"),
        ("v1.27", "1.27"),
        ("garbage", None),
        ("v1.29.0\n", None),
        ("", None),
        (None, None),
    ],
)
def test_the_kubelet_minor_is_read_from_what_the_node_reports(
    reported: str | None, minor: str | None
) -> None:
    from eksaddon.gateways.protocols import NodeFacts

    found = NodeFacts("node-a", {}, reported).kubelet_minor
    assert (None if found is None else str(found)) == minor
