"""kube-proxy's and CoreDNS's settings kept across an upgrade and a migration, end to end: the
CLI as a process of its own (forked from the warm CLI server, tests/warm_cli.py) against the EKS
stand-in and a real kube-apiserver.

The stand-in rewrites the add-on's objects as EKS does when an add-on is created or updated: the
build's image, and the ConfigMap from EKS's defaults plus the configuration values (a setting
that is not in the configuration values is lost, as on EKS). Stand-in controllers roll the
DaemonSet's pods on every node and the Deployment's replicas.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml
from addon_objects import (
    COREDNS_SCHEMA,
    DEFAULT_COREFILE,
    EDITED_COREFILE,
    KUBE_PROXY_CONFIG,
    KUBE_PROXY_SCHEMA,
    configmap,
    coredns_deployment,
    kube_proxy_daemonset,
    read_raw,
    schema,
)
from moto.eks.models import eks_backends

import warm_cli
from standins.controller import DaemonSetController
from standins.deployment_controller import DeploymentController
from standins.eks_addons import AddonRecord
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer

CLUSTER = "prod"
NODES = ("node-a", "node-b")
NAMESPACE = "kube-system"
# Containers are merged by name: the patched one keeps its command, args and resources.
MERGE = "application/strategic-merge-patch+json"


class Cluster:
    """Cluster ``prod`` (Kubernetes 1.29) on both stand-ins, EKS acting on the objects."""

    def __init__(self, eks: StandInServer, kube: KubeApiServer, tmp_path: Path) -> None:
        self.eks, self.kube, self.tmp_path = eks, kube, tmp_path
        self.api = kube.shared_client()
        self.apps, self.core = k8s.AppsV1Api(self.api), k8s.CoreV1Api(self.api)
        eks.create_cluster(CLUSTER, "1.29")
        backend = eks_backends[eks.account_id][eks.region]
        backend.clusters[CLUSTER].endpoint = kube.url
        catalogue = eks.standin.catalogue
        for version in ("v1.28.12-eksbuild.5", "v1.29.7-eksbuild.5"):
            catalogue.add("kube-proxy", version, ["1.29"])
        for version in ("v1.10.1-eksbuild.13", "v1.11.3-eksbuild.1"):
            catalogue.add("coredns", version, ["1.29"])
        eks.standin.configuration_schemas["kube-proxy"] = json.dumps(schema(KUBE_PROXY_SCHEMA))
        eks.standin.configuration_schemas["coredns"] = json.dumps(schema(COREDNS_SCHEMA))
        for node in NODES:
            make_node(self.api, node)
        self.delete_configmaps()
        eks.standin.on_update_applied = self.eks_applies

    def delete_configmaps(self) -> None:
        """ConfigMaps outlive kube_fresh's reset: gone before and after each test, so that the
        other tests on the shared API server find none."""
        for name in ("kube-proxy-config", "coredns"):
            try:
                self.core.delete_namespaced_config_map(name, NAMESPACE)
            except k8s.ApiException as error:
                if error.status != 404:
                    raise

    # -- the objects ------------------------------------------------------------------------

    def put_configmap(self, name: str, data: dict[str, str]) -> None:
        body = configmap(name, data)
        try:
            self.core.replace_namespaced_config_map(name, NAMESPACE, body)  # type: ignore[arg-type]
        except k8s.ApiException as error:
            if error.status != 404:
                raise
            self.core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]

    def read(self, kind: str, name: str) -> dict[str, Any]:
        return read_raw(self.apps, self.core, kind, name, NAMESPACE)

    def kube_proxy_mode(self) -> str:
        config = yaml.safe_load(self.read("ConfigMap", "kube-proxy-config")["data"]["config"])
        return str(config["mode"])

    # -- what EKS does ----------------------------------------------------------------------

    def eks_applies(self, record: AddonRecord) -> None:
        values = json.loads(record.configuration_values or "{}")
        if record.addon_name == "kube-proxy":
            self._kube_proxy(record.addon_version, values)
        elif record.addon_name == "coredns":
            self._coredns(record.addon_version, values)

    def _kube_proxy(self, version: str, values: dict[str, Any]) -> None:
        config = json.loads(json.dumps(KUBE_PROXY_CONFIG))
        config["mode"] = values.get("mode", "iptables")
        config["ipvs"]["scheduler"] = values.get("ipvs", {}).get("scheduler", "")
        self.put_configmap("kube-proxy-config", {"config": yaml.safe_dump(config)})
        image = self._image(
            "DaemonSet", "kube-proxy", version.replace("-eksbuild", "-minimal-eksbuild")
        )
        # A patch, not a replace: the stand-in controller writes the status meanwhile.
        patch = {"spec": {"template": {"spec": {"containers": [image]}}}}
        self.apps.patch_namespaced_daemon_set("kube-proxy", NAMESPACE, patch, _content_type=MERGE)

    def _coredns(self, version: str, values: dict[str, Any]) -> None:
        self.put_configmap("coredns", {"Corefile": values.get("corefile", DEFAULT_COREFILE)})
        image = self._image("Deployment", "coredns", version)
        replicas = values.get("replicaCount", 2)
        patch = {"spec": {"replicas": replicas, "template": {"spec": {"containers": [image]}}}}
        self.apps.patch_namespaced_deployment("coredns", NAMESPACE, patch, _content_type=MERGE)

    def _image(self, kind: str, name: str, tag: str) -> dict[str, str]:
        """The workload's container (by name, as a strategic merge patch lists it) at ``tag``."""
        container = self.read(kind, name)["spec"]["template"]["spec"]["containers"][0]
        return {"name": container["name"], "image": f"{container['image'].rsplit(':', 1)[0]}:{tag}"}

    # -- eksaddon -----------------------------------------------------------------------------

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **self.eks.env(),
            **self.kube.env(),
            "EKSADDON_STATE_DIR": str(self.tmp_path / "state"),
            "EKSADDON_CACHE_DIR": str(self.tmp_path / "cache"),
        }
        common = ("--cluster", CLUSTER, "--yes", "--poll-interval", "0.1", "--timeout", "30")
        kube = ("--kubeconfig", self.kube.kubeconfig_path, "--context", self.kube.context)
        return warm_cli.run([*args, *common, *kube], env=env, timeout=300)

    def read_only(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command that changes nothing (status, check-compat): no --yes or timeouts."""
        env = {**self.eks.env(), **self.kube.env(), "EKSADDON_CACHE_DIR": str(self.tmp_path)}
        kube = ("--kubeconfig", self.kube.kubeconfig_path, "--context", self.kube.context)
        return warm_cli.run([*args, "--cluster", CLUSTER, *kube], env=env, timeout=300)

    def addon(self, name: str) -> AddonRecord:
        record = self.eks.standin.addon(CLUSTER, name)
        assert record is not None
        return record


@pytest.fixture
def cluster(
    eks_standin: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path
) -> Iterator[Cluster]:
    cluster = Cluster(eks_standin, kube_fresh, tmp_path)
    yield cluster
    cluster.delete_configmaps()


def create(cluster: Cluster, kind: str, document: dict[str, Any]) -> None:
    document = json.loads(json.dumps(document))
    document["metadata"].pop("managedFields", None)
    if kind == "DaemonSet":
        cluster.apps.create_namespaced_daemon_set(NAMESPACE, document)  # type: ignore[arg-type]
    else:
        cluster.apps.create_namespaced_deployment(NAMESPACE, document)  # type: ignore[arg-type]


def coredns_cluster(cluster: Cluster, *, managed: bool) -> None:
    """CoreDNS v1.10.1-eksbuild.13 with an edited Corefile and three replicas (by kubectl)."""
    if managed:
        cluster.eks.put_addon(CLUSTER, "v1.10.1-eksbuild.13", addon_name="coredns")
    create(cluster, "Deployment", coredns_deployment("v1.10.1-eksbuild.13", replicas=3))
    cluster.put_configmap("coredns", {"Corefile": EDITED_COREFILE})


def test_kube_proxy_to_v1_29_7_keeps_ipvs(cluster: Cluster) -> None:
    cluster.eks.put_addon(CLUSTER, "v1.28.12-eksbuild.5", addon_name="kube-proxy")
    create(cluster, "DaemonSet", kube_proxy_daemonset("v1.28.12-minimal-eksbuild.5"))
    # The operator switched to ipvs with kubectl: no configuration value holds it.
    config = {**KUBE_PROXY_CONFIG, "mode": "ipvs", "ipvs": {"scheduler": "rr"}}
    cluster.put_configmap("kube-proxy-config", {"config": yaml.safe_dump(config)})
    with DaemonSetController(cluster.api, NODES, name="kube-proxy") as controller:
        controller.reconcile()
        result = cluster.run("upgrade", "--addon", "kube-proxy", "--to", "v1.29.7-eksbuild.5")
    assert result.returncode == 0, result.stderr
    record = cluster.addon("kube-proxy")
    assert record.addon_version == "v1.29.7-eksbuild.5"
    assert json.loads(record.configuration_values or "{}") == {
        "mode": "ipvs",
        "ipvs": {"scheduler": "rr"},
    }
    assert cluster.kube_proxy_mode() == "ipvs"
    container = cluster.read("DaemonSet", "kube-proxy")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith(":v1.29.7-minimal-eksbuild.5")
    assert "--config=/var/lib/kube-proxy-config/config" in container["command"]


def test_coredns_to_v1_11_3_keeps_the_corefile_block_and_replicas(cluster: Cluster) -> None:
    coredns_cluster(cluster, managed=True)
    with DeploymentController(cluster.api, NAMESPACE, "coredns") as controller:
        controller.settle()
        result = cluster.run("upgrade", "--addon", "coredns", "--to", "v1.11.3-eksbuild.1")
    assert result.returncode == 0, result.stderr
    record = cluster.addon("coredns")
    assert record.addon_version == "v1.11.3-eksbuild.1"
    assert json.loads(record.configuration_values or "{}") == {
        "corefile": EDITED_COREFILE,
        "replicaCount": 3,
    }
    assert cluster.read("ConfigMap", "coredns")["data"]["Corefile"] == EDITED_COREFILE
    deployment = cluster.read("Deployment", "coredns")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        ":v1.11.3-eksbuild.1"
    )


def test_a_self_managed_coredns_is_migrated_with_nothing_lost(cluster: Cluster) -> None:
    coredns_cluster(cluster, managed=False)
    with DeploymentController(cluster.api, NAMESPACE, "coredns") as controller:
        controller.settle()
        result = cluster.run(
            "migrate", "--addon", "coredns", "--resolve-conflicts", "overwrite", "-o", "json"
        )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == "v1.10.1-eksbuild.13"
    assert "Corefile: server block added: corp.example.com:53" in document["notes"]
    record = cluster.addon("coredns")
    assert json.loads(record.configuration_values or "{}") == {
        "corefile": EDITED_COREFILE,
        "replicaCount": 3,
    }
    assert cluster.read("ConfigMap", "coredns")["data"]["Corefile"] == EDITED_COREFILE
    assert cluster.read("Deployment", "coredns")["spec"]["replicas"] == 3
    backup = json.loads(Path(document["backup"]).read_text())
    assert {o["kind"] for o in backup["objects"]} == {"Deployment", "ConfigMap"}


def test_a_migration_that_would_lose_a_setting_changes_nothing(cluster: Cluster) -> None:
    create(cluster, "DaemonSet", kube_proxy_daemonset("v1.29.7-minimal-eksbuild.5"))
    config = {**KUBE_PROXY_CONFIG, "mode": "ipvs", "ipvs": {"tcpTimeout": "15m0s"}}
    cluster.put_configmap("kube-proxy-config", {"config": yaml.safe_dump(config)})
    result = cluster.run("migrate", "--addon", "kube-proxy", "--resolve-conflicts", "overwrite")
    assert result.returncode == 2, result.stderr
    assert "kube-proxy-config/ipvs.tcpTimeout=15m0s (no configuration key)" in result.stderr
    assert "--force" in result.stderr
    assert cluster.eks.standin.count("CreateAddon") == 0
    assert cluster.kube_proxy_mode() == "ipvs"


def test_status_and_check_compat_find_a_self_managed_coredns(cluster: Cluster) -> None:
    # A cluster created before EKS add-ons: no EKS add-on coredns, the Deployment by kubectl.
    coredns_cluster(cluster, managed=False)
    status = cluster.read_only("status", "--addon", "coredns", "-o", "json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["addon_type"] == "self-managed"
    found = document["self_managed"]
    assert found["version"] == "v1.10.1-eksbuild.13"
    assert found["workload"] == "Deployment kube-system/coredns"
    assert "eks:DescribeAddon finds no EKS add-on" in found["evidence"]
    assert "`eksaddon migrate --cluster prod --addon coredns`" in found["next_step"]
    compat = cluster.read_only("check-compat", "--addon", "coredns", "-o", "json")
    assert compat.returncode == 0, compat.stderr
    report = json.loads(compat.stdout)
    assert report["addon_type"] == "self-managed"
    messages = " ".join(f["message"] for f in report["findings"])
    assert "image tag v1.10.1-eksbuild.13 from Kubernetes (Deployment kube-system/coredns)" in (
        messages
    )
    assert "next: `eksaddon migrate --cluster prod --addon coredns`" in messages
    assert cluster.eks.standin.count("CreateAddon") == 0


def test_status_says_when_kubernetes_cannot_be_read(cluster: Cluster, tmp_path: Path) -> None:
    coredns_cluster(cluster, managed=False)
    missing = str(tmp_path / "no-kubeconfig")
    env = {**cluster.eks.env(), "EKSADDON_CACHE_DIR": str(tmp_path), "KUBECONFIG": missing}
    done = warm_cli.run(
        ["status", "--cluster", CLUSTER, "--addon", "coredns", "-o", "json"], env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["addon_type"] == "not-managed"
    assert document["self_managed"]["state"] == "unknown"
    assert document["self_managed"]["kubernetes_problem"]
