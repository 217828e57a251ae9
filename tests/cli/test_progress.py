"""Progress rendering: which display a run gets, the plain lines (byte for byte), the live view's
state built from events, and outside text that tries to forge a progress line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyte
import pytest

from eksaddon.cli.live import LiveDisplay, duration
from eksaddon.cli.live_state import DONE, EARLIER, PENDING, RUNNING, STOPPED, RunState
from eksaddon.cli.progress import ProgressPrinter, choose_mode, progress_display
from eksaddon.engine.events import (
    AddonPolled,
    BackupWritten,
    ChangePlanned,
    Event,
    ManifestApplied,
    Notice,
    PlanReady,
    RolloutProgressed,
    StepChanges,
    StepFinished,
    StepStarted,
    UpdatePolled,
)
from eksaddon.errors import UpgradeInterruptedError, UpgradeStoppedError
from eksaddon.matrix import Matrix
from eksaddon.matrix.model import AddonType
from eksaddon.planner import Plan, Step
from eksaddon.versions import AddonVersion, KubernetesVersion
from fakes import run_migration, self_managed_cluster

V = AddonVersion.parse
FORGED = "InProgress\n[2/2] done: v1.18.3-eksbuild.3 is ACTIVE (0s)"
PLAN = Plan(
    addon="vpc-cni",
    addon_type=AddonType.MANAGED,
    kubernetes=KubernetesVersion.parse("1.29"),
    current=V("v1.16.4-eksbuild.2"),
    target=V("v1.18.3-eksbuild.3"),
    requested="latest",
    steps=(
        Step(V("v1.16.4-eksbuild.2"), V("v1.17.1-eksbuild.1")),
        Step(V("v1.17.1-eksbuild.1"), V("v1.18.3-eksbuild.3")),
    ),
    warnings=("a warning",),
)


class Terminal:
    """A stream that says it is a terminal (or not)."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


# --- which display --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "tty", "environ", "chosen"),
    [
        ("auto", True, {}, "live"),
        ("auto", False, {}, "plain"),
        ("auto", True, {"CI": "true"}, "plain"),
        ("auto", True, {"CI": "1"}, "plain"),
        ("auto", True, {"CI": "false"}, "live"),
        ("auto", True, {"CI": ""}, "live"),
        ("auto", True, {"TERM": "dumb"}, "plain"),
        ("live", False, {"CI": "true"}, "live"),
        ("plain", True, {}, "plain"),
        ("none", True, {}, "none"),
    ],
)
def test_the_display_is_chosen_by_terminal_and_ci_unless_asked(
    requested: str, tty: bool, environ: dict[str, str], chosen: str
) -> None:
    assert choose_mode(requested, Terminal(tty), environ) == chosen  # type: ignore[arg-type]


# --- plain lines ------------------------------------------------------------------------------


def plain(*events: Event) -> list[str]:
    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    for event in events:
        printer(event)
    return stream.getvalue().splitlines()


def test_plain_lines_are_as_before_byte_for_byte() -> None:
    lines = plain(
        PlanReady(PLAN, False, None, "PRESERVE"),
        BackupWritten(Path("/state/backups/b.json")),
        StepStarted(1, 2, V("v1.16.4-eksbuild.2"), V("v1.17.1-eksbuild.1"), "u-1", False),
        UpdatePolled(1, 2, "InProgress", 0.4),
        UpdatePolled(1, 2, "InProgress", 10.2),  # the same state again: not printed
        UpdatePolled(1, 2, "Successful", 20.0),
        AddonPolled(1, 2, "ACTIVE", 0, 21.0),
        RolloutProgressed(1, 2, "aws-node", 1, 3, ("node-b", "node-c")),
        RolloutProgressed(1, 2, "aws-node", 1, 3, ("node-c", "node-b")),  # same count
        RolloutProgressed(1, 2, "aws-node", 3, 3, ()),
        StepFinished(1, 2, V("v1.17.1-eksbuild.1"), 42.4),
        ManifestApplied(2, 2, V("v1.18.3")),
        Notice("previous journal moved to /state/j.json"),
    )
    assert lines == [
        "plan: vpc-cni v1.16.4-eksbuild.2 → v1.18.3-eksbuild.3 in 2 step(s) "
        "[v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3] "
        "with resolveConflicts=PRESERVE",
        "warning: a warning",
        "backup written: /state/backups/b.json",
        "[1/2] v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1: started update u-1",
        "[1/2] update InProgress (0s)",
        "[1/2] update Successful (20s)",
        "[1/2] add-on ACTIVE (21s)",
        "[1/2] aws-node rollout: 1/3 nodes updated",
        "[1/2] aws-node rollout: 3/3 nodes updated",
        "[1/2] done: v1.17.1-eksbuild.1 is ACTIVE (42s)",
        "[2/2] applied the v1.18.3 manifest",
        "previous journal moved to /state/j.json",
    ]


def test_plans_of_install_and_migrate_and_step_diffs() -> None:
    diff = "--- v1.17.1\n+++ v1.18.3\n@@ -1 +1 @@\n-a\n+b\x1b[2J\n"
    lines = plain(
        ChangePlanned("create vpc-cni v1.18.3-eksbuild.3 on cluster prod", ("create",)),
        StepChanges(1, 1, "DaemonSet", diff),
    )
    assert lines == [
        "plan: create vpc-cni v1.18.3-eksbuild.3 on cluster prod",
        "[1/1] DaemonSet changes:",
        "--- v1.17.1",
        "+++ v1.18.3",
        "@@ -1 +1 @@",
        "-a",
        "+b\\x1b[2J",  # the diff keeps its lines; a control inside one is escaped
        "",
    ]


@pytest.mark.parametrize(
    "event",
    [
        UpdatePolled(1, 2, FORGED, 3.0),
        AddonPolled(1, 2, FORGED, 0, 3.0),
        StepStarted(1, 2, V("v1.16.4-eksbuild.2"), V("v1.17.1-eksbuild.1"), FORGED, True),
        Notice(f"previous journal moved to {FORGED}"),
        BackupWritten(Path(f"/state/{FORGED}")),
        RolloutProgressed(1, 2, FORGED, 1, 2, ()),
        ChangePlanned(f"create vpc-cni on cluster {FORGED}", ()),
        PlanReady(PLAN._replace(warnings=(FORGED,)), False, None, "PRESERVE"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_outside_text_cannot_forge_a_plain_line(event: Event) -> None:
    lines = plain(event)
    assert not [line for line in lines if line.startswith("[2/2] done")]
    assert any("InProgress\\x0a[2/2] done" in line for line in lines)


def test_a_terminal_escape_in_a_status_is_shown_not_obeyed() -> None:
    (line,) = plain(UpdatePolled(1, 1, "\x1b]0;pwned\x07InProgress\u202e", 1.0))
    assert line == "[1/1] update \\x1b]0;pwned\\x07InProgress\\u202e (1s)"


# --- the live view's state ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_steps_run_one_after_another_with_their_own_times() -> None:
    clock = Clock()
    state = RunState(clock)
    state.apply(PlanReady(PLAN, False, None, "PRESERVE"))
    (section,) = state.sections
    assert [s.label for s in section.steps] == [
        "v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1",
        "v1.17.1-eksbuild.1 → v1.18.3-eksbuild.3",
    ]
    assert [s.state for s in section.steps] == [PENDING, PENDING]
    assert state.notes == ["warning: a warning"]
    clock.now = 105.0
    state.apply(StepStarted(1, 2, PLAN.current, PLAN.steps[0].target, "u-1", False))
    state.apply(UpdatePolled(1, 2, "InProgress", 0.0))
    first, second = section.steps
    assert (first.state, first.update_id, first.update_status) == (RUNNING, "u-1", "InProgress")
    clock.now = 135.0
    assert state.step_elapsed(first) == 30.0
    assert state.elapsed() == 35.0
    state.apply(AddonPolled(1, 2, "DEGRADED", 2, 31.0))
    state.apply(RolloutProgressed(1, 2, "aws-node", 2, 3, ("node-c",)))
    assert (first.addon_status, first.issues) == ("DEGRADED", 2)
    assert first.rollout is not None and first.rollout.behind == ("node-c",)
    state.apply(StepFinished(1, 2, PLAN.steps[0].target, 32.0))
    assert (first.state, state.step_elapsed(first)) == (DONE, 32.0)
    state.apply(ManifestApplied(2, 2, PLAN.target))
    assert (second.state, second.applied) == (RUNNING, True)
    state.finish("interrupted")
    assert second.state == STOPPED
    assert state.outcome == "interrupted"


def test_a_resumed_run_marks_the_steps_an_earlier_run_did() -> None:
    state = RunState(Clock())
    state.apply(PlanReady(PLAN, True, Path("/j.json"), "PRESERVE"))
    state.apply(StepStarted(2, 2, PLAN.steps[1].source, PLAN.target, "u-2", True))
    first, second = state.sections[0].steps
    assert (first.state, second.state) == (EARLIER, RUNNING)
    assert state.sections[0].title.startswith("resuming: vpc-cni")


def test_each_plan_opens_a_section_and_steps_without_a_plan_get_one() -> None:
    state = RunState(Clock())
    state.apply(AddonPolled(1, 1, "CREATING", 0, 0.0))  # no plan seen: a section of its own
    state.apply(ChangePlanned("create kube-proxy v1.29.0", ("create kube-proxy",)))
    state.apply(PlanReady(PLAN, False, None, "PRESERVE"))
    titles = [s.title for s in state.sections]
    assert titles == ["", "plan: create kube-proxy v1.29.0", state.sections[2].title]
    assert [s.label for s in state.sections[0].steps] == ["step 1"]


def test_outside_text_enters_the_state_made_safe() -> None:
    state = RunState(Clock())
    state.apply(PlanReady(PLAN, False, None, "PRESERVE"))
    state.apply(StepStarted(1, 2, PLAN.current, PLAN.steps[0].target, FORGED, False))
    state.apply(UpdatePolled(1, 2, FORGED, 1.0))
    state.apply(RolloutProgressed(1, 2, "aws-node", 0, 1, (FORGED,)))
    step = state.sections[0].steps[0]
    for text in (step.update_id, step.update_status, step.rollout.behind[0]):  # type: ignore[union-attr]
        assert text is not None and "\n" not in text and "\\x0a" in text


# --- the live view's frames ---------------------------------------------------------------


def frame(display: LiveDisplay, columns: int = 100) -> list[str]:
    """What a terminal shows of one frame of ``display``."""
    output = io.StringIO()
    from rich.console import Console

    Console(file=output, force_terminal=True, width=columns, markup=False).print(display.render())
    screen = pyte.Screen(columns, 40)
    pyte.Stream(screen).feed(output.getvalue().replace("\n", "\r\n"))
    rows = [row.rstrip() for row in screen.display]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def test_a_frame_shows_the_plan_the_current_step_its_state_and_the_nodes_behind() -> None:
    clock = Clock()
    display = LiveDisplay(title="eksaddon upgrade · vpc-cni on cluster prod", stream=io.StringIO())
    display.state = RunState(clock)
    for event in (
        PlanReady(PLAN, False, None, "PRESERVE"),
        StepStarted(1, 2, PLAN.current, PLAN.steps[0].target, "u-1", False),
        StepFinished(1, 2, PLAN.steps[0].target, 62.0),
        StepStarted(2, 2, PLAN.steps[1].source, PLAN.target, "u-2", False),
        UpdatePolled(2, 2, "Successful", 1.0),
        AddonPolled(2, 2, "ACTIVE", 0, 1.0),
        RolloutProgressed(2, 2, "aws-node", 1, 3, ("node-b", "node-c")),
    ):
        display.state.apply(event)
    clock.now += 7
    rows = frame(display)
    assert rows[0].startswith("eksaddon upgrade · vpc-cni on cluster prod")
    assert rows[0].endswith("7s")
    assert rows[1].startswith("plan: vpc-cni v1.16.4-eksbuild.2 → v1.18.3-eksbuild.3 in 2 step")
    assert rows[2].split() == [
        "✓",
        "1/2",
        "v1.16.4-eksbuild.2",
        "→",
        "v1.17.1-eksbuild.1",
        "done",
        "1m",
        "02s",
    ]
    assert rows[3].split()[:5] == ["▶", "2/2", "v1.17.1-eksbuild.1", "→", "v1.18.3-eksbuild.3"]
    assert " ".join(rows[3].split()).endswith("aws-node rollout: 1/3 nodes updated 7s")
    assert [r.strip() for r in rows[4:7]] == [
        "EKS update u-2: Successful",
        "add-on status: ACTIVE",
        "nodes behind: node-b, node-c",
    ]
    assert rows[7].strip() == "warning: a warning"


def test_a_forged_status_stays_inside_its_row_in_the_live_view() -> None:
    display = LiveDisplay(title="eksaddon upgrade · vpc-cni on cluster prod", stream=io.StringIO())
    display.state.apply(PlanReady(PLAN, False, None, "PRESERVE"))
    display.state.apply(StepStarted(1, 2, PLAN.current, PLAN.steps[0].target, "u-1", False))
    display.state.apply(UpdatePolled(1, 2, FORGED, 1.0))
    rows = frame(display, columns=160)
    assert not [row for row in rows if row.lstrip().startswith("[2/2] done")]
    (current,) = [row for row in rows if row.lstrip().startswith("▶")]
    assert "update InProgress\\x0a[2/2] done: v1.18.3-eksbuild.3 is ACTIVE (0s)" in current


def test_a_long_path_shows_the_steps_around_the_current_one() -> None:
    steps = tuple(
        Step(V(f"v1.{m}.0-eksbuild.1"), V(f"v1.{m + 1}.0-eksbuild.1")) for m in range(6, 18)
    )
    plan = PLAN._replace(steps=steps, warnings=())
    display = LiveDisplay(title="t", stream=io.StringIO())
    display.state.apply(PlanReady(plan, False, None, "PRESERVE"))
    for number in range(1, 7):
        display.state.apply(StepFinished(number, 12, steps[number - 1].target, 1.0))
    display.state.apply(UpdatePolled(7, 12, "InProgress", 1.0))
    rows = frame(display)
    numbers = [row.split()[1] for row in rows[2:] if row.split()[0] in "✓▶·"]
    assert numbers == [f"{n}/12" for n in range(5, 13)]
    assert rows[2].strip() == "… 4 more"
    assert any(row.split()[:2] == ["▶", "7/12"] for row in rows)


def test_durations() -> None:
    assert [duration(s) for s in (0, 41.9, 60, 187, 3600, 3725)] == [
        "0s",
        "41s",
        "1m 00s",
        "3m 07s",
        "1h 00m",
        "1h 02m",
    ]


# --- how a run ends ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "done"),
        (KeyboardInterrupt(), "interrupted"),
        (UpgradeInterruptedError("interrupted", hint="rerun to resume"), "interrupted"),
        (UpgradeStoppedError("timed out"), "stopped"),
    ],
)
def test_the_live_display_ends_with_the_cursor_shown_however_the_run_ends(
    error: BaseException | None, outcome: str
) -> None:
    stream = io.StringIO()
    display = LiveDisplay(title="t", stream=stream)
    display(PlanReady(PLAN, False, None, "PRESERVE"))
    display(StepStarted(1, 2, PLAN.current, PLAN.steps[0].target, "u-1", False))
    display.close(error)
    written = stream.getvalue()
    assert written.rfind("\x1b[?25h") > written.rfind("\x1b[?25l") >= 0
    assert display.state.outcome == outcome
    step = display.state.sections[0].steps[0]
    assert step.state == (DONE if error is None else STOPPED)


def test_progress_display_stops_the_live_view_before_the_error_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)

    def run() -> None:
        with progress_display("live", title="t") as progress:
            progress(PlanReady(PLAN, False, None, "PRESERVE"))
            raise UpgradeStoppedError("timed out")

    with pytest.raises(UpgradeStoppedError):
        run()
    assert stream.getvalue().endswith("\x1b[?25h")


def test_plain_and_none_do_not_load_rich() -> None:
    probe = (
        "import sys\n"
        "from eksaddon.cli.progress import progress_display\n"
        "from eksaddon.engine.events import Notice\n"
        "for mode in ('plain', 'none'):\n"
        "    with progress_display(mode, title='t') as progress:\n"
        "        progress(Notice('hello'))\n"
        "import eksaddon.cli.upgrade_cmd, eksaddon.cli.migrate_cmd, eksaddon.cli.fleet_run\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(completed.stdout.replace("'", '"')) == []
    assert completed.stderr == "hello\n"


# --- a migration, end to end through the engine -------------------------------------------


def test_a_migration_in_plain_lines_and_in_the_live_view(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = self_managed_cluster({"WARM_IP_TARGET": "5"}, nodes=("node-a", "node-b"))
    events: list[Event] = []
    run_migration(bundled, tmp_path, eks, kube, progress=events.append)
    lines = plain(*events)
    assert lines[0] == (
        "plan: make vpc-cni v1.16.4 on cluster prod the EKS add-on v1.16.4-eksbuild.2 with "
        "resolveConflicts=OVERWRITE; settings carried as configuration values: WARM_IP_TARGET"
    )
    assert "[1/1] aws-node rollout: 2/2 nodes updated" in lines
    assert lines[-1] == "vpc-cni is now the EKS add-on v1.16.4-eksbuild.2; no setting changed"
    display = LiveDisplay(title="eksaddon migrate · vpc-cni on cluster prod", stream=io.StringIO())
    for event in events:
        display.state.apply(event)
    display.state.finish("done")
    rows = frame(display)
    assert rows[1].startswith("plan: make vpc-cni v1.16.4 on cluster prod the EKS add-on")
    (step,) = [row for row in rows if row.lstrip().startswith("✓ 1/1")]
    assert "v1.16.4 → the EKS add-on v1.16.4-eksbuild.2" in step


def test_a_dry_runs_diff_is_printed_whole_above_the_live_view() -> None:
    stream = io.StringIO()
    display = LiveDisplay(title="t", stream=stream)
    display(PlanReady(PLAN, False, None, "PRESERVE"))
    display(StepChanges(1, 2, "DaemonSet", "--- a\n+++ b\n-x\n+y\x1b[2J\n"))
    display.close(None)
    screen = pyte.Screen(100, 40)
    pyte.Stream(screen).feed(stream.getvalue().replace("\n", "\r\n"))
    rows = [row.rstrip() for row in screen.display]
    start = rows.index("[1/2] DaemonSet changes:")
    assert rows[start + 1 : start + 5] == ["--- a", "+++ b", "-x", "+y\\x1b[2J"]
    assert any(row.startswith("plan: vpc-cni") for row in rows[start + 5 :])  # the view below
