"""The reliability ledger across pytest-xdist workers: each worker sends its tally, the controller adds.

Under xdist every worker process has its own ``LEDGER``; the controller, which prints the summary,
runs no test. ``tests/conftest.py`` puts each worker's ledger into ``workeroutput`` at the end of
its session (``to_wire``) and adds it to the controller's when the worker goes down
(``merge_into``). Both walk the Ledger's dataclass fields, so a counter added to the Ledger is
carried without a change here, as long as its type is one of those below; any other type stops
the merge with an error naming the field (see ``tests/test_worker_ledgers.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from typing import Any

from reliability_ledger import Ledger

Wire = dict[str, Any]  # what execnet can carry: dicts, lists, str, int, float, bool


def to_wire(ledger: Ledger) -> Wire:
    """The ledger as plain data for ``workeroutput`` (Counters as dicts, sets as sorted lists)."""
    return {item.name: _encode(item.name, getattr(ledger, item.name)) for item in fields(ledger)}


def merge_into(ledger: Ledger, wire: Wire) -> None:
    """Add a worker's tally (from :func:`to_wire`) to ``ledger``, field by field."""
    for item in fields(ledger):
        if item.name not in wire:
            continue
        current = getattr(ledger, item.name)
        setattr(ledger, item.name, _add(item.name, current, wire[item.name]))


def _encode(name: str, value: Any) -> Any:
    if isinstance(value, Counter):
        return {str(key): count for key, count in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bool, int, float, list)):
        return value
    raise TypeError(_unsupported(name, value))


def _add(name: str, current: Any, incoming: Any) -> Any:
    if isinstance(current, Counter):
        current.update(incoming)
        return current
    if isinstance(current, (set, frozenset)):
        return type(current)(current) | set(incoming)
    if isinstance(current, bool):
        return current or bool(incoming)
    if isinstance(current, (int, float)):
        return current + incoming
    if isinstance(current, list):
        return [*current, *incoming]
    raise TypeError(_unsupported(name, current))


def _unsupported(name: str, value: object) -> str:
    return (
        f"Ledger.{name} is a {type(value).__name__}: tests/worker_ledgers.py cannot add it up "
        "across xdist workers (use a Counter, set, list, int or float, or teach it the type)"
    )
