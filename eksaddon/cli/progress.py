"""Render engine progress events on stderr, as a live view on a terminal or one line per change.

The engine reports typed events through a callback (:mod:`eksaddon.engine.events`). A command
picks a renderer once (:func:`choose_mode`, overridden by ``--progress``) and hands the engine
its callback:

- ``plain``: :class:`ProgressPrinter`, one line per change, for pipes, files and CI logs;
- ``live``: :class:`eksaddon.cli.live.LiveDisplay` (rich, imported only then), for a person at a
  terminal;
- ``none``: nothing (errors still come through the error boundary).

Every text from outside (statuses, update ids, names, messages) is passed through
:func:`~eksaddon.textsafety.for_terminal` before it is written, so an answer with a newline in it
cannot forge a progress line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TextIO, TypeVar

from eksaddon.engine.events import (
    AddonPolled,
    AddonRunFinished,
    AddonRunStarted,
    BackupWritten,
    ChangePlanned,
    ControlPlaneFinished,
    ControlPlanePolled,
    ControlPlaneStarted,
    Event,
    ManifestApplied,
    Notice,
    PhaseStarted,
    PlanReady,
    RolloutProgressed,
    StepChanges,
    StepFinished,
    StepStarted,
    UpdatePolled,
)
from eksaddon.textsafety import for_terminal

AUTO, LIVE, PLAIN, NONE = "auto", "live", "plain", "none"
MODES = (AUTO, LIVE, PLAIN, NONE)
# Values of $CI that do not mean "running in CI" (CI=false is how some people switch it off).
_NOT_CI = ("", "0", "false", "no")

T = TypeVar("T")


def in_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").strip().lower() not in _NOT_CI


def choose_mode(requested: str, stream: TextIO, environ: Mapping[str, str]) -> str:
    """``requested`` unless it is ``auto``: then live on a terminal, plain on a pipe or in CI."""
    if requested != AUTO:
        return requested
    if in_ci(environ) or environ.get("TERM") == "dumb" or not _isatty(stream):
        return PLAIN
    return LIVE


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class Display(Protocol):
    """What a command hands the engine: the progress callback, and a way to prompt safely."""

    def __call__(self, event: Event) -> None: ...

    def pausing(self, prompt: Callable[[T], bool], *, asks: bool) -> Callable[[T], bool]:
        """``prompt`` made safe to run while the display is up: when it ``asks`` at the
        terminal, a live view stops first (and starts again with the next event)."""
        ...


@contextmanager
def progress_display(mode: str, *, title: str) -> Iterator[Display]:
    """The display for ``mode`` (already chosen), cleaned up however the run ends.

    The live view is stopped, the cursor shown and the last frame left on screen before any
    exception goes on to the error boundary, which then prints its line (the resume hint) below.
    """
    if mode == LIVE:
        from eksaddon.cli.live import LiveDisplay

        live = LiveDisplay(title=title, stream=sys.stderr)
        try:
            yield live
        except BaseException as error:
            live.close(error)
            raise
        live.close(None)
        return
    yield _Lines(ProgressPrinter() if mode == PLAIN else None)


class _Lines:
    """The plain and the silent display: no prompt needs guarding."""

    def __init__(self, printer: ProgressPrinter | None) -> None:
        self._printer = printer

    def __call__(self, event: Event) -> None:
        if self._printer is not None:
            self._printer(event)

    def pausing(self, prompt: Callable[[T], bool], *, asks: bool) -> Callable[[T], bool]:
        return prompt


def chosen_display(requested: str, *, title: str) -> AbstractContextManager[Display]:
    """:func:`progress_display` for the mode ``--progress`` asked for, on stderr."""
    return progress_display(choose_mode(requested, sys.stderr, os.environ), title=title)


class ProgressPrinter:
    """Prints each event that says something new; repeated poll states are skipped."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._last: tuple[object, ...] | None = None
        self._last_rollout: tuple[object, ...] | None = None

    def __call__(self, event: Event) -> None:
        line = self.line(event)
        if line is not None:
            print(line, file=self._stream or sys.stderr, flush=True)

    def line(self, event: Event) -> str | None:
        """The text printed for ``event`` (None: nothing new)."""
        if isinstance(event, PlanReady):
            return _plan_lines(event)
        if isinstance(event, BackupWritten):
            return f"backup written: {for_terminal(str(event.path))}"
        if isinstance(event, StepStarted):
            verb = "following" if event.resumed else "started"
            return (
                f"[{event.number}/{event.total}] {_v(event.source)} → {_v(event.target)}: "
                f"{verb} update {for_terminal(event.update_id)}"
            )
        if isinstance(event, UpdatePolled | AddonPolled):
            key: tuple[object, ...] = (type(event), event.number, event.status)
            if key == self._last:
                return None
            self._last = key
            what = "update" if isinstance(event, UpdatePolled) else "add-on"
            status = for_terminal(event.status)
            return f"[{event.number}/{event.total}] {what} {status} ({event.elapsed:.0f}s)"
        if isinstance(event, StepFinished):
            return (
                f"[{event.number}/{event.total}] done: {_v(event.target)} is ACTIVE "
                f"({event.elapsed:.0f}s)"
            )
        if isinstance(event, RolloutProgressed):
            counts = (event.number, event.component, event.updated, event.nodes)
            if counts == self._last_rollout:
                return None
            self._last_rollout = counts
            return (
                f"[{event.number}/{event.total}] {for_terminal(event.component)} rollout: "
                f"{event.updated}/{event.nodes} {event.unit} updated"
            )
        if isinstance(event, ManifestApplied):
            return f"[{event.number}/{event.total}] applied the {_v(event.target)} manifest"
        if isinstance(event, StepChanges):
            # The diff keeps its lines; each line is made safe on its own.
            diff = "\n".join(for_terminal(line) for line in event.diff.split("\n"))
            return f"[{event.number}/{event.total}] {for_terminal(event.what)} changes:\n{diff}"
        if isinstance(event, ChangePlanned):
            return f"plan: {for_terminal(event.description)}"
        journey = journey_line(event)
        if journey is not None:
            return journey
        if isinstance(event, ControlPlanePolled):
            cp_key: tuple[object, ...] = (type(event), event.update_id, event.status)
            if cp_key == self._last:
                return None
            self._last = cp_key
            return (
                f"control plane: update {for_terminal(event.update_id)} "
                f"{for_terminal(event.status)} ({event.elapsed:.0f}s)"
            )
        assert isinstance(event, Notice)
        return for_terminal(event.text)


def journey_line(event: Event) -> str | None:
    """The line of a multi-add-on run's or a journey's own event (None for any other)."""
    if isinstance(event, PhaseStarted):
        return f"== {for_terminal(event.phase)}: {for_terminal(event.description)}"
    if isinstance(event, AddonRunStarted):
        verb = "resuming" if event.resumed else "starting"
        return (
            f"add-on {event.number}/{event.total}: {verb} {for_terminal(event.addon)} "
            f"({for_terminal(event.phase)} phase)"
        )
    if isinstance(event, AddonRunFinished):
        version = f" at {for_terminal(event.version)}" if event.version else ""
        return (
            f"add-on {event.number}/{event.total}: {for_terminal(event.addon)} "
            f"{for_terminal(event.outcome)}{version}"
        )
    if isinstance(event, ControlPlaneStarted):
        verb = "following" if event.resumed else "started"
        force = " with force (upgrade insights overridden)" if event.force else ""
        return (
            f"control plane of {for_terminal(event.cluster)}: {for_terminal(event.source)} → "
            f"{for_terminal(event.target)}: {verb} update {for_terminal(event.update_id)}{force}"
        )
    if isinstance(event, ControlPlaneFinished):
        return (
            f"control plane of {for_terminal(event.cluster)}: done, Kubernetes "
            f"{for_terminal(event.version)} ({event.elapsed:.0f}s)"
        )
    return None


def _v(version: object) -> str:
    return for_terminal(str(version))


def _plan_lines(event: PlanReady) -> str:
    plan = event.plan
    mode = "resuming" if event.resumed else "plan"
    path = " → ".join([_v(plan.current), *(_v(s.target) for s in plan.steps)])
    lines = [
        f"{mode}: {for_terminal(plan.addon)} {_v(plan.current)} → {_v(plan.target)} in "
        f"{len(plan.steps)} step(s) [{path}] with "
        f"resolveConflicts={for_terminal(event.resolve_conflicts)}",
        *(f"warning: {for_terminal(warning)}" for warning in plan.warnings),
    ]
    return "\n".join(lines)
