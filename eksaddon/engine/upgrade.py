"""``upgrade`` and ``install``: carry a managed add-on along a plan, one confirmed step at a time.

Order of work, so that nothing is lost and nothing runs twice:
1. read the cluster, take the run's lock (one run per cluster and add-on on this machine), read
   the add-on (waiting for one that is CREATING or UPDATING to settle), and plan from the live
   catalogue — never a fallback — or resume the journal's plan, which must belong to this very
   cluster (identity, Kubernetes version, backup);
2. check the configuration values against every target version's schema before sending anything;
3. back up the add-on's version, configuration values and role;
4. the steps, through the one step runner (:mod:`eksaddon.engine.steps`) with the EKS-API driver
   (:mod:`eksaddon.engine.eks_steps`) and the add-on profile's node-side hook. The journal is
   rewritten atomically after every change.

The add-on's profile (:mod:`eksaddon.addons`) says which settings on the nodes are carried into the
configuration values and how; the hook (:class:`~eksaddon.addons.base.NodeSideHook`) says whether
the cluster may be changed and proves every step on the nodes. Neither is probed for.

Exit codes keep the pipeline rule: 3 only while nothing was changed; once the journal exists every
stop is 4 (``Journal.recording_the_end``), including a state directory that fails mid-run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

from eksaddon import configvalues, planner
from eksaddon.addons import profile_of
from eksaddon.addons.base import AddonProfile, NodeSideHook, NoNodeSide, Setting
from eksaddon.engine import journal as journals
from eksaddon.engine.catalogue import live_catalogue, offered_versions
from eksaddon.engine.eks_steps import EksApiDriver
from eksaddon.engine.events import BackupWritten, Notice, PlanReady, Progress
from eksaddon.engine.journal import ClusterIdentity, Journal, check_identity
from eksaddon.engine.resume import resume_plan
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.steps import RunSettings, run_steps
from eksaddon.engine.steps import state_directory_resume_hint as state_directory_resume_hint
from eksaddon.engine.upgrade_settings import RESOLVE_CONFLICTS, StepSettings
from eksaddon.engine.waiting import (
    BAD_ADDON_STATES,
    Clock,
    retrying,
    settled_addon,
)
from eksaddon.errors import (
    AddonNotFoundError,
    EnvironmentProblemError,
    InputError,
    UnexpectedAnswerError,
)
from eksaddon.gateways.answers import shown
from eksaddon.gateways.protocols import AddonState, ClusterInfo, EksGateway
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.nodeside.features import features_in_configuration
from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion

__all__ = ["RESOLVE_CONFLICTS", "SystemClock", "UpgradeOptions", "UpgradeResult", "Upgrader"]


class UpgradeOptions(NamedTuple):
    cluster: str
    addon: str
    target: str = planner.LATEST
    resolve_conflicts: str = "PRESERVE"
    configuration_values: str | None = None
    service_account_role_arn: str | None = None
    timeout: float = 1200.0
    poll_interval: float = 10.0
    dry_run: bool = False
    discard_journal: bool = False
    force: bool = False


class UpgradeResult(NamedTuple):
    cluster: str
    region: str
    plan: Plan
    resumed: bool
    dry_run: bool
    steps_done: int
    journal: Path | None
    backup: Path | None
    final: AddonState | None


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Upgrader:
    """One run of ``eksaddon upgrade`` against one cluster's managed add-on.

    ``node_side`` is the hook that checks the nodes (none by default: EKS's ACTIVE alone; a
    hook's ``notice`` goes into the plan's notes); ``profile`` defaults to the registry's profile
    of ``matrix``'s add-on (it says how node settings are carried).
    """

    def __init__(
        self,
        *,
        gateway: EksGateway,
        matrix: Matrix,
        options: UpgradeOptions,
        state_directory: Path,
        progress: Progress,
        confirm: Callable[[Plan], bool],
        clock: Clock | None = None,
        node_side: NodeSideHook | None = None,
        profile: AddonProfile | None = None,
    ) -> None:
        self.gateway = gateway
        self.matrix = matrix
        self.options = options
        self.state_directory = state_directory
        self.progress = progress
        self.confirm = confirm
        self.clock = clock or SystemClock()
        self.profile = profile if profile is not None else profile_of(matrix)
        self.node_side = node_side if node_side is not None else NoNodeSide(None)
        self._node_settings: tuple[Setting, ...] = ()
        self._schemas: dict[AddonVersion, dict[str, Any] | None] = {}
        self.settings = StepSettings(options, self.profile.settings, self._schema)

    def run(self) -> UpgradeResult:
        options = self.options
        if options.resolve_conflicts not in RESOLVE_CONFLICTS:
            raise InputError(f"--resolve-conflicts must be one of {', '.join(RESOLVE_CONFLICTS)}")
        cluster = self.gateway.describe_cluster(options.cluster)
        path = journals.journal_path(
            self.state_directory, region=cluster.region, cluster=cluster.name, addon=options.addon
        )
        # One run per cluster and add-on on this machine, for the whole run. (A dry run
        # writes nothing, not even the lock, unless it is to move a journal aside.)
        locking = not options.dry_run or options.discard_journal
        lock = journals.cluster_lock(path, cluster=cluster.name, addon=options.addon)
        with lock if locking else nullcontext():
            return self._locked_run(cluster, path)

    def _locked_run(self, cluster: ClusterInfo, path: Path) -> UpgradeResult:
        options = self.options
        addon = self._managed_addon(cluster)
        journal = self._existing_journal(path)
        if journal is not None:
            check_identity(journal, ClusterIdentity.of(cluster, options.addon))
        if not _following_own_update(journal):
            addon = settled_addon(
                cluster,
                addon,
                lambda: self._managed_addon(cluster),
                clock=self.clock,
                timeout=options.timeout,
                poll_interval=options.poll_interval,
                progress=self.progress,
            )
        plan = (
            self._resume_plan(journal, addon, cluster)
            if journal
            else self._new_plan(cluster, addon)
        )
        resumed = journal is not None
        changing = bool(plan.steps) and not options.dry_run
        if changing:
            # Before any change: the node-side check must see this cluster.
            self._before_any_change(lambda: self.node_side.check_target(cluster))
        if journal is not None:
            settings: dict[str, Any] = self.settings.from_journal(journal, plan)
        else:
            if changing:
                self._before_any_change(self._carry_node_settings)
            # A dry run checks the values too: that is what it is for.
            settings = self.settings.new(
                addon, plan, self._node_settings, validate=bool(plan.steps)
            )
        # Whatever could drop a setting is shown with the plan, before the confirmation.
        plan = plan._replace(
            warnings=plan.warnings + self.settings.risks(settings, addon, resumed),
            notes=plan.notes + self._unchecked(),
        )
        self.progress(
            PlanReady(plan, resumed, path if resumed else None, settings["resolve_conflicts"])
        )
        if not changing:
            return UpgradeResult(
                cluster.name,
                cluster.region,
                plan,
                resumed,
                options.dry_run,
                0,
                path if resumed else None,
                None,
                addon,
            )
        if journal is None:
            self._check_health(cluster, addon)
            if not self.confirm(plan):
                raise InputError("upgrade not confirmed; nothing was changed")
            journal = self._start(path, plan, cluster, addon, settings)
        else:
            journal.check_backup()  # the backup a rerun reports must be this cluster's own
        return self._carry_out(journal, plan, cluster, resumed=resumed)

    def _unchecked(self) -> tuple[str, ...]:
        """What the node side does not check, as a plan note (say so rather than imply it)."""
        notice = self.node_side.notice
        return () if notice is None else (notice,)

    # -- planning -----------------------------------------------------------------------------

    def _managed_addon(self, cluster: ClusterInfo) -> AddonState:
        addon = self.gateway.describe_addon(cluster.name, self.options.addon)
        if addon is None:
            raise AddonNotFoundError(
                f"{self.options.addon} is not an EKS add-on on cluster {cluster.name} "
                "(it is self-managed or absent)",
                hint=f"create it with `eksaddon install --cluster {cluster.name}`",
            )
        return addon

    def _existing_journal(self, path: Path) -> Journal | None:
        journal, archived = Journal.load_unfinished(path, discard=self.options.discard_journal)
        if archived is not None:
            self.progress(Notice(f"previous journal moved to {archived}"))
        return journal

    def _before_any_change(self, call: Callable[[], None]) -> None:
        """A read of the cluster before anything changed, retried within one step's timeout:
        an API server that is restarting should not cost the operator a rerun. If it stays
        away, the run stops with its error (exit 3) and nothing to resume."""
        retrying(
            call,
            clock=self.clock,
            deadline=self.clock.now() + self.options.timeout,
            poll_interval=self.options.poll_interval,
        )

    def _carry_node_settings(self) -> None:
        """Settings running on the nodes go into the configuration values sent on every step."""
        self._node_settings = tuple(self.node_side.customizations(self.matrix))

    def _check_health(self, cluster: ClusterInfo, addon: AddonState) -> None:
        """Never start from a broken add-on: updating a DEGRADED one hides the first problem.

        UPDATING is left to EKS, which refuses a second update (ResourceInUseException).
        """
        if not addon.known_status:
            raise UnexpectedAnswerError(
                "EKS",
                f"addon.status of {addon.name} on cluster {cluster.name}",
                shown(addon.status),
            )
        if addon.status not in BAD_ADDON_STATES and not addon.issues:
            return
        issues = (
            "; ".join(f"{i.code}: {i.message}" for i in addon.issues) or "no health issues listed"
        )
        raise EnvironmentProblemError(
            f"{addon.name} on cluster {cluster.name} is {addon.status} ({issues})",
            hint="fix the add-on first (eksaddon status shows it), then rerun",
        )

    def _new_plan(self, cluster: ClusterInfo, addon: AddonState) -> Plan:
        # A change is planned from what EKS offers this cluster now, never from the bundled data.
        live = live_catalogue(self.gateway, self.matrix, cluster, self.options.addon)
        values = self.options.configuration_values or addon.configuration_values
        in_use = features_in_configuration(
            self.matrix,
            configvalues.parse(values, label="the configuration values") if values else {},
        )
        return planner.plan(
            live,
            kubernetes=cluster.version,
            current=addon.version,
            target=self.options.target,
            addon_type=AddonType.MANAGED,
            features=in_use,
        )

    def _resume_plan(self, journal: Journal, addon: AddonState, cluster: ClusterInfo) -> Plan:
        return resume_plan(
            journal,
            live=addon.version,
            cluster=cluster,
            offered=lambda: offered_versions(self.gateway, cluster, self.options.addon),
            addon=self.options.addon,
            target=self.options.target,
        )

    def _schema(self, version: AddonVersion) -> dict[str, Any] | None:
        """The configuration schema of ``version``, asked of EKS once per run: the carried
        settings and the configuration values are both checked against it."""
        if version not in self._schemas:
            self._schemas[version] = self.gateway.configuration_schema(self.options.addon, version)
        return self._schemas[version]

    # -- starting -----------------------------------------------------------------------------

    def _start(
        self,
        path: Path,
        plan: Plan,
        cluster: ClusterInfo,
        addon: AddonState,
        settings: dict[str, Any],
    ) -> Journal:
        if settings["carried_settings"]:
            names = ", ".join(c["name"] for c in settings["carried_settings"])
            self.progress(
                Notice(
                    f"carrying settings from the nodes into the configuration "
                    f"values of every step: {names}"
                )
            )
        backup = self._backup(cluster, addon)
        return Journal.create(
            path,
            plan=plan,
            identity=ClusterIdentity.of(cluster, self.options.addon),
            settings=settings,
            backup=backup,
        )

    def _backup(self, cluster: ClusterInfo, addon: AddonState) -> Path:
        path = journals.backup_path(
            self.state_directory, region=cluster.region, cluster=cluster.name, addon=addon.name
        )
        write_json_atomically(
            path,
            {
                "backup_version": 1,
                "taken_at": journals.now(),
                "region": cluster.region,
                "cluster": cluster.name,
                "cluster_arn": cluster.arn,
                "kubernetes_version": str(cluster.version),
                "platform_version": cluster.platform_version,
                "addon": addon.name,
                "addon_version": str(addon.version),
                "status": addon.status,
                "configuration_values": addon.configuration_values,
                "service_account_role_arn": addon.service_account_role_arn,
                "arn": addon.arn,
            },
        )
        self.progress(BackupWritten(path))
        return path

    # -- carrying out -------------------------------------------------------------------------

    def _carry_out(
        self, journal: Journal, plan: Plan, cluster: ClusterInfo, *, resumed: bool
    ) -> UpgradeResult:
        # Every carried setting must be back on the nodes after each step.
        carried = journal.document["settings"].get("carried_settings", [])
        self.node_side.expect(
            self.matrix, [Setting(c["container"], c["name"], c["value"], None) for c in carried]
        )
        done = run_steps(
            journal,
            driver=EksApiDriver(self.gateway, cluster=cluster.name, addon=self.options.addon),
            node_side=self.node_side,
            run=RunSettings(
                self.gateway,
                cluster,
                self.options.addon,
                self.options.timeout,
                self.options.poll_interval,
                self.clock,
                self.progress,
            ),
        )
        return UpgradeResult(
            cluster.name,
            cluster.region,
            plan,
            resumed,
            False,
            done.done,
            journal.path,
            journal.backup,
            done.final,
        )


def _following_own_update(journal: Journal | None) -> bool:
    """Whether the journal's next step is an update eksaddon sent: it is followed by its id,
    not waited out as someone else's."""
    step = journal.next_step() if journal is not None else None
    return step is not None and step["state"] in (journals.SENDING, journals.IN_FLIGHT)
