"""``upgrade --all-addons`` against the in-memory cluster (tests/journey_fakes.py): order, one run
journal, resume after a kill, a failing add-on stopping the run with every add-on's state."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from all_addons_runs import run_all_addons
from journey_fakes import FakeCluster, Killed, fake_gate, updates_fail

from eksaddon.engine.all_addons import (
    DONE_EARLIER,
    PLANNED,
    UP_TO_DATE,
    UPGRADE_ORDER,
    UPGRADED,
    AddonTarget,
    AllAddonsResult,
    in_upgrade_order,
    latest_targets,
    targets_in_phase,
)
from eksaddon.engine.events import AddonRunFinished, AddonRunStarted, Event, PlanReady
from eksaddon.engine.run_journal import RunJournal
from eksaddon.errors import (
    AccessDeniedError,
    EksAddonError,
    ExitCode,
    InputError,
    InvalidParameterError,
    JournalMismatchError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.versions import KubernetesVersion

K130 = KubernetesVersion.parse("1.30")
Runner = Callable[..., AllAddonsResult]


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def run(tmp_path: Path, events: list[Event]) -> Runner:
    def runner(
        eks: FakeCluster,
        *,
        for_version: KubernetesVersion | None = None,
        confirm: Callable[..., bool] = lambda outcomes: True,
        confirm_changed: Callable[..., bool] = lambda plan: False,
        **options: Any,
    ) -> AllAddonsResult:
        state = tmp_path / "state"
        gate = fake_gate(eks)

        def select(cluster: object) -> list[AddonTarget]:
            if for_version is None:
                return latest_targets(eks, cluster)  # type: ignore[arg-type]
            return targets_in_phase(gate(cluster, for_version).addons, "before")

        return run_all_addons(
            eks,
            state,
            select,
            events.append,
            for_version=for_version,
            confirm=confirm,
            confirm_changed=confirm_changed,
            **options,
        )

    return runner


def run_journals(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state" / "journals").glob("*__all-addons*.json"))


def killed_at_second_update(
    run: Runner, eks: FakeCluster, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """A run killed as it sends its second add-on update: its journal and the journal's text."""
    eks.kill_at = ("UpdateAddon", 2)
    with pytest.raises(Killed):
        run(eks)
    (path,) = run_journals(tmp_path)
    return path, json.loads(path.read_text())


def test_every_addon_goes_to_its_latest_build_in_the_documented_order(
    run: Runner, events: list[Event], tmp_path: Path
) -> None:
    eks = FakeCluster(addons={"coredns": "v1.10.1-eksbuild.13", "vpc-cni": "v1.16.4-eksbuild.2"})
    result = run(eks)
    assert [o.addon for o in result.addons] == ["vpc-cni", "coredns"]
    assert [o.state for o in result.addons] == [UPGRADED, UPGRADED]
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"
    assert eks.version_of("coredns") == "v1.11.1-eksbuild.9"
    # one add-on at a time: vpc-cni's two steps, then coredns
    assert [(r.addon, str(r.version)) for r in eks.addon_requests] == [
        ("vpc-cni", "v1.17.1-eksbuild.1"),
        ("vpc-cni", "v1.18.3-eksbuild.3"),
        ("coredns", "v1.11.1-eksbuild.9"),
    ]
    # each with its own backup and journal
    backups = sorted(p.name for p in (tmp_path / "state" / "backups").iterdir())
    assert [name.split("_")[2] for name in backups] == ["coredns", "vpc-cni"]
    assert all(o.backup is not None and o.backup.is_file() for o in result.addons)
    started = [e for e in events if isinstance(e, AddonRunStarted)]
    assert [(e.number, e.total, e.addon) for e in started] == [(1, 2, "vpc-cni"), (2, 2, "coredns")]
    # the run journal is finished and moved aside; a rerun starts afresh
    assert result.journal is not None and ".finished" in result.journal.name
    assert run_journals(tmp_path) == [result.journal]


def test_the_order_is_networking_then_proxy_then_dns_then_the_rest_by_name() -> None:
    names = ["zeta", "aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy"]
    names.append("vpc-cni")
    ordered = in_upgrade_order(AddonTarget(n, "after", "latest", "") for n in names)
    assert [t.addon for t in ordered] == [*UPGRADE_ORDER, "aws-ebs-csi-driver", "zeta"]


def test_dry_run_shows_every_plan_and_writes_nothing(
    run: Runner, events: list[Event], tmp_path: Path
) -> None:
    eks = FakeCluster()
    result = run(eks, dry_run=True)
    assert eks.addon_requests == []
    assert not (tmp_path / "state").exists()
    by_addon = {o.addon: o for o in result.addons}
    assert by_addon["vpc-cni"].state == PLANNED
    assert [str(s.target) for s in by_addon["vpc-cni"].steps] == [
        "v1.16.4-eksbuild.2",
        "v1.17.1-eksbuild.1",
        "v1.18.3-eksbuild.3",
    ]
    assert by_addon["coredns"].state == UP_TO_DATE
    assert {e.plan.addon for e in events if isinstance(e, PlanReady)} == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
    }


def test_for_a_kubernetes_version_only_the_gates_before_phase_moves(run: Runner) -> None:
    eks = FakeCluster()
    result = run(eks, for_version=K130)
    assert [(o.addon, o.state, o.version) for o in result.addons] == [
        ("vpc-cni", UPGRADED, "v1.16.4-eksbuild.2"),
        ("kube-proxy", UPGRADED, "v1.29.7-eksbuild.5"),
    ]
    assert eks.version_of("coredns") == "v1.11.1-eksbuild.9"  # an `after` add-on: untouched


def test_one_consent_for_the_whole_plan_and_refusing_changes_nothing(run: Runner) -> None:
    eks = FakeCluster()
    shown: list[list[str]] = []

    def refuse(outcomes: list) -> bool:  # type: ignore[type-arg]
        shown.append([o.addon for o in outcomes if o.steps])
        return False

    with pytest.raises(InputError, match="not confirmed; nothing was changed"):
        run(eks, confirm=refuse)
    assert shown == [["vpc-cni", "kube-proxy"]]
    assert eks.addon_requests == []


def test_a_failing_addon_stops_the_run_with_every_addons_state(run: Runner, tmp_path: Path) -> None:
    eks = FakeCluster()
    real = eks.update_addon

    def refuse_kube_proxy(request):  # type: ignore[no-untyped-def]
        if request.addon == "kube-proxy":
            eks.calls["UpdateAddon"] += 1
            raise InvalidParameterError("kube-proxy: Addon version specified is not supported")
        return real(request)

    eks.update_addon = refuse_kube_proxy  # type: ignore[method-assign]
    with pytest.raises(UpgradeStoppedError) as stopped:
        run(eks)
    assert stopped.value.exit_code == ExitCode.UPGRADE_STOPPED
    message = stopped.value.one_line()
    assert "stopped at kube-proxy" in message
    assert "vpc-cni done, kube-proxy stopped, coredns not started" in message
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"
    (path,) = run_journals(tmp_path)
    journal = RunJournal.load(path)
    assert journal is not None
    assert [i["state"] for i in journal.items] == ["succeeded", "failed", "pending"]


def test_a_failure_before_anything_changed_keeps_its_own_exit_code(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeCluster(addons={"vpc-cni": "v1.17.1-eksbuild.1", "kube-proxy": "v1.29.0-eksbuild.1"})

    def refuse(addon, kubernetes):  # type: ignore[no-untyped-def]
        raise AccessDeniedError("DescribeAddonVersions: AccessDeniedException")

    eks.addon_versions = refuse  # type: ignore[method-assign]
    with pytest.raises(AccessDeniedError) as refused:
        run(eks)
    assert refused.value.exit_code == ExitCode.ENVIRONMENT
    assert eks.addon_requests == []
    assert run_journals(tmp_path) == []


@pytest.mark.parametrize(
    "kill_at",
    [
        ("UpdateAddon", 1),  # vpc-cni's first step sent, its answer lost
        ("DescribeUpdate", 3),  # following vpc-cni's second step
        ("UpdateAddon", 4),  # kube-proxy's step, its answer lost
        ("DescribeAddon", 9),  # later, between checks
    ],
)
def test_a_kill_anywhere_then_a_rerun_finishes_without_sending_anything_twice(
    run: Runner, events: list[Event], tmp_path: Path, kill_at: tuple[str, int]
) -> None:
    eks = FakeCluster()
    eks.kill_at = kill_at
    with pytest.raises(Killed):
        run(eks)
    events.clear()
    result = run(eks)
    assert {o.addon: eks.version_of(o.addon) for o in result.addons} == {
        "vpc-cni": "v1.18.3-eksbuild.3",
        "kube-proxy": "v1.29.7-eksbuild.5",
        "coredns": "v1.11.1-eksbuild.9",
    }
    # every update EKS started is one the plan needed, each exactly once
    assert len(eks.addon_updates("vpc-cni")) == 3
    assert len(eks.addon_updates("kube-proxy")) == 1
    assert eks.addon_updates("coredns") == []
    finished = {e.addon: e.outcome for e in events if isinstance(e, AddonRunFinished)}
    assert finished["coredns"] == UP_TO_DATE
    assert DONE_EARLIER in finished.values() or finished["vpc-cni"] == UPGRADED


def test_a_rerun_skips_the_addons_already_done(run: Runner, events: list[Event]) -> None:
    eks = FakeCluster()
    eks.kill_at = ("UpdateAddon", 4)  # kube-proxy's update: vpc-cni is done by then
    with pytest.raises(Killed):
        run(eks)
    describes_before = eks.calls["DescribeAddonVersions"]
    events.clear()
    result = run(eks)
    states = {o.addon: o.state for o in result.addons}
    assert states["vpc-cni"] == DONE_EARLIER
    assert states["kube-proxy"] == UPGRADED
    resumed = [e for e in events if isinstance(e, AddonRunStarted)]
    assert [(e.addon, e.resumed) for e in resumed] == [("kube-proxy", True)]
    # vpc-cni was not planned again (no catalogue read for it, no update)
    assert len(eks.addon_updates("vpc-cni")) == 3
    assert eks.calls["DescribeAddonVersions"] > describes_before


def test_a_run_journal_is_resumed_only_on_its_own_cluster(run: Runner, tmp_path: Path) -> None:
    eks = FakeCluster()
    path, document = killed_at_second_update(run, eks, tmp_path)
    document["identity"]["arn"] = "arn:aws:eks:us-west-2:999999999999:cluster/prod"
    path.write_text(json.dumps(document))
    with pytest.raises(JournalMismatchError, match="damaged or was edited"):
        run(eks)
    # the sealed identity cannot be edited; a journal of another cluster is refused by name
    document["fingerprint"] = __import__(
        "eksaddon.engine.run_journal", fromlist=["x"]
    )._fingerprint(document)
    path.write_text(json.dumps(document))
    with pytest.raises(JournalMismatchError, match="belongs to cluster prod"):
        run(eks)
    result = run(eks, discard_journal=True)
    assert all(eks.version_of(o.addon) for o in result.addons)


def test_ctrl_c_in_an_addon_stays_130_with_every_addons_state(run: Runner) -> None:
    eks = FakeCluster()
    eks.interrupt_at = ("DescribeUpdate", 3)  # following vpc-cni's second step
    with pytest.raises(UpgradeInterruptedError) as interrupted:
        run(eks)
    assert interrupted.value.exit_code == ExitCode.INTERRUPTED
    assert "vpc-cni stopped, kube-proxy not started" in interrupted.value.message
    result = run(eks)
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"
    assert len(eks.addon_updates("vpc-cni")) == 3
    assert [o.state for o in result.addons] == [UPGRADED, UPGRADED, UP_TO_DATE]


@pytest.mark.parametrize("fits", [True, False])
def test_a_plan_the_caller_showed_is_carried_as_it_is_only_while_it_still_fits(
    run: Runner, fits: bool
) -> None:
    """A plan handed over as ``shown`` (the journey's, consented to with the journey) is not
    planned a second time; one made for other targets than this run carries is set aside, and
    the run plans afresh exactly as without it."""
    shown = run(FakeCluster(), for_version=K130, dry_run=True).addons
    assert [o.state for o in shown] == [PLANNED, PLANNED]
    if not fits:  # the caller's plan took vpc-cni elsewhere than the gate now does
        shown = (shown[0]._replace(target="v1.17.1-eksbuild.1"), *shown[1:])
    planned_here, handed_over = FakeCluster(), FakeCluster()
    run(planned_here, for_version=K130)
    run(handed_over, for_version=K130, shown=shown)
    assert handed_over.addons == planned_here.addons  # the same add-ons moved the same way
    if fits:  # each add-on's catalogue read once less: its carry alone plans it
        catalogue_reads = handed_over.calls["DescribeAddonVersions"]
        assert catalogue_reads == planned_here.calls["DescribeAddonVersions"] - len(shown)
    else:
        assert handed_over.calls == planned_here.calls


@pytest.mark.parametrize("full_after", [1, 3])  # vpc-cni's first step sent; vpc-cni done
def test_a_full_state_directory_after_a_change_stops_part_way(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_after: int
) -> None:
    """ENOSPC at a run-journal write once EKS was asked for a change is exit 4, never the
    exit 3 of a full directory before any change."""
    from eksaddon.engine import state

    eks = FakeCluster()
    real = state.write_text_atomically

    def write(path: Path, text: str, *, mode: int) -> None:
        if "__all-addons" in path.name and len(eks.addon_requests) >= full_after:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text, mode=mode)

    monkeypatch.setattr(state, "write_text_atomically", write)
    with pytest.raises(EksAddonError) as stopped:
        run(eks)
    assert stopped.value.exit_code == ExitCode.UPGRADE_STOPPED, stopped.value.one_line()
    assert "No space left" in stopped.value.one_line()
    assert eks.addon_requests  # something was changed
    (path,) = run_journals(tmp_path)  # the last complete run journal is kept
    assert RunJournal.load(path) is not None


def test_a_stop_inside_an_addon_names_the_rerun_of_the_whole_run(
    run: Runner, tmp_path: Path
) -> None:
    """kube-proxy's update fails after vpc-cni was carried: the next step is the
    rerun of ``--all-addons`` (which resumes every add-on), never ``upgrade --cluster prod``
    alone, which would upgrade the default add-on, not kube-proxy."""
    eks = FakeCluster()
    updates_fail(eks, "kube-proxy")
    with pytest.raises(UpgradeStoppedError) as stopped:
        run(eks)
    hint = stopped.value.hint or ""
    assert "`eksaddon upgrade --all-addons --cluster prod`" in hint, hint
    assert "`eksaddon upgrade --cluster prod --addon" not in hint, hint


def test_an_addon_moved_past_latest_after_its_plan_is_never_taken_back(
    run: Runner, events: list[Event]
) -> None:
    """CoreDNS was planned to the latest build; before it is carried someone moves it to a newer
    one. Its plan just before acting is a downgrade: left as it runs, even where every changed
    plan is consented to (--yes), never sent."""
    from eksaddon.engine.events import Notice
    from eksaddon.versions import AddonVersion

    eks = FakeCluster(addons={"coredns": "v1.10.1-eksbuild.13", "vpc-cni": "v1.18.3-eksbuild.3"})

    def consent_then_someone_moves_it(outcomes: object) -> bool:
        eks.addons["coredns"]["version"] = AddonVersion.parse("v1.11.3-eksbuild.1")
        return True

    result = run(eks, confirm=consent_then_someone_moves_it, confirm_changed=lambda plan: True)
    assert eks.addon_requests == []
    assert eks.version_of("coredns") == "v1.11.3-eksbuild.1"
    assert [(o.addon, o.state, o.version) for o in result.addons] == [
        ("vpc-cni", UP_TO_DATE, "v1.18.3-eksbuild.3"),
        ("coredns", UP_TO_DATE, "v1.11.3-eksbuild.1"),
    ]
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any("never downgraded" in n and "coredns" in n for n in notices), notices


def test_an_addon_shown_up_to_date_is_checked_again_before_the_run_ends(run: Runner) -> None:
    """The shown plan (the journey's) found CoreDNS up to date; by the time the phase runs
    someone took it back. "Nothing to do" is not concluded from the old plan: it is planned
    again, and its new plan, never consented to, is asked for before it is sent."""
    current = {"vpc-cni": "v1.18.3-eksbuild.3", "coredns": "v1.11.1-eksbuild.9"}
    shown = run(FakeCluster(addons=current), dry_run=True).addons
    assert [o.state for o in shown] == [UP_TO_DATE, UP_TO_DATE]
    taken_back = FakeCluster(addons={**current, "coredns": "v1.10.1-eksbuild.13"})
    asked: list[str] = []

    def confirm_changed(plan) -> bool:  # type: ignore[no-untyped-def]
        asked.append(f"{plan.addon} {plan.current} -> {plan.target}")
        return True

    result = run(taken_back, shown=shown, confirm_changed=confirm_changed)
    assert asked == ["coredns v1.10.1-eksbuild.13 -> v1.11.1-eksbuild.9"]
    assert taken_back.version_of("coredns") == "v1.11.1-eksbuild.9"
    assert [o.state for o in result.addons] == [UP_TO_DATE, UPGRADED]


@pytest.mark.parametrize(
    ("sealed", "damaged"),
    [
        ({"self_managed": [["vpc-cni"]]}, True),  # unhashable entries
        ({"self_managed": [{"name": "vpc-cni"}]}, True),
        ({"self_managed": "vpc-cni"}, True),
        ({"not_carried": [None]}, True),
        ({"not_carried": {"name": "kube-proxy"}}, False),  # no list: none recorded
        ({"self_managed_unknown": ["why"]}, False),  # not a reason: none recorded
    ],
)
def test_a_run_journal_sealed_in_another_shape_is_damaged_never_a_traceback(
    run: Runner, tmp_path: Path, sealed: dict[str, Any], damaged: bool
) -> None:
    """A run journal another eksaddon (or a hand) wrote, fingerprint and all: its sealed
    self-managed entries of another shape are refused as damaged (exit 2) or read as absent."""
    from eksaddon.engine import run_journal

    eks = FakeCluster()
    path, document = killed_at_second_update(run, eks, tmp_path)
    document["sealed"] = {**document["sealed"], **sealed}
    document["fingerprint"] = run_journal._fingerprint(document)
    path.write_text(json.dumps(document))
    if damaged:
        with pytest.raises(JournalMismatchError, match="is damaged"):
            run(eks)
    else:
        result = run(eks)
        assert [o.addon for o in result.addons] == ["vpc-cni", "kube-proxy", "coredns"]
