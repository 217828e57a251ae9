"""The fault matrix: every fault at every point of an upgrade step, on both stand-ins.

A managed upgrade runs through the real CLI against the EKS stand-in and a real kube-apiserver,
each behind a fault proxy (``world.py``), for two add-ons (every case runs for each): vpc-cni
v1.16.4 → v1.17.1 → v1.18.3, whose node side is a DaemonSet, and CoreDNS v1.10.1-eksbuild.7 →
v1.11.3-eksbuild.1 (one update), a Deployment with an edited Corefile and three replicas. At each
point of step 1 — before the backup, after the backup (the UpdateAddon request), after update_addon was
sent (its answer, the first DescribeUpdate), while following the update, during the rollout
check — a fault strikes: throttling, 5xx, connection resets and hung requests on either API, the
API server going away and coming back, ResourceInUse, an update ending Failed or Cancelled, a
DEGRADED add-on, SIGINT, SIGTERM and SIGKILL. Transient faults are short (the run must ride them
out); persistent ones outlast the step's timeout (the run must stop with the documented code).

For every case: the exit code and the one-line message are the documented ones, the journal is
consistent (its fingerprint holds), a rerun finishes without any step being carried out twice,
the custom settings are on the cluster and in the configuration values (vpc-cni's IPAM env;
CoreDNS's Corefile and replica count), and the backup is intact.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import botocore.retries.standard
import pytest

import eksaddon.gateways.kube
from eksaddon.engine import journal as journals
from reliability.world import (
    ADDONS_UNDER_TEST,
    CLUSTER,
    HUNG_REQUEST_API_TIMEOUT,
    VPC_CNI,
    AddonUnderTest,
    World,
    one_error_line,
)
from reliability_ledger import LEDGER
from standins.faultproxy import Rule
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import Result
from virtual_clock import FastForwardClock
from warm_cli import WarmCli, shared

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh"]

Run = Callable[..., Result]

# Where in step 1 each request is made (regular expressions on the request target). The
# requests that name the add-on or its workload are placeholders, filled in by ``where``.
DESCRIBE_CONFIGURATION = ("GET", r"^/addons/configuration-schemas")
UPDATE_ADDON_ANY = ("POST", rf"^/clusters/{CLUSTER}/addons/{{addon}}/update")
DESCRIBE_UPDATE = ("GET", rf"^/clusters/{CLUSTER}/updates/")
READ_WORKLOAD = ("GET", "{workload}")
LIST_PODS = ("GET", r"^/api/v1/namespaces/kube-system/pods")

BEFORE_BACKUP = "before the backup"
AFTER_BACKUP = "after the backup"
AFTER_SEND = "after update_addon was sent"
FOLLOWING = "while following the update"
ROLLOUT = "during the rollout check"

# Where an EKS fault strikes at each point: (method, path, matching requests to let through).
EKS_POINTS = {
    BEFORE_BACKUP: (*DESCRIBE_CONFIGURATION, 0),
    AFTER_BACKUP: (*UPDATE_ADDON_ANY, 0),
    AFTER_SEND: (*DESCRIBE_UPDATE, 0),
    FOLLOWING: (*DESCRIBE_UPDATE, 1),
}
KUBE_POINTS = {BEFORE_BACKUP: (*READ_WORKLOAD, 0), ROLLOUT: (*LIST_PODS, 0)}
SIGNAL_POINTS = {
    BEFORE_BACKUP: (*DESCRIBE_CONFIGURATION, 0, "eks"),
    AFTER_BACKUP: (*UPDATE_ADDON_ANY, 0, "eks"),
    AFTER_SEND: (*DESCRIBE_UPDATE, 0, "eks"),
    FOLLOWING: (*DESCRIBE_UPDATE, 1, "eks"),
    ROLLOUT: (*LIST_PODS, 0, "kube"),
}
FOREVER = 100_000


def where(subject: AddonUnderTest, method: str, path: str) -> tuple[str, str]:
    """A request of the table above, for this add-on."""
    return method, path.format(addon=subject.name, workload=subject.workload_path)


# vpc-cni's UpdateAddon request, as test_wrong_facts.py gates it.
UPDATE_ADDON = where(VPC_CNI, *UPDATE_ADDON_ANY)


def point_of(subject: AddonUnderTest, point: str) -> str:
    """The step point as the ledger counts it: a Deployment's are other points than a
    DaemonSet's (another rollout check, other requests)."""
    return point if subject is VPC_CNI else f"{point} ({subject.name}, a Deployment)"


def eks_error(status: int, code: str, message: str) -> dict[str, object]:
    """An answer shaped like EKS's own (rest-json: the code travels in x-amzn-ErrorType)."""
    return {
        "action": "status",
        "status": status,
        "headers": {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"},
        "body": json.dumps({"message": message}).encode(),
    }


def kube_error(status: int, reason: str) -> dict[str, object]:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": f"injected {reason}",
        "reason": reason,
        "code": status,
    }
    return {"action": "status", "status": status, "body": json.dumps(body).encode()}


EKS_FAULTS: dict[str, dict[str, object]] = {
    "eks-throttling": eks_error(429, "ThrottlingException", "Rate exceeded"),
    "eks-500": eks_error(500, "ServerException", "Internal failure"),
    "eks-503": eks_error(503, "ServiceUnavailableException", "Service unavailable"),
    "eks-connection-reset": {"action": "reset"},
    "eks-timeout": {"action": "hang", "seconds": 3.0},
}
KUBE_FAULTS: dict[str, dict[str, object]] = {
    "kube-500": kube_error(500, "InternalError"),
    "kube-503": kube_error(503, "ServiceUnavailable"),
    "kube-429": kube_error(429, "TooManyRequests"),
    "kube-connection-reset": {"action": "reset"},
    "kube-timeout": {"action": "hang", "seconds": 3.0},
    "kube-apiserver-away-and-back": {"action": "away", "seconds": 0.6},
}


# Every case of this module runs for each add-on (``world`` parametrised indirectly); the modules
# that import ``world`` (test_state_dir.py, test_wrong_facts.py) get vpc-cni's, as before.
each_addon = pytest.mark.parametrize(
    "world", ADDONS_UNDER_TEST, indirect=True, ids=[a.name for a in ADDONS_UNDER_TEST]
)


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    eks_standin: StandInServer,
    kube_fresh: KubeApiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fast_clock: FastForwardClock,
) -> Iterator[World]:
    # The step's deadline, polls and backoff run on the fast clock: a persistent fault that
    # outlasts the step's timeout costs the run only the time its requests take.
    # Retries keep their logic but not their seconds: botocore's standard mode would otherwise
    # sleep up to a minute across its eight attempts, and the Kubernetes gateway a few seconds.
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.01
    )
    monkeypatch.setattr(eksaddon.gateways.kube, "FIRST_BACKOFF", 0.01)
    with ExitStack() as stack:
        built = World(
            eks_standin,
            kube_fresh,
            tmp_path,
            stack,
            clock=fast_clock,
            addon=getattr(request, "param", VPC_CNI),
        )
        for name, value in built.env().items():
            monkeypatch.setenv(name, value)
        yield built


def upgrade(run: Run, world: World, *, hung: bool = False) -> Result:
    """The upgrade, in-process; ``hung``: the fault hangs requests (a short read timeout)."""
    with pytest.MonkeyPatch.context() as patch:
        if hung:
            patch.setenv("EKSADDON_API_TIMEOUT", HUNG_REQUEST_API_TIMEOUT)
        result = run(*world.upgrade_args())
    LEDGER.saw_output(result.out, result.err)
    assert "Traceback" not in result.err
    return result


@dataclass
class Snapshot:
    """What the faulted run left behind, to compare with after the rerun."""

    backups: dict[Path, bytes]
    journal_state: str | None
    step_states: list[str]


def after_fault(world: World) -> Snapshot:
    """The journal is consistent (fingerprint holds) and the backup, if any, is whole."""
    journal = world.journal()  # raises on a damaged or edited journal
    backups = world.backups()
    for content in backups.values():
        document = json.loads(content)
        assert document["addon_version"] == world.subject.start
        assert document["cluster"] == CLUSTER
    if journal is None:
        assert world.successful_updates() == {}, "a step ran without a journal"
        return Snapshot(backups, None, [])
    assert len(backups) == 1, "a journal exists, so the backup was written first"
    assert journal.document["backup"] == str(next(iter(backups)))
    states = [step["state"] for step in journal.steps]
    if journal.state != journals.FINISHED:  # every fault strikes in step 1
        assert all(state == journals.PENDING for state in states[1:]), states
    carried = {c["name"] for c in journal.document["settings"]["carried_settings"]}
    assert carried == world.subject.carried
    return Snapshot(backups, journal.state, states)


def rerun_and_check(run: Run, world: World, before: Snapshot) -> None:
    """The rerun resumes and finishes; no step twice; settings and backup intact."""
    world.eks_proxy.clear()
    world.kube_proxy.clear()
    result = upgrade(run, world)
    assert result.code == 0, result.err
    if before.journal_state is not None:
        assert "resum" in result.out + result.err, result.err
    assert world.addon().addon_version == world.subject.target
    assert world.successful_updates() == dict.fromkeys(world.subject.plan, 1)
    lost = world.lost_settings()
    LEDGER.lost(len(lost))
    assert lost == []
    for path, content in before.backups.items():
        assert path.read_bytes() == content, f"backup {path} changed"
    assert len(world.backups()) == 1, "the resumed run must not take a second backup"


def assert_ridden_out(world: World, result: Result) -> None:
    """A transient fault was retried with backoff within the step's timeout: nothing shows."""
    assert result.code == 0, result.err
    assert after_fault(world).journal_state == journals.FINISHED
    assert world.successful_updates() == dict.fromkeys(world.subject.plan, 1)
    assert world.lost_settings() == []


def assert_stopped_where_documented(world: World, snapshot: Snapshot, point: str) -> None:
    """Before the backup nothing may have changed; after it, the journal says where it stopped."""
    if point == BEFORE_BACKUP:
        assert snapshot.journal_state is None and snapshot.backups == {}
        assert world.eks_proxy.count(*where(world.subject, *UPDATE_ADDON_ANY)) == 0
    else:
        assert snapshot.journal_state == journals.STOPPED


# --- EKS faults --------------------------------------------------------------------------------

# What a persistent fault at each point ends in: exit code and a piece of the one-line message.
EKS_PERSISTENT = {
    BEFORE_BACKUP: (3, "DescribeAddonConfiguration"),
    AFTER_BACKUP: (4, "UpdateAddon of {addon} to {step1} on cluster prod kept failing"),
    AFTER_SEND: (4, "timed out waiting for update"),
    FOLLOWING: (4, "timed out waiting for update"),
}


def expected(subject: AddonUnderTest, message: str) -> str:
    """A message of the tables here, for this add-on."""
    return message.format(
        addon=subject.name,
        step1=subject.plan[0],
        resource=subject.resource,
        workload=subject.workload,
        rollout=subject.rollout_label,
    )


TIMEOUT_MESSAGES = {"eks-connection-reset", "eks-timeout"}


@each_addon
@pytest.mark.parametrize("point", list(EKS_POINTS))
@pytest.mark.parametrize("kind", list(EKS_FAULTS))
@pytest.mark.parametrize("duration", ["transient", "persistent"])
def test_eks_fault(run: Run, world: World, point: str, kind: str, duration: str) -> None:
    method, path, skip = EKS_POINTS[point]
    method, path = where(world.subject, method, path)
    times = (1 if kind == "eks-timeout" else 2) if duration == "transient" else FOREVER
    rule = world.eks_proxy.add(Rule(method, path, skip=skip, times=times, **EKS_FAULTS[kind]))  # type: ignore[arg-type]
    LEDGER.fault(f"{kind} ({duration})", point_of(world.subject, point))

    result = upgrade(run, world, hung=rule.action == "hang")

    assert rule.hits >= 1, "the fault never struck"
    if duration == "transient":
        assert_ridden_out(world, result)
        return
    code, message = EKS_PERSISTENT[point]
    assert result.code == code, result.err
    line = one_error_line(result.err)
    assert expected(world.subject, message) in line, line
    if code == 4:
        assert "the journal is kept at" in line and "to resume" in line, line
    else:
        assert "the journal" not in line
    snapshot = after_fault(world)
    assert_stopped_where_documented(world, snapshot, point)
    rerun_and_check(run, world, snapshot)


@each_addon
def test_eks_resource_in_use_stops_at_once(run: Run, world: World) -> None:
    """Another update is running: waiting would hide it, so the run stops without retrying."""
    rule = world.eks_proxy.add(
        Rule(
            *where(world.subject, *UPDATE_ADDON_ANY),
            **eks_error(  # type: ignore[arg-type]
                409,
                "ResourceInUseException",
                f"Addon {world.subject.name} is currently UPDATING in cluster: prod",
            ),
            times=FOREVER,
        )
    )
    LEDGER.fault("eks-resource-in-use", point_of(world.subject, AFTER_BACKUP))
    result = upgrade(run, world)
    assert result.code == 4, result.err
    assert rule.hits == 1, "ResourceInUse is not retried"
    line = one_error_line(result.err)
    assert "another update is in progress" in line and "then rerun" in line, line
    snapshot = after_fault(world)
    assert snapshot.step_states[0] == journals.SENDING
    rerun_and_check(run, world, snapshot)


@each_addon
@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("update-failed", "Failed", "ended Failed: ConfigurationConflict"),
        ("update-cancelled", "Cancelled", "ended Cancelled"),
    ],
)
def test_update_that_ends_badly(
    run: Run, world: World, kind: str, status: str, message: str
) -> None:
    from standins.eks_addons import UpdateOutcome, error_detail

    errors = [error_detail()] if status == "Failed" else []
    world.eks.standin.queue_update_outcome(UpdateOutcome(status=status, errors=errors))  # type: ignore[arg-type]
    LEDGER.fault(kind, point_of(world.subject, FOLLOWING))
    result = upgrade(run, world)
    assert result.code == 4, result.err
    line = one_error_line(result.err)
    assert message in line and "to resume" in line, line
    snapshot = after_fault(world)
    assert snapshot.step_states[0] == journals.FAILED
    if status == "Failed":  # EKS leaves the add-on UPDATE_FAILED: the operator fixes it first
        world.eks.standin.set_health(CLUSTER, [], status="ACTIVE", addon_name=world.subject.name)
    rerun_and_check(run, world, snapshot)
    sent = Counter(u.target_version for u in world.updates())
    first, *rest = world.subject.plan
    retried = {first: 2, **dict.fromkeys(rest, 1)}
    assert sent == retried, "the failed step is retried once, as a new update"


@each_addon
def test_degraded_addon_stops_the_run(run: Run, world: World) -> None:
    from standins.eks_addons import UpdateOutcome

    issue = {
        "code": "InsufficientNumberOfReplicas",
        "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
        "resourceIds": [],
    }
    world.eks.standin.queue_update_outcome(UpdateOutcome(health_issues=[issue]))
    LEDGER.fault("addon-degraded", point_of(world.subject, FOLLOWING))
    result = upgrade(run, world)
    assert result.code == 4, result.err
    line = one_error_line(result.err)
    assert "is DEGRADED after step 1: InsufficientNumberOfReplicas" in line, line
    snapshot = after_fault(world)
    assert snapshot.step_states[0] == journals.IN_FLIGHT
    world.eks.standin.set_health(CLUSTER, [], addon_name=world.subject.name)  # nodes fixed
    rerun_and_check(run, world, snapshot)


# Permanent faults stop the run at once: no retry can fix a denied permission or a bad request.
EKS_PERMANENT: dict[str, dict[str, object]] = {
    "eks-access-denied": eks_error(
        403, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized"
    ),
    "eks-invalid-parameter": eks_error(400, "InvalidParameterException", "injected refusal"),
}
PERMANENT_OUTCOME = {
    ("eks-access-denied", BEFORE_BACKUP): (3, "access denied to eks:DescribeAddonConfiguration"),
    ("eks-access-denied", AFTER_BACKUP): (4, "access denied to eks:UpdateAddon"),
    ("eks-access-denied", AFTER_SEND): (4, "access denied to eks:DescribeUpdate"),
    ("eks-access-denied", FOLLOWING): (4, "access denied to eks:DescribeUpdate"),
    ("eks-invalid-parameter", BEFORE_BACKUP): (3, "EKS refused DescribeAddonConfiguration"),
    ("eks-invalid-parameter", AFTER_BACKUP): (4, "EKS refused UpdateAddon"),
    ("eks-invalid-parameter", AFTER_SEND): (4, "EKS refused DescribeUpdate"),
    ("eks-invalid-parameter", FOLLOWING): (4, "EKS refused DescribeUpdate"),
    ("kube-forbidden", BEFORE_BACKUP): (3, "Kubernetes RBAC forbids get on {resource}"),
    ("kube-forbidden", ROLLOUT): (4, "Kubernetes RBAC forbids list on pods"),
    ("kube-unauthorized", BEFORE_BACKUP): (3, "rejected the credentials for get {resource}"),
    ("kube-unauthorized", ROLLOUT): (4, "rejected the credentials for list pods"),
}


@each_addon
@pytest.mark.parametrize(("kind", "point"), list(PERMANENT_OUTCOME))
def test_permanent_fault_stops_at_once(run: Run, world: World, kind: str, point: str) -> None:
    if kind.startswith("eks-"):
        method, path, skip = EKS_POINTS[point]
        fault, proxy = EKS_PERMANENT[kind], world.eks_proxy
    else:
        method, path, skip = KUBE_POINTS[point]
        status, reason = (403, "Forbidden") if kind == "kube-forbidden" else (401, "Unauthorized")
        fault, proxy = kube_error(status, reason), world.kube_proxy
    method, path = where(world.subject, method, path)
    rule = proxy.add(Rule(method, path, skip=skip, times=FOREVER, **fault))  # type: ignore[arg-type]
    LEDGER.fault(f"{kind} (permanent)", point_of(world.subject, point))

    result = upgrade(run, world)

    code, message = PERMANENT_OUTCOME[kind, point]
    assert result.code == code, result.err
    assert rule.hits == 1, "a permanent fault is not retried"
    line = one_error_line(result.err)
    assert expected(world.subject, message) in line, line
    snapshot = after_fault(world)
    assert_stopped_where_documented(world, snapshot, point)
    if point != BEFORE_BACKUP:
        assert "the journal is kept at" in line, line
    rerun_and_check(run, world, snapshot)


# --- Kubernetes faults -------------------------------------------------------------------------

KUBE_PERSISTENT = {
    BEFORE_BACKUP: (3, "{resource} kube-system/{workload}"),
    ROLLOUT: (4, "the {rollout} rollout of {step1} did not finish"),
}


@each_addon
@pytest.mark.parametrize("point", list(KUBE_POINTS))
@pytest.mark.parametrize("kind", list(KUBE_FAULTS))
@pytest.mark.parametrize("duration", ["transient", "persistent"])
def test_kube_fault(run: Run, world: World, point: str, kind: str, duration: str) -> None:
    method, path, skip = KUBE_POINTS[point]
    fault = dict(KUBE_FAULTS[kind])
    if duration == "transient":
        times = 1 if kind in ("kube-timeout", "kube-apiserver-away-and-back") else 2
    else:
        times = FOREVER
        if kind == "kube-apiserver-away-and-back":
            fault["seconds"] = 60.0  # gone for longer than any retry
    method, path = where(world.subject, method, path)
    rule = world.kube_proxy.add(Rule(method, path, skip=skip, times=times, **fault))  # type: ignore[arg-type]
    LEDGER.fault(f"{kind} ({duration})", point_of(world.subject, point))

    result = upgrade(run, world, hung=rule.action == "hang")

    assert rule.hits >= 1, (world.eks_proxy.requests, world.kube_proxy.requests, result)
    if duration == "transient":
        assert_ridden_out(world, result)
        return
    code, message = KUBE_PERSISTENT[point]
    assert result.code == code, result.err
    line = one_error_line(result.err)
    assert expected(world.subject, message) in line, line
    snapshot = after_fault(world)
    assert_stopped_where_documented(world, snapshot, point)
    if point != BEFORE_BACKUP:
        assert snapshot.step_states[0] == journals.IN_FLIGHT
    if kind == "kube-apiserver-away-and-back":
        world.kube_proxy.closing.set()  # stop the pending comeback; listen again now
        world.kube_proxy.down()
        world.kube_proxy.closing.clear()
        world.kube_proxy.up()
    rerun_and_check(run, world, snapshot)


# --- signals and kills -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warm() -> WarmCli:
    return shared()  # this test process's server; the session's end stops it


def installed_script(point: str, world: World) -> bool:
    """The cases that start the console script itself (every signal, one point each); the
    others fork from the warm interpreter, which runs the same entry point without paying the
    imports again (see warm_cli.py)."""
    return point == AFTER_BACKUP and world.subject is VPC_CNI


@each_addon
@pytest.mark.slow
@pytest.mark.parametrize("point", list(SIGNAL_POINTS))
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signal(run: Run, world: World, warm: WarmCli, point: str, number: signal.Signals) -> None:
    method, path, skip, side = SIGNAL_POINTS[point]
    proxy = world.eks_proxy if side == "eks" else world.kube_proxy
    gate = proxy.add(Rule(*where(world.subject, method, path), "gate", skip=skip))
    LEDGER.fault(f"{number.name}", point_of(world.subject, point))
    process = world.start() if installed_script(point, world) else world.start_warm(warm)
    try:
        assert gate.arrived.wait(60), "the run never reached the point"
        code, out, err = World.signal(process, number)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    gate.gate.set()  # the held request goes on to the stand-in: it may start the update anyway
    LEDGER.saw_output(out, err)
    assert "Traceback" not in err
    if number == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 130, err
        line = one_error_line(err)
        if point == BEFORE_BACKUP:
            assert line == "eksaddon: error: interrupted", line
        else:
            steps = len(world.subject.plan)
            assert f"interrupted at step 1 of {steps}" in line and "to resume" in line, line
    snapshot = after_fault(world)
    if point != BEFORE_BACKUP and number != signal.SIGKILL:
        assert snapshot.journal_state == journals.STOPPED
    rerun_and_check(run, world, snapshot)


def test_every_point_and_kind_is_covered() -> None:
    """The matrix names each point of the issue and each fault it lists."""
    points = set(EKS_POINTS) | set(KUBE_POINTS) | set(SIGNAL_POINTS)
    assert points == {BEFORE_BACKUP, AFTER_BACKUP, AFTER_SEND, FOLLOWING, ROLLOUT}
    kinds = set(EKS_FAULTS) | set(KUBE_FAULTS)
    for needed in ("throttling", "5", "reset", "timeout", "away-and-back"):
        assert any(needed in kind for kind in kinds), needed
