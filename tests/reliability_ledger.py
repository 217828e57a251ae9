"""The reliability campaign's tally, printed at the end of every pytest run that fed it.

Fault and bad-input tests record what they tried and what they saw; ``tests/conftest.py`` prints
the totals (faults tried, inputs tried, tracebacks, settings lost) in pytest's terminal summary,
which docs/reliability.md quotes. The tests themselves fail on any traceback or lost setting: the
tally only makes the size of the campaign visible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

TRACEBACK_MARKER = "Traceback (most recent call last)"


@dataclass
class Ledger:
    faults: Counter[str] = field(default_factory=Counter)  # fault kind -> cases tried
    fault_points: set[str] = field(default_factory=set)
    inputs: Counter[str] = field(default_factory=Counter)  # input family -> cases tried
    tracebacks: int = 0
    settings_lost: int = 0
    leaks: int = 0
    secrets_searched: int = 0
    hostile: Counter[str] = field(default_factory=Counter)  # operation -> misfit answers tried
    unsafe_texts: int = 0  # hostile strings shown through a human-readable writer

    def hostile_answer(self, operation: str) -> None:
        self.hostile[operation] += 1

    def fault(self, kind: str, point: str) -> None:
        self.faults[kind] += 1
        self.fault_points.add(point)

    def input(self, family: str) -> None:
        self.inputs[family] += 1

    def saw_output(self, *texts: str) -> None:
        """Count tracebacks in outputs a test looked at (the test asserts there are none)."""
        self.tracebacks += sum(TRACEBACK_MARKER in text for text in texts)

    def lost(self, count: int) -> None:
        self.settings_lost += count

    @property
    def empty(self) -> bool:
        return not (
            self.faults or self.inputs or self.secrets_searched or self.hostile or self.unsafe_texts
        )

    def summary(self) -> list[str]:
        lines = [
            f"faults tried: {sum(self.faults.values())} "
            f"({len(self.faults)} kinds at {len(self.fault_points)} step points)",
            f"inputs tried: {sum(self.inputs.values())} ({len(self.inputs)} families)",
            f"tracebacks: {self.tracebacks}",
            f"settings lost: {self.settings_lost}",
        ]
        if self.hostile:
            lines.append(
                f"hostile answers tried: {sum(self.hostile.values())} "
                f"({len(self.hostile)} operations)"
            )
        if self.unsafe_texts:
            lines.append(f"unsafe texts shown escaped: {self.unsafe_texts}")
        if self.secrets_searched:
            lines.append(
                f"secrets planted and searched for: {self.secrets_searched}, leaked: {self.leaks}"
            )
        return lines


LEDGER = Ledger()
