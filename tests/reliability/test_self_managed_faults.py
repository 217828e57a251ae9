"""Faults during a self-managed upgrade: the Kubernetes API misbehaves while eksaddon applies.

A self-managed VPC CNI v1.16.4 (rendered manifest, custom settings on the nodes) is upgraded to
v1.18.3 in two steps through the real CLI, against a real kube-apiserver behind the fault proxy.
Faults strike before the backup (reading the DaemonSet), while applying a step's manifest (the
DaemonSet's server-side apply) and during the rollout check. Every case: the documented exit
code and one-line message; a rerun finishes; each step changed the DaemonSet exactly once (its
generation rose by one per step: a re-applied manifest changes nothing); the settings survive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.eks.models import eks_backends

import eksaddon.gateways.kube
from eksaddon.gateways.kube import KubeGateway
from eksaddon.nodeside.detect import Customization
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion
from reliability.world import one_error_line
from reliability_ledger import LEDGER
from standins.controller import DaemonSetController
from standins.faultproxy import FaultProxy, Rule, fault_proxy
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh, make_node
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import Result, eksaddon_command
from virtual_clock import FastForwardClock

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh"]

Run = Callable[..., Result]
NODES = ("node-a", "node-b")
SETTINGS = (
    Customization("aws-node", "WARM_IP_TARGET", "5", None),
    Customization("aws-node", "MINIMUM_IP_TARGET", "10", None),
)
START, TARGET, STEPS = "v1.16.4", "v1.18.3", 2
DAEMONSET = r"^/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"
PODS = r"^/api/v1/namespaces/kube-system/pods"
FOREVER = 100_000

BEFORE_BACKUP = "before the backup"
APPLYING = "while applying a step's manifest"
ROLLOUT = "during the rollout check"
POINTS = {
    BEFORE_BACKUP: ("GET", DAEMONSET),
    APPLYING: ("PATCH", DAEMONSET),
    ROLLOUT: ("GET", PODS),
}
STATUS_503 = json.dumps({"kind": "Status", "code": 503, "message": "injected"}).encode()
FAULTS: dict[str, dict[str, Any]] = {
    "kube-503": {"action": "status", "status": 503, "body": STATUS_503},
    "kube-connection-reset": {"action": "reset"},
    "kube-apiserver-away-and-back": {"action": "away", "seconds": 0.6},
}
PERSISTENT = {
    BEFORE_BACKUP: (3, "daemonsets kube-system/aws-node"),
    APPLYING: (4, "applying DaemonSet aws-node on cluster prod kept failing"),
    ROLLOUT: (4, "the aws-node rollout of v1.17.1 did not finish"),
}


class SelfManaged:
    def __init__(
        self,
        eks: StandInServer,
        kube: KubeApiServer,
        tmp_path: Path,
        stack: ExitStack,
        clock: FastForwardClock,
    ) -> None:
        self.kube = kube
        self.tmp_path = tmp_path
        self.state = tmp_path / "state"
        self.proxy: FaultProxy = stack.enter_context(
            fault_proxy(kube.url, ca_file=kube.ca_file, later=clock.call_later)
        )
        eks.create_cluster("prod", "1.29")
        eks_backends[eks.account_id][eks.region].clusters["prod"].endpoint = self.proxy.url
        api = kube.shared_client()
        for node in NODES:
            make_node(api, node)
        self.direct = KubeGateway(kubeconfig=kube.kubeconfig_path, context=kube.context)
        for document in render(AddonVersion.parse(START), "us-west-2", customizations=SETTINGS):
            self.direct.apply(document)
        # The controller acts at every sleep of eksaddon (in-process runs); its own thread, for
        # the run in a subprocess, need not look as often.
        self.controller = stack.enter_context(DaemonSetController(api, NODES, interval=0.5))
        clock.on_sleep(self.controller.tick)
        self.kubeconfig = tmp_path / "kubeconfig"
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "prod", "cluster": {"server": self.proxy.url}}],
                    "users": [{"name": "admin", "user": {"token": kube.token}}],
                    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
                    "current-context": "prod",
                }
            ),
            encoding="utf-8",
        )
        self.generation = self.daemonset()["metadata"]["generation"]

    def args(self) -> list[str]:
        return [
            "upgrade",
            "--cluster",
            "prod",
            "--yes",
            "--to",
            TARGET,
            "--poll-interval",
            "0.05",
            "--timeout",
            "2",
            "--kubeconfig",
            str(self.kubeconfig),
        ]

    def daemonset(self) -> dict[str, Any]:
        found = self.direct.read_daemonset("kube-system", "aws-node")
        assert found is not None
        return found

    def env(self) -> dict[str, str | None]:
        containers = self.daemonset()["spec"]["template"]["spec"]["containers"]
        aws_node = next(c for c in containers if c["name"] == "aws-node")
        return {e["name"]: e.get("value") for e in aws_node.get("env", [])}

    def image_tag(self) -> str:
        containers = self.daemonset()["spec"]["template"]["spec"]["containers"]
        image: str = next(c["image"] for c in containers if c["name"] == "aws-node")
        return image.rsplit(":", 1)[1]


@pytest.fixture
def world(
    eks_standin: StandInServer,
    kube_fresh: KubeApiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fast_clock: FastForwardClock,
) -> Iterator[SelfManaged]:
    # The step's deadline, polls and backoff run on the fast clock (see test_fault_matrix.py).
    monkeypatch.setattr(eksaddon.gateways.kube, "FIRST_BACKOFF", 0.01)
    with ExitStack() as stack:
        built = SelfManaged(eks_standin, kube_fresh, tmp_path, stack, fast_clock)
        for name, value in eks_standin.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("EKSADDON_STATE_DIR", str(built.state))
        monkeypatch.setenv("EKSADDON_API_TIMEOUT", "0.5")
        yield built


def upgrade(run: Run, world: SelfManaged) -> Result:
    result = run(*world.args())
    LEDGER.saw_output(result.out, result.err)
    assert "Traceback" not in result.err
    return result


def rerun_and_check(run: Run, world: SelfManaged, *, journal_expected: bool) -> None:
    world.proxy.clear()
    backups = {p: p.read_bytes() for p in (world.state / "backups").glob("*.json")}
    assert len(backups) == (1 if journal_expected else 0)
    result = upgrade(run, world)
    assert result.code == 0, result.err
    if journal_expected:
        assert "resuming:" in result.err, result.err
    assert_finished(world)
    for path, content in backups.items():
        assert path.read_bytes() == content, "the backup changed"


def assert_finished(world: SelfManaged) -> None:
    assert world.image_tag() == TARGET
    # Each step changed the DaemonSet once; a manifest applied again changes nothing.
    assert world.daemonset()["metadata"]["generation"] == world.generation + STEPS
    env = world.env()
    lost = [s.name for s in SETTINGS if env.get(s.name) != s.value]
    LEDGER.lost(len(lost))
    assert lost == []


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("kind", list(FAULTS))
@pytest.mark.parametrize("duration", ["transient", "persistent"])
def test_self_managed_fault(
    run: Run, world: SelfManaged, point: str, kind: str, duration: str
) -> None:
    fault = dict(FAULTS[kind])
    if duration == "persistent" and kind == "kube-apiserver-away-and-back":
        fault["seconds"] = 60.0
    times = (1 if "away" in kind else 2) if duration == "transient" else FOREVER
    method, path = POINTS[point]
    rule = world.proxy.add(Rule(method, path, times=times, **fault))
    LEDGER.fault(f"self-managed {kind} ({duration})", f"self-managed: {point}")

    result = upgrade(run, world)

    assert rule.hits >= 1, "the fault never struck"
    if duration == "transient":
        assert result.code == 0, result.err
        assert_finished(world)
        return
    code, message = PERSISTENT[point]
    assert result.code == code, result.err
    line = one_error_line(result.err)
    assert message in line, line
    if kind == "kube-apiserver-away-and-back":
        world.proxy.closing.set()  # stop the pending comeback; listen again now
        world.proxy.down()
        world.proxy.closing.clear()
        world.proxy.up()
    if point == BEFORE_BACKUP:
        assert world.daemonset()["metadata"]["generation"] == world.generation
        assert not (world.state / "journals").exists()
    rerun_and_check(run, world, journal_expected=point != BEFORE_BACKUP)


@pytest.mark.slow
def test_killed_while_applying_then_rerun(run: Run, world: SelfManaged) -> None:
    gate = world.proxy.add(Rule("PATCH", DAEMONSET, "gate"))
    LEDGER.fault("self-managed SIGKILL", f"self-managed: {APPLYING}")
    env = {
        **os.environ,
        "KUBECONFIG": str(world.kubeconfig),
        "EKSADDON_STATE_DIR": str(world.state),
    }
    process = subprocess.Popen(
        [*eksaddon_command(), *world.args()],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert gate.arrived.wait(60), "the run never applied the DaemonSet"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    gate.gate.set()  # the held apply reaches the API server after all
    assert process.returncode == -signal.SIGKILL
    rerun_and_check(run, world, journal_expected=True)
