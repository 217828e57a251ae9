"""``cluster-upgrade`` against the in-memory cluster (tests/journey_fakes.py): the gate, the phases
in order, the journaled control-plane update (never sent twice, followed by its id after a
kill), EKS's insights refusal and ``force`` with consent, the exit codes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from all_addons_runs import fake_carry, run_all_addons
from journey_fakes import FakeCluster, Killed, fake_gate, updates_fail

from eksaddon.engine.all_addons import targets_in_phase
from eksaddon.engine.events import (
    ControlPlanePolled,
    ControlPlaneStarted,
    Event,
    PhaseStarted,
    Progress,
)
from eksaddon.engine.journey import (
    GateReportLike,
    Journey,
    JourneyOptions,
    JourneyPlan,
    JourneyResult,
)
from eksaddon.engine.run_journal import RunJournal
from eksaddon.errors import (
    EksAddonError,
    ExitCode,
    GateRefusedError,
    InputError,
    InsightsBlockedError,
    JournalMismatchError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.gate import GateReport
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.versions import KubernetesVersion
from fakes import FakeClock

# The EKS calls that plan or carry an add-on (the cluster's own reads are the journey's).
ADDON_CALLS = (
    "DescribeAddon",
    "DescribeAddonVersions",
    "DescribeAddonConfiguration",
    "UpdateAddon",
    "DescribeUpdate",
)

K130 = KubernetesVersion.parse("1.30")


def _the_gates_report_is_what_the_journey_reads(report: GateReport) -> GateReportLike:
    """Not a test: mypy checks here that the gate's GateReport (eksaddon/gate.py) answers every
    field the journey reads (engine/journey.py's GateReportLike)."""
    return report


Runner = Callable[..., JourneyResult]


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def consents() -> list[JourneyPlan]:
    return []


@pytest.fixture
def run(tmp_path: Path, events: list[Event], consents: list[JourneyPlan]) -> Runner:
    def runner(
        eks: FakeCluster,
        *,
        to: str = "1.30",
        gate: Any = None,
        agree: bool = True,
        progress: Progress | None = None,
        **options: Any,
    ) -> JourneyResult:
        state = tmp_path / "state"
        chosen = {"poll_interval": 30, "control_plane_timeout": 3600, **options}

        def confirm(plan: JourneyPlan) -> bool:
            consents.append(plan)
            return agree

        return Journey(
            gateway=eks,
            gate=gate or fake_gate(eks),
            carry=fake_carry(eks, state),
            options=JourneyOptions(cluster="prod", target=KubernetesVersion.parse(to), **chosen),
            state_directory=state,
            progress=progress or events.append,
            confirm=confirm,
            confirm_changed=lambda plan: False,
            clock=FakeClock(),
        ).run()

    return runner


def journey_journal(tmp_path: Path) -> RunJournal:
    (path,) = (tmp_path / "state" / "journals").glob("*__cluster-upgrade_to_1.30.json")
    journal = RunJournal.load(path)
    assert journal is not None
    return journal


def test_the_whole_journey_in_order(run: Runner, events: list[Event], tmp_path: Path) -> None:
    eks = FakeCluster()
    result = run(eks)
    assert [(u["kind"], str(u["version"])) for u in eks.updates.values()] == [
        ("vpc-cni", "v1.16.4-eksbuild.2"),  # before: the build 1.30 no longer offers
        ("kube-proxy", "v1.29.7-eksbuild.5"),
        ("cluster", "1.30"),  # the control plane, once
        ("vpc-cni", "v1.17.1-eksbuild.1"),  # after: every add-on to 1.30's latest
        ("vpc-cni", "v1.18.3-eksbuild.3"),
        ("kube-proxy", "v1.30.3-eksbuild.5"),
        ("coredns", "v1.11.3-eksbuild.1"),
    ]
    assert eks.kubernetes == K130
    (request,) = eks.cluster_requests
    assert request.force is False and request.client_request_token.startswith("eksaddon-")
    # the gate is asked again once the before phase moved add-ons, just before the update
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == ["gate", "before", "gate", "control-plane", "after", "nodes"]
    # the nodes still to upgrade, with the command (eksaddon does not upgrade nodes)
    (group, *_) = result.nodes
    assert (group.name, group.version) == ("workers", "1.29")
    assert group.command is not None and "--kubernetes-version 1.30" in group.command
    assert result.journal is not None and ".finished" in result.journal.name
    assert [c for c in events if isinstance(c, ControlPlanePolled)][-1].status == "Successful"
    # a backup of the control plane's state before the update
    (backup,) = (tmp_path / "state" / "backups").glob("*_control-plane_*.json")
    assert '"kubernetes_version": "1.29"' in backup.read_text()


def test_more_than_one_minor_is_refused_with_the_chain(run: Runner) -> None:
    eks = FakeCluster(kubernetes="1.28")
    with pytest.raises(InputError, match=r"takes 2 updates: 1\.28 → 1\.29 → 1\.30") as refused:
        run(eks)
    assert refused.value.exit_code == ExitCode.USAGE
    assert eks.updates == {}


def test_the_gate_refuses_on_error_findings_and_says_which(run: Runner, tmp_path: Path) -> None:
    eks = FakeCluster()
    with pytest.raises(GateRefusedError, match="kubelet-skew: node group old") as refused:
        run(eks, gate=fake_gate(eks, node_error=True))
    assert refused.value.exit_code == ExitCode.CHECK_FAILED
    # the add-ons' own findings are what the before phase clears: they are not named
    assert "not-offered-for-target" not in refused.value.message
    assert eks.updates == {}
    assert not (tmp_path / "state" / "journals").exists()


def test_an_insight_error_refuses_unless_forced_and_force_needs_consent(
    run: Runner, consents: list[JourneyPlan]
) -> None:
    eks = FakeCluster()
    gate = fake_gate(eks, insight_error=True)
    with pytest.raises(GateRefusedError, match="insight-error"):
        run(eks, gate=gate)
    assert eks.updates == {} and consents == []
    with pytest.raises(InputError, match="not confirmed; nothing was changed"):
        run(eks, gate=gate, force_upgrade_insights=True, agree=False)
    assert consents[-1].force is True
    assert consents[-1].overridden == ("insight-error: deprecated APIs in use (id i-1)",)
    assert eks.updates == {}
    run(eks, gate=gate, force_upgrade_insights=True)
    (request,) = eks.cluster_requests
    assert request.force is True


def test_eks_refusing_for_insights_then_force_on_a_rerun(
    run: Runner, consents: list[JourneyPlan], tmp_path: Path
) -> None:
    eks = FakeCluster()
    eks.insights_blocking = True
    with pytest.raises(UpgradeStoppedError) as stopped:
        run(eks)
    # the before phase moved add-ons: part-way, journal kept
    assert stopped.value.exit_code == ExitCode.UPGRADE_STOPPED
    assert "because of upgrade insights: Upgrade readiness issues detected" in stopped.value.message
    assert "--force-upgrade-insights" in (stopped.value.hint or "")
    assert eks.cluster_updates() == []
    refused_token = journey_journal(tmp_path).item("control-plane")["token"]
    assert len(consents) == 1
    result = run(eks, force_upgrade_insights=True)
    assert len(consents) == 2 and consents[-1].force  # a new decision: asked again
    (request,) = eks.cluster_requests
    assert request.force is True and request.client_request_token != refused_token
    assert eks.kubernetes == K130
    assert result.control_plane["force"] is True
    # the before phase was not carried again
    assert len(eks.addon_updates("kube-proxy")) == 2  # before and after, once each


def test_eks_refusing_for_insights_when_nothing_moved_is_exit_3(run: Runner) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.18.3-eksbuild.3", "kube-proxy": "v1.29.7-eksbuild.5"})
    eks.insights_blocking = True
    with pytest.raises(InsightsBlockedError, match="nothing was changed") as refused:
        run(eks)
    assert refused.value.exit_code == ExitCode.ENVIRONMENT
    assert eks.updates == {}


@pytest.mark.parametrize(
    "kill",
    [
        ("kill_at", ("DescribeUpdate(cluster)", 2)),  # while following the update
        ("lose_answer_of", ("UpdateClusterVersion", 1)),  # sent, the answer never read
        ("kill_at", ("UpdateClusterVersion", 1)),  # killed just before sending
        ("kill_at", ("UpdateAddon", 2)),  # in the before phase, its first add-on done
        ("kill_at", ("UpdateAddon", 6)),  # in the after phase
    ],
)
def test_a_kill_then_a_rerun_follows_the_same_control_plane_update(
    run: Runner, events: list[Event], kill: tuple[str, tuple[str, int]]
) -> None:
    eks = FakeCluster()
    setattr(eks, kill[0], kill[1])
    with pytest.raises(Killed):
        run(eks)
    events.clear()
    run(eks)
    assert len(eks.cluster_updates()) == 1  # never issued twice
    assert eks.kubernetes == K130
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"
    assert eks.version_of("kube-proxy") == "v1.30.3-eksbuild.5"
    assert eks.version_of("coredns") == "v1.11.3-eksbuild.1"
    started = [e for e in events if isinstance(e, ControlPlaneStarted)]
    if kill[1][0] == "DescribeUpdate(cluster)":
        assert [e.resumed for e in started] == [True]  # followed by its recorded id
        assert eks.calls["UpdateClusterVersion"] == 1


def test_a_failed_control_plane_update_stops_and_a_rerun_is_a_new_attempt(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeCluster()
    eks.fail_next_cluster_update = True
    with pytest.raises(UpgradeStoppedError, match="ended Failed: ClusterUnreachable") as stopped:
        run(eks)
    assert stopped.value.exit_code == ExitCode.UPGRADE_STOPPED
    item = journey_journal(tmp_path).item("control-plane")
    assert item["state"] == "failed"
    run(eks)
    first, second = eks.cluster_requests
    assert first.client_request_token != second.client_request_token
    assert eks.kubernetes == K130


def test_the_control_plane_timeout_stops_and_a_rerun_keeps_following(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeCluster(polls_per_cluster_update=10)
    with pytest.raises(UpgradeStoppedError, match="timed out after 100s following") as stopped:
        run(eks, control_plane_timeout=100)
    assert "never sent twice" in (stopped.value.hint or "")
    update_id = journey_journal(tmp_path).item("control-plane")["update_id"]
    run(eks)
    assert eks.cluster_updates() == [update_id]


def test_dry_run_prints_the_whole_journey_and_changes_nothing(run: Runner, tmp_path: Path) -> None:
    eks = FakeCluster()
    result = run(eks, dry_run=True)
    assert eks.updates == {} and not (tmp_path / "state").exists()
    plan = result.plan
    assert plan is not None
    assert [(o.addon, [str(s.target) for s in o.steps]) for o in plan.before] == [
        ("vpc-cni", ["v1.16.4-eksbuild.2"]),
        ("kube-proxy", ["v1.29.7-eksbuild.5"]),
    ]
    assert [t.addon for t in plan.after] == ["vpc-cni", "kube-proxy", "coredns"]
    assert plan.after[2].reason == "the gate's after phase: v1.11.3-eksbuild.1"
    assert (plan.source, plan.target, plan.force) == ("1.29", "1.30", False)
    assert plan.nodes[0].name == "workers"


def test_a_cluster_someone_else_already_moved_gets_no_second_update(run: Runner) -> None:
    eks = FakeCluster()
    eks.kill_at = ("UpdateClusterVersion", 1)
    with pytest.raises(Killed):
        run(eks)
    eks.kubernetes = K130  # another tool updated the control plane meanwhile
    run(eks)
    assert eks.cluster_requests == []


def test_ctrl_c_while_following_the_update_is_130_and_a_rerun_follows_it(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeCluster()
    eks.interrupt_at = ("DescribeUpdate(cluster)", 1)
    with pytest.raises(UpgradeInterruptedError) as interrupted:
        run(eks)
    assert interrupted.value.exit_code == ExitCode.INTERRUPTED
    assert "control-plane running" in interrupted.value.message
    assert "never sent twice" in (interrupted.value.hint or "")
    update_id = journey_journal(tmp_path).item("control-plane")["update_id"]
    run(eks)
    assert eks.cluster_updates() == [update_id]


def test_an_edited_update_id_is_refused_not_followed(run: Runner, tmp_path: Path) -> None:
    eks = FakeCluster()
    eks.kill_at = ("DescribeUpdate(cluster)", 1)
    with pytest.raises(Killed):
        run(eks)
    (path,) = (tmp_path / "state" / "journals").glob("*__cluster-upgrade_to_1.30.json")
    document = json.loads(path.read_text())
    control = next(i for i in document["items"] if i["name"] == "control-plane")
    control["update_id"] = 42  # not what eksaddon writes
    path.write_text(json.dumps(document))
    with pytest.raises(JournalMismatchError, match="damaged or was edited"):
        run(eks)
    assert len(eks.cluster_updates()) == 1


def addon_calls(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in ADDON_CALLS}


def test_the_before_phase_is_planned_once_and_carried_as_consented(
    run: Runner, tmp_path: Path
) -> None:
    """The journey plans its before phase once, for the plan it shows; after the consent it
    makes the add-on calls of carrying that plan and no others: the same calls `upgrade
    --all-addons --for-kubernetes-version 1.30` makes after its own consent on the same cluster
    (each add-on planned again just before it is acted on, not the whole phase again first)."""
    eks = FakeCluster()
    marks: list[tuple[str, Counter[str]]] = []

    def mark(event: Event) -> None:
        if isinstance(event, PhaseStarted):
            marks.append((event.phase, eks.calls.copy()))

    run(eks, progress=mark)
    phases = [phase for phase, _ in marks]
    assert phases == ["gate", "before", "gate", "control-plane", "after", "nodes"]
    journey = addon_calls(marks[1][1], marks[2][1])  # from the before phase to the next gate

    alone = FakeCluster()
    gate = fake_gate(alone)
    consented: list[Counter[str]] = []

    def confirm(outcomes: object) -> bool:
        consented.append(alone.calls.copy())
        return True

    state = tmp_path / "alone"
    run_all_addons(
        alone,
        state,
        lambda cluster: targets_in_phase(gate(cluster, K130).addons, "before"),
        lambda event: None,
        for_version=K130,
        confirm=confirm,
    )
    (at_consent,) = consented
    assert journey == addon_calls(at_consent, alone.calls)
    assert journey["UpdateAddon"] == 2  # vpc-cni and kube-proxy, once each


def test_an_addon_stopping_in_a_phase_names_the_journeys_rerun(run: Runner) -> None:
    """An add-on update failing inside a phase: the next step resumes the journey, not a run of
    the phase's own (another journal) nor the single add-on's upgrade."""
    eks = FakeCluster()
    updates_fail(eks)
    with pytest.raises(UpgradeStoppedError) as stopped:
        run(eks)
    hint = stopped.value.hint or ""
    assert "`eksaddon cluster-upgrade --cluster prod --to 1.30`" in hint, hint
    assert "--all-addons" not in hint and "--addon " not in hint, hint
    assert eks.cluster_updates() == []  # the control plane was never asked to move


def test_a_full_state_directory_after_the_update_was_sent_names_the_same_directory(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC once the control-plane update is sent: exit 4, and the next step is to free space
    and rerun with the same state directory (its journal follows the update), never "pass
    --state-dir", which would start over without it."""
    import errno

    from eksaddon.engine import state

    eks = FakeCluster()
    real = state.write_text_atomically

    def write(path: Path, text: str, *, mode: int) -> None:
        if "__cluster-upgrade" in path.name and eks.cluster_updates():
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text, mode=mode)

    monkeypatch.setattr(state, "write_text_atomically", write)
    with pytest.raises(UpgradeStoppedError) as stopped:
        run(eks)
    assert stopped.value.exit_code == ExitCode.UPGRADE_STOPPED
    hint = stopped.value.hint or ""
    assert "pass --state-dir" not in hint, hint
    assert "same state directory" in hint and "cluster-upgrade --cluster prod --to 1.30" in hint


def test_the_gate_is_asked_again_just_before_the_control_plane_even_with_nothing_moved(
    run: Runner, consents: list[JourneyPlan]
) -> None:
    # Nothing for the before phase to move; an ERROR insight appears after the first gate (while
    # the consent question waited): the control plane must not move on the first answer.
    eks = FakeCluster(addons={"vpc-cni": "v1.18.3-eksbuild.3", "kube-proxy": "v1.29.7-eksbuild.5"})
    answers = [fake_gate(eks), fake_gate(eks, insight_error=True)]
    asked: list[int] = []

    def gate(info: ClusterInfo, target: KubernetesVersion) -> Any:
        asked.append(len(asked))
        return answers[min(len(asked), len(answers)) - 1](info, target)

    with pytest.raises(EksAddonError, match="insight-error") as refused:
        run(eks, gate=gate)
    assert len(asked) == 2 and len(consents) == 1
    assert refused.value.exit_code != ExitCode.UPGRADE_STOPPED  # nothing was changed
    assert eks.cluster_requests == [] and eks.updates == {}
