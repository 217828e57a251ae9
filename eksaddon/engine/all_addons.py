"""``upgrade --all-addons``: carry several add-ons, one at a time, under one run journal.

Which add-ons: those the gate puts in the ``before`` phase for a target Kubernetes version, or
(without one) every EKS add-on on the cluster to the latest build EKS offers its current version
(the ``after`` phase of a control-plane update), with the self-managed core add-ons found through
Kubernetes (:mod:`eksaddon.engine.all_addons_scan`). A self-managed add-on eksaddon cannot carry
(no manifests: kube-proxy, CoreDNS) is kept in the plan and the outcome as ``not carried`` with
its next step, never sent, sealed in the run journal; in a ``before`` phase it refuses the run
before any add-on is planned. A run to ``latest`` never downgrades.

Each add-on is carried by the single-add-on upgrade (:class:`~eksaddon.engine.upgrade.Upgrader`,
through the narrow :data:`Carry` entry point): its own lock, backup, journal, carried settings
and rollout check are all its own.

Order of work:
1. read the cluster, take the run's lock, load the run journal (it must be this cluster's, for
   the same run) or choose the add-ons afresh, in :data:`UPGRADE_ORDER`;
2. plan every add-on not yet done as a dry run (from the live catalogue, nothing written): the
   whole plan is shown, and consented to once. A caller that has shown and had consent to that
   plan already (the journey, which plans its phase before its one consent) hands it over as
   ``shown``: it is carried as it is, not planned a second time, as long as it is still the plan
   of the add-ons this run carries (:meth:`AllAddonsRun._shown_plan`);
3. write the run journal, then carry each add-on in order, recording it running, then succeeded;
   an add-on whose plan changed since it was shown is asked for again.
A rerun skips the add-ons recorded done and resumes the one in flight (its own journal follows
its update by id). One add-on failing stops the run with exit 4 and every add-on's state in the
message, unless nothing at all was changed (then the add-on's own error, exit 2 or 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from eksaddon import planner
from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons_records import (
    AFTER,
    BEFORE,
    DONE_EARLIER,
    NOT_CARRIED,
    NOT_STARTED,
    PLANNED,
    STOPPED,
    UP_TO_DATE,
    UPGRADE_ORDER,
    UPGRADED,
    AddonOutcome,
    AddonTarget,
    AllAddonsResult,
    Carry,
    CarryRequest,
    ScanSelfManaged,
    Selection,
    SelfManagedScan,
    VerdictLike,
    in_upgrade_order,
    latest_selection,
    latest_targets,
    not_carried_before,
    run_kind,
    targets_in_phase,
)
from eksaddon.engine.events import (
    AddonRunFinished,
    AddonRunStarted,
    Event,
    Notice,
    PhaseStarted,
    PlanReady,
    Progress,
)
from eksaddon.engine.journal import DISCARD_HINT, cluster_lock
from eksaddon.engine.run_journal import RunIdentity, RunJournal
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.errors import (
    EksAddonError,
    ExitCode,
    InputError,
    JournalMismatchError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.planner import Direction, Plan, Step
from eksaddon.versions import KubernetesVersion

# The records live in all_addons_records; importers (the journey, the CLI, the reports, tests)
# take them from here.
__all__ = [
    "AFTER",
    "BEFORE",
    "DONE_EARLIER",
    "NOT_CARRIED",
    "NOT_STARTED",
    "PLANNED",
    "STOPPED",
    "UPGRADED",
    "UPGRADE_ORDER",
    "UP_TO_DATE",
    "AddonOutcome",
    "AddonTarget",
    "AllAddonsResult",
    "AllAddonsRun",
    "Carry",
    "CarryRequest",
    "ScanSelfManaged",
    "Selection",
    "SelfManagedScan",
    "VerdictLike",
    "in_upgrade_order",
    "latest_selection",
    "latest_targets",
    "not_carried_before",
    "run_kind",
    "targets_in_phase",
]


class AllAddonsRun:
    """One run of ``upgrade --all-addons`` on one cluster."""

    def __init__(
        self,
        *,
        gateway: ClusterUpgradeGateway,
        cluster: str,
        for_kubernetes_version: KubernetesVersion | None,
        select: Callable[[ClusterInfo], list[AddonTarget] | Selection],
        carry: Carry,
        state_directory: Path,
        progress: Progress,
        confirm: Callable[[Sequence[AddonOutcome]], bool],
        confirm_changed: Callable[[Plan], bool],
        dry_run: bool = False,
        discard_journal: bool = False,
        kind: str | None = None,
        shown: Sequence[AddonOutcome] | None = None,
    ) -> None:
        self.gateway = gateway
        self.kind = kind or run_kind(for_kubernetes_version)
        self.cluster_name = cluster
        self.for_kubernetes_version = for_kubernetes_version
        self.select = select
        self.carry = carry
        self.state_directory = state_directory
        self.progress = progress
        self.confirm = confirm
        self.confirm_changed = confirm_changed
        self.dry_run = dry_run
        self.discard_journal = discard_journal
        self.shown = None if shown is None else tuple(shown)
        self.phase = AFTER if for_kubernetes_version is None else BEFORE
        self.unknown: str | None = None  # why self-managed add-ons could not be looked for

    def run(self) -> AllAddonsResult:
        cluster = self.gateway.describe_cluster(self.cluster_name)
        kind = self.kind
        path = runs.run_journal_path(
            self.state_directory, region=cluster.region, cluster=cluster.name, kind=kind
        )
        locking = not self.dry_run or self.discard_journal
        lock = cluster_lock(path, cluster=cluster.name, addon=kind)
        with lock if locking else nullcontext():
            return self._locked_run(cluster, RunIdentity.of(cluster, kind), path)

    def _locked_run(
        self, cluster: ClusterInfo, identity: RunIdentity, path: Path
    ) -> AllAddonsResult:
        journal, archived = RunJournal.load_unfinished(path, discard=self.discard_journal)
        if archived is not None:
            self.progress(Notice(f"previous run journal moved to {archived}"))
        if journal is not None:
            journal.check_cluster(identity)
            if journal.identity.kubernetes_version != identity.kubernetes_version:
                raise JournalMismatchError(
                    f"run journal {path} was made for Kubernetes "
                    f"{journal.identity.kubernetes_version}, but cluster {cluster.name} now runs "
                    f"{cluster.version}; nothing was sent",
                    hint=DISCARD_HINT,
                )
            selection = _recorded_selection(journal)
        else:
            selection = self._selection(cluster)
        targets = in_upgrade_order(selection.targets)
        self.unknown = selection.self_managed_unknown
        what = "resuming" if journal is not None else "carrying"
        carried = [t for t in targets if t.not_carried is None]
        self.progress(
            PhaseStarted(
                self.phase,
                f"{what} {len(carried)} add-on(s) on cluster {cluster.name} in order: "
                + (", ".join(t.addon for t in carried) or "none"),
            )
        )
        self._say_not_carried(targets)
        shown = self._shown_plan(journal, targets)
        outcomes = shown if shown is not None else self._preview(journal, targets)
        if self.dry_run or not any(o.steps for o in outcomes if o.state == PLANNED):
            if journal is not None and not self.dry_run:
                journal.finish()
            return self._result(cluster, outcomes, None if self.dry_run else journal)
        if journal is None:
            if not self.confirm(outcomes):
                raise InputError("upgrade of every add-on not confirmed; nothing was changed")
            journal = RunJournal.create(
                path,
                identity=identity,
                items=[
                    {"name": t.addon, "phase": t.phase, "target": t.target, "reason": t.reason}
                    for t in carried
                ],
                sealed=_sealed(targets, selection.self_managed_unknown),
            )
        outcomes = self._carry_all(journal, cluster, targets, outcomes)
        archived_to = journal.finish()
        return self._result(cluster, outcomes, archived_to)

    def _selection(self, cluster: ClusterInfo) -> Selection:
        """The add-ons chosen afresh; a ``before`` phase with a self-managed add-on eksaddon
        cannot carry is refused here, before any plan is asked for."""
        chosen = self.select(cluster)
        selection = chosen if isinstance(chosen, Selection) else Selection(tuple(chosen))
        if self.phase == BEFORE and self.for_kubernetes_version is not None:
            refusal = not_carried_before(
                cluster, str(self.for_kubernetes_version), selection.targets
            )
            if refusal is not None:
                raise refusal
        return selection

    def _say_not_carried(self, targets: list[AddonTarget]) -> None:
        """What the run leaves as it is, said before it starts (and in the plan and result)."""
        for target in targets:
            if target.not_carried is not None:
                self.progress(
                    Notice(f"{target.addon} is not carried ({target.reason}): {target.not_carried}")
                )
        if self.unknown is not None:
            self.progress(Notice(self.unknown))

    def _shown_plan(
        self, journal: RunJournal | None, targets: list[AddonTarget]
    ) -> list[AddonOutcome] | None:
        """The plan handed over as ``shown``, if it is still the plan of ``targets``: the same
        add-ons to the same targets in the same order, done earlier exactly where this run's
        journal (read under its lock, just now) records them done. Otherwise None, and every
        add-on is planned afresh. Carrying it plans each add-on again just before acting, and a
        plan that changed since it was shown is asked for again (:meth:`_carry_all`)."""
        if self.shown is None:
            return None
        if [(o.addon, o.target) for o in self.shown] != [(t.addon, t.target) for t in targets]:
            return None
        for outcome, target in zip(self.shown, targets, strict=True):
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
        return list(self.shown)

    def _preview(
        self, journal: RunJournal | None, targets: list[AddonTarget]
    ) -> list[AddonOutcome]:
        """Every add-on's plan as a dry run (nothing written); those done earlier as they are."""
        outcomes = []
        # A run that goes on shows each add-on's plan when it starts it: the preview's plans
        # would open a second, never-run section each in the live view.
        progress = self.progress if self.dry_run else _without_plans(self.progress)
        for target in targets:
            if target.not_carried is not None:
                outcomes.append(_not_carried(target))
                continue
            item = journal.item(target.addon) if journal is not None else None
            if item is not None and item["state"] == runs.SUCCEEDED:
                outcomes.append(_done_earlier(target, item))
                continue
            held: list[Event] = []  # shown once the plan is known not to be a downgrade
            try:
                result = self.carry(CarryRequest(target, True, lambda plan: True, held.append))
            except EksAddonError as error:
                _forward(held, progress)
                raise self._stopped_before(journal, target, error) from error
            plan = result.plan
            if _would_downgrade(target, plan):
                # "Latest" for a self-managed install is the release of EKS's latest build (AWS's
                # advice); one already newer is left as it runs, never taken back.
                self.progress(
                    Notice(
                        f"{target.addon} runs {plan.current}, newer than the latest {plan.target} "
                        f"for Kubernetes {plan.kubernetes}: left as it is, never downgraded"
                    )
                )
                result = result._replace(plan=plan._replace(target=plan.current, steps=()))
            else:
                _forward(held, progress)
            outcomes.append(_planned(target, result))
        return outcomes

    def _carry_all(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        targets: list[AddonTarget],
        previews: list[AddonOutcome],
    ) -> list[AddonOutcome]:
        outcomes = list(previews)
        total = len(targets)
        for number, (target, preview) in enumerate(zip(targets, previews, strict=True), start=1):
            if preview.state == NOT_CARRIED:  # said before the run; nothing to send
                self.progress(AddonRunFinished(number, total, target.addon, NOT_CARRIED, None))
                continue
            item = journal.item(target.addon)
            if preview.state in (DONE_EARLIER, UP_TO_DATE):
                # Checked moments ago, in the preview: nothing to send.
                if preview.state == UP_TO_DATE:
                    journal.update_item(
                        item, state=runs.SUCCEEDED, steps_done=0, version=preview.version
                    )
                self.progress(
                    AddonRunFinished(number, total, target.addon, preview.state, preview.version)
                )
                continue
            self.progress(
                AddonRunStarted(
                    number, total, target.addon, target.phase, item["state"] != "pending"
                )
            )
            journal.update_item(item, state=runs.RUNNING, error=None)
            shown = preview.steps

            def confirm(plan: Plan, shown: tuple[Step, ...] = shown) -> bool:
                # Consent was given to the plan shown; a plan that changed meanwhile is asked for.
                return tuple(plan.steps) == shown or self.confirm_changed(plan)

            try:
                result = self.carry(CarryRequest(target, False, confirm, self.progress))
            except EksAddonError as error:
                journal.update_item(item, state=runs.FAILED, error=error.one_line())
                outcomes[number - 1] = preview._replace(state=STOPPED, error=error.one_line())
                raise self._stopped(journal, cluster, outcomes, target, error) from error
            except KeyboardInterrupt:
                journal.update_item(item, state=runs.FAILED, error="interrupted")
                raise
            done = _carried(target, result)
            journal.update_item(
                item, state=runs.SUCCEEDED, steps_done=done.steps_done, version=done.version
            )
            outcomes[number - 1] = done
            self.progress(AddonRunFinished(number, total, target.addon, done.state, done.version))
        return outcomes

    def _stopped_before(
        self, journal: RunJournal | None, target: AddonTarget, error: EksAddonError
    ) -> EksAddonError:
        """An add-on could not be planned: nothing was sent in this run. If an earlier run
        changed something (its journal records an add-on started), the run is part-way."""
        if journal is None or all(i["state"] == runs.PENDING for i in journal.items):
            return error
        return UpgradeStoppedError(
            f"upgrade of every add-on on cluster {journal.identity.cluster} stopped planning "
            f"{target.addon}: {error.message}; {_states(journal)}",
            hint=f"the run journal is kept at {journal.path}; fix the cause, then rerun",
        )

    def _stopped(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        outcomes: list[AddonOutcome],
        target: AddonTarget,
        error: EksAddonError,
    ) -> EksAddonError:
        changed = error.exit_code in (ExitCode.UPGRADE_STOPPED, ExitCode.INTERRUPTED) or any(
            o.steps_done > 0 or o.state == DONE_EARLIER for o in outcomes
        )
        if not changed:
            self.progress(Notice(f"nothing was changed; {_states(journal)}"))
            return error
        command = "eksaddon upgrade --all-addons --cluster " + cluster.name
        if self.for_kubernetes_version is not None:
            command += f" --for-kubernetes-version {self.for_kubernetes_version}"
        hint = error.hint or f"fix the cause, then rerun `{command}` to resume"
        if error.exit_code == ExitCode.INTERRUPTED:  # stays 130: interrupted, journals kept
            return UpgradeInterruptedError(
                f"upgrade of every add-on on cluster {cluster.name} interrupted at "
                f"{target.addon}: {error.message}; {_states(journal)}",
                hint=f"{hint} (run journal {journal.path})",
            )
        return UpgradeStoppedError(
            f"upgrade of every add-on on cluster {cluster.name} stopped at {target.addon}: "
            f"{error.message}; {_states(journal)}",
            hint=f"{hint} (run journal {journal.path})",
        )

    def _result(
        self, cluster: ClusterInfo, outcomes: list[AddonOutcome], journal: Path | RunJournal | None
    ) -> AllAddonsResult:
        path = journal.path if isinstance(journal, RunJournal) else journal
        return AllAddonsResult(
            cluster.name,
            cluster.region,
            str(cluster.version),
            None if self.for_kubernetes_version is None else str(self.for_kubernetes_version),
            self.phase,
            self.dry_run,
            tuple(outcomes),
            path,
            self.unknown,
        )


def _would_downgrade(target: AddonTarget, plan: Plan) -> bool:
    """A run to the latest build never takes an add-on back to an older one."""
    return target.target == planner.LATEST and plan.direction is Direction.DOWNGRADE


def _forward(events: list[Event], progress: Progress) -> None:
    for event in events:
        progress(event)


def _without_plans(progress: Progress) -> Progress:
    def forward(event: Event) -> None:
        if not isinstance(event, PlanReady):
            progress(event)

    return forward


def _states(journal: RunJournal) -> str:
    """Every add-on's state in the run, as one clause."""
    words = {
        runs.SUCCEEDED: "done",
        runs.FAILED: "stopped",
        runs.RUNNING: "in flight",
        runs.PENDING: "not started",
    }
    return "add-ons: " + ", ".join(f"{i['name']} {words[i['state']]}" for i in journal.items)


def _sealed(targets: list[AddonTarget], unknown: str | None) -> dict[str, Any]:
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


def _recorded_selection(journal: RunJournal) -> Selection:
    """The add-ons a journal records (a journal of an eksaddon before self-managed entries has
    none sealed: every item is an EKS add-on, nothing was left uncarried)."""
    sealed = journal.sealed
    self_managed = sealed.get("self_managed")
    marked = set(self_managed) if isinstance(self_managed, list) else set()
    targets = [
        AddonTarget(i["name"], i["phase"], i["target"], i["reason"], i["name"] in marked)
        for i in journal.items
    ]
    recorded = sealed.get("not_carried")
    for entry in recorded if isinstance(recorded, list) else []:
        fields = ("name", "phase", "target", "reason", "why")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            raise JournalMismatchError(
                f"run journal {journal.path} is damaged (a self-managed entry of another shape)",
                hint=DISCARD_HINT,
            )
        targets.append(
            AddonTarget(
                entry["name"], entry["phase"], entry["target"], entry["reason"], True, entry["why"]
            )
        )
    unknown = sealed.get("self_managed_unknown")
    return Selection(tuple(targets), unknown if isinstance(unknown, str) else None)


def _not_carried(target: AddonTarget) -> AddonOutcome:
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


def _done_earlier(target: AddonTarget, item: dict[str, object]) -> AddonOutcome:
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


def _planned(target: AddonTarget, result: UpgradeResult) -> AddonOutcome:
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


def _carried(target: AddonTarget, result: UpgradeResult) -> AddonOutcome:
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
