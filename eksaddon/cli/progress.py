"""Render engine progress events on stderr: one line per change, so logs stay readable."""

from __future__ import annotations

import sys

from eksaddon.engine.events import (
    AddonPolled,
    BackupWritten,
    Event,
    Notice,
    PlanReady,
    StepFinished,
    StepStarted,
    UpdatePolled,
)


class ProgressPrinter:
    """Prints each event that says something new; repeated poll states are skipped."""

    def __init__(self) -> None:
        self._last: tuple[object, ...] | None = None

    def __call__(self, event: Event) -> None:
        line = self._line(event)
        if line is not None:
            print(line, file=sys.stderr, flush=True)

    def _line(self, event: Event) -> str | None:
        if isinstance(event, PlanReady):
            plan = event.plan
            mode = "resuming" if event.resumed else "plan"
            path = " → ".join([str(plan.current), *(str(s.target) for s in plan.steps)])
            lines = [
                f"{mode}: {plan.addon} {plan.current} → {plan.target} in {len(plan.steps)} "
                f"step(s) [{path}] with resolveConflicts={event.resolve_conflicts}",
                *(f"warning: {warning}" for warning in plan.warnings),
            ]
            return "\n".join(lines)
        if isinstance(event, BackupWritten):
            return f"backup written: {event.path}"
        if isinstance(event, StepStarted):
            verb = "following" if event.resumed else "started"
            return (
                f"[{event.number}/{event.total}] {event.source} → {event.target}: "
                f"{verb} update {event.update_id}"
            )
        if isinstance(event, UpdatePolled | AddonPolled):
            key = (type(event), event.number, event.status)
            if key == self._last:
                return None
            self._last = key
            what = "update" if isinstance(event, UpdatePolled) else "add-on"
            return f"[{event.number}/{event.total}] {what} {event.status} ({event.elapsed:.0f}s)"
        if isinstance(event, StepFinished):
            return (
                f"[{event.number}/{event.total}] done: {event.target} is ACTIVE "
                f"({event.elapsed:.0f}s)"
            )
        assert isinstance(event, Notice)
        return event.text
