"""The self-managed cluster the Helm and self-managed end-to-end tests share: the EKS cluster
``prod`` (moto stand-in) whose endpoint is a real kube-apiserver, two nodes, the add-on objects a
test installs, and eksaddon run against them two ways:

* ``installed(...)``: the installed console script in a subprocess, as a user runs it (each
  module keeps at least one such test: it proves the script, its environment and exit codes);
* ``in_process(...)``: the same CLI entry point in the test process on the fast-forwarded clock
  (the ``fast_clock`` fixture): the stand-in DaemonSet controller rolls the pods at every wait of
  eksaddon, so polls and the step timeouts a stuck node runs into cost no real time. Used where
  a subprocess proves nothing more.

The ``self_managed`` fixture (tests/e2e/conftest.py) hands one to a test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto.eks.models import eks_backends

from eksaddon.gateways.kube import KubeGateway
from eksaddon.nodeside.detect import Customization
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion
from standins.controller import DaemonSetController
from standins.kube import KubeApiServer, make_node
from standins.server import StandInServer
from tests_support import Result, eksaddon_command
from virtual_clock import FastForwardClock

CLUSTER = "prod"
NODES = ("node-a", "node-b")


class SelfManagedCluster:
    """The EKS cluster ``prod`` whose endpoint is the kube-apiserver, its nodes, and eksaddon
    run against both (the Kubernetes add-on objects are the test's: ``install``)."""

    def __init__(
        self,
        eks: StandInServer,
        kube: KubeApiServer,
        tmp_path: Path,
        run: Callable[..., Result],
        clock: Callable[[], FastForwardClock],
    ) -> None:
        self.eks = eks
        self.kube = kube
        self.tmp_path = tmp_path
        self.state = tmp_path / "state"
        self._run = run
        self._clock = clock
        self.api = kube.shared_client()
        self.gateway = KubeGateway(kubeconfig=kube.kubeconfig_path, context=kube.context)

    def create(self, kubernetes_version: str = "1.29") -> SelfManagedCluster:
        self.eks.create_cluster(CLUSTER, kubernetes_version)
        backend = eks_backends[self.eks.account_id][self.eks.region]
        backend.clusters[CLUSTER].endpoint = self.kube.url  # the kubeconfig names this cluster
        for node in NODES:
            make_node(self.api, node)
        return self

    def install(
        self,
        release: str,
        customizations: Iterable[Customization] = (),
        *,
        mark: Callable[[dict[str, Any]], None] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        """Apply the release's rendered manifest (each object passed through ``mark`` first;
        with ``only``, the objects of those kinds alone)."""
        documents = render(
            AddonVersion.parse(release), "us-west-2", customizations=tuple(customizations)
        )
        kinds = None if only is None else set(only)
        for document in documents:
            if kinds is not None and document["kind"] not in kinds:
                continue
            if mark is not None:
                mark(document)
            self.gateway.apply(document)

    def daemonset(self) -> dict[str, Any]:
        found = self.gateway.read_daemonset("kube-system", "aws-node")
        assert found is not None
        return found

    def containers(self) -> dict[str, dict[str, Any]]:
        """aws-node's running containers by name."""
        spec = self.daemonset()["spec"]["template"]["spec"]
        return {c["name"]: c for c in spec["containers"]}

    def kube_args(self) -> tuple[str, ...]:
        return ("--kubeconfig", self.kube.kubeconfig_path, "--context", self.kube.context)

    def env(self) -> dict[str, str]:
        return {
            **self.eks.env(),
            **self.kube.env(),
            "EKSADDON_STATE_DIR": str(self.state),
            "EKSADDON_CACHE_DIR": str(self.tmp_path / "cache"),
        }

    @contextmanager
    def controller(self) -> Iterator[DaemonSetController]:
        """The stand-in DaemonSet controller, in its own thread (for the installed CLI) and at
        every sleep of the fast clock (for in-process runs)."""
        with DaemonSetController(self.api, NODES) as controller:
            yield controller

    def installed(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The installed console script in a subprocess."""
        return subprocess.run(
            [*eksaddon_command(), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def in_process(self, *args: str, controller: DaemonSetController | None = None) -> Result:
        """The CLI's entry point in this process, its waits on the fast clock; ``controller``
        reconciles at each of them."""
        clock = self._clock()
        if controller is not None:
            clock.on_sleep(controller.tick)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.env().items():
                patch.setenv(name, value)
            return self._run(*args)
