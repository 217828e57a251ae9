"""What the live view shows, built from progress events alone (pure: no rich, no terminal).

The view is driven by events, not by one command's shape: a plan (:class:`PlanReady` for a
version path, :class:`ChangePlanned` for any other change) opens a section of numbered steps,
and every numbered event updates the step it names. A run of several add-ons or a cluster
upgrade journey emits one plan after another and gets one section each.

Every text from outside is made safe (:func:`~eksaddon.textsafety.for_terminal`) here, as it
enters the state, so that no renderer can forget it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eksaddon.cli.progress import journey_line
from eksaddon.engine.events import (
    AddonPolled,
    BackupWritten,
    ChangePlanned,
    ControlPlaneFinished,
    ControlPlanePolled,
    ControlPlaneStarted,
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
from eksaddon.textsafety import for_terminal

PENDING, RUNNING, DONE, EARLIER, STOPPED = "pending", "running", "done", "earlier", "stopped"
# How many notes (backup written, warnings, notices) stay on screen: the newest ones.
NOTES_SHOWN = 6


@dataclass
class Rollout:
    component: str
    updated: int
    nodes: int
    behind: tuple[str, ...]
    unit: str = "nodes"


@dataclass
class StepView:
    label: str
    state: str = PENDING
    started: float | None = None
    elapsed: float | None = None  # when finished (the engine's own measure)
    update_id: str | None = None
    update_status: str | None = None
    addon_status: str | None = None
    issues: int = 0
    applied: bool = False
    rollout: Rollout | None = None


@dataclass
class Section:
    title: str
    steps: list[StepView]
    started: float

    def running(self) -> StepView | None:
        return next((s for s in self.steps if s.state == RUNNING), None)


@dataclass
class RunState:
    """The whole run as the live view shows it. ``apply`` is called from the engine's thread,
    the renderer reads under :attr:`lock` from rich's refresh thread."""

    clock: Callable[[], float] = time.monotonic
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: str | None = None  # None while running; "done", "stopped" or "interrupted"
    started: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def step_elapsed(self, step: StepView) -> float | None:
        if step.elapsed is not None:
            return step.elapsed
        if step.started is None:
            return None
        return self.clock() - step.started

    # -- events -------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        with self.lock:
            self._apply(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, PlanReady):
            self._plan_ready(event)
        elif isinstance(event, ChangePlanned):
            self._open(
                f"plan: {for_terminal(event.description)}", [for_terminal(s) for s in event.steps]
            )
        elif isinstance(event, BackupWritten):
            self.note(f"backup written: {for_terminal(str(event.path))}")
        elif isinstance(event, StepStarted):
            step = self._step(event.number, event.total)
            step.update_id = for_terminal(event.update_id)
            step.update_status = None
        elif isinstance(event, UpdatePolled):
            self._step(event.number, event.total).update_status = for_terminal(event.status)
        elif isinstance(event, AddonPolled):
            step = self._step(event.number, event.total)
            step.addon_status = for_terminal(event.status)
            step.issues = event.issues
        elif isinstance(event, ManifestApplied):
            self._step(event.number, event.total).applied = True
        elif isinstance(event, RolloutProgressed):
            self._step(event.number, event.total).rollout = Rollout(
                for_terminal(event.component),
                event.updated,
                event.nodes,
                tuple(for_terminal(n) for n in event.behind),
                event.unit,
            )
        elif isinstance(event, StepFinished):
            step = self._step(event.number, event.total)
            step.state, step.elapsed = DONE, event.elapsed
        elif isinstance(event, StepChanges):
            self.note(f"[{event.number}/{event.total}] {for_terminal(event.what)} changes shown")
        elif isinstance(event, ControlPlaneStarted | ControlPlanePolled | ControlPlaneFinished):
            self._control_plane(event)
        elif not isinstance(event, Notice):
            # A journey's phase and add-on events: one line each among the notes.
            line = journey_line(event)
            if line is not None:
                self.note(line)
        else:
            assert isinstance(event, Notice)
            self.note(for_terminal(event.text))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finish(self, outcome: str) -> None:
        """The run ended: a step still running is marked stopped (unless all went well)."""
        with self.lock:
            self.outcome = outcome
            for section in self.sections:
                for step in section.steps:
                    if step.state == RUNNING:
                        step.state = DONE if outcome == "done" else STOPPED
                        step.elapsed = self.step_elapsed(step)

    def _control_plane(
        self, event: ControlPlaneStarted | ControlPlanePolled | ControlPlaneFinished
    ) -> None:
        """The control-plane update is a section of one step (its update and status)."""
        if isinstance(event, ControlPlaneStarted):
            force = ", force" if event.force else ""
            self._open(
                f"control plane of {for_terminal(event.cluster)}: {for_terminal(event.source)} → "
                f"{for_terminal(event.target)}{force}",
                [f"Kubernetes {for_terminal(event.target)}"],
            )
            self._step(1, 1).update_id = for_terminal(event.update_id)
        elif isinstance(event, ControlPlanePolled):
            self._step(1, 1).update_status = for_terminal(event.status)
        else:
            step = self._step(1, 1)
            step.state, step.elapsed = DONE, event.elapsed

    def _plan_ready(self, event: PlanReady) -> None:
        plan = event.plan
        verb = "resuming" if event.resumed else "plan"
        title = (
            f"{verb}: {for_terminal(plan.addon)} {_v(plan.current)} → {_v(plan.target)} in "
            f"{len(plan.steps)} step(s), resolveConflicts={for_terminal(event.resolve_conflicts)}"
        )
        self._open(title, [f"{_v(s.source)} → {_v(s.target)}" for s in plan.steps])
        for warning in plan.warnings:
            self.note(f"warning: {for_terminal(warning)}")

    def _open(self, title: str, labels: list[str]) -> None:
        self.sections.append(Section(title, [StepView(label) for label in labels], self.clock()))

    def _step(self, number: int, total: int) -> StepView:
        """The step ``number`` of the current section, now running (steps before it that were
        never seen in this run were done by an earlier one: a resumed journal)."""
        section = self.sections[-1] if self.sections else None
        if section is None or len(section.steps) != total:
            section = Section(
                "", [StepView(f"step {n}") for n in range(1, total + 1)], self.clock()
            )
            self.sections.append(section)
        index = min(max(number, 1), total) - 1
        for earlier in section.steps[:index]:
            if earlier.state in (PENDING, RUNNING):
                earlier.state = EARLIER if earlier.state == PENDING else DONE
        step = section.steps[index]
        if step.state == PENDING:
            step.state, step.started = RUNNING, self.clock()
        return step


def _v(version: object) -> str:
    return for_terminal(str(version))
