"""``upgrade --all-addons`` and ``cluster-upgrade`` with the CLI against the EKS stand-in (moto +
the add-on, insights and control-plane extensions of tests/standins), as processes of their own:
forked from the warm CLI server (tests/warm_cli.py), and the installed console script for the
runs SIGKILLed part-way.

The cluster: Kubernetes 1.29 with vpc-cni, kube-proxy and CoreDNS at older builds, a managed node
group.

The journey 1.29 → 1.30 (SIGKILLed during the control-plane update, then rerun) runs with its
rollout checks against the real kube-apiserver (tests/standins/kube.py): the aws-node DaemonSet
with custom IPAM settings and the CoreDNS Deployment with an edited Corefile and three replicas
on two nodes, stand-in controllers rolling their pods, and the EKS stand-in rewriting them when
an update succeeds, as EKS does (a setting not carried in the configuration values is lost).
The other runs skip the rollout checks (``--skip-rollout-check``): they are about the order, the
journals and EKS's insights refusal, which Kubernetes takes no part in.

``cluster-upgrade`` runs the cluster-upgrade gate (eksaddon/engine/gate.py). Its cluster has no
kube-proxy: the stand-in's 1.30 catalogue offers only v1.30 kube-proxy builds, so the gate
refuses any 1.29 kube-proxy for 1.30 (``no-path-before``), which is the gate's call to make.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
from addon_objects import (
    DEFAULT_COREFILE,
    EDITED_COREFILE,
    configmap,
    coredns_deployment,
    read_raw,
)
from moto.eks.models import eks_backends

import warm_cli
from standins.catalogues import bundled_catalogue
from standins.controller import DaemonSetController
from standins.deployment_controller import DeploymentController
from standins.eks_addons import AddonRecord, StandIn
from standins.eks_upgrade import deprecated_api_insight
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer
from tests_support import daemonset, eksaddon_command

pytestmark = pytest.mark.slow

START = {"vpc-cni": "v1.16.4-eksbuild.2", "kube-proxy": "v1.29.0-eksbuild.1"}
START["coredns"] = "v1.10.1-eksbuild.7"
FAST = ("--poll-interval", "0.05", "--progress", "plain")
SKIP = (*FAST, "--skip-rollout-check")
NAMESPACE = "kube-system"
NODES = ("node-a", "node-b")
# Custom IPAM settings on the nodes, in no configuration value: eksaddon must carry them.
CUSTOM = {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}
COREDNS_REPLICAS = 3  # EKS deploys 2: an operator scaled it up, by kubectl
# Containers are merged by name: the patched one keeps its args and resources.
MERGE = "application/strategic-merge-patch+json"


@pytest.fixture
def eks(eks_standin: StandInServer) -> StandInServer:
    eks_standin.fresh(StandIn(bundled_catalogue()))
    eks_standin.create_cluster("prod", "1.29")
    for addon, version in START.items():
        eks_standin.put_addon("prod", version, addon_name=addon)
    eks_standin.create_nodegroup("prod", "workers", "1.29")
    return eks_standin


@pytest.fixture
def journey_eks(eks: StandInServer) -> StandInServer:
    """The cluster without kube-proxy (see the module's docstring)."""
    eks.client().delete_addon(clusterName="prod", addonName="kube-proxy")
    return eks


def environment(eks: StandInServer, tmp_path: Path) -> dict[str, str]:
    return {
        **eks.env(),
        "EKSADDON_STATE_DIR": str(tmp_path / "state"),
        "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
    }


class Cli:
    """The CLI on cluster ``prod``: its environment and the flags every run takes."""

    def __init__(self, env: dict[str, str], flags: tuple[str, ...]) -> None:
        self.env = env
        self.flags = flags

    def words(self, args: tuple[str, ...]) -> list[str]:
        """The CLI's arguments (after the program's name) for ``args`` on this cluster."""
        return [*args, "--cluster", "prod", *self.flags]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A run forked from the warm CLI server."""
        return warm_cli.run(self.words(args), env=self.env, timeout=300)

    def kill_when(self, line: str, *args: str) -> list[str]:
        """Start the installed CLI, SIGKILL it as soon as stderr shows ``line``; its stderr lines
        so far."""
        process = subprocess.Popen(
            [*eksaddon_command(), *self.words(args)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        seen: list[str] = []
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        for text in process.stderr:
            seen.append(text.rstrip("\n"))
            if line in text:
                os.kill(process.pid, signal.SIGKILL)
                break
            assert time.monotonic() < deadline, seen
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, seen
        return seen


@pytest.fixture
def cli(eks: StandInServer, tmp_path: Path) -> Cli:
    """The CLI without the rollout checks (no Kubernetes is reached)."""
    return Cli(environment(eks, tmp_path), SKIP)


def eksaddon(eks: StandInServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return Cli(environment(eks, tmp_path), SKIP).run(*args)


def versions(eks: StandInServer) -> dict[str, str]:
    client = eks.client()
    return {
        addon: client.describe_addon(clusterName="prod", addonName=addon)["addon"]["addonVersion"]
        for addon in client.list_addons(clusterName="prod")["addons"]
    }


class OnKubernetes:
    """The journey's cluster (``journey_eks``) on the real kube-apiserver too: its endpoint, two
    nodes, the aws-node DaemonSet with :data:`CUSTOM` and the CoreDNS Deployment with an edited
    Corefile and :data:`COREDNS_REPLICAS`, each rolled by its stand-in controller (a thread), and
    EKS rewriting them when an update succeeds (:meth:`eks_applies`)."""

    def __init__(
        self, eks: StandInServer, kube: KubeApiServer, tmp_path: Path, stack: ExitStack
    ) -> None:
        self.eks = eks
        self.api = kube.shared_client()
        self.apps, self.core = k8s.AppsV1Api(self.api), k8s.CoreV1Api(self.api)
        backend = eks_backends[eks.account_id][eks.region]
        backend.clusters["prod"].endpoint = kube.url  # eksaddon checks the kubeconfig names it
        for node in NODES:
            make_node(self.api, node)
        aws_node = daemonset(START["vpc-cni"], env=CUSTOM)
        self.apps.create_namespaced_daemon_set(NAMESPACE, aws_node)  # type: ignore[arg-type]
        coredns = coredns_deployment(START["coredns"], replicas=COREDNS_REPLICAS)
        self.apps.create_namespaced_deployment(NAMESPACE, coredns)  # type: ignore[arg-type]
        self.put_corefile(EDITED_COREFILE)
        # ConfigMaps outlive kube_fresh's reset: gone after the test, for the next on this server.
        stack.callback(self.delete_corefile)
        DaemonSetController(self.api, NODES).reconcile()  # the pods of the starting builds
        DeploymentController(self.api, NAMESPACE, "coredns").settle()
        stack.enter_context(DaemonSetController(self.api, NODES, interval=0.05))
        stack.enter_context(DeploymentController(self.api, NAMESPACE, "coredns", interval=0.05))
        eks.standin.on_update_applied = self.eks_applies
        kube_flags = ("--kubeconfig", kube.kubeconfig_path, "--context", kube.context)
        self.cli = Cli({**environment(eks, tmp_path), **kube.env()}, (*FAST, *kube_flags))

    # -- what EKS does --------------------------------------------------------------------------

    def eks_applies(self, record: AddonRecord) -> None:
        values = json.loads(record.configuration_values or "{}")
        if record.addon_name == "vpc-cni":
            self._vpc_cni(record.addon_version, values)
        elif record.addon_name == "coredns":
            self._coredns(record.addon_version, values)

    def _vpc_cni(self, version: str, values: dict[str, Any]) -> None:
        document = self.read("DaemonSet", "aws-node")
        spec = document["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            container["image"] = f"{container['image'].rsplit(':', 1)[0]}:{version}"
        aws_node = next(c for c in spec["containers"] if c["name"] == "aws-node")
        # The manifest's env, then the configuration values: nothing else survives an update.
        manifest = [e for e in aws_node.get("env", []) if e["name"] not in CUSTOM]
        carried = [{"name": k, "value": v} for k, v in values.get("env", {}).items()]
        aws_node["env"] = manifest + carried
        self.apps.replace_namespaced_daemon_set("aws-node", NAMESPACE, document)  # type: ignore[arg-type]

    def _coredns(self, version: str, values: dict[str, Any]) -> None:
        self.put_corefile(values.get("corefile", DEFAULT_COREFILE))
        container = self.read("Deployment", "coredns")["spec"]["template"]["spec"]["containers"][0]
        image = f"{container['image'].rsplit(':', 1)[0]}:{version}"
        patch = {
            "spec": {
                "replicas": values.get("replicaCount", 2),
                "template": {"spec": {"containers": [{"name": container["name"], "image": image}]}},
            }
        }
        # A patch, not a replace: the stand-in controller writes the status meanwhile.
        self.apps.patch_namespaced_deployment("coredns", NAMESPACE, patch, _content_type=MERGE)

    # -- the objects ----------------------------------------------------------------------------

    def read(self, kind: str, name: str) -> dict[str, Any]:
        return read_raw(self.apps, self.core, kind, name, NAMESPACE)

    def containers(self, kind: str, name: str) -> dict[str, dict[str, Any]]:
        spec = self.read(kind, name)["spec"]["template"]["spec"]
        return {c["name"]: c for c in spec["containers"]}

    def pod_images(self, selector: str) -> dict[str, set[str]]:
        """Node (or pod, when unscheduled) -> the images its pods of ``selector`` run."""
        pods: Any = self.core.list_namespaced_pod(NAMESPACE, label_selector=selector)
        found: dict[str, set[str]] = {}
        for pod in pods.items:
            where = pod.spec.node_name or pod.metadata.name
            found.setdefault(where, set()).update(c.image for c in pod.spec.containers)
        return found

    def coredns_kept(self) -> tuple[str, int, str]:
        """CoreDNS's image tag, replicas updated and ready (they must agree) and Corefile."""
        deployment = self.read("Deployment", "coredns")
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        status = deployment["status"]
        replicas = deployment["spec"]["replicas"]
        assert status.get("updatedReplicas") == status.get("readyReplicas") == replicas, status
        corefile = self.read("ConfigMap", "coredns")["data"]["Corefile"]
        return image.rsplit(":", 1)[1], replicas, corefile

    def put_corefile(self, corefile: str) -> None:
        body = configmap("coredns", {"Corefile": corefile})
        try:
            self.core.replace_namespaced_config_map("coredns", NAMESPACE, body)  # type: ignore[arg-type]
        except k8s.ApiException as error:
            if error.status != 404:
                raise
            self.core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]

    def delete_corefile(self) -> None:
        try:
            self.core.delete_namespaced_config_map("coredns", NAMESPACE)
        except k8s.ApiException as error:
            if error.status != 404:
                raise


@pytest.fixture
def on_kube(
    journey_eks: StandInServer, kube_fresh: KubeApiServer, tmp_path: Path
) -> Iterator[OnKubernetes]:
    with ExitStack() as stack:
        yield OnKubernetes(journey_eks, kube_fresh, tmp_path, stack)


def test_all_addons_carries_every_addon_to_its_latest_build(
    eks: StandInServer, tmp_path: Path
) -> None:
    result = eksaddon(eks, tmp_path, "upgrade", "--all-addons", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert versions(eks) == {
        "vpc-cni": "v1.18.3-eksbuild.3",
        "kube-proxy": "v1.29.7-eksbuild.5",
        "coredns": "v1.11.3-eksbuild.1",
    }
    document = json.loads(result.stdout)
    assert [(a["addon"], a["state"]) for a in document["addons"]] == [
        ("vpc-cni", "upgraded"),
        ("kube-proxy", "upgraded"),
        ("coredns", "upgraded"),
    ]
    assert all(Path(a["backup"]).is_file() for a in document["addons"])
    for line in (
        "add-on 1/3: starting vpc-cni (after phase)",
        "[1/2] v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1: started update",
        "add-on 3/3: coredns upgraded at v1.11.3-eksbuild.1",
    ):
        assert line in result.stderr


def test_all_addons_killed_midway_resumes_and_skips_what_is_done(
    eks: StandInServer, tmp_path: Path, cli: Cli
) -> None:
    cli.kill_when("add-on 2/3: starting kube-proxy", "upgrade", "--all-addons", "--yes")
    assert versions(eks)["vpc-cni"] == "v1.18.3-eksbuild.3"
    result = eksaddon(eks, tmp_path, "upgrade", "--all-addons", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr
    states = {a["addon"]: a["state"] for a in json.loads(result.stdout)["addons"]}
    assert states == {"vpc-cni": "done earlier", "kube-proxy": "upgraded", "coredns": "upgraded"}
    assert "starting vpc-cni" not in result.stderr
    assert versions(eks)["coredns"] == "v1.11.3-eksbuild.1"


def test_all_addons_dry_run_changes_nothing(eks: StandInServer, tmp_path: Path) -> None:
    result = eksaddon(eks, tmp_path, "upgrade", "--all-addons", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "vpc-cni" in result.stdout and "planned" in result.stdout
    assert versions(eks) == START
    assert not (tmp_path / "state" / "journals").exists()


def test_cluster_upgrade_killed_during_the_control_plane_update_follows_the_same_update(
    on_kube: OnKubernetes,
) -> None:
    eks, cli = on_kube.eks, on_kube.cli
    eks.standin.cluster_update_polls = None  # the update runs until the test ends it
    seen = cli.kill_when(
        "control plane of prod: 1.29 → 1.30: started update", "cluster-upgrade", "--to", "1.30",
        "--yes", "--timeout", "60",
    )  # fmt: skip
    before = "\n".join(seen)
    # The gate let it through and put CoreDNS before the control plane (1.30 offers no
    # v1.10.1): its edited Corefile and replicas carried, its rollout checked to the end.
    assert "== before: carrying 1 add-on(s) on cluster prod in order: coredns" in before
    assert "carrying settings from the nodes into the configuration values" in before
    assert "Corefile, replicas" in before
    assert "[1/1] coredns rollout: 3/3 replicas updated\n[1/1] done" in before
    assert on_kube.coredns_kept() == ("v1.11.3-eksbuild.1", COREDNS_REPLICAS, EDITED_COREFILE)
    (update,) = eks.standin.cluster_updates()
    assert update.status == "InProgress"
    with eks.standin.lock:  # the update in flight now ends two polls later
        update.polls_needed = update.polls + 2
    result = cli.run(
        "cluster-upgrade", "--to", "1.30", "--yes", "-o", "json",
        "--control-plane-timeout", "60", "--timeout", "60",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"following update {update.id}" in result.stderr
    assert [u.id for u in eks.standin.cluster_updates()] == [update.id]  # never issued twice
    assert str(eks.cluster("prod").version) == "1.30"
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["control_plane"]["update_id"] == update.id
    assert versions(eks) == {"vpc-cni": "v1.18.3-eksbuild.3", "coredns": "v1.11.3-eksbuild.1"}
    assert any(n["name"] == "workers" for n in document["nodes"])
    # The after phase took vpc-cni one minor per update, each step rolled out on every node,
    # the custom IPAM settings carried; CoreDNS, done before, was not sent again.
    assert "carrying settings from the nodes" in result.stderr
    for step in ("[1/2]", "[2/2]"):
        assert f"{step} aws-node rollout: 2/2 nodes updated" in result.stderr
    aws_node = on_kube.containers("DaemonSet", "aws-node")["aws-node"]
    assert aws_node["image"].endswith(":v1.18.3-eksbuild.3")
    assert {e["name"]: e.get("value") for e in aws_node["env"]}.items() >= CUSTOM.items()
    assert on_kube.pod_images("k8s-app=aws-node") == {node: {aws_node["image"]} for node in NODES}
    assert eks.standin.count("UpdateAddon") == 3  # CoreDNS once, vpc-cni's two steps
    assert on_kube.coredns_kept() == ("v1.11.3-eksbuild.1", COREDNS_REPLICAS, EDITED_COREFILE)


def test_cluster_upgrade_refused_for_insights_then_forced(
    journey_eks: StandInServer, tmp_path: Path
) -> None:
    eks = journey_eks
    eks.put_insight("prod", deprecated_api_insight("insight-1", "1.30"))
    refused = eksaddon(eks, tmp_path, "cluster-upgrade", "--to", "1.30", "--yes")
    # the gate reads the same insight EKS would refuse for: exit 1, nothing changed, named
    assert refused.returncode == 1, refused.stderr
    assert "the gate refuses" in refused.stderr and "insight-error" in refused.stderr
    assert eks.standin.cluster_updates() == []
    assert "--force-upgrade-insights" in refused.stderr
    forced = eksaddon(
        eks, tmp_path, "cluster-upgrade", "--to", "1.30", "--yes", "--force-upgrade-insights"
    )
    assert forced.returncode == 0, forced.stderr
    (update,) = eks.standin.cluster_updates()
    assert update.force is True
    assert "with force (upgrade insights overridden)" in forced.stderr
