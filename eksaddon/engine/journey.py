"""``cluster-upgrade --to K``: the whole journey of a cluster to the next Kubernetes minor.

Stages, in this order (docs/cluster-upgrade.md says why), each recorded in one run journal:
1. ``gate``: the cluster-upgrade gate for K. Error findings refuse the journey (exit 1, each one
   named), except those of add-ons the ``before`` phase is about to move (it exists to clear
   them) and, with ``--force-upgrade-insights``, those from EKS's upgrade insights;
2. ``before``: the add-ons the gate puts before the control plane (``upgrade --all-addons
   --for-kubernetes-version K``, its own run journal), carried as planned for the journey's
   consent (planned once; each add-on again only just before it is acted on); then the gate
   again, just before the control plane moves, whether or not the phase moved anything;
3. ``control-plane``: UpdateClusterVersion to K, followed to its end
   (:mod:`eksaddon.engine.control_plane`);
4. ``after``: every EKS add-on to the latest build offered for K (``upgrade --all-addons``),
   and the self-managed core add-ons found through Kubernetes (``scan_self_managed``);
5. ``nodes``: the node groups and nodes still on the old version, each with the command that
   upgrades it (eksaddon does not upgrade nodes).
A rerun continues where the journal says: finished stages are skipped, an add-on in flight is
resumed by its own journal, a control-plane update in flight is followed by its id. The gate is
asked again on every rerun until the control-plane update is sent, never after.

Here: the stages in order, and the journal. The gate, the plan and the phases' runs are in
:mod:`~eksaddon.engine.journey_phases`; how a stop reads, :mod:`~eksaddon.engine.journey_stops`.

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
    AllAddonsResult,
    Carry,
    ScanSelfManaged,
)
from eksaddon.engine.control_plane import (
    CONTROL_PLANE,
    ControlPlaneOptions,
    ControlPlaneUpdate,
    check_one_minor,
)
from eksaddon.engine.events import Notice, PhaseStarted, Progress
from eksaddon.engine.journal import DISCARD_HINT, cluster_lock
from eksaddon.engine.journey_phases import JourneyPhases, control_plane_sent
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
        self.options = options
        self.state_directory = state_directory
        self.progress = progress
        self.confirm = confirm
        self.clock = clock
        self.target = options.target
        self.phases = JourneyPhases(
            gateway=gateway,
            gate=gate,
            carry=carry,
            options=options,
            state_directory=state_directory,
            progress=progress,
            confirm_changed=confirm_changed,
            scan_self_managed=scan_self_managed,
        )

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
            control_plane_sent(journal) or cluster.version == self.target
        )
        report = None if sent else self.phases.gate_report(cluster)
        plan = self.phases.plan(cluster, identity.kubernetes_version, journal, report)
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

    def _newly_forced(self, journal: RunJournal) -> bool:
        """--force-upgrade-insights on a rerun, before the update is sent: a new decision that
        needs its own consent."""
        item = journal.item(CONTROL_PLANE)
        return (
            self.options.force_upgrade_insights
            and not control_plane_sent(journal)
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
        if self.options.force_upgrade_insights and not control_plane_sent(journal):
            journal.update_item(journal.item(CONTROL_PLANE), force_consented=True)
        before_result = None
        if report is not None and journal.item(BEFORE)["state"] != runs.SUCCEEDED:
            before_result = self._before_phase(journal, cluster, plan, report)
        if report is not None and not control_plane_sent(journal):
            # The gate again, just before the control plane moves, whether or not the before
            # phase moved anything: the first answer may be from before a consent prompt that
            # waited, and the cluster may have changed meanwhile.
            self.phases.gate_report(self.gateway.describe_cluster(cluster.name))
        if journal.item(CONTROL_PLANE)["state"] != runs.SUCCEEDED:
            self._control_plane(journal, cluster, identity)
        after_result = None
        if journal.item(AFTER)["state"] != runs.SUCCEEDED:
            journal.update_item(journal.item(AFTER), state=runs.RUNNING)
            after_result = self.phases.phase_run(AFTER, None, dry_run=False)
            journal.update_item(journal.item(AFTER), state=runs.SUCCEEDED)
        nodes = self._nodes(journal, cluster)
        control_record = dict(journal.item(CONTROL_PLANE))
        archived = journal.finish()
        return self._result(
            cluster, identity, plan, before_result, control_record, after_result, archived, nodes
        )

    def _before_phase(
        self, journal: RunJournal, cluster: ClusterInfo, plan: JourneyPlan, report: GateReportLike
    ) -> AllAddonsResult:
        journal.update_item(journal.item(BEFORE), state=runs.RUNNING)
        # The phase's plan was made for the journey's plan and consented to with it: it is
        # carried as it is, each add-on planned again only just before it is acted on.
        result = self.phases.phase_run(BEFORE, report, dry_run=False, shown=plan.before)
        changed = any(o.steps_done for o in result.addons)
        journal.update_item(journal.item(BEFORE), state=runs.SUCCEEDED, changed=changed)
        return result

    def _control_plane(
        self, journal: RunJournal, cluster: ClusterInfo, identity: RunIdentity
    ) -> None:
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

    def _nodes(self, journal: RunJournal, cluster: ClusterInfo) -> tuple[NodeAction, ...]:
        """The node groups and nodes still on the old version, each with its command."""
        self.progress(PhaseStarted(NODES, "nodes still to bring to Kubernetes " + str(self.target)))
        nodes = node_actions(self.gateway, self.gateway.describe_cluster(cluster.name), self.target)
        for node in nodes:
            command = f": {node.command}" if node.command else ""
            self.progress(Notice(f"{node.describe()}{command}"))
        journal.update_item(journal.item(NODES), state=runs.SUCCEEDED)
        return nodes

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
