"""Whatever could drop a setting needs an explicit flag, is shown in the plan, and needs --yes.

The risks: resolveConflicts=OVERWRITE, --force (drops carried settings a target does not know),
--configuration-values that leave out values in use. Each must appear as a plan warning on the
``plan:`` line's event and in the confirmation question, and a run without a terminal must refuse
it without --yes, having changed nothing.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from eksaddon.cli.shared import confirmer
from eksaddon.cli.upgrade_cmd import _describe
from eksaddon.engine.events import Event, PlanReady
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader, UpgradeResult
from eksaddon.errors import InputError
from eksaddon.matrix import Matrix
from eksaddon.matrix.model import AddonType
from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion, KubernetesVersion
from fakes import FakeClock, FakeEks


def upgrade(
    bundled: Matrix,
    tmp_path: Path,
    eks: FakeEks,
    events: list[Event],
    *,
    yes: bool,
    **options: object,
) -> UpgradeResult:
    settings = UpgradeOptions(cluster="prod", addon="vpc-cni", poll_interval=5, **options)  # type: ignore[arg-type]
    return Upgrader(
        gateway=eks,
        matrix=bundled,
        options=settings,
        state_directory=tmp_path / "state",
        progress=events.append,
        confirm=confirmer(yes, _describe),
        clock=FakeClock(),
    ).run()


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # isatty() is False: a CI job


def values_in_use(eks: FakeEks, document: Mapping[str, object]) -> None:
    assert eks.addon is not None
    eks.addon["configuration_values"] = json.dumps(document)


def warnings(events: list[Event]) -> tuple[str, ...]:
    (ready,) = [e for e in events if isinstance(e, PlanReady)]
    return ready.plan.warnings


RISKS = {
    "overwrite": (
        {"resolve_conflicts": "OVERWRITE"},
        None,
        "resolveConflicts=OVERWRITE: EKS resets every field",
    ),
    "replacing values": (
        {"configuration_values": '{"env": {"WARM_IP_TARGET": "5"}}'},
        {"env": {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"}},
        "--configuration-values replaces the values in use and drops: env.MINIMUM_IP_TARGET",
    ),
}


@pytest.mark.parametrize("risk", list(RISKS))
@pytest.mark.usefixtures("no_terminal")
def test_a_risk_is_refused_without_yes_and_changes_nothing(
    bundled: Matrix, tmp_path: Path, risk: str
) -> None:
    options, in_use, expected = RISKS[risk]
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    if in_use is not None:
        values_in_use(eks, in_use)
    events: list[Event] = []
    with pytest.raises(InputError) as refused:
        upgrade(bundled, tmp_path, eks, events, yes=False, **options)
    assert any(w.startswith(expected) for w in warnings(events)), warnings(events)
    line = refused.value.one_line()
    assert "without confirmation" in line and expected in line, line
    assert "pass --yes" in line
    assert eks.calls["UpdateAddon"] == 0
    # Only the run's lock (locks/) may exist: no journal, no backup before consent.
    written = [p.name for p in (tmp_path / "state").glob("*")]
    assert set(written) <= {"locks"}, "nothing written before consent"


@pytest.mark.parametrize("risk", list(RISKS))
def test_with_yes_the_risk_is_still_shown_with_the_plan(
    bundled: Matrix, tmp_path: Path, risk: str
) -> None:
    options, in_use, expected = RISKS[risk]
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    if in_use is not None:
        values_in_use(eks, in_use)
    events: list[Event] = []
    result = upgrade(bundled, tmp_path, eks, events, yes=True, **options)
    assert result.steps_done == 1
    assert any(w.startswith(expected) for w in warnings(events))
    assert any(w.startswith(expected) for w in result.plan.warnings), "in the report too"


def test_the_default_run_shows_no_risk(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    values_in_use(eks, {"env": {"WARM_IP_TARGET": "5"}})
    events: list[Event] = []
    upgrade(bundled, tmp_path, eks, events, yes=True)
    assert warnings(events) == ()
    assert eks.requests[0].resolve_conflicts == "PRESERVE"
    assert eks.requests[0].configuration_values == '{"env": {"WARM_IP_TARGET": "5"}}'


def test_values_that_keep_every_key_are_no_risk(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.17.1-eksbuild.1")
    values_in_use(eks, {"env": {"WARM_IP_TARGET": "5"}})
    events: list[Event] = []
    upgrade(
        bundled,
        tmp_path,
        eks,
        events,
        yes=True,
        configuration_values='{"env": {"WARM_IP_TARGET": "7", "MINIMUM_IP_TARGET": "2"}}',
    )
    assert warnings(events) == ()


def test_the_question_names_the_risk() -> None:
    plan = Plan(
        addon="vpc-cni",
        addon_type=AddonType.MANAGED,
        kubernetes=KubernetesVersion.parse("1.29"),
        current=AddonVersion.parse("v1.17.1-eksbuild.1"),
        target=AddonVersion.parse("v1.18.3-eksbuild.3"),
        requested="latest",
        steps=(),
        warnings=("resolveConflicts=OVERWRITE: EKS resets every field",),
    )
    assert "(warning: resolveConflicts=OVERWRITE" in _describe(plan)
