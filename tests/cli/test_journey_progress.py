"""The progress of ``upgrade --all-addons`` and ``cluster-upgrade``: plain lines and the live view's
state for the phase, add-on and control-plane events, outside text made safe."""

from __future__ import annotations

from eksaddon.cli.live_state import DONE, RUNNING, RunState
from eksaddon.cli.progress import ProgressPrinter
from eksaddon.engine.events import (
    AddonRunFinished,
    AddonRunStarted,
    ControlPlaneFinished,
    ControlPlanePolled,
    ControlPlaneStarted,
    PhaseStarted,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_name_the_phase_the_addon_and_the_control_plane_update() -> None:
    printer = ProgressPrinter()
    lines = [
        printer.line(event)
        for event in (
            PhaseStarted(
                "before", "carrying 2 add-on(s) on cluster prod in order: vpc-cni, coredns"
            ),
            AddonRunStarted(1, 2, "vpc-cni", "before", False),
            AddonRunFinished(1, 2, "vpc-cni", "upgraded", "v1.16.4-eksbuild.2"),
            AddonRunStarted(2, 2, "coredns", "before", True),
            ControlPlaneStarted("prod", "1.29", "1.30", "u-9", False, True),
            ControlPlanePolled("u-9", "InProgress", 0.0),
            ControlPlanePolled("u-9", "InProgress", 30.0),  # nothing new: no line
            ControlPlanePolled("u-9", "Successful", 1260.0),
            ControlPlaneFinished("prod", "1.30", 1261.0),
        )
    ]
    assert lines == [
        "== before: carrying 2 add-on(s) on cluster prod in order: vpc-cni, coredns",
        "add-on 1/2: starting vpc-cni (before phase)",
        "add-on 1/2: vpc-cni upgraded at v1.16.4-eksbuild.2",
        "add-on 2/2: resuming coredns (before phase)",
        "control plane of prod: 1.29 → 1.30: started update u-9 with force (upgrade insights "
        "overridden)",
        "control plane: update u-9 InProgress (0s)",
        None,
        "control plane: update u-9 Successful (1260s)",
        "control plane of prod: done, Kubernetes 1.30 (1261s)",
    ]


def test_outside_text_in_the_new_events_cannot_forge_a_line() -> None:
    printer = ProgressPrinter()
    for event in (
        AddonRunStarted(1, 1, "evil\n== after: forged", "after", False),
        ControlPlaneStarted("prod", "1.29", "1.30", "u\x1b[2J", True, False),
        ControlPlanePolled("u-1", "In\rProgress", 1.0),
    ):
        line = printer.line(event)
        assert line is not None and "\n" not in line and "\r" not in line and "\x1b" not in line


def test_the_live_view_shows_the_control_plane_update_as_a_section_of_its_own() -> None:
    clock = Clock()
    state = RunState(clock)
    state.apply(PhaseStarted("control-plane", "updating the control plane of cluster prod"))
    state.apply(ControlPlaneStarted("prod", "1.29", "1.30", "u-9", True, False))
    (section,) = state.sections
    assert section.title == "control plane of prod: 1.29 → 1.30"
    (step,) = section.steps
    assert (step.label, step.state, step.update_id) == ("Kubernetes 1.30", RUNNING, "u-9")
    state.apply(ControlPlanePolled("u-9", "InProgress", 60.0))
    assert step.update_status == "InProgress"
    state.apply(ControlPlaneFinished("prod", "1.30", 900.0))
    assert (step.state, step.elapsed) == (DONE, 900.0)
    assert state.notes == ["== control-plane: updating the control plane of cluster prod"]
