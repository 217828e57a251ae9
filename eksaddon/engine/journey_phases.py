"""The gate, the plan and the add-on phases of a ``cluster-upgrade`` journey
(:mod:`eksaddon.engine.journey`): the gate asked (and refusing on what blocks, except what the
``before`` phase exists to clear and, with ``--force-upgrade-insights``, EKS's insights), the
journey's plan shown for its one consent, and each phase run as ``upgrade --all-addons`` with a
run journal of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
from eksaddon.engine.control_plane import CONTROL_PLANE
from eksaddon.engine.events import Event, Notice, PhaseStarted, Progress
from eksaddon.engine.journey_records import (
    GATE,
    INSIGHTS_CHECK,
    FindingLike,
    GateReportLike,
    JourneyOptions,
    JourneyPlan,
    RunGate,
    describe_finding,
    node_actions,
)
from eksaddon.engine.run_journal import RunJournal
from eksaddon.errors import GateRefusedError
from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway
from eksaddon.planner import Plan
from eksaddon.versions import KubernetesVersion


@dataclass(kw_only=True)
class JourneyPhases:
    """What a journey asks before it acts and how it runs its add-on phases."""

    gateway: ClusterUpgradeGateway
    gate: RunGate
    carry: Carry
    options: JourneyOptions
    state_directory: Path
    progress: Progress
    confirm_changed: Callable[[Plan], bool]
    # The after phase carries the EKS add-ons and, found by this scan through Kubernetes,
    # the self-managed core add-ons (those eksaddon cannot carry shown as "not carried").
    scan_self_managed: ScanSelfManaged | None

    @property
    def target(self) -> KubernetesVersion:
        return self.options.target

    def gate_report(self, cluster: ClusterInfo) -> GateReportLike:
        self.progress(
            PhaseStarted(GATE, f"checking cluster {cluster.name} for Kubernetes {self.target}")
        )
        report = self.gate(cluster, self.target)
        before = [v for v in report.addons if phase_of(v) == BEFORE]
        cleared = {id(f) for v in before for f in v.findings}
        refusing = [f for f in report.blocking if id(f) not in cleared and not self.overridden(f)]
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

    def overridden(self, finding: FindingLike) -> bool:
        return self.options.force_upgrade_insights and finding.check == INSIGHTS_CHECK

    def plan(
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
            shown = self.progress if self.options.dry_run else quiet(self.progress)
            before = self.phase_run(BEFORE, report, dry_run=True, progress=shown).addons
        if journal is None or journal.item(AFTER)["state"] == runs.PENDING:
            after = self.after_targets(cluster, report)
        overridden = tuple(
            describe_finding(f) for f in (report.blocking if report else ()) if self.overridden(f)
        )
        force = self.options.force_upgrade_insights
        if journal is not None and control_plane_sent(journal):
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

    def after_targets(self, cluster: ClusterInfo, report: GateReportLike | None) -> Selection:
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

    def phase_run(
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
            # A stop in a phase is resumed by the journey, not by a run of its own.
            rerun=f"eksaddon cluster-upgrade --cluster {self.options.cluster} --to {self.target}",
        ).run()


def quiet(progress: Progress) -> Progress:
    """Only what may need the operator's attention (notices) of a preview's events."""

    def forward(event: Event) -> None:
        if isinstance(event, Notice):
            progress(event)

    return forward


def phase_of(verdict: VerdictLike) -> str:
    return str(getattr(verdict.phase, "value", verdict.phase))


def control_plane_sent(journal: RunJournal) -> bool:
    """Whether the control-plane update may be in flight or done (a rerun then follows it and
    asks the gate no more). A failed one was rolled back by EKS: the next attempt is gated."""
    return journal.item(CONTROL_PLANE)["state"] in (runs.RUNNING, runs.SUCCEEDED)
