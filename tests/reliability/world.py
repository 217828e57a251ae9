"""One cluster on both stand-ins, behind fault proxies, for the fault matrix.

EKS is the moto stand-in and Kubernetes a real kube-apiserver; eksaddon reaches each through a
:class:`~standins.faultproxy.FaultProxy`. The add-on being upgraded is a parameter (an
:class:`AddonUnderTest`): :data:`VPC_CNI` (the default; a DaemonSet) or :data:`COREDNS` (a
Deployment). When an update succeeds, the stand-in rewrites the add-on's objects as EKS does and
a stand-in controller rolls its pods:

* vpc-cni: the aws-node DaemonSet gets the build's images and the env of the manifest plus the
  configuration values (a setting not carried in the configuration values is lost, as on EKS);
  the DaemonSet controller rolls the pods on every node;
* coredns: the ``coredns`` ConfigMap gets EKS's default Corefile unless the configuration values
  hold one, and the Deployment the build's image and EKS's two replicas unless they hold a
  ``replicaCount``; the Deployment controller rolls the replicas.

Given a :class:`~virtual_clock.FastForwardClock` (the ``fast_clock`` fixture), the world moves on
with it: the controller reconciles at every sleep of the code under test, and an API server that
went away comes back after the clock's seconds, not real ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import yaml
from addon_objects import DEFAULT_COREFILE, EDITED_COREFILE, configmap, coredns_deployment
from moto.eks.models import eks_backends

from eksaddon.engine.journal import Journal
from standins.catalogues import bundled_catalogue
from standins.controller import DaemonSetController
from standins.deployment_controller import DeploymentController
from standins.eks_addons import AddonRecord, UpdateRecord
from standins.faultproxy import FaultProxy, fault_proxy
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer
from tests_support import daemonset, eksaddon_command
from virtual_clock import FastForwardClock
from warm_cli import WarmCli, WarmProcess

CLUSTER = "prod"
ADDON = "vpc-cni"
START = "v1.16.4-eksbuild.2"
PLAN = ("v1.17.1-eksbuild.1", "v1.18.3-eksbuild.3")  # two steps: a rerun must go on past step 1
TARGET = PLAN[-1]
NODES = ("node-a", "node-b")
# Custom IPAM settings on the nodes, in no configuration value: eksaddon must carry them.
CUSTOM = {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}
STEP_TIMEOUT = "2"  # seconds: persistent faults run into it
# A hung request fails fast ($EKSADDON_API_TIMEOUT, seconds), so that it can be retried within
# the step; a case whose requests hang runs its faulted upgrade with the shortest timeout
# eksaddon accepts: each hung request is a real read timeout (counted in full on the fast clock)
# and the gateways' attempts (8 for EKS, 4 for Kubernetes) are each one.
API_TIMEOUT = "0.5"
HUNG_REQUEST_API_TIMEOUT = "0.1"
POLL = "0.05"
NAMESPACE = "kube-system"
# Containers are merged by name: the patched one keeps its args and resources.
MERGE = "application/strategic-merge-patch+json"


class AddonUnderTest:
    """What the fault matrix needs to know of the add-on it upgrades (one per workload kind).

    ``plan`` is the versions eksaddon steps through from ``start`` (its policy decides them);
    ``carried`` the names of the custom settings the journal must record as carried;
    ``resource`` / ``workload`` the node-side object the rollout check follows, as Kubernetes
    names it (``daemonsets``, ``aws-node``); ``rollout_label`` how the check's messages name it.
    """

    name: str
    start: str
    plan: tuple[str, ...]
    carried: frozenset[str]
    resource: str
    workload: str
    rollout_label: str

    @property
    def target(self) -> str:
        return self.plan[-1]

    @property
    def workload_path(self) -> str:
        """The workload's URL path on the API server (a fault rule's regular expression)."""
        return f"^/apis/apps/v1/namespaces/{NAMESPACE}/{self.resource}/{self.workload}"

    def __repr__(self) -> str:
        return self.name  # the test id of a case parametrised with it

    def prepare(self, world: World) -> None:
        """The add-on at ``start`` on EKS and its objects with custom settings on the cluster."""
        raise NotImplementedError

    def controller(self, world: World, interval: float) -> Any:
        """The stand-in controller that rolls the workload (a context manager with ``tick``)."""
        raise NotImplementedError

    def apply(self, world: World, record: AddonRecord) -> None:
        """What EKS does to the add-on's objects when an update succeeds."""
        raise NotImplementedError

    def lost_settings(self, world: World) -> list[str]:
        """Custom settings missing from the cluster or from the add-on's configuration values."""
        raise NotImplementedError


class VpcCni(AddonUnderTest):
    """vpc-cni v1.16.4 → v1.17.1 → v1.18.3 (one minor per update) with custom IPAM settings."""

    name = ADDON
    start = START
    plan = PLAN
    carried = frozenset(CUSTOM)
    resource = "daemonsets"
    workload = "aws-node"
    rollout_label = "aws-node"

    def prepare(self, world: World) -> None:
        world.eks.put_addon(CLUSTER, START)
        document = daemonset(START, env=CUSTOM)
        apps = k8s.AppsV1Api(world.api)
        apps.create_namespaced_daemon_set(NAMESPACE, document)  # type: ignore[arg-type]
        for node in NODES:
            make_node(world.api, node)
        make_node(world.api, "fargate-1", labels={"eks.amazonaws.com/compute-type": "fargate"})
        DaemonSetController(world.api, NODES).reconcile()  # the pods of the starting version

    def controller(self, world: World, interval: float) -> DaemonSetController:
        return DaemonSetController(world.api, NODES, interval=interval)

    def apply(self, world: World, record: AddonRecord) -> None:
        apps = k8s.AppsV1Api(world.api)
        response: Any = apps.read_namespaced_daemon_set(
            "aws-node", NAMESPACE, _preload_content=False
        )
        document = json.loads(response.data)
        values = json.loads(record.configuration_values or "{}")
        spec = document["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            container["image"] = f"{container['image'].rsplit(':', 1)[0]}:{record.addon_version}"
        aws_node = next(c for c in spec["containers"] if c["name"] == "aws-node")
        # The manifest's env, then the configuration values: nothing else survives an update.
        manifest = [e for e in aws_node.get("env", []) if e["name"] not in CUSTOM]
        aws_node["env"] = manifest + [
            {"name": k, "value": v} for k, v in values.get("env", {}).items() if k in CUSTOM
        ]
        apps.replace_namespaced_daemon_set("aws-node", NAMESPACE, document)

    def lost_settings(self, world: World) -> list[str]:
        values = json.loads(world.addon().configuration_values or "{}").get("env", {})
        nodes = world.node_env()
        return [
            f"{name} ({where})"
            for name, value in CUSTOM.items()
            for where, found in (("nodes", nodes), ("configuration values", values))
            if found.get(name) != value
        ]


COREDNS_REPLICAS = 3  # EKS deploys 2: an operator scaled it up, by kubectl


class CoreDns(AddonUnderTest):
    """CoreDNS v1.10.1-eksbuild.7 → v1.11.3-eksbuild.1, both offered for 1.29 in the bundled
    catalogue (one update: CoreDNS has no step rule), with an edited Corefile (a ``hosts`` block
    and a corporate stub zone) and three replicas set by kubectl, in no configuration value."""

    name = "coredns"
    start = "v1.10.1-eksbuild.7"
    plan = ("v1.11.3-eksbuild.1",)
    carried = frozenset({"Corefile", "replicas"})
    resource = "deployments"
    workload = "coredns"
    rollout_label = "Deployment kube-system/coredns"

    def prepare(self, world: World) -> None:
        world.eks.standin.catalogue = bundled_catalogue()
        world.eks.put_addon(CLUSTER, self.start, addon_name=self.name)
        for node in NODES:
            make_node(world.api, node)
        apps = k8s.AppsV1Api(world.api)
        document = coredns_deployment(self.start, replicas=COREDNS_REPLICAS)
        apps.create_namespaced_deployment(NAMESPACE, document)  # type: ignore[arg-type]
        self._put_corefile(world, EDITED_COREFILE)
        # ConfigMaps outlive kube_fresh's reset: gone after the test, for the next on this server.
        world.stack.callback(self._delete_corefile, world)
        DeploymentController(world.api, NAMESPACE, self.workload).settle()  # the start's pods

    def controller(self, world: World, interval: float) -> DeploymentController:
        return DeploymentController(world.api, NAMESPACE, self.workload, interval=interval)

    def apply(self, world: World, record: AddonRecord) -> None:
        values = json.loads(record.configuration_values or "{}")
        self._put_corefile(world, values.get("corefile", DEFAULT_COREFILE))
        apps = k8s.AppsV1Api(world.api)
        response: Any = apps.read_namespaced_deployment(
            self.workload, NAMESPACE, _preload_content=False
        )
        container = json.loads(response.data)["spec"]["template"]["spec"]["containers"][0]
        image = f"{container['image'].rsplit(':', 1)[0]}:{record.addon_version}"
        patch = {
            "spec": {
                "replicas": values.get("replicaCount", 2),
                "template": {"spec": {"containers": [{"name": container["name"], "image": image}]}},
            }
        }
        # A patch, not a replace: the stand-in controller writes the status meanwhile.
        apps.patch_namespaced_deployment(self.workload, NAMESPACE, patch, _content_type=MERGE)

    def lost_settings(self, world: World) -> list[str]:
        values = json.loads(world.addon().configuration_values or "{}")
        core, apps = k8s.CoreV1Api(world.api), k8s.AppsV1Api(world.api)
        corefile = (core.read_namespaced_config_map("coredns", NAMESPACE).data or {}).get(
            "Corefile"
        )
        replicas = apps.read_namespaced_deployment(self.workload, NAMESPACE).spec.replicas
        checks = {
            "Corefile (ConfigMap coredns)": corefile == EDITED_COREFILE,
            "Corefile (configuration values)": values.get("corefile") == EDITED_COREFILE,
            "replicas (Deployment)": replicas == COREDNS_REPLICAS,
            "replicas (configuration values)": values.get("replicaCount") == COREDNS_REPLICAS,
        }
        return [name for name, kept in checks.items() if not kept]

    @staticmethod
    def _put_corefile(world: World, corefile: str) -> None:
        core = k8s.CoreV1Api(world.api)
        body = configmap("coredns", {"Corefile": corefile})
        try:
            core.replace_namespaced_config_map("coredns", NAMESPACE, body)  # type: ignore[arg-type]
        except k8s.ApiException as error:
            if error.status != 404:
                raise
            core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]

    @staticmethod
    def _delete_corefile(world: World) -> None:
        try:
            k8s.CoreV1Api(world.api).delete_namespaced_config_map("coredns", NAMESPACE)
        except k8s.ApiException as error:
            if error.status != 404:
                raise


VPC_CNI = VpcCni()
COREDNS = CoreDns()
ADDONS_UNDER_TEST = (VPC_CNI, COREDNS)


class World:
    """The cluster ``prod`` with the add-on at its start version with custom settings, and the
    ways to reach it."""

    def __init__(
        self,
        eks: StandInServer,
        kube: KubeApiServer,
        tmp_path: Path,
        stack: ExitStack,
        *,
        clock: FastForwardClock | None = None,
        addon: AddonUnderTest = VPC_CNI,
    ) -> None:
        self.eks = eks
        self.kube = kube
        self.tmp_path = tmp_path
        self.stack = stack
        self.subject = addon
        self.state = tmp_path / "state"
        self.api = kube.shared_client()
        later = clock.call_later if clock is not None else None
        held = clock.count_in_full if clock is not None else None
        self.eks_proxy: FaultProxy = stack.enter_context(
            fault_proxy(eks.url, later=later, held=held)
        )
        self.kube_proxy: FaultProxy = stack.enter_context(
            fault_proxy(kube.url, ca_file=kube.ca_file, later=later, held=held)
        )
        self.kubeconfig = self._write_kubeconfig()
        eks.create_cluster(CLUSTER, "1.29")
        cluster = eks_backends[eks.account_id][eks.region].clusters[CLUSTER]
        cluster.endpoint = self.kube_proxy.url  # eksaddon checks the kubeconfig names this cluster
        addon.prepare(self)
        # On the fast clock the controller acts at every sleep of eksaddon (in-process runs);
        # its own thread, for runs in a subprocess, then need not look as often.
        # (A DaemonSetController for vpc-cni, a DeploymentController for coredns.)
        self.controller: Any = stack.enter_context(
            addon.controller(self, interval=0.05 if clock is None else 0.5)
        )
        if clock is not None:
            clock.on_sleep(self.controller.tick)
        eks.standin.on_update_applied = lambda record: addon.apply(self, record)

    # --- the cluster -----------------------------------------------------------------------------

    def _write_kubeconfig(self) -> Path:
        path = self.tmp_path / "kubeconfig"
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CLUSTER, "cluster": {"server": self.kube_proxy.url}}],
            "users": [{"name": "admin", "user": {"token": self.kube.token}}],
            "contexts": [{"name": CLUSTER, "context": {"cluster": CLUSTER, "user": "admin"}}],
            "current-context": CLUSTER,
        }
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        path.chmod(0o600)
        return path

    # --- running eksaddon ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        environment = self.eks.env()
        environment.update(
            {
                "AWS_ENDPOINT_URL_EKS": self.eks_proxy.url,
                "EKSADDON_STATE_DIR": str(self.state),
                "EKSADDON_CACHE_DIR": str(self.tmp_path / "cache"),
                "EKSADDON_API_TIMEOUT": API_TIMEOUT,
                "KUBECONFIG": str(self.kubeconfig),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return environment

    def upgrade_args(self) -> list[str]:
        return [
            "upgrade",
            "--cluster",
            CLUSTER,
            "--yes",
            "--poll-interval",
            POLL,
            "--timeout",
            STEP_TIMEOUT,
            # (kubernetes reads $KUBECONFIG once, when imported: in-process runs name the file)
            "--kubeconfig",
            str(self.kubeconfig),
            # (vpc-cni is the default add-on: its runs keep the arguments they always had)
            *(["--addon", self.subject.name] if self.subject is not VPC_CNI else []),
        ]

    def start_warm(self, warm: WarmCli) -> WarmProcess:
        """The CLI's entry point in a process forked from a warm interpreter (see warm_cli.py):
        the run ``start`` would make, without the imports before its first request."""
        return warm.start(self.upgrade_args(), self.env())

    def start(self) -> subprocess.Popen[str]:
        """The installed CLI in a subprocess (for signals and kills)."""
        return subprocess.Popen(
            [*eksaddon_command(), *self.upgrade_args()],
            env=self.env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @staticmethod
    def signal(
        process: subprocess.Popen[str] | WarmProcess, number: signal.Signals
    ) -> tuple[int, str, str]:
        os.kill(process.pid, number)
        out, err = process.communicate(timeout=60)
        assert process.returncode is not None
        return process.returncode, out, err

    # --- what the stand-ins hold ---------------------------------------------------------------

    def addon(self) -> AddonRecord:
        record = self.eks.standin.addon(CLUSTER, self.subject.name)
        assert record is not None
        return record

    def updates(self) -> list[UpdateRecord]:
        return list(self.eks.standin.updates())

    def successful_updates(self) -> dict[str, int]:
        """Target version -> how many updates to it succeeded (each step must count 1)."""
        counts: dict[str, int] = {}
        for update in self.updates():
            if update.status == "Successful" and update.target_version:
                counts[update.target_version] = counts.get(update.target_version, 0) + 1
        return counts

    def node_env(self) -> dict[str, str]:
        live = k8s.AppsV1Api(self.api).read_namespaced_daemon_set("aws-node", "kube-system")
        container = next(
            c
            for c in live.spec.template.spec.containers  # type: ignore[union-attr]
            if c.name == "aws-node"
        )
        return {e.name: e.value for e in container.env or [] if e.value is not None}

    def lost_settings(self) -> list[str]:
        """Custom settings missing from the cluster or from the add-on's configuration values."""
        return self.subject.lost_settings(self)

    def journal_files(self) -> list[Path]:
        return sorted((self.state / "journals").glob("*.json"))

    def backups(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted((self.state / "backups").glob("*.json"))}

    def journal(self) -> Journal | None:
        files = [p for p in self.journal_files() if p.name.count(".") == 1]
        if not files:
            return None
        (path,) = files
        return Journal.load(path)


def stderr_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def one_error_line(err: str) -> str:
    """The single ``eksaddon: error:`` line that ends every failing run's stderr."""
    lines = stderr_lines(err)
    errors = [line for line in lines if line.startswith("eksaddon: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]
