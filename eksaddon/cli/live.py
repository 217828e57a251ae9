"""The live view on a terminal (rich): the plan, the current step, elapsed times, EKS's state,
and the rollout on the nodes, redrawn in place. Imported only when the live view is used.

Only rich's refresh thread writes to the terminal while the view is up; the engine's thread only
changes the state (:class:`~eksaddon.cli.live_state.RunState`). A Ctrl-C or SIGTERM, which Python
delivers to the main thread, therefore never interrupts a half-written frame, and
:meth:`LiveDisplay.close` stops the view (the last frame drawn whole, the cursor shown) before
the error boundary prints its line.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from eksaddon.cli.live_state import (
    DONE,
    EARLIER,
    NOTES_SHOWN,
    PENDING,
    RUNNING,
    STOPPED,
    RunState,
    Section,
    StepView,
)
from eksaddon.engine.events import Event, FleetProgress, StepChanges
from eksaddon.errors import ExitCode
from eksaddon.textsafety import for_terminal

T = TypeVar("T")

REFRESH_PER_SECOND = 4
# A long path (v1.6 to v1.18 is twelve steps) shows this many steps around the current one and
# counts the rest, so that the current step stays on a small terminal.
STEPS_AROUND = 8
BEHIND_SHOWN = 5
MARKS = {PENDING: ("·", "dim"), RUNNING: ("▶", "bold cyan"), DONE: ("✓", "green")}
MARKS |= {EARLIER: ("✓", "dim green"), STOPPED: ("✗", "bold red")}


class LiveDisplay:
    """The progress callback of a live run; :meth:`close` must be called however it ends."""

    def __init__(
        self, *, title: str, stream: TextIO, clock: Callable[[], float] | None = None
    ) -> None:
        self.title = for_terminal(title)
        self.state = RunState(clock) if clock is not None else RunState()
        self.console = Console(
            file=stream,
            force_terminal=True,  # chosen (a terminal, or --progress live): draw in place
            highlight=False,
            markup=False,
            emoji=False,
        )
        self._live: Live | None = None

    # -- the progress callback ------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        self.state.apply(event)
        if self._live is None:
            self._start()
        if isinstance(event, StepChanges):
            # A dry run's diff is for reading in full: printed above the view, which stays below.
            self.console.print(Text(_changes(event)), soft_wrap=True)

    def pausing(self, prompt: Callable[[T], bool], *, asks: bool) -> Callable[[T], bool]:
        """A prompt that ``asks`` (the confirmation without --yes) is asked below the last
        frame, with the view stopped; the next event starts it again."""
        if not asks:
            return prompt

        def asked(subject: T) -> bool:
            self._stop()
            return prompt(subject)

        return asked

    def close(self, error: BaseException | None) -> None:
        """Stop the view, marking how the run ended; signals wait until the terminal is clean."""
        if error is None:
            outcome = "done"
        elif isinstance(error, KeyboardInterrupt) or (
            getattr(error, "exit_code", None) == ExitCode.INTERRUPTED  # the journal's own error
        ):
            outcome = "interrupted"
        else:
            outcome = "stopped"
        self.state.finish(outcome)
        with _signals_held():
            self._stop()

    # -- drawing --------------------------------------------------------------------------------

    def _start(self) -> None:
        self._live = Live(
            console=self.console,
            get_renderable=self.render,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        # No refresh from this thread: the refresh thread draws the first frame.
        self._live.start(refresh=False)

    def _stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()  # draws the last frame whole, then a newline, then shows the cursor

    def render(self) -> RenderableType:
        with self.state.lock:
            return Group(*self._lines())

    def _lines(self) -> Iterator[RenderableType]:
        state = self.state
        header = Table.grid(expand=True)
        header.add_column(ratio=1)
        header.add_column(justify="right")
        ending = {"done": " · done", "stopped": " · stopped", "interrupted": " · interrupted"}
        header.add_row(
            Text(self.title, style="bold"),
            Text(f"{duration(state.elapsed())}{ending.get(state.outcome or '', '')}"),
        )
        yield header
        for section in state.sections:
            yield from self._section(section)
        for note in state.notes[-NOTES_SHOWN:]:
            yield Text(f"  {note}", style="dim")

    def _section(self, section: Section) -> Iterator[RenderableType]:
        """One row per step in aligned columns (mark, n/m, label, state, elapsed), and the
        running step's details under it across the whole width."""
        if section.title:
            yield Text(section.title)
        total = len(section.steps)
        shown = list(_window(section.steps))
        statuses = {id(step): _status(step) for _, step in shown if step is not None}
        number_width = len(f"{total}/{total}")
        label_width = max((cell_len(s.label) for _, s in shown if s is not None), default=0)
        status_width = max((t.cell_len for t in statuses.values()), default=0)
        indent = " " * (3 + 1 + number_width + 1)
        for number, step in shown:
            if step is None:
                yield Text(f"{indent}… {number} more", style="dim")
                continue
            mark, style = MARKS[step.state]
            elapsed = self.state.step_elapsed(step)
            status = statuses[id(step)]
            yield Text.assemble(
                (mark.rjust(3), style),
                " ",
                f"{number}/{total}".rjust(number_width),
                " ",
                (step.label, "bold" if step.state == RUNNING else ""),
                " " * (label_width - cell_len(step.label) + 2),
                status,
                " " * (status_width - status.cell_len + 2),
                (duration(elapsed) if elapsed is not None else "").rjust(7),
            )
            if step.state in (RUNNING, STOPPED):
                for detail in _details(step):
                    yield Text(f"{indent}{detail}", style="dim")


def _window(steps: list[StepView]) -> Iterator[tuple[int, StepView | None]]:
    """(number, step) for the steps shown; (count, None) where ``count`` steps are left out."""
    if len(steps) <= STEPS_AROUND:
        yield from enumerate(steps, start=1)
        return
    current = next(
        (i for i, s in enumerate(steps) if s.state in (RUNNING, STOPPED, PENDING)), len(steps) - 1
    )
    first = max(0, min(current - 2, len(steps) - STEPS_AROUND))
    last = first + STEPS_AROUND
    if first:
        yield first, None
    yield from ((i + 1, steps[i]) for i in range(first, last))
    if last < len(steps):
        yield len(steps) - last, None


def _status(step: StepView) -> Text:
    if step.state == EARLIER:
        return Text("done in an earlier run", style="dim")
    if step.state == DONE:
        return Text("done", style="green")
    if step.state == PENDING:
        return Text("")
    if step.rollout is not None:
        rollout = step.rollout
        text = (
            f"{rollout.component} rollout: {rollout.updated}/{rollout.nodes} {rollout.unit} updated"
        )
    elif step.addon_status is not None:
        text = f"add-on {step.addon_status}"
    elif step.update_status is not None:
        text = f"update {step.update_status}"
    elif step.applied:
        text = "manifest applied"
    else:
        text = "starting"
    return Text(text, style="bold red" if step.state == STOPPED else "cyan")


def _details(step: StepView) -> Iterator[str]:
    if step.update_id is not None:
        yield f"EKS update {step.update_id}: {step.update_status or 'sent'}"
    if step.addon_status is not None:
        issues = f", {step.issues} health issue(s)" if step.issues else ""
        yield f"add-on status: {step.addon_status}{issues}"
    if step.rollout is not None and step.rollout.behind:
        behind = step.rollout.behind
        more = f" and {len(behind) - BEHIND_SHOWN} more" if len(behind) > BEHIND_SHOWN else ""
        yield f"nodes behind: {', '.join(behind[:BEHIND_SHOWN])}{more}"


def _changes(event: StepChanges) -> str:
    diff = "\n".join(for_terminal(line) for line in event.diff.rstrip("\n").split("\n"))
    return f"[{event.number}/{event.total}] {for_terminal(event.what)} changes:\n{diff}"


def duration(seconds: float) -> str:
    """``42s``, ``3m 07s``, ``1h 02m``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM ignored while the view stops (a few milliseconds): a second Ctrl-C
    must not leave the cursor hidden or a frame half drawn."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class FleetBar:
    """A fleet check's progress bar: clusters done out of total, failures so far."""

    def __init__(self, stream: TextIO) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(file=stream, force_terminal=True, highlight=False, markup=False)
        self._bar = Progress(
            TextColumn("checking clusters"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[outcomes]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=REFRESH_PER_SECOND,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task("fleet", total=None, outcomes="")
        self._started = False

    def __call__(self, progress: FleetProgress) -> None:
        if not self._started:
            self._started = True
            self._bar.start()
        outcomes = f"· {progress.failed} failed · {progress.errors} not checked"
        # No refresh from this thread: rich's refresh thread draws (see the module's docstring).
        self._bar.update(
            self._task, completed=progress.done, total=progress.total, outcomes=outcomes
        )

    def close(self) -> None:
        with _signals_held():
            self._bar.stop()
