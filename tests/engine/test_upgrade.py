"""The upgrade engine against the in-memory EKS (tests/fakes.py): steps, journal, resume, faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eksaddon.engine import journal as journals
from eksaddon.engine.events import Event, PlanReady, StepStarted
from eksaddon.engine.journal import Journal
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader, UpgradeResult
from eksaddon.engine.waiting import PollSchedule
from eksaddon.errors import (
    AddonNotFoundError,
    EnvironmentProblemError,
    ExitCode,
    InputError,
    JournalMismatchError,
    NoLegalPathError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.gateways.protocols import HealthIssue
from eksaddon.matrix import Matrix
from fakes import FakeClock, FakeEks

Runner = Callable[..., UpgradeResult]


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def run(bundled: Matrix, tmp_path: Path, events: list[Event]) -> Callable[..., UpgradeResult]:
    def runner(eks: FakeEks, **options: object) -> UpgradeResult:
        chosen: dict[str, object] = {"poll_interval": 5, "timeout": 60, **options}
        settings = UpgradeOptions(cluster="prod", addon="vpc-cni", **chosen)  # type: ignore[arg-type]
        return Upgrader(
            gateway=eks,
            matrix=bundled,
            options=settings,
            state_directory=tmp_path / "state",
            progress=events.append,
            confirm=lambda plan: True,
            clock=FakeClock(),
        ).run()

    return runner


def journal_of(tmp_path: Path) -> Journal:
    (path,) = (tmp_path / "state" / "journals").glob("us-west-2_prod_vpc-cni.json")
    journal = Journal.load(path)
    assert journal is not None
    return journal


def test_carries_v1_6_to_latest_one_minor_at_a_time(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.6.3-eksbuild.2")
    result = run(eks)
    assert [str(r.version) for r in eks.requests] == [
        "v1.7.10-eksbuild.2",
        "v1.8.0-eksbuild.3",
        "v1.9.3-eksbuild.3",
        "v1.10.4-eksbuild.3",
        "v1.11.4-eksbuild.3",
        "v1.12.6-eksbuild.2",
        "v1.13.4-eksbuild.1",
        "v1.14.1-eksbuild.1",
        "v1.15.5-eksbuild.1",
        "v1.16.4-eksbuild.2",
        "v1.17.1-eksbuild.1",
        "v1.18.3-eksbuild.3",
    ]
    assert result.steps_done == 12
    assert result.final is not None and str(result.final.version) == "v1.18.3-eksbuild.3"
    assert eks.calls["DescribeAddonVersions"] == 1  # one catalogue read per run
    assert eks.calls["UpdateAddon"] == 12
    assert {r.resolve_conflicts for r in eks.requests} == {"PRESERVE"}
    assert journal_of(tmp_path).state == journals.FINISHED


def test_at_most_one_describe_call_of_each_kind_per_poll(run: Runner, events: list[Event]) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2", polls_per_update=3)
    run(eks)
    polls = sum(1 for e in events if type(e).__name__ == "UpdatePolled")
    addon_polls = sum(1 for e in events if type(e).__name__ == "AddonPolled")
    assert eks.calls["DescribeUpdate"] == polls
    assert eks.calls["DescribeUpdate"] == 2 * 3  # two steps, three polls each
    # One per poll, plus the first read, plus one before each step (its starting point).
    assert eks.calls["DescribeAddon"] == addon_polls + 1 + 2


def test_backup_is_written_first_and_owner_only(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.addon["configuration_values"] = '{"env":{"WARM_IP_TARGET":"5"}}'  # type: ignore[index]
    result = run(eks)
    assert result.backup is not None
    backup = json.loads(result.backup.read_text())
    assert backup["addon_version"] == "v1.17.1-eksbuild.1"
    assert backup["configuration_values"] == '{"env":{"WARM_IP_TARGET":"5"}}'
    assert result.backup.stat().st_mode & 0o077 == 0
    assert result.journal is not None and result.journal.stat().st_mode & 0o077 == 0


def test_configuration_values_in_use_are_sent_on_every_step(run: Runner) -> None:
    eks = FakeEks(version="v1.15.5-eksbuild.1")
    eks.addon["configuration_values"] = '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}'  # type: ignore[index]
    run(eks)
    assert {r.configuration_values for r in eks.requests} == {
        '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}'
    }


def test_bad_configuration_values_stop_before_anything_is_sent(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    with pytest.raises(InputError) as caught:
        run(eks, configuration_values='{"env": {"WARM_IP_TARGET": 5}}')
    assert "at $.env.WARM_IP_TARGET" in caught.value.message
    assert eks.calls["UpdateAddon"] == 0
    assert not (tmp_path / "state" / "backups").exists()


def test_dry_run_changes_nothing(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    result = run(eks, dry_run=True)
    assert result.dry_run
    assert len(result.plan.steps) == 2
    assert eks.calls["UpdateAddon"] == 0
    assert not (tmp_path / "state").exists()


def test_not_confirmed_changes_nothing(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    upgrader = Upgrader(
        gateway=eks,
        matrix=bundled,
        options=UpgradeOptions(cluster="prod", addon="vpc-cni"),
        state_directory=tmp_path,
        progress=lambda e: None,
        confirm=lambda plan: False,
        clock=FakeClock(),
    )
    with pytest.raises(InputError, match="not confirmed; nothing was changed"):
        upgrader.run()
    assert eks.calls["UpdateAddon"] == 0


def test_absent_addon_points_to_install(run: Runner) -> None:
    with pytest.raises(AddonNotFoundError, match="not an EKS add-on on cluster prod") as caught:
        run(FakeEks(version=None))
    assert caught.value.hint is not None and "eksaddon install" in caught.value.hint


def test_interrupt_keeps_a_journal_and_a_rerun_follows_the_same_update(
    run: Runner, tmp_path: Path, events: list[Event]
) -> None:
    eks = FakeEks(version="v1.15.5-eksbuild.1")
    eks.interrupt_after = ("DescribeUpdate", 3)  # during step 2
    with pytest.raises(UpgradeInterruptedError) as caught:
        run(eks)
    assert caught.value.exit_code is ExitCode.INTERRUPTED
    assert (
        "rerun `eksaddon upgrade --cluster prod --addon vpc-cni` to resume"
        in caught.value.one_line()
    )
    journal = journal_of(tmp_path)
    assert journal.state == journals.STOPPED
    assert [s["state"] for s in journal.steps] == [
        journals.SUCCEEDED,
        journals.IN_FLIGHT,
        journals.PENDING,
    ]
    in_flight = journal.steps[1]["update_id"]
    eks.interrupt_after = None
    events.clear()
    result = run(eks)
    assert result.steps_done == 3
    assert eks.calls["UpdateAddon"] == 3  # step 2 was followed by its id, not sent again
    resumed = [e for e in events if isinstance(e, StepStarted) and e.resumed]
    assert [e.update_id for e in resumed] == [in_flight]


def test_a_lost_update_response_is_resent_with_the_same_token(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    original = eks.update_addon
    calls = {"n": 0}

    def lose_second_response(request):  # type: ignore[no-untyped-def]
        state = original(request)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed after EKS accepted, before the journal saw the id
        return state

    eks.update_addon = lose_second_response  # type: ignore[method-assign]
    with pytest.raises(UpgradeInterruptedError):
        run(eks)
    assert journal_of(tmp_path).steps[1]["state"] == journals.SENDING
    eks.update_addon = original  # type: ignore[method-assign]
    run(eks)
    assert len(eks.requests) == 2  # the re-sent request returned the existing update
    assert len(eks.updates) == 2


def test_failed_update_stops_with_aws_error_and_a_rerun_retries(
    run: Runner, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    eks.fail_next_update = "Failed"
    with pytest.raises(UpgradeStoppedError) as caught:
        run(eks)
    message = caught.value.one_line()
    assert caught.value.exit_code is ExitCode.UPGRADE_STOPPED
    assert "ended Failed: ConfigurationConflict: Conflicts found" in message
    assert "journal is kept at" in message
    journal = journal_of(tmp_path)
    assert journal.steps[0]["state"] == journals.FAILED
    result = run(eks)
    assert result.steps_done == 2
    tokens = [r.client_request_token for r in eks.requests]
    assert len(set(tokens)) == 3  # the retried step got a fresh token


def test_cancelled_update_stops(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.fail_next_update = "Cancelled"
    with pytest.raises(UpgradeStoppedError, match="ended Cancelled"):
        run(eks)


def test_degraded_addon_stops_with_health_issues(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.degrade_after_update = True
    with pytest.raises(UpgradeStoppedError) as caught:
        run(eks)
    assert "is DEGRADED after step 1: InsufficientNumberOfReplicas" in caught.value.message


def test_timeout_stops_and_a_rerun_follows_the_update(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1", polls_per_update=100)
    with pytest.raises(UpgradeStoppedError, match="timed out waiting for update update-1"):
        run(eks, timeout=30)
    assert journal_of(tmp_path).steps[0]["state"] == journals.IN_FLIGHT
    eks.polls_per_update = 1
    assert run(eks).steps_done == 1
    assert eks.calls["UpdateAddon"] == 1


def test_transient_errors_while_polling_are_ridden_out(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.transient_errors["DescribeUpdate"] = 2
    assert run(eks).steps_done == 1


def test_a_journal_that_no_longer_matches_the_cluster_is_refused(run: Runner) -> None:
    eks = FakeEks(version="v1.15.5-eksbuild.1")
    eks.interrupt_after = ("DescribeUpdate", 1)
    with pytest.raises(UpgradeInterruptedError):
        run(eks)
    eks.interrupt_after = None
    eks.updates.clear()
    eks.addon["version"] = FakeEks(version="v1.13.4-eksbuild.1").addon["version"]  # type: ignore[index]
    with pytest.raises(JournalMismatchError) as caught:
        run(eks)
    assert "but cluster prod runs v1.13.4-eksbuild.1" in caught.value.message
    assert caught.value.hint is not None and "--discard-journal" in caught.value.hint


def test_discard_journal_plans_afresh(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    eks.fail_next_update = "Failed"
    with pytest.raises(UpgradeStoppedError):
        run(eks)
    result = run(eks, discard_journal=True, target="v1.17.1-eksbuild.1")
    assert str(result.plan.target) == "v1.17.1-eksbuild.1"
    assert list((tmp_path / "state" / "journals").glob("*.stopped.json"))


def test_an_edited_journal_is_refused(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.15.5-eksbuild.1")
    eks.interrupt_after = ("DescribeUpdate", 1)
    with pytest.raises(UpgradeInterruptedError):
        run(eks)
    path = journal_of(tmp_path).path
    document = json.loads(path.read_text())
    document["steps"][1]["to"] = "v1.18.3-eksbuild.3"
    path.write_text(json.dumps(document))
    with pytest.raises(JournalMismatchError, match="damaged or was edited"):
        run(eks)


def test_another_update_in_progress_stops_the_run(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.updates["other"] = {
        "status": "InProgress",
        "polls": -(10**6),
        "outcome": "Successful",
        "version": eks.catalogue[0],
        "request": None,
    }
    with pytest.raises(UpgradeStoppedError, match="another update is in progress"):
        run(eks)


def test_features_in_the_configuration_values_put_floors_under_the_plan(run: Runner) -> None:
    eks = FakeEks(version="v1.10.4-eksbuild.3")
    eks.addon["configuration_values"] = '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}'  # type: ignore[index]
    with pytest.raises(NoLegalPathError, match="prefix-delegation is in use"):
        run(eks, target="v1.8.0-eksbuild.3", dry_run=True)
    assert eks.calls["UpdateAddon"] == 0


def test_a_degraded_addon_is_not_upgraded(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.addon["status"] = "DEGRADED"  # type: ignore[index]
    eks.addon["issues"] = (HealthIssue("InsufficientNumberOfReplicas", "2 of 3 ready"),)  # type: ignore[index]
    with pytest.raises(EnvironmentProblemError, match="is DEGRADED .InsufficientNumberOfReplicas"):
        run(eks)
    assert eks.calls["UpdateAddon"] == 0


def test_downgrade_warnings_reach_the_progress_events(run: Runner, events: list[Event]) -> None:
    eks = FakeEks(version="v1.12.6-eksbuild.2")
    run(eks, target="v1.11.4-eksbuild.3", dry_run=True)
    ready = next(e for e in events if isinstance(e, PlanReady))
    assert any("pod deletion" in w for w in ready.plan.warnings)


def test_resumed_is_reported_only_for_a_resumed_run(run: Runner) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    eks.interrupt_after = ("DescribeUpdate", 1)
    with pytest.raises(UpgradeInterruptedError):
        run(eks)
    eks.interrupt_after = None
    assert run(eks).resumed
    fresh = FakeEks(version="v1.17.1-eksbuild.1")
    assert not run(fresh, discard_journal=True).resumed


def test_a_discarded_journal_does_not_lend_its_request_tokens_to_the_new_run(
    run: Runner, tmp_path: Path
) -> None:
    """The same plan again must start a new update: EKS answers a reused clientRequestToken
    with the old (here failed) update instead of starting one."""
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.fail_next_update = "Failed"
    with pytest.raises(UpgradeStoppedError, match="ended Failed"):
        run(eks)
    first_token = eks.requests[0].client_request_token
    result = run(eks, discard_journal=True)
    assert result.steps_done == 1
    assert eks.requests[1].client_request_token != first_token
    assert len(eks.updates) == 2, "a second, new update"


def test_a_journal_with_a_run_id_that_is_not_text_is_refused(run: Runner, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.fail_next_update = "Failed"
    with pytest.raises(UpgradeStoppedError):
        run(eks)
    path = journal_of(tmp_path).path
    document = json.loads(path.read_text())
    document["run_id"] = 7
    path.write_text(json.dumps(document))
    with pytest.raises(JournalMismatchError, match="damaged or was edited"):
        run(eks)


# --- transient faults: retried with backoff within the step's timeout ---------------------------


class RecordingClock(FakeClock):
    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


def upgrade_with(
    bundled: Matrix, tmp_path: Path, eks: FakeEks, clock: RecordingClock, **options: object
) -> UpgradeResult:
    chosen: dict[str, object] = {"poll_interval": 5, "timeout": 120, **options}
    return Upgrader(
        gateway=eks,
        matrix=bundled,
        options=UpgradeOptions(cluster="prod", addon="vpc-cni", **chosen),  # type: ignore[arg-type]
        state_directory=tmp_path / "state",
        progress=lambda event: None,
        confirm=lambda plan: True,
        clock=clock,
    ).run()


def test_update_addon_failing_transiently_is_resent_with_the_same_token(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.transient_errors["UpdateAddon"] = 3
    clock = RecordingClock()
    assert upgrade_with(bundled, tmp_path, eks, clock).steps_done == 1
    assert eks.calls["UpdateAddon"] == 4
    assert len(eks.updates) == 1
    assert clock.sleeps[:3] == [5, 10, 20], "the wait doubles after each failure"


def test_update_addon_failing_until_the_deadline_stops_the_step(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.transient_errors["UpdateAddon"] = 1000
    clock = RecordingClock()
    with pytest.raises(UpgradeStoppedError) as stopped:
        upgrade_with(bundled, tmp_path, eks, clock, timeout=60)
    assert "UpdateAddon of vpc-cni to v1.18.3-eksbuild.3 on cluster prod kept failing until " in (
        stopped.value.message
    )
    assert clock.time <= 60
    assert all(s <= 30 for s in clock.sleeps), "the backoff is capped"
    assert journal_of(tmp_path).steps[0]["state"] == journals.SENDING


def test_polls_back_off_while_the_api_fails_and_return_to_the_interval(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    eks.transient_errors["DescribeUpdate"] = 3
    clock = RecordingClock()
    upgrade_with(bundled, tmp_path, eks, clock, poll_interval=2)
    # The first DescribeUpdate is due an interval after UpdateAddon answered, then three
    # failures double the wait, and the fourth answer brings it back to the interval.
    assert clock.sleeps[:5] == [2, 2, 4, 8, 2]


class SlowEks(FakeEks):
    """An EKS whose every call takes ``seconds`` on ``clock``; DescribeUpdate's start times kept."""

    def __init__(self, clock: RecordingClock, seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.clock, self.seconds = clock, seconds
        self.answered: list[float] = []  # when each UpdateAddon answered
        self.polled: list[float] = []  # when each DescribeUpdate was asked
        self.sleeps_at_poll: list[int] = []  # how many sleeps came before each DescribeUpdate

    def _count(self, operation: str) -> None:
        if operation == "DescribeUpdate":
            self.polled.append(self.clock.time)
            self.sleeps_at_poll.append(len(self.clock.sleeps))
        self.clock.time += self.seconds
        super()._count(operation)
        if operation == "UpdateAddon":
            self.answered.append(self.clock.time)


def test_an_update_is_polled_every_interval_from_its_answer_however_long_each_call_takes(
    bundled: Matrix, tmp_path: Path
) -> None:
    # A poll due every 5 s from UpdateAddon's answer, each call taking 1 s: a full interval
    # slept after each answer would ask at +0, +6, +12, +18 and see a 20 s update end at +24.
    clock = RecordingClock()
    eks = SlowEks(clock, 1.0, version="v1.17.1-eksbuild.1", polls_per_update=4)
    assert upgrade_with(bundled, tmp_path, eks, clock).steps_done == 1
    (answered,) = eks.answered
    assert [t - answered for t in eks.polled] == [5.0, 10.0, 15.0, 20.0]


def test_a_poll_slower_than_the_interval_skips_the_ticks_it_missed() -> None:
    clock = FakeClock()
    schedule = PollSchedule(clock, 5.0)  # the first poll due at once (0 s)
    assert schedule.next() == 5.0
    schedule.wait()
    assert clock.time == 5.0
    clock.sleep(12.0)  # that poll took 12 s: the ticks at 10 s and 15 s passed meanwhile
    assert schedule.next() == 20.0, "the next tick on the grid, not a burst of missed ones"
    schedule.wait()
    assert clock.time == 20.0
    assert schedule.next(failures=2) == 30.0, "after failures: the backoff from the answer"


def test_after_a_slow_transient_failure_the_next_poll_waits_its_full_backoff(
    bundled: Matrix, tmp_path: Path
) -> None:
    # A failed DescribeUpdate comes back after the gateway's own retries, here 4 s of a 5 s
    # interval: the backoff is the API's rest from that answer, not what is left of a tick
    # (1 s, then 6 s), which after a long run of throttled retries would be next to nothing.
    clock = RecordingClock()
    eks = SlowEks(clock, 4.0, version="v1.17.1-eksbuild.1")
    eks.transient_errors["DescribeUpdate"] = 2
    assert upgrade_with(bundled, tmp_path, eks, clock).steps_done == 1
    failed_at = [t + 4.0 for t in eks.polled[:2]]  # when the two failures answered
    assert [b - a for a, b in zip(failed_at, eks.polled[1:3], strict=True)] == [5.0, 10.0]


def test_a_zero_interval_polls_again_at_once() -> None:
    # Only the CLI insists on 0.05 s at least; the engine's own callers may pass 0.
    clock = FakeClock()
    schedule = PollSchedule(clock, 0.0)
    clock.sleep(1.0)  # the first poll took 1 s
    assert schedule.next() == 1.0
    assert schedule.next(failures=1) == 1.0


def test_an_update_found_in_flight_is_polled_at_once(bundled: Matrix, tmp_path: Path) -> None:
    clock = RecordingClock()
    eks = SlowEks(clock, 1.0, version="v1.17.1-eksbuild.1")
    eks.interrupt_after = ("DescribeUpdate", 1)
    with pytest.raises(UpgradeInterruptedError):
        upgrade_with(bundled, tmp_path, eks, clock)
    eks.interrupt_after = None
    slept = len(clock.sleeps)
    assert upgrade_with(bundled, tmp_path, eks, clock).steps_done == 1
    # The rerun's first DescribeUpdate comes before it sleeps at all: the update is of unknown
    # age (it may well have ended meanwhile).
    assert eks.sleeps_at_poll[1] == slept


def test_update_in_progress_is_not_retried(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    # Another actor's update starts after eksaddon read the add-on ACTIVE (an add-on UPDATING
    # at the start is waited for: tests/reliability/test_world_changing.py).
    eks.updates["other"] = {"status": "InProgress", "polls": 0, "outcome": "Successful"}
    clock = RecordingClock()
    with pytest.raises(UpgradeStoppedError, match="another update is in progress"):
        upgrade_with(bundled, tmp_path, eks, clock)
    assert eks.calls["UpdateAddon"] == 1


def test_a_dry_run_checks_the_configuration_values_too(run: Runner) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    with pytest.raises(InputError, match=r"\$\.env\.WARM_IP_TARGET"):
        run(eks, dry_run=True, configuration_values='{"env": {"WARM_IP_TARGET": 5}}')
    assert eks.calls["UpdateAddon"] == 0
