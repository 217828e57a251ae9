"""The kube-apiserver stand-in itself, driven by plain kubernetes clients (see kube.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from .kube import (
    AWS_NODE_IMAGE,
    KubeApiServer,
    ensure_namespace,
    kube_apiserver,
    kube_fresh,
    make_node,
    make_pod,
    managed_fields_by,
    set_daemonset_status,
    set_pod_status,
)

__all__ = ["kube_apiserver", "kube_fresh"]  # the fixtures, imported for pytest

NAMESPACE = "kube-system"
AWS_NODE = "aws-node"
SELECTOR = {"k8s-app": AWS_NODE}
APPLY = "application/apply-patch+yaml"


def aws_node_manifest(image: str = AWS_NODE_IMAGE, *, env: dict[str, str] | None = None) -> Any:
    """The parts of the aws-node DaemonSet the tests need (an apply configuration)."""
    container: dict[str, Any] = {"name": AWS_NODE, "image": image}
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": AWS_NODE, "namespace": NAMESPACE, "labels": SELECTOR},
        "spec": {
            "selector": {"matchLabels": SELECTOR},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": SELECTOR},
                "spec": {
                    "serviceAccountName": AWS_NODE,
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "containers": [container],
                },
            },
        },
    }


@pytest.fixture
def admin(kube_fresh: KubeApiServer) -> Iterator[k8s.ApiClient]:
    with kube_fresh.client() as api:
        yield api


@pytest.fixture
def apps(admin: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(admin)


@pytest.fixture
def core(admin: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(admin)


@pytest.fixture
def aws_node(apps: k8s.AppsV1Api) -> k8s.V1DaemonSet:
    """The aws-node DaemonSet, created by another field manager (as EKS would)."""
    body = k8s.V1DaemonSet.from_dict(aws_node_manifest())
    assert body is not None
    return apps.create_namespaced_daemon_set(NAMESPACE, body, field_manager="eks")


def test_server_answers_with_the_built_version(kube_apiserver: KubeApiServer) -> None:
    api = kube_apiserver.client()
    info = k8s.VersionApi(api).get_code()
    assert info.git_version == kube_apiserver.version
    assert info.git_version.startswith("v1.")
    assert kube_apiserver.url.startswith("https://127.0.0.1:")


def test_kube_system_exists_or_is_created(admin: k8s.ApiClient, core: k8s.CoreV1Api) -> None:
    ensure_namespace(admin, NAMESPACE)
    ensure_namespace(admin, NAMESPACE)  # idempotent
    namespace = core.read_namespace(NAMESPACE)
    assert namespace.metadata is not None and namespace.metadata.name == NAMESPACE


def test_kubeconfig_context_reaches_the_server(
    kube_apiserver: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in kube_apiserver.env().items():
        monkeypatch.setenv(name, value)  # NO_PROXY: the client reads proxies from the environment
    document = yaml.safe_load(Path(kube_apiserver.kubeconfig_path).read_text(encoding="utf-8"))
    assert document["current-context"] == "standin"
    assert {c["name"] for c in document["contexts"]} == {"standin", "standin-forbidden"}

    configuration = k8s.Configuration()
    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kube_apiserver.kubeconfig_path,
        context="standin",
        client_configuration=configuration,
    )
    with k8s.ApiClient(configuration) as api:
        names = [n.metadata.name for n in k8s.CoreV1Api(api).list_namespace().items if n.metadata]
    assert NAMESPACE in names
    assert kube_apiserver.env()["KUBECONFIG"] == kube_apiserver.kubeconfig_path


def test_server_side_apply_records_the_eksaddon_field_manager(
    apps: k8s.AppsV1Api, aws_node: k8s.V1DaemonSet
) -> None:
    assert aws_node.metadata is not None
    generation = aws_node.metadata.generation
    new_image = AWS_NODE_IMAGE.replace("v1.15.0-eksbuild.2", "v1.16.0-eksbuild.1")

    applied = apps.patch_namespaced_daemon_set(
        AWS_NODE,
        NAMESPACE,
        aws_node_manifest(new_image, env={"WARM_IP_TARGET": "5"}),
        field_manager="eksaddon",
        force=True,
        _content_type=APPLY,
    )

    assert applied.spec.template.spec is not None
    container = applied.spec.template.spec.containers[0]
    assert container.image == new_image
    assert [(e.name, e.value) for e in container.env or []] == [("WARM_IP_TARGET", "5")]
    assert applied.metadata is not None and applied.metadata.generation == (generation or 0) + 1

    ours = managed_fields_by(apps.read_namespaced_daemon_set(AWS_NODE, NAMESPACE), "eksaddon")
    assert len(ours) == 1
    assert ours[0].operation == "Apply"
    fields = ours[0].fields_v1
    assert isinstance(fields, dict) and "f:spec" in fields
    assert "f:image" in str(fields)
    # The creator keeps its own entry; with force=True eksaddon took over the conflicting fields.
    daemonset = apps.read_namespaced_daemon_set(AWS_NODE, NAMESPACE)
    assert daemonset.metadata is not None
    assert {e.manager for e in daemonset.metadata.managed_fields or []} >= {"eks", "eksaddon"}


def test_apply_without_force_conflicts_with_another_manager(
    apps: k8s.AppsV1Api, aws_node: k8s.V1DaemonSet
) -> None:
    with pytest.raises(k8s.ApiException) as raised:
        apps.patch_namespaced_daemon_set(
            AWS_NODE,
            NAMESPACE,
            aws_node_manifest("example.invalid/cni:v0"),
            field_manager="eksaddon",
            _content_type=APPLY,
        )
    assert raised.value.status == 409


def test_nodes_are_created_with_labels_and_status(
    core: k8s.CoreV1Api, admin: k8s.ApiClient
) -> None:
    make_node(admin, "ip-10-0-1-10.ec2.internal", labels={"kubernetes.io/os": "linux"})
    make_node(
        admin,
        "fargate-ip-10-0-2-20.ec2.internal",
        labels={"eks.amazonaws.com/compute-type": "fargate"},
        ready=False,
    )

    nodes = {n.metadata.name: n for n in core.list_node().items if n.metadata}
    assert set(nodes) == {"ip-10-0-1-10.ec2.internal", "fargate-ip-10-0-2-20.ec2.internal"}
    ec2 = nodes["ip-10-0-1-10.ec2.internal"]
    assert ec2.status is not None and ec2.status.node_info is not None
    assert ec2.status.node_info.kubelet_version == "v1.29.0-eks-5e0fdde"
    assert [(c.type, c.status) for c in ec2.status.conditions or []] == [("Ready", "True")]
    fargate = core.list_node(label_selector="eks.amazonaws.com/compute-type=fargate").items
    assert [n.metadata.name for n in fargate if n.metadata] == ["fargate-ip-10-0-2-20.ec2.internal"]


def test_daemonset_status_moves_through_the_status_subresource(
    apps: k8s.AppsV1Api, admin: k8s.ApiClient, aws_node: k8s.V1DaemonSet
) -> None:
    assert aws_node.status is not None and aws_node.status.desired_number_scheduled == 0

    set_daemonset_status(
        admin,
        NAMESPACE,
        AWS_NODE,
        observed_generation="current",
        desired_number_scheduled=3,
        current_number_scheduled=3,
        number_ready=1,
        updated_number_scheduled=1,
        number_available=1,
        number_unavailable=2,
        number_misscheduled=0,
    )
    midway = apps.read_namespaced_daemon_set_status(AWS_NODE, NAMESPACE)
    assert midway.status is not None and midway.metadata is not None
    assert midway.status.observed_generation == midway.metadata.generation
    assert (midway.status.number_ready, midway.status.updated_number_scheduled) == (1, 1)
    assert midway.status.number_unavailable == 2

    done = set_daemonset_status(
        admin, NAMESPACE, AWS_NODE, numberReady=3, updatedNumberScheduled=3, numberAvailable=3
    )
    assert done.status is not None
    assert (done.status.number_ready, done.status.updated_number_scheduled) == (3, 3)
    assert done.status.desired_number_scheduled == 3  # a merge patch keeps the other counts


def test_pods_are_listed_by_label(
    core: k8s.CoreV1Api, admin: k8s.ApiClient, aws_node: k8s.V1DaemonSet
) -> None:
    make_node(admin, "node-a")
    make_node(admin, "node-b")
    make_pod(
        admin, NAMESPACE, "aws-node-aaaaa", labels=SELECTOR, node_name="node-a", daemonset=AWS_NODE
    )
    make_pod(
        admin,
        NAMESPACE,
        "aws-node-bbbbb",
        labels=SELECTOR,
        node_name="node-b",
        waiting_reason="CrashLoopBackOff",
        restart_count=7,
    )
    make_pod(
        admin, NAMESPACE, "kube-proxy-ccccc", labels={"k8s-app": "kube-proxy"}, node_name="node-a"
    )

    pods = core.list_namespaced_pod(NAMESPACE, label_selector="k8s-app=aws-node").items
    by_name = {p.metadata.name: p for p in pods if p.metadata}
    assert set(by_name) == {"aws-node-aaaaa", "aws-node-bbbbb"}

    healthy = by_name["aws-node-aaaaa"]
    assert healthy.spec is not None and healthy.spec.node_name == "node-a"
    assert healthy.metadata is not None and healthy.metadata.owner_references is not None
    assert healthy.metadata.owner_references[0].kind == "DaemonSet"
    assert healthy.status is not None and healthy.status.phase == "Running"
    assert [s.ready for s in healthy.status.container_statuses or []] == [True]

    crashing = by_name["aws-node-bbbbb"]
    assert crashing.status is not None and crashing.status.container_statuses is not None
    status = crashing.status.container_statuses[0]
    assert (status.ready, status.restart_count) == (False, 7)
    assert status.state is not None and status.state.waiting is not None
    assert status.state.waiting.reason == "CrashLoopBackOff"

    recovered = set_pod_status(
        admin,
        NAMESPACE,
        "aws-node-bbbbb",
        container_statuses=[
            {
                "name": AWS_NODE,
                "image": AWS_NODE_IMAGE,
                "image_id": "sha256:" + "1" * 64,
                "ready": True,
                "restart_count": 8,
                "state": {"running": {"started_at": "2024-01-01T00:00:00Z"}},
            }
        ],
    )
    assert recovered.status is not None and recovered.status.container_statuses is not None
    assert recovered.status.container_statuses[0].ready is True

    everything = core.list_pod_for_all_namespaces(label_selector="k8s-app=aws-node").items
    assert len(everything) == 2


def test_forbidden_token_gets_403(kube_apiserver: KubeApiServer, aws_node: k8s.V1DaemonSet) -> None:
    api = kube_apiserver.forbidden_client()
    with pytest.raises(k8s.ApiException) as read:
        k8s.AppsV1Api(api).read_namespaced_daemon_set(AWS_NODE, NAMESPACE)
    assert read.value.status == 403
    assert "forbidden" in str(read.value.body).lower()

    for call in (
        lambda: k8s.CoreV1Api(api).list_node(),
        lambda: k8s.CoreV1Api(api).list_namespaced_pod(
            NAMESPACE, label_selector="k8s-app=aws-node"
        ),
        lambda: k8s.AppsV1Api(api).patch_namespaced_daemon_set(
            AWS_NODE,
            NAMESPACE,
            aws_node_manifest(),
            field_manager="eksaddon",
            force=True,
            _content_type=APPLY,
        ),
    ):
        with pytest.raises(k8s.ApiException) as raised:
            call()
        assert raised.value.status == 403


def test_bad_token_gets_401(kube_apiserver: KubeApiServer) -> None:
    api = kube_apiserver.client(token="not-a-valid-token")
    with pytest.raises(k8s.ApiException) as raised:
        k8s.CoreV1Api(api).list_node()
    assert raised.value.status == 401
