"""``upgrade --all-addons`` and the journey's ``after`` phase with self-managed core add-ons: found
through Kubernetes as the gate finds them, shown "not carried" with the next step when eksaddon
has no manifests for them (never dropped, never failing the run midway), "unknown" when
Kubernetes cannot be read, sealed in the run journal so a rerun keeps them; and a ``before``
phase that needs a self-managed add-on eksaddon cannot carry refused before anything changes.

The in-memory cluster is tests/journey_fakes.py's, Kubernetes tests/gate_fakes.py's FakeKube; a
self-managed vpc-cni carried through its manifests is tests/e2e/test_self_managed_all_addons.py's
(the real kube-apiserver).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from all_addons_runs import fake_carry, run_all_addons
from gate_fakes import FakeKube, workload
from journey_fakes import FakeCluster, Killed, fake_gate

from eksaddon.cli.all_addons import describe_outcomes
from eksaddon.engine.all_addons import (
    DONE_EARLIER,
    NOT_CARRIED,
    UPGRADED,
    AllAddonsResult,
    ScanSelfManaged,
    latest_selection,
    targets_in_phase,
)
from eksaddon.engine.all_addons_scan import kubernetes_scan
from eksaddon.engine.events import AddonRunFinished, Event, Notice, PlanReady
from eksaddon.engine.gate import matrices
from eksaddon.engine.journey import Journey, JourneyOptions, JourneyResult
from eksaddon.engine.run_journal import RunJournal
from eksaddon.errors import (
    EksAddonError,
    ExitCode,
    KubernetesForbiddenError,
    KubernetesUnreachableError,
)
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.reports.journey import all_addons_document, all_addons_text, journey_text
from eksaddon.versions import KubernetesVersion
from fakes import FakeClock

K130 = KubernetesVersion.parse("1.30")
PROXY_IMAGE = (
    "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.29.0-minimal-eksbuild.1"
)
DNS_IMAGE = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.10.1-eksbuild.13"
MIGRATE_PROXY = "`eksaddon migrate --cluster prod --addon kube-proxy`"


def self_managed_kube() -> FakeKube:
    """kube-proxy and CoreDNS run as plain workloads (a cluster older than EKS add-ons)."""
    return FakeKube(
        [],
        {
            ("DaemonSet", "kube-system", "kube-proxy"): workload(
                "DaemonSet", "kube-proxy", "kube-proxy", PROXY_IMAGE
            ),
            ("Deployment", "kube-system", "coredns"): workload(
                "Deployment", "coredns", "coredns", DNS_IMAGE
            ),
        },
    )


def eks_only_vpc_cni() -> FakeCluster:
    return FakeCluster(addons={"vpc-cni": "v1.16.4-eksbuild.2"})


def scan_of(kube: Any) -> ScanSelfManaged:
    def connect(cluster: ClusterInfo) -> Any:
        if isinstance(kube, EksAddonError):
            raise kube
        return kube

    return kubernetes_scan(connect, matrices(None), not_read="--skip-rollout-check")


Runner = Callable[..., AllAddonsResult]


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def run(tmp_path: Path, events: list[Event]) -> Runner:
    def runner(
        eks: FakeCluster,
        scan: ScanSelfManaged | None,
        *,
        for_version: KubernetesVersion | None = None,
        gate: Any = None,
        **options: Any,
    ) -> AllAddonsResult:
        state = tmp_path / "state"

        def select(cluster: ClusterInfo) -> Any:
            if for_version is None:
                return latest_selection(eks, cluster, scan)
            return targets_in_phase(gate(cluster, for_version).addons, "before")

        return run_all_addons(eks, state, select, events.append, for_version=for_version, **options)

    return runner


def test_self_managed_addons_it_cannot_carry_are_shown_with_the_next_step(
    run: Runner, events: list[Event]
) -> None:
    eks = eks_only_vpc_cni()
    kube = self_managed_kube()
    result = run(eks, scan_of(kube))
    states = {o.addon: o.state for o in result.addons}
    # The documented order holds across EKS and self-managed add-ons.
    assert [o.addon for o in result.addons] == ["vpc-cni", "kube-proxy", "coredns"]
    assert states == {"vpc-cni": UPGRADED, "kube-proxy": NOT_CARRIED, "coredns": NOT_CARRIED}
    proxy = result.addons[1]
    assert proxy.self_managed and proxy.steps == () and proxy.steps_done == 0
    assert proxy.next_step is not None and MIGRATE_PROXY in proxy.next_step
    assert "no manifests" in proxy.next_step
    # Nothing was sent for them; the EKS add-on went all the way.
    assert {r.addon for r in eks.addon_requests} == {"vpc-cni"}
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"
    # Said before the run starts, and at their turn.
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any("kube-proxy is not carried" in m and MIGRATE_PROXY in m for m in notices)
    finished = [(e.addon, e.outcome) for e in events if isinstance(e, AddonRunFinished)]
    assert finished == [
        ("vpc-cni", UPGRADED),
        ("kube-proxy", NOT_CARRIED),
        ("coredns", NOT_CARRIED),
    ]
    assert result.self_managed_unknown is None
    # The reports say it: the table, and the document a pipeline reads.
    text = all_addons_text(result)
    assert "kube-proxy               self-managed: not carried" in text
    document = all_addons_document(result)
    proxy_doc = next(a for a in document["addons"] if a["addon"] == "kube-proxy")
    assert proxy_doc["state"] == "not carried" and proxy_doc["self_managed"] is True
    assert MIGRATE_PROXY in proxy_doc["next_step"]


def test_the_dry_run_plan_marks_the_self_managed_entries(run: Runner) -> None:
    eks = eks_only_vpc_cni()
    result = run(eks, scan_of(self_managed_kube()), dry_run=True)
    assert [o.state for o in result.addons] == ["planned", NOT_CARRIED, NOT_CARRIED]
    assert [o.self_managed for o in result.addons] == [False, True, True]
    assert eks.addon_requests == []
    assert describe_outcomes(result.addons).endswith(
        "(self-managed kube-proxy, coredns: not carried)"
    )


def test_an_unreachable_kubernetes_is_said_never_a_silent_pass(
    run: Runner, events: list[Event]
) -> None:
    eks = eks_only_vpc_cni()
    down = KubernetesUnreachableError("the Kubernetes API at https://10.0.0.1 is unreachable")
    result = run(eks, scan_of(down))
    assert [o.addon for o in result.addons] == ["vpc-cni"]
    assert result.self_managed_unknown is not None
    assert result.self_managed_unknown.startswith("self-managed add-ons unknown: ")
    assert "unreachable" in result.self_managed_unknown
    assert result.self_managed_unknown in [e.text for e in events if isinstance(e, Notice)]
    assert result.self_managed_unknown in all_addons_text(result)
    assert all_addons_document(result)["self_managed_unknown"] == result.self_managed_unknown


def test_a_workload_it_may_not_read_is_unknown_and_the_others_still_found(run: Runner) -> None:
    class Forbidden(FakeKube):
        def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
            raise KubernetesForbiddenError(f"deployments {namespace}/{name} is forbidden")

    kube = self_managed_kube()
    forbidden = Forbidden([], kube.workloads)
    result = run(eks_only_vpc_cni(), scan_of(forbidden), dry_run=True)
    assert [o.addon for o in result.addons] == ["vpc-cni", "kube-proxy"]
    unknown = result.self_managed_unknown or ""
    assert "coredns" in unknown and "forbidden" in unknown


def test_without_kubernetes_the_run_says_the_self_managed_addons_are_unknown(run: Runner) -> None:
    scan = kubernetes_scan(None, matrices(None), not_read="--skip-rollout-check")
    result = run(eks_only_vpc_cni(), scan, dry_run=True)
    assert result.self_managed_unknown == (
        "self-managed add-ons unknown: Kubernetes not read (--skip-rollout-check)"
    )


def test_a_rerun_keeps_the_self_managed_entries_and_skips_what_is_done(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.16.4-eksbuild.2"})
    kube = self_managed_kube()
    eks.kill_at = ("UpdateAddon", 2)  # vpc-cni's second step
    with pytest.raises(Killed):
        run(eks, scan_of(kube))
    (path,) = (tmp_path / "state" / "journals").glob("*__all-addons_latest.json")
    journal = RunJournal.load(path)
    assert journal is not None
    # Only what it carries is an item; what it leaves is sealed with the run.
    assert [i["name"] for i in journal.items] == ["vpc-cni"]
    assert [e["name"] for e in journal.sealed["not_carried"]] == ["kube-proxy", "coredns"]
    reads = len(kube.reads)
    eks.kill_at = None
    result = run(eks, scan_of(kube))
    assert len(kube.reads) == reads  # the journal's choice, not a new one
    assert [(o.addon, o.state) for o in result.addons] == [
        ("vpc-cni", UPGRADED),
        ("kube-proxy", NOT_CARRIED),
        ("coredns", NOT_CARRIED),
    ]
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"


def test_a_finished_addon_is_done_earlier_beside_the_sealed_entries(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.16.4-eksbuild.2", "coredns": "v1.10.1-eksbuild.13"})
    kube = FakeKube(
        [],
        {
            ("DaemonSet", "kube-system", "kube-proxy"): self_managed_kube().workloads[
                ("DaemonSet", "kube-system", "kube-proxy")
            ]
        },
    )
    eks.kill_at = ("UpdateAddon", 3)  # coredns, after vpc-cni's two steps
    with pytest.raises(Killed):
        run(eks, scan_of(kube))
    eks.kill_at = None
    result = run(eks, scan_of(kube))
    assert [(o.addon, o.state) for o in result.addons] == [
        ("vpc-cni", DONE_EARLIER),
        ("kube-proxy", NOT_CARRIED),
        ("coredns", UPGRADED),
    ]


def test_a_before_phase_needing_a_self_managed_kube_proxy_is_refused_first(
    run: Runner, tmp_path: Path, events: list[Event]
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.15.5-eksbuild.1", "coredns": "v1.11.1-eksbuild.9"})
    gate = fake_gate(eks, self_managed={"kube-proxy": ("v1.26.0", "before", "v1.29.7")})
    with pytest.raises(EksAddonError) as refused:
        run(eks, None, for_version=K130, gate=gate)
    error = refused.value
    assert error.exit_code == ExitCode.ENVIRONMENT  # nothing changed, as `upgrade --addon`
    line = error.one_line()
    assert "self-managed kube-proxy must move before the control plane" in line
    assert "nothing was changed" in line and MIGRATE_PROXY in line
    # Refused before vpc-cni (first in order, also in the before phase) was even planned.
    assert eks.addon_requests == [] and events == []
    assert not (tmp_path / "state" / "journals").exists() or not list(
        (tmp_path / "state" / "journals").glob("*.json")
    )


# -- the journey's after phase -------------------------------------------------------------------


def journey(
    tmp_path: Path, eks: FakeCluster, scan: ScanSelfManaged | None, gate: Any, **options: Any
) -> JourneyResult:
    state = tmp_path / "state"
    chosen = {"poll_interval": 30, "control_plane_timeout": 3600, **options}
    return Journey(
        gateway=eks,
        gate=gate,
        carry=fake_carry(eks, state),
        options=JourneyOptions(cluster="prod", target=K130, **chosen),
        state_directory=state,
        progress=lambda event: None,
        confirm=lambda plan: True,
        confirm_changed=lambda plan: False,
        clock=FakeClock(),
        scan_self_managed=scan,
    ).run()


def test_the_journeys_after_phase_shows_the_self_managed_addons_it_leaves(
    tmp_path: Path,
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.16.4-eksbuild.2"})
    kube = self_managed_kube()
    gate = fake_gate(eks, self_managed={"kube-proxy": ("v1.29.0", "after", "v1.30.3")})
    plan = journey(tmp_path, eks, scan_of(kube), gate, dry_run=True).plan
    assert plan is not None
    after = {t.addon: t for t in plan.after}
    assert list(after) == ["vpc-cni", "kube-proxy", "coredns"]
    assert after["kube-proxy"].not_carried is not None
    assert MIGRATE_PROXY in after["kube-proxy"].not_carried
    assert "latest release for Kubernetes 1.30" in after["coredns"].reason
    assert "not carried" in journey_text(journey(tmp_path, eks, scan_of(kube), gate, dry_run=True))

    result = journey(tmp_path, eks, scan_of(kube), gate)  # the journey finishes: exit 0
    assert result.after is not None
    assert [(o.addon, o.state) for o in result.after.addons] == [
        ("vpc-cni", UPGRADED),
        ("kube-proxy", NOT_CARRIED),
        ("coredns", NOT_CARRIED),
    ]
    assert eks.kubernetes == K130
    assert {r.addon for r in eks.addon_requests} == {"vpc-cni"}


def test_the_journey_says_when_its_after_phase_cannot_look_for_self_managed_addons(
    tmp_path: Path,
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.16.4-eksbuild.2"})
    down = KubernetesUnreachableError("the Kubernetes API is unreachable")
    plan = journey(tmp_path, eks, scan_of(down), fake_gate(eks), dry_run=True).plan
    assert plan is not None and plan.after_unknown is not None
    assert plan.after_unknown.startswith("self-managed add-ons unknown: Kubernetes could not")


def test_the_journey_refuses_a_before_phase_it_cannot_carry_before_any_change(
    tmp_path: Path,
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.15.5-eksbuild.1", "coredns": "v1.11.1-eksbuild.9"})
    gate = fake_gate(eks, self_managed={"kube-proxy": ("v1.26.0", "before", "v1.29.7")})
    with pytest.raises(EksAddonError) as refused:
        journey(tmp_path, eks, scan_of(self_managed_kube()), gate)
    assert refused.value.exit_code == ExitCode.ENVIRONMENT
    assert MIGRATE_PROXY in refused.value.one_line()
    assert eks.addon_requests == [] and eks.cluster_requests == []
    assert eks.kubernetes == KubernetesVersion.parse("1.29")


# -- with the cluster-upgrade gate itself (eksaddon/engine/gate.py) ---------------------------------

OLD_PROXY = (
    "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.26.15-minimal-eksbuild.2"
)


def old_proxy_kube() -> FakeKube:
    """A self-managed kube-proxy three minors behind 1.29: out of skew at 1.30."""
    proxy = ("DaemonSet", "kube-system", "kube-proxy")
    return FakeKube([], {proxy: workload("DaemonSet", "kube-proxy", "kube-proxy", OLD_PROXY)})


def real_gate(eks: Any, kube: FakeKube) -> Any:
    from eksaddon.engine.gate import GateRequest, gate_cluster

    def gate(info: ClusterInfo, target: KubernetesVersion) -> Any:
        return gate_cluster(
            eks, info.name, GateRequest(target), matrix_for=matrices(None), kube=lambda i: kube
        )

    return gate


def test_the_gates_no_path_for_a_self_managed_kube_proxy_refuses_the_before_run(
    run: Runner, events: list[Event]
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.15.5-eksbuild.1"})  # vpc-cni must move first too
    gate = real_gate(eks, old_proxy_kube())
    proxy = next(
        v for v in gate(eks.describe_cluster("prod"), K130).addons if v.addon == "kube-proxy"
    )
    # The gate has no path for it (a self-managed kube-proxy has no builds): phase none, an
    # error that names the way out.
    assert str(proxy.phase.value) == "none"
    (stuck,) = [f for f in proxy.findings if f.code == "no-path-before"]
    assert "`eksaddon migrate --addon kube-proxy` makes it an EKS add-on" in stuck.message
    with pytest.raises(EksAddonError) as refused:
        run(eks, None, for_version=K130, gate=gate)
    line = refused.value.one_line()
    assert refused.value.exit_code == ExitCode.ENVIRONMENT
    assert "self-managed kube-proxy must move before the control plane" in line
    assert "outside the version-skew policy" in line and MIGRATE_PROXY in line
    assert eks.addon_requests == [] and events == []  # vpc-cni was not even planned


def test_the_journey_refuses_at_its_gate_naming_the_migration(tmp_path: Path) -> None:
    from eksaddon.errors import GateRefusedError

    eks = FakeCluster(addons={"vpc-cni": "v1.18.3-eksbuild.3"})
    with pytest.raises(GateRefusedError) as refused:
        journey(tmp_path, eks, scan_of(old_proxy_kube()), real_gate(eks, old_proxy_kube()))
    assert refused.value.exit_code == ExitCode.CHECK_FAILED
    assert "`eksaddon migrate --addon kube-proxy`" in refused.value.one_line()
    assert eks.addon_requests == [] and eks.cluster_requests == []


def test_a_kubeconfig_on_another_cluster_makes_them_unknown_never_that_clusters(
    tmp_path: Path,
) -> None:
    from eksaddon.cli.all_addons import self_managed_scan

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "staging", "cluster": {"server": "https://staging.example"}}],
                "users": [{"name": "me", "user": {"token": "t"}}],
                "contexts": [{"name": "staging", "context": {"cluster": "staging", "user": "me"}}],
                "current-context": "staging",
            }
        )
    )
    scan = self_managed_scan(
        matrix_override=None, kubeconfig=str(kubeconfig), kube_context=None, read_kubernetes=True
    )
    prod = ClusterInfo("prod", KubernetesVersion.parse("1.29"), None, "ACTIVE", "us-west-2")
    found = scan(prod._replace(endpoint="https://prod.example"), frozenset({"vpc-cni"}))
    assert found.found == ()
    assert found.problem is not None and "points at https://staging.example" in found.problem
    # EKS naming no endpoint (a hostile or partial DescribeCluster) leaves nothing to match the
    # kubeconfig against: unknown, never whatever cluster the kubeconfig names.
    found = scan(prod, frozenset({"vpc-cni"}))
    assert found.found == ()
    assert found.problem is not None and "named no API server endpoint" in found.problem


def test_a_run_to_latest_never_takes_an_addon_back(run: Runner, events: list[Event]) -> None:
    # CoreDNS runs a build newer than the latest the 1.29 catalogue lists (journey_fakes).
    eks = FakeCluster(addons={"vpc-cni": "v1.18.3-eksbuild.3", "coredns": "v1.11.3-eksbuild.1"})
    result = run(eks, None)
    assert [(o.addon, o.state, o.version) for o in result.addons] == [
        ("vpc-cni", "up to date", "v1.18.3-eksbuild.3"),
        ("coredns", "up to date", "v1.11.3-eksbuild.1"),
    ]
    assert eks.addon_requests == []
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any("coredns runs v1.11.3-eksbuild.1, newer than the latest" in n for n in notices)
    # A dry run shows each add-on's plan, but never the downgrade's.
    events.clear()
    run(eks, None, dry_run=True)
    assert [e.plan.addon for e in events if isinstance(e, PlanReady)] == ["vpc-cni"]
