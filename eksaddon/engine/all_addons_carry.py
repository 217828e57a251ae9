"""Carrying the add-ons of an ``upgrade --all-addons`` run (:mod:`eksaddon.engine.all_addons`),
once its plan is consented to and its run journal written: each in order through the
single-add-on upgrade, recorded running, then how it ended; an add-on with nothing to send is
recorded without a call. A stop is recorded in the run journal, then raised as
:mod:`~eksaddon.engine.all_addons_stops` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons_journal import states
from eksaddon.engine.all_addons_outcomes import carried
from eksaddon.engine.all_addons_plan import NewerThanLatest, RunPlanner, left_as_it_is
from eksaddon.engine.all_addons_records import (
    DONE_EARLIER,
    NOT_CARRIED,
    STOPPED,
    UP_TO_DATE,
    AddonOutcome,
    AddonTarget,
    Carry,
    CarryRequest,
)
from eksaddon.engine.all_addons_stops import changed_before, record, stopped
from eksaddon.engine.events import AddonRunFinished, AddonRunStarted, Notice, Progress
from eksaddon.engine.run_journal import RunJournal
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.errors import EksAddonError, StateDirectoryError, UnsafeStateFileError
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.planner import Plan


class RunCarrier:
    """Carries a run's add-ons: ``carry`` each, with ``planner``'s consent for it; ``rerun`` is
    the command a stop names to resume the run."""

    def __init__(
        self,
        carry: Carry,
        planner: RunPlanner,
        progress: Progress,
        confirm_changed: Callable[[Plan], bool],
        *,
        rerun: str,
    ) -> None:
        self.carry = carry
        self.planner = planner
        self.progress = progress
        self.confirm_changed = confirm_changed
        self.rerun = rerun

    def carry_all(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        targets: list[AddonTarget],
        previews: list[AddonOutcome],
    ) -> list[AddonOutcome]:
        outcomes = list(previews)
        total = len(targets)
        for number, (target, preview) in enumerate(zip(targets, previews, strict=True), start=1):
            if preview.state in (NOT_CARRIED, DONE_EARLIER, UP_TO_DATE):
                self._nothing_to_send(journal, cluster, outcomes, number, total, preview)
                continue
            outcomes[number - 1] = self._carry_one(journal, cluster, outcomes, number, target)
        return outcomes

    def _nothing_to_send(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        outcomes: list[AddonOutcome],
        number: int,
        total: int,
        preview: AddonOutcome,
    ) -> None:
        """An add-on not carried (said before the run), done earlier, or found up to date moments
        ago, in the plan: recorded, nothing sent."""
        if preview.state == UP_TO_DATE:
            item = journal.item(preview.addon)
            changes = {"state": runs.SUCCEEDED, "steps_done": 0, "version": preview.version}
            record(journal, cluster, outcomes, item, **changes)
        version = None if preview.state == NOT_CARRIED else preview.version
        self.progress(AddonRunFinished(number, total, preview.addon, preview.state, version))

    def _carry_one(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        outcomes: list[AddonOutcome],
        number: int,
        target: AddonTarget,
    ) -> AddonOutcome:
        """Carry add-on ``number`` (its journal item recorded running, then how it ended)."""
        total = len(outcomes)
        item = journal.item(target.addon)
        resumed = item["state"] != runs.PENDING
        self.progress(AddonRunStarted(number, total, target.addon, target.phase, resumed))
        record(journal, cluster, outcomes, item, state=runs.RUNNING, error=None)
        done = carried(target, self._carried(journal, cluster, outcomes, number, target))
        outcomes[number - 1] = done
        record(
            journal,
            cluster,
            outcomes,
            item,
            state=runs.SUCCEEDED,
            steps_done=done.steps_done,
            version=done.version,
        )
        self.progress(AddonRunFinished(number, total, target.addon, done.state, done.version))
        return done

    def _carried(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        outcomes: list[AddonOutcome],
        number: int,
        target: AddonTarget,
    ) -> UpgradeResult:
        """The single-add-on upgrade of add-on ``number``; a stop is recorded, then raised."""
        preview, item = outcomes[number - 1], journal.item(target.addon)
        confirm = self.planner.confirm_for(target, preview, self.confirm_changed)
        try:
            return self.carry(CarryRequest(target, False, confirm, self.progress))
        except NewerThanLatest as newer:  # raised before any change: nothing was sent
            self.progress(Notice(left_as_it_is(target, newer.plan)))
            return newer.result(cluster)
        except EksAddonError as error:
            # The stop is raised even if the state directory fails now: the run journal on
            # disk is the last complete one, and says where to resume.
            with suppress(StateDirectoryError, UnsafeStateFileError):
                journal.update_item(item, state=runs.FAILED, error=error.one_line())
            outcomes[number - 1] = preview._replace(state=STOPPED, error=error.one_line())
            raise self._stopped(journal, cluster, outcomes, target, error) from error
        except KeyboardInterrupt:
            with suppress(StateDirectoryError, UnsafeStateFileError):
                journal.update_item(item, state=runs.FAILED, error="interrupted")
            raise

    def _stopped(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        outcomes: list[AddonOutcome],
        target: AddonTarget,
        error: EksAddonError,
    ) -> EksAddonError:
        if not changed_before(error, outcomes):
            self.progress(Notice(f"nothing was changed; {states(journal)}"))
            return error
        return stopped(journal, cluster, target, error, command=self.rerun)
