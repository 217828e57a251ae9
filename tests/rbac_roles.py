"""docs/iam/rbac.yaml's roles bound on the stand-in kube-apiserver to the user that otherwise may
do nothing (``standins.kube.FORBIDDEN_USER``, the kubeconfig's ``standin-forbidden`` context), so
that the API server itself judges whether they are enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import yaml

from standins.kube import FORBIDDEN_USER

RBAC = Path(__file__).resolve().parents[1] / "docs" / "iam" / "rbac.yaml"
GROUP = "rbac.authorization.k8s.io"


def documented_roles() -> list[dict[str, Any]]:
    """The ClusterRoles and Roles of docs/iam/rbac.yaml."""
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


class RoleBinder:
    """Binds roles to the forbidden user; ``unbind_all()`` takes them away again (other tests
    rely on that user being refused everything)."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.rbac = k8s.RbacAuthorizationV1Api(api)
        self.bound: list[dict[str, Any]] = []

    def bind(self, name: str) -> None:
        """Every document of rbac.yaml named ``name`` (its ClusterRole and its Role)."""
        for role in documented_roles():
            if role["metadata"]["name"] == name:
                self.bind_document(role)

    def bind_document(self, role: dict[str, Any]) -> None:
        _bind(self.rbac, role)
        self.bound.append(role)

    def unbind_all(self) -> None:
        while self.bound:
            _unbind(self.rbac, self.bound.pop())
