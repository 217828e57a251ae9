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
   of the add-ons this run carries (:mod:`eksaddon.engine.all_addons_plan`);
3. write the run journal, then carry each add-on in order, recording it running, then succeeded;
   an add-on whose plan changed since it was shown is asked for again.
A rerun skips the add-ons recorded done and resumes the one in flight (its own journal follows
its update by id). One add-on failing stops the run with exit 4 and every add-on's state in the
message, unless nothing at all was changed (then the add-on's own error, exit 2 or 3).

Here: the run's order of work. Its parts: the records and the choice of add-ons
(:mod:`~eksaddon.engine.all_addons_records`), the plans and each add-on's consent
(:mod:`~eksaddon.engine.all_addons_plan`), the carrying (:mod:`~eksaddon.engine.all_addons_carry`),
the outcomes (:mod:`~eksaddon.engine.all_addons_outcomes`), the run journal's contents
(:mod:`~eksaddon.engine.all_addons_journal`) and how a stop reads
(:mod:`~eksaddon.engine.all_addons_stops`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

from eksaddon.engine import all_addons_journal as recorded
from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons_carry import RunCarrier
from eksaddon.engine.all_addons_plan import RunPlanner
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
from eksaddon.engine.all_addons_stops import state_failed
from eksaddon.engine.events import Notice, PhaseStarted, Progress
from eksaddon.engine.journal import DISCARD_HINT, cluster_lock
from eksaddon.engine.run_journal import RunIdentity, RunJournal
from eksaddon.errors import (
    InputError,
    JournalMismatchError,
    StateDirectoryError,
    UnsafeStateFileError,
)
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.planner import Plan
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
        rerun: str | None = None,
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
        self.rerun = rerun  # the command that resumes the run (the journey's, for its phases)
        self.planner = RunPlanner(carry, progress, dry_run=dry_run)
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
        journal = self._journal(cluster, identity, path)
        selection = self._selection(cluster) if journal is None else recorded.selection(journal)
        targets = in_upgrade_order(selection.targets)
        self.unknown = selection.self_managed_unknown
        self._say_what_it_carries(cluster, targets, resuming=journal is not None)
        outcomes = self.planner.outcomes(self.shown, journal, targets)
        if self.dry_run or not any(o.steps for o in outcomes if o.state == PLANNED):
            if journal is not None and not self.dry_run:
                journal.finish()
            return self._result(cluster, outcomes, None if self.dry_run else journal)
        if journal is None:
            journal = self._consented_journal(path, identity, targets, outcomes, selection)
        carrier = RunCarrier(
            self.carry,
            self.planner,
            self.progress,
            self.confirm_changed,
            rerun=self._rerun(cluster),
        )
        outcomes = carrier.carry_all(journal, cluster, targets, outcomes)
        try:
            archived_to = journal.finish()
        except (StateDirectoryError, UnsafeStateFileError) as error:
            raise state_failed(journal, cluster, outcomes, error) from error
        return self._result(cluster, outcomes, archived_to)

    def _journal(
        self, cluster: ClusterInfo, identity: RunIdentity, path: Path
    ) -> RunJournal | None:
        """The run journal to resume: this cluster's, of this run, for the version it runs."""
        journal, archived = RunJournal.load_unfinished(path, discard=self.discard_journal)
        if archived is not None:
            self.progress(Notice(f"previous run journal moved to {archived}"))
        if journal is None:
            return None
        journal.check_cluster(identity)
        if journal.identity.kubernetes_version != identity.kubernetes_version:
            raise JournalMismatchError(
                f"run journal {path} was made for Kubernetes "
                f"{journal.identity.kubernetes_version}, but cluster {cluster.name} now runs "
                f"{cluster.version}; nothing was sent",
                hint=DISCARD_HINT,
            )
        return journal

    def _consented_journal(
        self,
        path: Path,
        identity: RunIdentity,
        targets: list[AddonTarget],
        outcomes: list[AddonOutcome],
        selection: Selection,
    ) -> RunJournal:
        """The whole plan consented to once, then the run journal written, before any change."""
        if not self.confirm(outcomes):
            raise InputError("upgrade of every add-on not confirmed; nothing was changed")
        return RunJournal.create(
            path,
            identity=identity,
            items=recorded.items([t for t in targets if t.not_carried is None]),
            sealed=recorded.sealed(targets, selection.self_managed_unknown),
        )

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

    def _say_what_it_carries(
        self, cluster: ClusterInfo, targets: list[AddonTarget], *, resuming: bool
    ) -> None:
        """The add-ons it carries, in order, and what it leaves as it is (said before it starts,
        and in the plan and result)."""
        carrying = [t.addon for t in targets if t.not_carried is None]
        self.progress(
            PhaseStarted(
                self.phase,
                f"{'resuming' if resuming else 'carrying'} {len(carrying)} add-on(s) on cluster "
                f"{cluster.name} in order: " + (", ".join(carrying) or "none"),
            )
        )
        for target in targets:
            if target.not_carried is not None:
                self.progress(
                    Notice(f"{target.addon} is not carried ({target.reason}): {target.not_carried}")
                )
        if self.unknown is not None:
            self.progress(Notice(self.unknown))

    def _rerun(self, cluster: ClusterInfo) -> str:
        """The command that resumes this run (the caller's, when it is a phase of its own)."""
        if self.rerun is not None:
            return self.rerun
        command = "eksaddon upgrade --all-addons --cluster " + cluster.name
        if self.for_kubernetes_version is not None:
            command += f" --for-kubernetes-version {self.for_kubernetes_version}"
        return command

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
