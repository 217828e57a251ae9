"""docs/iam/rbac.yaml, bound to a user on a real kube-apiserver, lets the gateway do what it must.

tests/reliability/test_permissions.py holds the roles to the gateway's source (every call granted,
nothing more); here the API server itself judges them: the reading role serves every read of the
Kubernetes protocol, refuses a ConfigMap it does not name, and refuses writes; the self-managed
writer's role lets a server-side apply create an object that is absent (authorized as `create`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml

from eksaddon.errors import KubernetesForbiddenError
from eksaddon.gateways.kube import KubeGateway
from standins.kube import FORBIDDEN_USER, KubeApiServer, kube_apiserver, kube_fresh
from tests_support import daemonset

__all__ = ["kube_apiserver", "kube_fresh"]

RBAC = Path(__file__).resolve().parents[2] / "docs" / "iam" / "rbac.yaml"
GROUP = "rbac.authorization.k8s.io"


def roles() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC.read_text(encoding="utf-8")) if d]


def _bind(rbac: k8s.RbacAuthorizationV1Api, role: dict[str, Any]) -> None:
    name = role["metadata"]["name"]
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": GROUP, "kind": role["kind"], "name": name},
        "subjects": [{"kind": "User", "name": FORBIDDEN_USER, "apiGroup": GROUP}],
    }
    if role["kind"] == "ClusterRole":
        rbac.create_cluster_role(role)  # type: ignore[arg-type]
        rbac.create_cluster_role_binding(binding)  # type: ignore[arg-type]
    else:
        rbac.create_namespaced_role("kube-system", role)  # type: ignore[arg-type]
        rbac.create_namespaced_role_binding("kube-system", binding)  # type: ignore[arg-type]


def _unbind(rbac: k8s.RbacAuthorizationV1Api, role: dict[str, Any]) -> None:
    name = role["metadata"]["name"]
    calls = (
        (rbac.delete_cluster_role_binding, rbac.delete_cluster_role)
        if role["kind"] == "ClusterRole"
        else (
            lambda n: rbac.delete_namespaced_role_binding(n, "kube-system"),
            lambda n: rbac.delete_namespaced_role(n, "kube-system"),
        )
    )
    for call in calls:
        try:
            call(name)
        except k8s.ApiException as error:
            if error.status != 404:
                raise


class Binder:
    def __init__(self, api: k8s.ApiClient) -> None:
        self.rbac = k8s.RbacAuthorizationV1Api(api)
        self.bound: list[dict[str, Any]] = []

    def bind(self, name: str) -> None:
        for role in roles():
            if role["metadata"]["name"] == name:
                _bind(self.rbac, role)
                self.bound.append(role)


@pytest.fixture
def binder(kube_fresh: KubeApiServer) -> Iterator[Binder]:
    """Binds rbac.yaml's roles to the user that otherwise may do nothing; unbinds them after
    (other tests rely on that user being refused everything)."""
    binder = Binder(kube_fresh.shared_client())
    try:
        yield binder
    finally:
        for role in binder.bound:
            _unbind(binder.rbac, role)


def restricted(server: KubeApiServer) -> KubeGateway:
    kube = KubeGateway(kubeconfig=server.kubeconfig_path, context=server.forbidden_context)
    kube.attempts = 1
    return kube


def config_map(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kube-system"},
        "data": {"k": "v"},
    }


def test_the_read_role_serves_every_read_and_nothing_else(
    kube_fresh: KubeApiServer, binder: Binder
) -> None:
    kube = restricted(kube_fresh)
    with pytest.raises(KubernetesForbiddenError):
        kube.nodes()
    binder.bind("eksaddon-node-side-read")
    assert kube.nodes() == []
    assert kube.all_daemonsets() == []
    assert kube.read_daemonset("kube-system", "aws-node") is None
    assert kube.pods("kube-system", "k8s-app=aws-node") == []
    assert kube.read_deployment("kube-system", "coredns") is None
    assert kube.disruption_budgets("kube-system") == []
    for name in ("coredns", "kube-proxy-config", "amazon-vpc-cni"):
        assert kube.read_config_map("kube-system", name) is None
    with pytest.raises(KubernetesForbiddenError, match="configmaps kube-system/aws-auth"):
        kube.read_config_map("kube-system", "aws-auth")  # not one a profile reads
    with pytest.raises(KubernetesForbiddenError):
        kube.apply(config_map("amazon-vpc-cni"))


def test_the_writer_role_lets_a_server_side_apply_create_an_absent_object(
    kube_fresh: KubeApiServer, binder: Binder
) -> None:
    kube = restricted(kube_fresh)
    core = k8s.CoreV1Api(kube_fresh.shared_client())
    binder.bind("eksaddon-node-side-read")
    binder.bind("eksaddon-self-managed-write")
    try:
        created = kube.apply(config_map("amazon-vpc-cni"))
        assert created["metadata"]["name"] == "amazon-vpc-cni"
        assert kube.apply(config_map("amazon-vpc-cni"))["data"] == {"k": "v"}  # now a patch
        applied = kube.apply_daemonset(daemonset(), force=True)
        assert applied["kind"] == "DaemonSet"
        with pytest.raises(KubernetesForbiddenError, match="someone-elses"):
            kube.apply(config_map("someone-elses"))  # the writer applies its own objects only
    finally:
        try:
            core.delete_namespaced_config_map("amazon-vpc-cni", "kube-system")
        except k8s.ApiException as error:
            if error.status != 404:
                raise


def test_an_apply_refused_only_for_create_names_create(
    kube_fresh: KubeApiServer, binder: Binder
) -> None:
    """A role with `patch` but not `create` (rbac.yaml before creating objects was granted):
    the API server's refusal does not say which verb it missed, so the hint names both."""
    role = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Role",
        "metadata": {"name": "eksaddon-test-patch-only", "namespace": "kube-system"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["get", "patch"],
                "resourceNames": ["amazon-vpc-cni"],
            }
        ],
    }
    _bind(binder.rbac, role)
    binder.bound.append(role)
    with pytest.raises(KubernetesForbiddenError) as refused:
        restricted(kube_fresh).apply(config_map("amazon-vpc-cni"))
    assert "Kubernetes RBAC forbids patch on ConfigMap kube-system/amazon-vpc-cni" in (
        refused.value.message
    )
    assert "grant the 'patch' and 'create' verbs" in (refused.value.hint or "")
