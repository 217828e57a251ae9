"""How each add-on of an ``upgrade --all-addons`` run stands (:mod:`eksaddon.engine.all_addons`):
its outcome from a plan, from carrying it, from the run journal (done earlier), or not carried
(a self-managed add-on eksaddon has no manifests for).
"""

from __future__ import annotations

from eksaddon.engine.all_addons_records import (
    DONE_EARLIER,
    NOT_CARRIED,
    PLANNED,
    UP_TO_DATE,
    UPGRADED,
    AddonOutcome,
    AddonTarget,
)
from eksaddon.engine.upgrade import UpgradeResult


def not_carried(target: AddonTarget) -> AddonOutcome:
    return AddonOutcome(
        target.addon,
        target.phase,
        target.target,
        NOT_CARRIED,
        (),
        0,
        None,
        None,
        None,
        None,
        self_managed=True,
        next_step=target.not_carried,
    )


def done_earlier(target: AddonTarget, item: dict[str, object]) -> AddonOutcome:
    version = item.get("version")
    steps_done = item.get("steps_done")
    return AddonOutcome(
        target.addon,
        target.phase,
        target.target,
        DONE_EARLIER,
        (),
        steps_done if isinstance(steps_done, int) else 0,
        None,
        version if isinstance(version, str) else None,
        None,
        None,
        self_managed=target.self_managed,
    )


def planned(target: AddonTarget, result: UpgradeResult) -> AddonOutcome:
    plan = result.plan
    return AddonOutcome(
        target.addon,
        target.phase,
        target.target,
        PLANNED if plan.steps else UP_TO_DATE,
        tuple(plan.steps),
        0,
        str(plan.current),
        str(plan.current),
        result.journal,
        None,
        self_managed=target.self_managed,
    )


def carried(target: AddonTarget, result: UpgradeResult) -> AddonOutcome:
    version = str(result.final.reported_version) if result.final else str(result.plan.target)
    return AddonOutcome(
        target.addon,
        target.phase,
        target.target,
        UPGRADED if result.plan.steps else UP_TO_DATE,
        tuple(result.plan.steps),
        result.steps_done,
        str(result.plan.current),
        version if result.plan.steps else str(result.plan.current),
        result.journal,
        result.backup,
        self_managed=target.self_managed,
    )
