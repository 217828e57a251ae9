"""The node-side rollout checks against a real kube-apiserver (tests/standins/kube.py): the
Deployment check (engine/deployment_rollout.py) with the stand-in Deployment and disruption
controllers, and the DaemonSet check (engine/rollout_check.py) with the stand-in DaemonSet
controller, both through the real Kubernetes gateway.

The step's clock is fake: each of the hook's sleeps lets the controller take one step first, so
the order of events is the one real time would give, however loaded the machine is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import kubernetes.client as k8s
import pytest
import yaml

from eksaddon.addons.base import Carried, ObjectRef, Objects, Setting
from eksaddon.engine.deployment_rollout import DeploymentRolloutCheck
from eksaddon.engine.events import Event, Notice, RolloutProgressed
from eksaddon.engine.hooks import AlsoRollingOut
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.waiting import StepContext
from eksaddon.errors import InputError, UpgradeStoppedError
from eksaddon.gateways.kube import KubeGateway
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.matrix import Matrix
from eksaddon.matrix.model import Workload, WorkloadKind
from eksaddon.nodeside.detect import Customization
from eksaddon.planner import Step
from eksaddon.versions import AddonVersion, ImageTagRule, KubernetesVersion
from fakes import FakeEks
from standins.controller import DaemonSetController
from standins.deployment_controller import PDB_PATH, DeploymentController, raw
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh, make_node
from tests_support import daemonset

__all__ = ["kube_apiserver", "kube_fresh"]

REGISTRY = "602401143452.dkr.ecr.us-west-2.amazonaws.com"
OLD, NEW = AddonVersion.parse("v1.10.1-eksbuild.13"), AddonVersion.parse("v1.11.3-eksbuild.1")
WORKLOAD = Workload(
    WorkloadKind.DEPLOYMENT, "kube-system", "coredns", "coredns", ImageTagRule.ADDON_VERSION
)
STEP = Step(OLD, NEW)


class Clock:
    """Time moves only when the code under test sleeps; each sleep runs ``on_sleep`` first."""

    def __init__(self, on_sleep: Callable[[], None]) -> None:
        self.time = 0.0
        self.on_sleep = on_sleep
        self.sleeps = 0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.on_sleep()
        self.time += seconds


class View(NamedTuple):
    """The step as a node-side hook sees it (addons.base.StepView)."""

    cluster: str
    addon: str
    number: int
    total: int
    deadline: float
    poll_interval: float
    clock: Clock
    progress: Callable[[Any], None]


def gateway(server: KubeApiServer) -> KubeGateway:
    return KubeGateway(kubeconfig=server.kubeconfig_path, context=server.context)


def cluster_info(server: KubeApiServer) -> ClusterInfo:
    return ClusterInfo(
        "prod", KubernetesVersion.parse("1.29"), None, "ACTIVE", "us-west-2", endpoint=server.url
    )


def coredns(version: AddonVersion, *, replicas: int = 2, surge: object = 1) -> dict[str, Any]:
    labels = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": 1},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "coredns",
                            "image": f"{REGISTRY}/eks/coredns:{version}",
                            "args": ["-conf", "/etc/coredns/Corefile"],
                        }
                    ]
                },
            },
        },
    }


def create_budget(api: k8s.ApiClient, name: str = "coredns", **spec: Any) -> None:
    body = {
        "apiVersion": "policy/v1beta1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-dns"}}, **spec},
    }
    raw(api, "POST", PDB_PATH.format(namespace="kube-system"), body)


def set_image(api: k8s.ApiClient, version: AddonVersion) -> None:
    """What EKS does for an update: the Deployment's template gets the new build's image."""
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "coredns", "image": f"{REGISTRY}/eks/coredns:{version}"}
                    ]
                }
            }
        }
    }
    k8s.AppsV1Api(api).patch_namespaced_deployment(
        "coredns", "kube-system", patch, _content_type="application/strategic-merge-patch+json"
    )


class World(NamedTuple):
    api: k8s.ApiClient
    controller: DeploymentController
    kube: KubeGateway
    events: list[Event]


@pytest.fixture
def world(kube_fresh: KubeApiServer) -> World:
    """CoreDNS at OLD, rolled out (two Ready pods), its budget maxUnavailable 1 written."""
    api = kube_fresh.shared_client()
    apps = k8s.AppsV1Api(api)
    apps.create_namespaced_deployment("kube-system", coredns(OLD))  # type: ignore[arg-type]
    controller = DeploymentController(api, "kube-system", "coredns")
    controller.settle()
    return World(api, controller, gateway(kube_fresh), [])


def run_step(
    world: World,
    check: DeploymentRolloutCheck | None = None,
    *,
    on_sleep: Callable[[], None] | None = None,
    timeout: float = 60,
) -> Clock:
    clock = Clock(on_sleep or world.controller.tick)
    # The step runner's own context (engine/waiting.StepContext) is what the hook is given.
    ctx = StepContext(FakeEks(), "prod", "coredns", 1, 1, 0, timeout, 5, clock, world.events.append)
    (check or DeploymentRolloutCheck(world.kube, WORKLOAD))(ctx, STEP)
    return clock


def notices(events: Iterable[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, Notice)]


def test_a_settled_controller_writes_nothing_until_something_moves(world: World) -> None:
    """Self-check of the stand-in: once a step changed nothing, a tick only looks (the fault
    matrix ticks at every sleep of the code under test), and whatever moves is acted on again:
    a new budget gets its status, a new template its pods."""
    apps = k8s.AppsV1Api(world.api)

    def version() -> str:
        found = apps.read_namespaced_deployment("coredns", "kube-system").metadata
        return str(found.resource_version)  # type: ignore[union-attr]

    before = version()  # settle() ended on a step that changed nothing
    world.controller.tick()
    world.controller.tick()
    assert version() == before, "a settled controller wrote the Deployment again"
    create_budget(world.api, maxUnavailable=1)
    world.controller.tick()
    (budget,) = raw(world.api, "GET", PDB_PATH.format(namespace="kube-system"))["items"]
    assert budget["status"]["expectedPods"] == 2 and budget["status"]["disruptionsAllowed"] == 1
    set_image(world.api, NEW)
    world.controller.settle()
    pods = world.kube.pods("kube-system", "k8s-app=kube-dns")
    assert [p.images["coredns"].rsplit(":", 1)[1] for p in pods] == [str(NEW)] * 2


def test_a_template_changed_during_a_settling_step_is_still_rolled_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Self-check of the stand-in: EKS may change the template between the controller's read of
    the Deployment and its status write; the status patch's answer then holds the new spec, and
    a controller that took it as settled would never roll it out."""
    controller = world.controller
    write_status = controller._write_status

    def template_changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(controller, "_write_status", write_status)  # once
        set_image(world.api, NEW)
        return write_status(*args, **kwargs)

    controller._settled = None  # the next tick is a full step (one that will change nothing)
    monkeypatch.setattr(controller, "_write_status", template_changed_meanwhile)
    controller.tick()
    controller.settle()
    pods = world.kube.pods("kube-system", "k8s-app=kube-dns")
    assert [p.images["coredns"].rsplit(":", 1)[1] for p in pods] == [str(NEW)] * 2


def test_a_rolling_update_is_followed_to_every_replica(world: World) -> None:
    create_budget(world.api, maxUnavailable=1)
    set_image(world.api, NEW)
    clock = run_step(world)
    assert clock.sleeps >= 2  # it waited for the controller
    rollouts = [e for e in world.events if isinstance(e, RolloutProgressed)]
    assert rollouts[-1] == RolloutProgressed(1, 1, "coredns", 2, 2, (), unit="replicas")
    assert any(r.behind for r in rollouts[:-1])  # the old pods were named while they ran
    assert notices(world.events) == []
    pods = world.kube.pods("kube-system", "k8s-app=kube-dns")
    assert {p.images["coredns"].rsplit(":", 1)[1] for p in pods} == {str(NEW)}
    replica_sets = k8s.AppsV1Api(world.api).list_namespaced_replica_set("kube-system").items
    assert len(replica_sets) == 2  # the old template's and the new one's


def test_a_rollout_that_takes_pods_below_the_budget_is_reported(world: World) -> None:
    # maxSurge 0: the controller removes an old pod before starting a new one, which takes the
    # pods below a budget that wants both (Deployments do not honour budgets; evictions do).
    patch = {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}}
    k8s.AppsV1Api(world.api).patch_namespaced_deployment("coredns", "kube-system", patch)
    world.controller.settle()
    create_budget(world.api, minAvailable=2)
    set_image(world.api, NEW)
    run_step(world)
    said = notices(world.events)
    assert any(
        "PodDisruptionBudget kube-system/coredns (1 healthy of 2 required) was not met for a "
        "while (it is met again)" in line
        for line in said
    ), said
    assert any("allows no disruption now: a node drain" in line for line in said), said


def test_a_deployment_whose_template_eks_has_not_rewritten_yet_is_waited_for(
    world: World,
) -> None:
    looks = []

    def eks_then_controller() -> None:
        looks.append(1)
        if len(looks) == 2:  # EKS rewrites the Deployment while the check already waits
            set_image(world.api, NEW)
        world.controller.tick()

    run_step(world, on_sleep=eks_then_controller)
    first = next(e for e in world.events if isinstance(e, RolloutProgressed))
    assert first.behind == (f"the template still runs {OLD}",)
    assert first.updated == 0


def test_no_replica_counts_as_updated_before_the_controller_saw_the_new_template(
    world: World,
) -> None:
    set_image(world.api, NEW)  # EKS rewrote it; the controller has not looked yet
    run_step(world)
    first = next(e for e in world.events if isinstance(e, RolloutProgressed))
    # (its status still counted the old template's two replicas as updated)
    assert (first.updated, first.nodes) == (0, 2)
    assert first.behind  # the old pods, named
    last = [e for e in world.events if isinstance(e, RolloutProgressed)][-1]
    assert (last.updated, last.behind) == (2, ())


def test_pods_that_never_become_ready_stop_the_step_naming_them(world: World) -> None:
    world.controller.failing = "ImagePullBackOff"
    set_image(world.api, NEW)
    with pytest.raises(UpgradeStoppedError) as stopped:
        run_step(world, timeout=30)
    message = stopped.value.message
    assert "the Deployment kube-system/coredns rollout of v1.11.3-eksbuild.1 did not finish" in (
        message
    )
    assert "(not Ready)" in message and "pods behind: coredns-" in message
    assert "kubectl describe deployment -n kube-system coredns" in (stopped.value.hint or "")


def test_a_controller_that_gives_up_stops_the_step_at_once(world: World) -> None:
    world.controller.failing = "CrashLoopBackOff"
    set_image(world.api, NEW)
    world.controller.tick()
    world.controller.give_up()
    with pytest.raises(UpgradeStoppedError) as stopped:
        run_step(world, timeout=3600)
    assert "stalled" in stopped.value.message
    assert "gave up: ReplicaSet" in stopped.value.message
    assert "timed out progressing" in stopped.value.message


def test_check_target_refuses_an_absent_deployment_or_another_cluster(
    kube_fresh: KubeApiServer,
) -> None:
    check = DeploymentRolloutCheck(gateway(kube_fresh), WORKLOAD)
    with pytest.raises(
        InputError, match="Deployment kube-system/coredns is absent on cluster prod"
    ):
        check.check_target(cluster_info(kube_fresh))
    other = cluster_info(kube_fresh)._replace(endpoint="https://elsewhere.eks.amazonaws.com")
    with pytest.raises(InputError, match="not at cluster prod's API server"):
        check.check_target(other)


def test_an_image_tag_that_shows_no_version_is_said(kube_fresh: KubeApiServer) -> None:
    unrelated = WORKLOAD._replace(image_tag=ImageTagRule.UNRELATED)
    assert DeploymentRolloutCheck(gateway(kube_fresh), WORKLOAD).notice is None
    notice = DeploymentRolloutCheck(gateway(kube_fresh), unrelated).notice
    assert notice is not None and "does not show the add-on version" in notice


class ReplicasAndCorefile:
    """A settings rule over the Deployment and its ConfigMap, as a profile's would be."""

    def sources(self, matrix: Matrix) -> tuple[ObjectRef, ...]:
        return (
            ObjectRef("Deployment", "kube-system", "coredns"),
            ObjectRef("ConfigMap", "kube-system", "coredns"),
        )

    def running(self, objects: Objects, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        deployment = objects[ObjectRef("Deployment", "kube-system", "coredns")] or {}
        config = objects[ObjectRef("ConfigMap", "kube-system", "coredns")] or {}
        return {
            ("coredns", "replicas"): str(deployment.get("spec", {}).get("replicas")),
            ("coredns", "Corefile"): (config.get("data") or {}).get("Corefile"),
        }

    def custom(self, objects: Objects, matrix: Matrix) -> tuple[Setting, ...]:
        return tuple(
            Customization(container, name, value, "live")
            for (container, name), value in self.running(objects, matrix).items()
            if value is not None
        )

    def carry(self, values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
        return Carried(copy.deepcopy(dict(values)), (), tuple(settings))

    def remove(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        return dict(values)


def test_the_carried_settings_are_read_back_after_the_rollout(
    world: World, bundled: Matrix
) -> None:
    corefile = ".:53 {\n    forward . 10.0.0.2\n}\n"
    k8s.CoreV1Api(world.api).create_namespaced_config_map(
        "kube-system",
        {"metadata": {"name": "coredns"}, "data": {"Corefile": corefile}},  # type: ignore[arg-type]
    )
    try:
        check = DeploymentRolloutCheck(world.kube, WORKLOAD, settings=ReplicasAndCorefile())
        found = check.customizations(bundled)
        assert {(c.name, c.value) for c in found} == {("replicas", "2"), ("Corefile", corefile)}
        check.expect(bundled, found)
        set_image(world.api, NEW)
        run_step(world, check)  # kept: the step passes
        # EKS rewrote the Corefile (OVERWRITE): the next check stops the run, naming it.
        k8s.CoreV1Api(world.api).patch_namespaced_config_map(
            "coredns", "kube-system", {"data": {"Corefile": ".:53 {}\n"}}
        )
        with pytest.raises(UpgradeStoppedError, match="does not run the carried settings"):
            run_step(world, check)
    finally:
        k8s.CoreV1Api(world.api).delete_namespaced_config_map("coredns", "kube-system")


# --- the DaemonSet check -------------------------------------------------------------------------

NODES = ("node-a", "node-b", "node-c")
CNI_OLD, CNI_NEW = "v1.18.2-eksbuild.1", "v1.18.3-eksbuild.3"


def test_the_daemonset_check_follows_the_rollout_to_every_node(
    kube_fresh: KubeApiServer,
) -> None:
    api = kube_fresh.shared_client()
    for node in NODES:
        make_node(api, node)
    make_node(api, "fargate-1", labels={"eks.amazonaws.com/compute-type": "fargate"})
    apps = k8s.AppsV1Api(api)
    apps.create_namespaced_daemon_set("kube-system", daemonset(CNI_OLD))  # type: ignore[arg-type]
    controller = DaemonSetController(api, NODES)
    controller.reconcile()
    controller.stuck = {"node-c"}
    apps.patch_namespaced_daemon_set(
        "aws-node", "kube-system", daemonset(CNI_NEW), field_manager="eks"
    )
    kube = gateway(kube_fresh)
    check = RolloutCheck(kube)
    check.check_target(cluster_info(kube_fresh))
    events: list[Event] = []
    step = Step(AddonVersion.parse(CNI_OLD), AddonVersion.parse(CNI_NEW))

    def context(deadline: float, clock: Clock) -> StepContext:
        return StepContext(FakeEks(), "prod", "vpc-cni", 1, 1, 0, deadline, 5, clock, events.append)

    with pytest.raises(UpgradeStoppedError, match="nodes behind: node-c"):
        check(context(30, Clock(controller.tick)), step)

    def unstick() -> None:
        controller.stuck = set()
        controller.reconcile_all = True
        controller.tick()

    check(context(60, Clock(unstick)), step)
    last = [e for e in events if isinstance(e, RolloutProgressed)][-1]
    assert last == RolloutProgressed(1, 1, "aws-node", 3, 3, ())  # the Fargate node left out


# --- every bundled add-on's workloads, as its profile describes them -----------------------------


def bundled_workloads() -> list[tuple[str, Workload]]:
    """Each bundled add-on's main workload: the one whose rollout its hook checks."""
    from eksaddon.addons import known_addons, profile_for
    from eksaddon.addons.base import main_workload

    found = [(addon, main_workload(profile_for(addon))) for addon in known_addons()]
    return [(addon, w) for addon, w in found if w is not None]


WORKLOADS = bundled_workloads()


def image_for(workload: Workload, version: AddonVersion) -> str:
    """The image EKS would run for ``version``, tagged as the workload's rule says."""
    tag = str(version)
    if workload.image_tag is ImageTagRule.MINIMAL_VARIANT:
        tag = tag.replace("-eksbuild", "-minimal-eksbuild")
    elif workload.image_tag in (None, ImageTagRule.UNRELATED):
        tag = f"v0.1.{version.build or 0}"  # its own numbering: says nothing of the add-on
    return f"{REGISTRY}/{workload.version_image or workload.name}:{tag}"


def workload_document(workload: Workload, version: AddonVersion) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": workload.name}
    containers = [{"name": workload.version_container, "image": image_for(workload, version)}]
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
    }
    if workload.kind is WorkloadKind.DEPLOYMENT:
        spec["replicas"] = 2
    return {
        "apiVersion": "apps/v1",
        "kind": str(workload.kind),
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": spec,
    }


def test_every_bundled_addon_with_workloads_is_covered() -> None:
    kinds = {(addon, w.kind) for addon, w in WORKLOADS}
    assert ("coredns", WorkloadKind.DEPLOYMENT) in kinds
    assert ("kube-proxy", WorkloadKind.DAEMONSET) in kinds
    assert ("aws-ebs-csi-driver", WorkloadKind.DEPLOYMENT) in kinds


@pytest.mark.parametrize(
    ("addon", "workload"), WORKLOADS, ids=[f"{a}-{w.name}" for a, w in WORKLOADS]
)
def test_each_profiles_workload_rollout_is_checked_on_a_real_api_server(
    kube_fresh: KubeApiServer, addon: str, workload: Workload
) -> None:
    from eksaddon.addons import profile_for
    from eksaddon.engine.hooks import hook_for

    api = kube_fresh.shared_client()
    apps = k8s.AppsV1Api(api)
    old, new = AddonVersion.parse("v1.2.3-eksbuild.1"), AddonVersion.parse("v1.2.4-eksbuild.2")
    step = Step(old, new)
    events: list[Event] = []
    kube = gateway(kube_fresh)
    selector = f"app.kubernetes.io/name={workload.name}"
    updated = workload_document(workload, new)
    if workload.kind is WorkloadKind.DEPLOYMENT:
        apps.create_namespaced_deployment(workload.namespace, workload_document(workload, old))  # type: ignore[arg-type]
        deployments = DeploymentController(api, workload.namespace, workload.name)
        deployments.settle()
        apps.patch_namespaced_deployment(workload.name, workload.namespace, updated)
        clock = Clock(deployments.tick)
        unit, count = "replicas", 2
    else:
        for node in NODES:
            make_node(api, node)
        apps.create_namespaced_daemon_set(workload.namespace, workload_document(workload, old))  # type: ignore[arg-type]
        daemons = DaemonSetController(api, NODES, namespace=workload.namespace, name=workload.name)
        daemons.reconcile()
        apps.patch_namespaced_daemon_set(workload.name, workload.namespace, updated)
        clock = Clock(daemons.tick)
        unit, count = "nodes", len(NODES)
    # The hook the step runner picks for the profile (engine/hooks.py), as an upgrade runs it;
    # for a profile with more workloads, its main one's part (both together: the test below).
    hook = hook_for(profile_for(addon), kube)
    if isinstance(hook, AlsoRollingOut):
        hook = hook.main
    hook.check_target(cluster_info(kube_fresh))
    hook.after_step(
        StepContext(FakeEks(), "prod", addon, 1, 1, 0, 60, 5, clock, events.append), step
    )
    last = [e for e in events if isinstance(e, RolloutProgressed)][-1]
    assert (last.component, last.updated, last.nodes, last.unit) == (
        workload.name,
        count,
        count,
        unit,
    )
    images = {p.images[workload.version_container] for p in kube.pods(workload.namespace, selector)}
    assert images == {image_for(workload, new)}


def test_an_api_server_that_fails_for_a_while_is_waited_out(
    world: World, kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    from eksaddon.gateways.kube import ATTEMPTS
    from standins.faultproxy import Rule, fault_proxy

    set_image(world.api, NEW)
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kubeconfig = tmp_path / "proxied"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "c", "cluster": {"server": proxy.url}}],
                    "users": [{"name": "u", "user": {"token": kube_fresh.token}}],
                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "c",
                }
            ),
            encoding="utf-8",
        )
        kube = KubeGateway(kubeconfig=str(kubeconfig))
        kube.sleep = lambda seconds: None  # the gateway's own backoff: no real waiting
        # Two polls' worth of 503s: more than the gateway's attempts, so the hook must retry.
        rule = proxy.add(
            Rule("GET", r"/deployments/coredns", "status", status=503, times=2 * ATTEMPTS)
        )
        clock = run_step(world._replace(kube=kube))
    assert rule.hits == 2 * ATTEMPTS
    assert clock.sleeps >= 2
    last = [e for e in world.events if isinstance(e, RolloutProgressed)][-1]
    assert (last.updated, last.nodes) == (2, 2)


def test_an_api_server_that_stays_away_stops_the_step_naming_the_last_error(
    world: World, kube_fresh: KubeApiServer, tmp_path: Path
) -> None:
    from standins.faultproxy import Rule, fault_proxy

    set_image(world.api, NEW)
    with fault_proxy(kube_fresh.url, ca_file=kube_fresh.ca_file) as proxy:
        kubeconfig = tmp_path / "proxied"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "c", "cluster": {"server": proxy.url}}],
                    "users": [{"name": "u", "user": {"token": kube_fresh.token}}],
                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "c",
                }
            ),
            encoding="utf-8",
        )
        kube = KubeGateway(kubeconfig=str(kubeconfig))
        kube.sleep = lambda seconds: None
        proxy.add(Rule("GET", r"/deployments/coredns", "status", status=503, times=1000))
        with pytest.raises(UpgradeStoppedError) as stopped:
            run_step(world._replace(kube=kube), timeout=40)
    assert "no answer (last error: the Kubernetes API server kept failing get" in (
        stopped.value.message
    )


def test_every_workload_of_a_profile_is_checked_after_a_step(kube_fresh: KubeApiServer) -> None:
    """EBS CSI runs a controller Deployment and a node DaemonSet: the step is done only when
    both rolled out, and a node the DaemonSet does not reach stops it, named."""
    from eksaddon.addons import profile_for
    from eksaddon.engine.hooks import hook_for

    profile = profile_for("aws-ebs-csi-driver")
    controller, node_side = profile.workloads
    assert (controller.kind, node_side.kind) == (WorkloadKind.DEPLOYMENT, WorkloadKind.DAEMONSET)
    api = kube_fresh.shared_client()
    apps = k8s.AppsV1Api(api)
    # Its images' own numbering (v0.1.N, image_for) differs only when the build does.
    old, new = AddonVersion.parse("v1.34.0-eksbuild.1"), AddonVersion.parse("v1.35.0-eksbuild.2")
    kube = gateway(kube_fresh)
    hook = hook_for(profile, kube)
    with pytest.raises(InputError, match="ebs-csi-controller"):
        hook.check_target(cluster_info(kube_fresh))  # nothing of the add-on runs yet
    for node in NODES:
        make_node(api, node)
    apps.create_namespaced_deployment(controller.namespace, workload_document(controller, old))  # type: ignore[arg-type]
    apps.create_namespaced_daemon_set(node_side.namespace, workload_document(node_side, old))  # type: ignore[arg-type]
    deployments = DeploymentController(api, controller.namespace, controller.name)
    daemons = DaemonSetController(api, NODES, namespace=node_side.namespace, name=node_side.name)
    deployments.settle()
    daemons.reconcile()
    hook.check_target(cluster_info(kube_fresh))
    apps.patch_namespaced_deployment(
        controller.name, controller.namespace, workload_document(controller, new)
    )
    apps.patch_namespaced_daemon_set(
        node_side.name, node_side.namespace, workload_document(node_side, new)
    )
    daemons.stuck.add("node-b")
    events: list[Event] = []

    def tick() -> None:
        deployments.tick()
        daemons.tick()

    view = StepContext(FakeEks(), "prod", profile.name, 1, 1, 0, 60, 5, Clock(tick), events.append)
    with pytest.raises(UpgradeStoppedError, match="ebs-csi-node.*node-b"):
        hook.after_step(view, Step(old, new))
    rolled = {e.component for e in events if isinstance(e, RolloutProgressed)}
    assert rolled == {controller.name, node_side.name}  # the controller was followed first
    daemons.stuck.clear()
    daemons.reconcile_all = True
    events.clear()
    view = StepContext(FakeEks(), "prod", profile.name, 1, 1, 0, 60, 5, Clock(tick), events.append)
    hook.after_step(view, Step(old, new))
    last = [e for e in events if isinstance(e, RolloutProgressed)][-1]
    assert (last.component, last.updated, last.nodes) == (node_side.name, len(NODES), len(NODES))
