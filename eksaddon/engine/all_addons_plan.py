"""The plans of an ``upgrade --all-addons`` run (:mod:`eksaddon.engine.all_addons`), made just
before it acts: every add-on not yet done planned as a dry run, or the plan a caller showed and
had consent to (the journey's) while it still fits, with what it found up to date planned again;
and the consent of each add-on as it is carried (a plan changed since it was shown is asked for
again; a downgrade to latest is never sent: "latest" for an add-on already newer leaves it).
"""

from __future__ import annotations

from collections.abc import Callable

from eksaddon import planner
from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons_outcomes import done_earlier, not_carried, planned
from eksaddon.engine.all_addons_records import (
    DONE_EARLIER,
    NOT_CARRIED,
    PLANNED,
    UP_TO_DATE,
    AddonOutcome,
    AddonTarget,
    Carry,
    CarryRequest,
)
from eksaddon.engine.all_addons_stops import stopped_before
from eksaddon.engine.events import Event, Notice, PlanReady, Progress
from eksaddon.engine.run_journal import RunJournal
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.errors import EksAddonError
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.planner import Direction, Plan, Step


class RunPlanner:
    """Plans a run's add-ons (``carry`` as dry runs) and gives each its consent when carried."""

    def __init__(self, carry: Carry, progress: Progress, *, dry_run: bool) -> None:
        self.carry = carry
        self.progress = progress
        self.dry_run = dry_run
        # The steps consented to for an add-on, where they differ from its plan (_rechecked).
        self.consented: dict[str, tuple[Step, ...]] = {}

    def outcomes(
        self,
        shown: tuple[AddonOutcome, ...] | None,
        journal: RunJournal | None,
        targets: list[AddonTarget],
    ) -> list[AddonOutcome]:
        """Every add-on's plan: the shown one while it still fits, else planned afresh."""
        fits = self._shown_plan(shown, journal, targets)
        if fits is None:
            return self.preview(journal, targets)
        return self._rechecked(journal, targets, fits)

    def confirm_for(
        self, target: AddonTarget, preview: AddonOutcome, confirm_changed: Callable[[Plan], bool]
    ) -> Callable[[Plan], bool]:
        """The consent of ``target``'s carrying: the plan shown, or a changed one asked for."""
        shown = self.consented.get(target.addon, preview.steps)

        def confirm(plan: Plan) -> bool:
            if would_downgrade(target, plan):  # moved past latest since it was shown
                raise NewerThanLatest(plan)
            return tuple(plan.steps) == shown or confirm_changed(plan)

        return confirm

    def _shown_plan(
        self,
        shown: tuple[AddonOutcome, ...] | None,
        journal: RunJournal | None,
        targets: list[AddonTarget],
    ) -> list[AddonOutcome] | None:
        """The plan handed over as ``shown``, if it is still the plan of ``targets``: the same
        add-ons to the same targets in the same order, done earlier exactly where this run's
        journal (read under its lock, just now) records them done. Otherwise None, and every
        add-on is planned afresh. Carrying it plans each add-on again just before acting, and a
        plan that changed since it was shown is asked for again (:meth:`confirm_for`)."""
        if shown is None:
            return None
        if [(o.addon, o.target) for o in shown] != [(t.addon, t.target) for t in targets]:
            return None
        for outcome, target in zip(shown, targets, strict=True):
            if (outcome.state == NOT_CARRIED) != (target.not_carried is not None):
                return None
            if outcome.state == NOT_CARRIED:
                continue  # never a journal item
            if outcome.state not in (DONE_EARLIER, PLANNED, UP_TO_DATE):
                return None  # an outcome of carrying, not a plan
            item = journal.item(outcome.addon) if journal is not None else None
            done = item is not None and item["state"] == runs.SUCCEEDED
            if done != (outcome.state == DONE_EARLIER):
                return None
        return list(shown)

    def _rechecked(
        self, journal: RunJournal | None, targets: list[AddonTarget], shown: list[AddonOutcome]
    ) -> list[AddonOutcome]:
        """The shown plan, with every add-on it found up to date planned again now: "nothing to
        send" is concluded just before acting, never from a plan made before the consent. One
        that needs steps now is carried, its new plan asked for (none was consented to)."""
        outcomes = list(shown)
        for index, (outcome, target) in enumerate(zip(shown, targets, strict=True)):
            if outcome.state == UP_TO_DATE:
                (fresh,) = self.preview(journal, [target])
                if fresh.steps:
                    self.consented[target.addon] = ()
                outcomes[index] = fresh
        return outcomes

    def preview(self, journal: RunJournal | None, targets: list[AddonTarget]) -> list[AddonOutcome]:
        """Every add-on's plan as a dry run (nothing written); those done earlier as they are."""
        outcomes = []
        # A run that goes on shows each add-on's plan when it starts it: the preview's plans
        # would open a second, never-run section each in the live view.
        progress = self.progress if self.dry_run else without_plans(self.progress)
        for target in targets:
            if target.not_carried is not None:
                outcomes.append(not_carried(target))
                continue
            item = journal.item(target.addon) if journal is not None else None
            if item is not None and item["state"] == runs.SUCCEEDED:
                outcomes.append(done_earlier(target, item))
                continue
            held: list[Event] = []  # shown once the plan is known not to be a downgrade
            try:
                result = self.carry(CarryRequest(target, True, lambda plan: True, held.append))
            except EksAddonError as error:
                forward(held, progress)
                raise stopped_before(journal, target, error) from error
            plan = result.plan
            if would_downgrade(target, plan):
                # "Latest" for a self-managed install is the release of EKS's latest build (AWS's
                # advice); one already newer is left as it runs, never taken back.
                self.progress(Notice(left_as_it_is(target, plan)))
                result = result._replace(plan=plan._replace(target=plan.current, steps=()))
            else:
                forward(held, progress)
            outcomes.append(planned(target, result))
        return outcomes


class NewerThanLatest(Exception):
    """Raised from the consent of an add-on whose plan, just before acting, is a downgrade to
    the latest build: the single-add-on upgrade stops before any change, and the run records
    the add-on up to date at the version it runs."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan.addon)
        self.plan = plan

    def result(self, cluster: ClusterInfo) -> UpgradeResult:
        kept = self.plan._replace(target=self.plan.current, steps=())
        return UpgradeResult(cluster.name, cluster.region, kept, False, False, 0, None, None, None)


def left_as_it_is(target: AddonTarget, plan: Plan) -> str:
    return (
        f"{target.addon} runs {plan.current}, newer than the latest {plan.target} "
        f"for Kubernetes {plan.kubernetes}: left as it is, never downgraded"
    )


def would_downgrade(target: AddonTarget, plan: Plan) -> bool:
    """A run to the latest build never takes an add-on back to an older one."""
    return target.target == planner.LATEST and plan.direction is Direction.DOWNGRADE


def forward(events: list[Event], progress: Progress) -> None:
    for event in events:
        progress(event)


def without_plans(progress: Progress) -> Progress:
    def forward(event: Event) -> None:
        if not isinstance(event, PlanReady):
            progress(event)

    return forward
