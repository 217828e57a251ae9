"""Kubernetes objects of the kube-proxy and CoreDNS add-ons as EKS ships them, for the tests.

Shapes from ../shared/domain/addons/kube-proxy.yaml (S-KP-DS-DUMP: the EKS-created DaemonSet, the
kube-proxy-config defaults) and coredns.yaml (S-EKSCTL coredns-1.30.json: the Deployment and the
default Corefile).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from eksaddon.gateways.protocols import DisruptionBudget, NodeFacts, PodFacts
from tests_support import SHARED, require_shared

ADDONS = SHARED / "domain" / "addons"
KUBE_PROXY_SCHEMA = ADDONS / "kube-proxy-config-schema-v1.28.8-eksbuild.5.json"
COREDNS_SCHEMA = ADDONS / "coredns-config-schema-v1.10.1-eksbuild.11.json"
REGISTRY = "602401143452.dkr.ecr.us-west-2.amazonaws.com"

# The KubeProxyConfiguration EKS ships (kube-proxy.yaml configmap_kube-proxy-config), with the
# fields the facts do not list set as kube-proxy's own defaults.
KUBE_PROXY_CONFIG: dict[str, Any] = {
    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
    "kind": "KubeProxyConfiguration",
    "bindAddress": "0.0.0.0",
    "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig", "qps": 5, "burst": 10},
    "configSyncPeriod": "15m0s",
    "conntrack": {"maxPerCore": 32768, "min": 131072, "tcpCloseWaitTimeout": "1h0m0s"},
    "healthzBindAddress": "0.0.0.0:10256",
    "iptables": {
        "masqueradeAll": False,
        "masqueradeBit": 14,
        "minSyncPeriod": "0s",
        "syncPeriod": "30s",
    },
    "ipvs": {"excludeCIDRs": None, "minSyncPeriod": "0s", "scheduler": "", "syncPeriod": "30s"},
    "metricsBindAddress": "127.0.0.1:10249",
    "mode": "iptables",
    "oomScoreAdj": -998,
}

DEFAULT_COREFILE = """.:53 {
    errors
    health {
        lameduck 5s
      }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
"""
# An operator's edit: a stub domain forwarded to corporate resolvers, and hosts entries.
CORP_BLOCK = """corp.example.com:53 {
    errors
    cache 30
    forward . 10.0.0.2 10.0.0.3
}
"""
EDITED_COREFILE = (
    DEFAULT_COREFILE.replace(
        "    loadbalance\n",
        "    loadbalance\n    hosts {\n      10.1.2.3 legacy.internal\n      fallthrough\n    }\n",
    )
    + "# the corporate zone (ticket NET-42)\n"
    + CORP_BLOCK
)


def schema(path: Path) -> dict[str, Any]:
    require_shared(path, "the add-ons' configuration schemas")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def kube_proxy_configmap(**changes: Any) -> dict[str, Any]:
    """The kube-proxy-config ConfigMap; ``changes`` set paths (``ipvs__scheduler="rr"``)."""
    configuration = copy.deepcopy(KUBE_PROXY_CONFIG)
    for path, value in changes.items():
        node = configuration
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return configmap("kube-proxy-config", {"config": yaml.safe_dump(configuration)})


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kube-system"},
        "data": data,
    }


def kube_proxy_daemonset(
    tag: str = "v1.28.8-minimal-eksbuild.5",
    *,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    resources: dict[str, Any] | None = None,
    managers: list[str] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "kube-proxy",
        "image": f"{REGISTRY}/eks/kube-proxy:{tag}",
        "command": [
            "kube-proxy",
            "--v=2",
            "--config=/var/lib/kube-proxy-config/config",
            *(extra_args or []),
        ],
        "resources": resources if resources is not None else {"requests": {"cpu": "100m"}},
    }
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return _workload("DaemonSet", "kube-proxy", "kube-proxy", container, managers)


def bare_kube_proxy_daemonset(image: str) -> dict[str, Any]:
    """kube-proxy's DaemonSet with nothing but its one container's image (no command, no
    resources, no managers): what a cluster's node-side scan reads the version from."""
    labels = {"k8s-app": "kube-proxy"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "kube-proxy", "image": image}]},
            },
        },
    }


def coredns_deployment(
    tag: str = "v1.10.1-eksbuild.13",
    *,
    replicas: Any = 2,
    managers: list[str] | None = None,
    node_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    container = {
        "name": "coredns",
        "image": f"{REGISTRY}/eks/coredns:{tag}",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
    }
    document = _workload("Deployment", "coredns", "kube-dns", container, managers)
    document["spec"]["replicas"] = replicas
    if node_selector:
        document["spec"]["template"]["spec"]["nodeSelector"] = node_selector
    return document


def _workload(
    kind: str, name: str, app: str, container: dict[str, Any], managers: list[str] | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "kube-system",
        "labels": {"k8s-app": app, "eks.amazonaws.com/component": name},
    }
    if managers is not None:
        metadata["managedFields"] = [{"manager": m, "operation": "Apply"} for m in managers]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"k8s-app": app}},
            "template": {
                "metadata": {"labels": {"k8s-app": app}},
                "spec": {"containers": [container]},
            },
        },
    }


def coredns_configmap(corefile: str = DEFAULT_COREFILE) -> dict[str, Any]:
    return configmap("coredns", {"Corefile": corefile})


class ClusterObjects:
    """A cluster's add-on objects as the kube gateway reads them, keyed by (kind, name); each
    read is recorded in ``reads``. No nodes, pods or PodDisruptionBudgets: the rest of the
    reader protocol answers empty."""

    host = "https://prod.gr7.us-west-2.eks.amazonaws.com"  # where the fake clusters say it is

    def __init__(self, *documents: dict[str, Any]) -> None:
        self.objects = {(d["kind"], d["metadata"]["name"]): d for d in documents}
        self.reads: list[tuple[str, str]] = []

    def _read(self, kind: str, name: str) -> dict[str, Any] | None:
        self.reads.append((kind, name))
        found = self.objects.get((kind, name))
        return None if found is None else copy.deepcopy(found)

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read("DaemonSet", name)

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read("Deployment", name)

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._read("ConfigMap", name)

    def all_daemonsets(self) -> list[dict[str, Any]]:
        return [d for (kind, _), d in self.objects.items() if kind == "DaemonSet"]

    def disruption_budgets(self, namespace: str) -> list[DisruptionBudget]:
        return []

    def nodes(self) -> list[NodeFacts]:
        return []

    def pods(self, namespace: str, selector: str) -> list[PodFacts]:
        return []


def read_raw(apps: Any, core: Any, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """A DaemonSet, Deployment or ConfigMap as the API server sends it (the JSON, not the
    client's models), through the kubernetes client's AppsV1Api and CoreV1Api."""
    call = {
        "DaemonSet": apps.read_namespaced_daemon_set,
        "Deployment": apps.read_namespaced_deployment,
        "ConfigMap": core.read_namespaced_config_map,
    }[kind]
    response: Any = call(name, namespace, _preload_content=False)
    document: dict[str, Any] = json.loads(response.data)
    return document
