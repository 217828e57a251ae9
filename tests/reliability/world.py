"""One cluster on both stand-ins, behind fault proxies, for the fault matrix.

EKS is the moto stand-in and Kubernetes a real kube-apiserver; eksaddon reaches each through a
:class:`~standins.faultproxy.FaultProxy`. When an update succeeds, the stand-in rewrites the
aws-node DaemonSet as EKS does — the build's images, and the env of the manifest plus the
configuration values (a setting not carried in the configuration values is lost, as on EKS) —
and the stand-in DaemonSet controller rolls the pods on every node.

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
from moto.eks.models import eks_backends

from eksaddon.engine.journal import Journal
from standins.controller import DaemonSetController
from standins.eks_addons import AddonRecord, UpdateRecord
from standins.faultproxy import FaultProxy, fault_proxy
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer
from tests_support import daemonset, eksaddon_command
from virtual_clock import FastForwardClock

CLUSTER = "prod"
ADDON = "vpc-cni"
START = "v1.16.4-eksbuild.2"
PLAN = ("v1.17.1-eksbuild.1", "v1.18.3-eksbuild.3")  # two steps: a rerun must go on past step 1
TARGET = PLAN[-1]
NODES = ("node-a", "node-b")
# Custom IPAM settings on the nodes, in no configuration value: eksaddon must carry them.
CUSTOM = {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}
STEP_TIMEOUT = "2"  # seconds: persistent faults run into it
POLL = "0.05"


class World:
    """The cluster ``prod`` at v1.16.4 with custom settings, and the ways to reach it."""

    def __init__(
        self,
        eks: StandInServer,
        kube: KubeApiServer,
        tmp_path: Path,
        stack: ExitStack,
        *,
        clock: FastForwardClock | None = None,
    ) -> None:
        self.eks = eks
        self.kube = kube
        self.tmp_path = tmp_path
        self.state = tmp_path / "state"
        self.api = kube.shared_client()
        later = clock.call_later if clock is not None else None
        self.eks_proxy: FaultProxy = stack.enter_context(fault_proxy(eks.url, later=later))
        self.kube_proxy: FaultProxy = stack.enter_context(
            fault_proxy(kube.url, ca_file=kube.ca_file, later=later)
        )
        self.kubeconfig = self._write_kubeconfig()
        eks.create_cluster(CLUSTER, "1.29")
        cluster = eks_backends[eks.account_id][eks.region].clusters[CLUSTER]
        cluster.endpoint = self.kube_proxy.url  # eksaddon checks the kubeconfig names this cluster
        eks.put_addon(CLUSTER, START)
        self._create_daemonset()
        # On the fast clock the controller acts at every sleep of eksaddon (in-process runs);
        # its own thread, for runs in a subprocess, then need not look as often.
        self.controller = stack.enter_context(
            DaemonSetController(self.api, NODES, interval=0.05 if clock is None else 0.5)
        )
        if clock is not None:
            clock.on_sleep(self.controller.tick)
        eks.standin.on_update_applied = self._apply

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

    def _create_daemonset(self) -> None:
        document = daemonset(START, env=CUSTOM)
        apps = k8s.AppsV1Api(self.api)
        apps.create_namespaced_daemon_set("kube-system", document)  # type: ignore[arg-type]
        for node in NODES:
            make_node(self.api, node)
        make_node(self.api, "fargate-1", labels={"eks.amazonaws.com/compute-type": "fargate"})
        DaemonSetController(self.api, NODES).reconcile()  # the pods of the starting version

    def _apply(self, record: AddonRecord) -> None:
        """What EKS does to the DaemonSet when an update succeeds."""
        apps = k8s.AppsV1Api(self.api)
        response: Any = apps.read_namespaced_daemon_set(
            "aws-node", "kube-system", _preload_content=False
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
        apps.replace_namespaced_daemon_set("aws-node", "kube-system", document)

    # --- running eksaddon ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        environment = self.eks.env()
        environment.update(
            {
                "AWS_ENDPOINT_URL_EKS": self.eks_proxy.url,
                "EKSADDON_STATE_DIR": str(self.state),
                "EKSADDON_CACHE_DIR": str(self.tmp_path / "cache"),
                # A hung request fails fast, so that it can be retried within the step.
                "EKSADDON_API_TIMEOUT": "0.5",
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
        ]

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
    def signal(process: subprocess.Popen[str], number: signal.Signals) -> tuple[int, str, str]:
        os.kill(process.pid, number)
        out, err = process.communicate(timeout=60)
        return process.returncode, out, err

    # --- what the stand-ins hold ---------------------------------------------------------------

    def addon(self) -> AddonRecord:
        record = self.eks.standin.addon(CLUSTER, ADDON)
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
        """Custom settings missing from the nodes or from the add-on's configuration values."""
        values = json.loads(self.addon().configuration_values or "{}").get("env", {})
        nodes = self.node_env()
        return [
            f"{name} ({where})"
            for name, value in CUSTOM.items()
            for where, found in (("nodes", nodes), ("configuration values", values))
            if found.get(name) != value
        ]

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
