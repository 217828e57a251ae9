"""Progress events: the engine reports through a callback and never prints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion


class PlanReady(NamedTuple):
    plan: Plan
    resumed: bool
    journal: Path | None
    resolve_conflicts: str


class BackupWritten(NamedTuple):
    path: Path


class StepStarted(NamedTuple):
    number: int
    total: int
    source: AddonVersion
    target: AddonVersion
    update_id: str
    resumed: bool


class UpdatePolled(NamedTuple):
    number: int
    total: int
    status: str
    elapsed: float


class AddonPolled(NamedTuple):
    number: int
    total: int
    status: str
    issues: int
    elapsed: float


class StepFinished(NamedTuple):
    number: int
    total: int
    target: AddonVersion
    elapsed: float


class Notice(NamedTuple):
    text: str


Event = PlanReady | BackupWritten | StepStarted | UpdatePolled | AddonPolled | StepFinished | Notice
Progress = Callable[[Event], None]


def ignore(_: Event) -> None:
    """A progress callback that drops everything."""
