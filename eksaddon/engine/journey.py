"""``cluster-upgrade --to K``: the whole journey of a cluster to the next Kubernetes minor.

Stages, in this order (docs/cluster-upgrade.md says why), each recorded in one run journal:
1. ``gate``: the cluster-upgrade gate for K. Error findings refuse the journey (exit 1, each one
   named), except those of add-ons the ``before`` phase is about to move (it exists to clear
   them) and, with ``--force-upgrade-insights``, those from EKS's upgrade insights;
2. ``before``: the add-ons the gate puts before the control plane (``upgrade --all-addons
   --for-kubernetes-version K``, its own run journal), carried as planned for the journey's
   consent (planned once; each add-on again only just before it is acted on); then the gate
   again, just before the control plane moves: nothing it blocks on may be left;
3. ``control-plane``: UpdateClusterVersion to K, followed to its end
   (:mod:`eksaddon.engine.control_plane`);
4. ``after``: every EKS add-on to the latest build offered for K (``upgrade --all-addons``),
   and the self-managed core add-ons found through Kubernetes (``scan_self_managed``);
5. ``nodes``: the node groups and nodes still on the old version, each with the command that
   upgrades it (eksaddon does not upgrade nodes).
A rerun continues where the journal says: finished stages are skipped, an add-on in flight is
resumed by its own journal, a control-plane update in flight is followed by its id. The gate is
asked again on every rerun until the control-plane update is sent, never after.

Exit codes: 1 when the gate refuses before anything changed; 2 bad input (a target more than one
minor ahead, with the chain of updates); 3 nothing changed (an API error, EKS's insights refusal
when no add-on moved); 4 stopped part-way, journal kept.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons import (
    AFTER,
    BEFORE,
    AddonOutcome,
    AddonTarget,
    AllAddonsResult,
    AllAddonsRun,
    Carry,
    ScanSelfManaged,
    Selection,
    VerdictLike,
    in_upgrade_order,
    latest_selection,
    targets_in_phase,
)
from eksaddon.engine.control_plane import (
    CONTROL_PLANE,
    ControlPlaneOptions,
    ControlPlaneUpdate,
    check_one_minor,
)
from eksaddon.engine.events import Event, Notice, PhaseStarted, Progress
from eksaddon.engine.journal import DISCARD_HINT, cluster_lock
from eksaddon.engine.journey_records import (
    GATE,
    INSIGHTS_CHECK,
    NODES,
    STAGES,
    AddonVerdictLike,
    FindingLike,
    GateReportLike,
    JourneyOptions,
    JourneyPlan,
    JourneyResult,
    NodeAction,
    RunGate,
    describe_finding,
    journey_kind,
    node_actions,
)
from eksaddon.engine.journey_stops import stage_states, stopped_error
from eksaddon.engine.run_journal import RunIdentity, RunJournal
from eksaddon.engine.waiting import Clock
from eksaddon.errors import (
    EksAddonError,
    GateRefusedError,
    InputError,
    JournalMismatchError,
    UpgradeInterruptedError,
)
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.planner import Plan

# The records live in journey_records; importers (the CLI, the reports, tests) take them from here.
__all__ = [
    "GATE",
    "INSIGHTS_CHECK",
    "NODES",
    "STAGES",
    "AddonVerdictLike",
    "FindingLike",
    "GateReportLike",
    "Journey",
    "JourneyOptions",
    "JourneyPlan",
    "JourneyResult",
    "NodeAction",
    "RunGate",
    "describe_finding",
    "journey_kind",
    "node_actions",
]


class Journey:
    def __init__(
        self,
        *,
        gateway: ClusterUpgradeGateway,
        gate: RunGate,
        carry: Carry,
        options: JourneyOptions,
        state_directory: Path,
        progress: Progress,
        confirm: Callable[[JourneyPlan], bool],
        confirm_changed: Callable[[Plan], bool],
        clock: Clock,
        scan_self_managed: ScanSelfManaged | None = None,
    ) -> None:
        self.gateway = gateway
        # The after phase carries the EKS add-ons and, found by this scan through Kubernetes,
        # the self-managed core add-ons (those eksaddon cannot carry shown as "not carried").
        self.scan_self_managed = scan_self_managed
        self.gate = gate
        self.carry = carry
        self.options = options
        self.state_directory = state_directory
        self.progress = progress
        self.confirm = confirm
        self.confirm_changed = confirm_changed
        self.clock = clock
        self.target = options.target

    def run(self) -> JourneyResult:
        cluster = self.gateway.describe_cluster(self.options.cluster)
        kind = journey_kind(self.target)
        path = runs.run_journal_path(
            self.state_directory, region=cluster.region, cluster=cluster.name, kind=kind
        )
        locking = not self.options.dry_run or self.options.discard_journal
        lock = cluster_lock(path, cluster=cluster.name, addon=kind)
        with lock if locking else nullcontext():
            return self._locked_run(cluster, path, kind)

    def _locked_run(self, cluster: ClusterInfo, path: Path, kind: str) -> JourneyResult:
        journal, archived = RunJournal.load_unfinished(path, discard=self.options.discard_journal)
        if archived is not None:
            self.progress(Notice(f"previous journey journal moved to {archived}"))
        if journal is None:
            check_one_minor(cluster.name, cluster.version, self.target)
            identity = RunIdentity.of(cluster, kind)
        else:
            identity = journal.identity
            journal.check_cluster(RunIdentity.of(cluster, kind))
            if str(cluster.version) not in (identity.kubernetes_version, str(self.target)):
                raise JournalMismatchError(
                    f"journey journal {path} took cluster {cluster.name} from Kubernetes "
                    f"{identity.kubernetes_version} to {self.target}, but it runs "
                    f"{cluster.version}; nothing was sent",
                    hint=DISCARD_HINT,
                )
        # The gate is asked until the update is sent; never of a cluster already at K (someone
        # else's update brought it there: the control-plane stage then only records it).
        sent = journal is not None and (
            _control_plane_sent(journal) or cluster.version == self.target
        )
        report = None if sent else self._gate(cluster)
        plan = self._plan(cluster, identity.kubernetes_version, journal, report)
        if self.options.dry_run:
            return self._result(cluster, identity, plan, None, {}, None, None)
        consent_needed = journal is None or self._newly_forced(journal)
        if consent_needed and not self.confirm(plan):
            raise InputError(
                f"upgrade of cluster {cluster.name} to Kubernetes {self.target} not "
                "confirmed; nothing was changed"
            )
        if journal is None:
            journal = RunJournal.create(
                path,
                identity=identity,
                items=[{"name": stage, "target": str(self.target)} for stage in STAGES],
            )
        if report is not None:
            journal.update_item(journal.item(GATE), state=runs.SUCCEEDED)
        try:
            return self._carry_out(journal, cluster, identity, plan, report)
        except EksAddonError as error:
            raise stopped_error(journal, cluster, self.target, error) from error
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the journal on disk says where it was
            raise UpgradeInterruptedError(
                f"upgrade of cluster {cluster.name} to Kubernetes {self.target} interrupted "
                f"(stages: {stage_states(journal)})",
                hint=f"the journal is kept at {journal.path}; rerun `eksaddon cluster-upgrade "
                f"--cluster {cluster.name} --to {self.target}` to continue (an update in flight "
                "is followed by its id, never sent twice)",
            ) from None

    # -- the gate and the plan ----------------------------------------------------------------

    def _gate(self, cluster: ClusterInfo) -> GateReportLike:
        self.progress(
            PhaseStarted(GATE, f"checking cluster {cluster.name} for Kubernetes {self.target}")
        )
        report = self.gate(cluster, self.target)
        before = [v for v in report.addons if _phase(v) == BEFORE]
        cleared = {id(f) for v in before for f in v.findings}
        refusing = [f for f in report.blocking if id(f) not in cleared and not self._overridden(f)]
        if refusing:
            insights = any(f.check == INSIGHTS_CHECK for f in refusing)
            force = (
                "; EKS's upgrade insights may be overridden with --force-upgrade-insights "
                "(asked for)"
                if insights and not self.options.force_upgrade_insights
                else ""
            )
            raise GateRefusedError(
                f"the gate refuses to upgrade cluster {cluster.name} to Kubernetes "
                f"{self.target}: " + "; ".join(describe_finding(f) for f in refusing),
                hint=f"`eksaddon check-compat --cluster {cluster.name} "
                f"--target-kubernetes-version {self.target}` shows every finding; fix them, "
                f"then rerun{force}",
            )
        return report

    def _overridden(self, finding: FindingLike) -> bool:
        return self.options.force_upgrade_insights and finding.check == INSIGHTS_CHECK

    def _plan(
        self,
        cluster: ClusterInfo,
        source: str,
        journal: RunJournal | None,
        report: GateReportLike | None,
    ) -> JourneyPlan:
        before: tuple[AddonOutcome, ...] = ()
        after = Selection(())
        if report is not None and (
            journal is None or journal.item(BEFORE)["state"] != runs.SUCCEEDED
        ):
            # A journey that goes on shows each phase when it carries it: its plan's events
            # would only repeat in the progress.
            shown = self.progress if self.options.dry_run else _quiet(self.progress)
            before = self._phase_run(BEFORE, report, dry_run=True, progress=shown).addons
        if journal is None or journal.item(AFTER)["state"] == runs.PENDING:
            after = self._after_targets(cluster, report)
        overridden = tuple(
            describe_finding(f) for f in (report.blocking if report else ()) if self._overridden(f)
        )
        force = self.options.force_upgrade_insights
        if journal is not None and _control_plane_sent(journal):
            force = bool(journal.item(CONTROL_PLANE).get("force"))
        return JourneyPlan(
            cluster.name,
            source,
            str(self.target),
            force,
            overridden,
            before,
            after.targets,
            node_actions(self.gateway, cluster, self.target),
            after.self_managed_unknown,
        )

    def _after_targets(self, cluster: ClusterInfo, report: GateReportLike | None) -> Selection:
        """Every EKS add-on and self-managed core add-on, to the latest build for the target
        (the gate's steps, if known); those eksaddon cannot carry marked so."""
        known = {t.addon: t for t in targets_in_phase(report.addons if report else (), AFTER)}
        chosen = latest_selection(
            self.gateway, cluster, self.scan_self_managed, kubernetes=str(self.target)
        )
        targets = (
            t if t.not_carried is not None else known.get(t.addon, t) for t in chosen.targets
        )
        return chosen._replace(targets=tuple(in_upgrade_order(targets)))

    def _newly_forced(self, journal: RunJournal) -> bool:
        """--force-upgrade-insights on a rerun, before the update is sent: a new decision that
        needs its own consent."""
        item = journal.item(CONTROL_PLANE)
        return (
            self.options.force_upgrade_insights
            and not _control_plane_sent(journal)
            and not item.get("force_consented")
        )

    # -- carrying out -------------------------------------------------------------------------

    def _carry_out(
        self,
        journal: RunJournal,
        cluster: ClusterInfo,
        identity: RunIdentity,
        plan: JourneyPlan,
        report: GateReportLike | None,
    ) -> JourneyResult:
        control = journal.item(CONTROL_PLANE)
        if self.options.force_upgrade_insights and not _control_plane_sent(journal):
            journal.update_item(control, force_consented=True)
        before_result = None
        if report is not None and journal.item(BEFORE)["state"] != runs.SUCCEEDED:
            journal.update_item(journal.item(BEFORE), state=runs.RUNNING)
            # The phase's plan was made for the journey's plan and consented to with it: it is
            # carried as it is, each add-on planned again only just before it is acted on.
            before_result = self._phase_run(BEFORE, report, dry_run=False, shown=plan.before)
            changed = any(o.steps_done for o in before_result.addons)
            journal.update_item(journal.item(BEFORE), state=runs.SUCCEEDED, changed=changed)
            if changed:  # the facts the first gate saw have moved: ask again before the update
                report = self._gate(self.gateway.describe_cluster(cluster.name))
        if control["state"] != runs.SUCCEEDED:
            self.progress(
                PhaseStarted(
                    CONTROL_PLANE,
                    f"updating the control plane of cluster {cluster.name} from Kubernetes "
                    f"{identity.kubernetes_version} to {self.target}",
                )
            )
            ControlPlaneUpdate(
                gateway=self.gateway,
                journal=journal,
                target=self.target,
                options=ControlPlaneOptions(
                    timeout=self.options.control_plane_timeout,
                    poll_interval=self.options.poll_interval,
                    force=self.options.force_upgrade_insights,
                ),
                state_directory=self.state_directory,
                clock=self.clock,
                progress=self.progress,
            ).run()
        after_result = None
        if journal.item(AFTER)["state"] != runs.SUCCEEDED:
            journal.update_item(journal.item(AFTER), state=runs.RUNNING)
            after_result = self._phase_run(AFTER, None, dry_run=False)
            journal.update_item(journal.item(AFTER), state=runs.SUCCEEDED)
        self.progress(PhaseStarted(NODES, "nodes still to bring to Kubernetes " + str(self.target)))
        nodes = node_actions(self.gateway, self.gateway.describe_cluster(cluster.name), self.target)
        for node in nodes:
            command = f": {node.command}" if node.command else ""
            self.progress(Notice(f"{node.describe()}{command}"))
        journal.update_item(journal.item(NODES), state=runs.SUCCEEDED)
        control_record = dict(journal.item(CONTROL_PLANE))
        archived = journal.finish()
        return self._result(
            cluster, identity, plan, before_result, control_record, after_result, archived, nodes
        )

    def _phase_run(
        self,
        phase: str,
        report: GateReportLike | None,
        *,
        dry_run: bool,
        progress: Progress | None = None,
        shown: tuple[AddonOutcome, ...] | None = None,
    ) -> AllAddonsResult:
        def select(cluster: ClusterInfo) -> list[AddonTarget] | Selection:
            if phase == BEFORE and report is not None:
                return targets_in_phase(report.addons, BEFORE)
            return latest_selection(self.gateway, cluster, self.scan_self_managed)

        return AllAddonsRun(
            gateway=self.gateway,
            cluster=self.options.cluster,
            for_kubernetes_version=self.target if phase == BEFORE else None,
            select=select,
            carry=self.carry,
            state_directory=self.state_directory,
            progress=progress or self.progress,
            confirm=lambda outcomes: True,  # the journey's one consent covers its phases
            confirm_changed=self.confirm_changed,
            dry_run=dry_run,
            # The after phase of this journey has a journal of its own: an unfinished
            # `upgrade --all-addons` of the old version is not mistaken for it.
            kind=None if phase == BEFORE else f"all-addons after {self.target}",
            shown=shown,
        ).run()

    def _result(
        self,
        cluster: ClusterInfo,
        identity: RunIdentity,
        plan: JourneyPlan | None,
        before: AllAddonsResult | None,
        control: dict[str, Any],
        after: AllAddonsResult | None,
        journal: Path | None,
        nodes: tuple[NodeAction, ...] | None = None,
    ) -> JourneyResult:
        done = journal is not None
        return JourneyResult(
            cluster.name,
            cluster.region,
            identity.kubernetes_version,
            str(self.target),
            self.options.dry_run,
            plan,
            tuple((stage, "succeeded" if done else "planned") for stage in STAGES),
            before,
            {k: control.get(k) for k in ("state", "update_id", "token", "force", "attempt")},
            after,
            nodes if nodes is not None else (plan.nodes if plan else ()),
            journal,
        )


def _quiet(progress: Progress) -> Progress:
    """Only what may need the operator's attention (notices) of a preview's events."""

    def forward(event: Event) -> None:
        if isinstance(event, Notice):
            progress(event)

    return forward


def _phase(verdict: VerdictLike) -> str:
    return str(getattr(verdict.phase, "value", verdict.phase))


def _control_plane_sent(journal: RunJournal) -> bool:
    """Whether the control-plane update may be in flight or done (a rerun then follows it and
    asks the gate no more). A failed one was rolled back by EKS: the next attempt is gated."""
    return journal.item(CONTROL_PLANE)["state"] in (runs.RUNNING, runs.SUCCEEDED)
