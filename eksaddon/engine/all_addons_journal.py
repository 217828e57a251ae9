"""The run journal of ``upgrade --all-addons`` (:mod:`eksaddon.engine.all_addons`), as the run
reads and writes it: the add-ons it carries (items), what it decided once about self-managed
add-ons (sealed, read back on a rerun), each add-on's state as one clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons_records import AddonTarget, Selection
from eksaddon.engine.journal import DISCARD_HINT
from eksaddon.engine.run_journal import RunJournal
from eksaddon.errors import JournalMismatchError


def items(carried: Sequence[AddonTarget]) -> list[dict[str, Any]]:
    """The journal's items: the add-ons the run carries (never one it leaves uncarried)."""
    return [
        {"name": t.addon, "phase": t.phase, "target": t.target, "reason": t.reason} for t in carried
    ]


def states(journal: RunJournal) -> str:
    """Every add-on's state in the run, as one clause."""
    words = {
        runs.SUCCEEDED: "done",
        runs.FAILED: "stopped",
        runs.RUNNING: "in flight",
        runs.PENDING: "not started",
    }
    return "add-ons: " + ", ".join(f"{i['name']} {words[i['state']]}" for i in journal.items)


def sealed(targets: list[AddonTarget], unknown: str | None) -> dict[str, Any]:
    """What the run decided about self-managed add-ons, sealed in its journal: which carried
    ones are self-managed, which are not carried and why, and what could not be looked for."""
    return {
        "self_managed": [t.addon for t in targets if t.self_managed and t.not_carried is None],
        "not_carried": [
            {
                "name": t.addon,
                "phase": t.phase,
                "target": t.target,
                "reason": t.reason,
                "why": t.not_carried,
            }
            for t in targets
            if t.not_carried is not None
        ],
        "self_managed_unknown": unknown,
    }


def selection(journal: RunJournal) -> Selection:
    """The add-ons a journal records (a journal of an eksaddon before self-managed entries has
    none sealed: every item is an EKS add-on, nothing was left uncarried)."""
    sealed = journal.sealed
    self_managed = sealed.get("self_managed", [])
    if not isinstance(self_managed, list) or not all(isinstance(n, str) for n in self_managed):
        raise damaged(journal)
    marked = set(self_managed)
    targets = [
        AddonTarget(i["name"], i["phase"], i["target"], i["reason"], i["name"] in marked)
        for i in journal.items
    ]
    recorded = sealed.get("not_carried")
    for entry in recorded if isinstance(recorded, list) else []:
        fields = ("name", "phase", "target", "reason", "why")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            raise damaged(journal)
        targets.append(
            AddonTarget(
                entry["name"], entry["phase"], entry["target"], entry["reason"], True, entry["why"]
            )
        )
    unknown = sealed.get("self_managed_unknown")
    return Selection(tuple(targets), unknown if isinstance(unknown, str) else None)


def damaged(journal: RunJournal) -> JournalMismatchError:
    return JournalMismatchError(
        f"run journal {journal.path} is damaged (a self-managed entry of another shape)",
        hint=DISCARD_HINT,
    )
