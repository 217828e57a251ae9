"""Every field of the reliability ledger survives the trip from xdist workers to the controller."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

import execnet
import pytest

from reliability_ledger import Ledger
from worker_ledgers import merge_into, to_wire


def filled(seed: int) -> Ledger:
    """A ledger with every field non-empty, whatever fields it has (seed varies the contents)."""
    ledger = Ledger()
    for item in fields(ledger):
        value = getattr(ledger, item.name)
        if isinstance(value, Counter):
            value.update({f"{item.name}-kind-{seed}": seed, "shared-kind": 1})
        elif isinstance(value, set):
            value.update({f"{item.name}-point-{seed}", "shared-point"})
        elif isinstance(value, list):
            value.extend([f"{item.name}-{seed}"])
        elif isinstance(value, bool):
            setattr(ledger, item.name, True)
        elif isinstance(value, (int, float)):
            setattr(ledger, item.name, value + seed)
        else:  # pragma: no cover - to_wire refuses it too (next test)
            pytest.fail(f"Ledger.{item.name}: no sample for {type(value).__name__}")
    return ledger


def test_two_workers_ledgers_add_up_field_by_field() -> None:
    first, second = filled(2), filled(3)
    controller = Ledger()
    for worker in (first, second):
        # What xdist does with workeroutput: execnet serialises it between the processes.
        merge_into(controller, execnet.loads(execnet.dumps(to_wire(worker))))
    for item in fields(Ledger):
        mine, a, b = (getattr(x, item.name) for x in (controller, first, second))
        if isinstance(mine, Counter):
            assert mine == a + b, item.name
            assert mine["shared-kind"] == 2
        elif isinstance(mine, set):
            assert mine == a | b, item.name
        elif isinstance(mine, list):
            assert mine == a + b, item.name
        elif isinstance(mine, bool):
            assert mine is True, item.name
        else:
            assert mine == a + b, item.name
    assert controller.summary() != Ledger().summary()
    assert not controller.empty


def test_a_worker_that_tallied_nothing_changes_nothing() -> None:
    controller = filled(5)
    before = to_wire(controller)
    merge_into(controller, to_wire(Ledger()))
    assert to_wire(controller) == before


def test_a_field_of_a_type_it_cannot_add_is_an_error_naming_it() -> None:
    @dataclass
    class Wider(Ledger):
        by_host: dict[str, Any] = field(default_factory=lambda: {"x": 1})

    with pytest.raises(TypeError, match=r"Ledger\.by_host is a dict"):
        to_wire(Wider())
