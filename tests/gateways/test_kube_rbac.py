"""docs/iam/rbac.yaml, bound to a user on a real kube-apiserver, lets the gateway do what it must.

tests/reliability/test_permissions.py holds the roles to the gateway's source (every call granted,
nothing more); here the API server itself judges them: the reading role serves every read of the
Kubernetes protocol, refuses a ConfigMap it does not name, and refuses writes; the self-managed
writer's role lets a server-side apply create an object that is absent (authorized as `create`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes.client as k8s
import pytest
from rbac_roles import RoleBinder

from eksaddon.errors import KubernetesForbiddenError
from eksaddon.gateways.kube import KubeGateway
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh
from tests_support import daemonset

__all__ = ["kube_apiserver", "kube_fresh"]

GROUP = "rbac.authorization.k8s.io"


@pytest.fixture
def binder(kube_fresh: KubeApiServer) -> Iterator[RoleBinder]:
    """Binds rbac.yaml's roles to the user that otherwise may do nothing; unbinds them after."""
    binder = RoleBinder(kube_fresh.shared_client())
    try:
        yield binder
    finally:
        binder.unbind_all()


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
    kube_fresh: KubeApiServer, binder: RoleBinder
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
    kube_fresh: KubeApiServer, binder: RoleBinder
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
    kube_fresh: KubeApiServer, binder: RoleBinder
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
    binder.bind_document(role)
    with pytest.raises(KubernetesForbiddenError) as refused:
        restricted(kube_fresh).apply(config_map("amazon-vpc-cni"))
    assert "Kubernetes RBAC forbids patch on ConfigMap kube-system/amazon-vpc-cni" in (
        refused.value.message
    )
    assert "grant the 'patch' and 'create' verbs" in (refused.value.hint or "")
