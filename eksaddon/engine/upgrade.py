"""``upgrade`` and ``install``: carry a managed add-on along a plan, one confirmed step at a time.

Order of work, so that nothing is lost and nothing runs twice:
1. read the cluster, take the run's lock (one run per cluster and add-on on this machine), read
   the add-on (waiting for one that is CREATING or UPDATING to settle), and plan from the live
   catalogue — never a fallback — or resume the journal's plan, which must belong to this very
   cluster (identity, Kubernetes version, backup);
2. check the configuration values against every target version's schema before sending anything;
3. back up the add-on's version, configuration values and role;
4. per step: record "sending", update_addon with a per-step clientRequestToken, record the update
   id, follow the update, wait for ACTIVE with no health issues, run the node-side hook, record
   "succeeded". The journal is rewritten atomically after every change. Before each step the
   add-on must run the version the journal expects: someone else's change stops the run.

Exit codes keep the pipeline rule: 3 only while nothing was changed; once the journal exists every
stop is 4 (``Journal.recording_the_end``), including a state directory that fails mid-run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

from eksaddon import configvalues, planner
from eksaddon.engine import journal as journals
from eksaddon.engine.catalogue import check_configuration, live_catalogue, offered_versions
from eksaddon.engine.events import (
    BackupWritten,
    Notice,
    PlanReady,
    Progress,
    StepFinished,
    StepStarted,
)
from eksaddon.engine.journal import ClusterIdentity, Journal, check_identity
from eksaddon.engine.settings import carry
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.waiting import (
    BAD_ADDON_STATES,
    Clock,
    StepContext,
    follow_update,
    retry_transient,
    retrying,
    wait_healthy,
)
from eksaddon.errors import (
    AddonNotFoundError,
    EnvironmentProblemError,
    InputError,
    JournalMismatchError,
    StateDirectoryError,
    UnexpectedAnswerError,
    UpdateInProgressError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.gateways.answers import shown
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    ClusterInfo,
    EksGateway,
    PodIdentityAssociation,
)
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.nodeside.detect import Customization
from eksaddon.nodeside.features import features_in_configuration
from eksaddon.planner import Plan, Step
from eksaddon.versions import AddonVersion, KubernetesVersion

RESOLVE_CONFLICTS = ("NONE", "PRESERVE", "OVERWRITE")
# An add-on in these states is waited for before planning: its version is in flux.
SETTLING = ("CREATING", "UPDATING")


class UpgradeOptions(NamedTuple):
    cluster: str
    addon: str
    target: str = planner.LATEST
    resolve_conflicts: str = "PRESERVE"
    configuration_values: str | None = None
    service_account_role_arn: str | None = None
    # None: not sent, EKS keeps the add-on's associations; a tuple replaces them.
    pod_identity_associations: tuple[PodIdentityAssociation, ...] | None = None
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


AfterStep = Callable[[StepContext, Step], None]


def no_rollout_check(ctx: StepContext, step: Step) -> None:
    """The node-side rollout check plugs in here (after EKS reports the step healthy)."""


class Upgrader:
    """One run of ``eksaddon upgrade`` against one cluster's add-on."""

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
        after_step: AfterStep = no_rollout_check,
    ) -> None:
        self.gateway = gateway
        self.matrix = matrix
        self.options = options
        self.state_directory = state_directory
        self.progress = progress
        self.confirm = confirm
        self.clock = clock or SystemClock()
        self.after_step = after_step
        self._node_settings: tuple[Customization, ...] = ()
        self._schemas: dict[AddonVersion, dict[str, Any] | None] = {}

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
        check_target = getattr(self.after_step, "check_target", None)
        if changing and check_target is not None:
            # Before any change: the node-side check must see this cluster.
            self._before_any_change(lambda: check_target(cluster))
        if journal is not None:
            settings: dict[str, Any] = self._journal_settings(journal, plan)
        else:
            if changing:
                self._before_any_change(self._carry_node_settings)
            # A dry run checks the values too: that is what it is for.
            settings = self._new_settings(addon, plan, validate=bool(plan.steps))
        # Whatever could drop a setting is shown with the plan, before the confirmation.
        plan = plan._replace(warnings=plan.warnings + self._risks(settings, addon, resumed))
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
        read = getattr(self.after_step, "customizations", None)
        if read is None:
            return
        self._node_settings = tuple(read(self.matrix))

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
        document = journal.document
        requested = document["plan"]["requested"]
        if self.options.target not in (planner.LATEST, requested):
            raise JournalMismatchError(
                f"journal {journal.path} is carrying {self.options.addon} to {requested}, "
                f"not {self.options.target}",
                hint="rerun without --to to finish it, or with --discard-journal to plan afresh",
            )
        self._check_position(journal, addon.version)
        self._check_still_offered(journal, cluster)
        steps = tuple(
            Step(AddonVersion.parse(s["from"]), AddonVersion.parse(s["to"])) for s in journal.steps
        )
        return Plan(
            addon=document["addon"],
            addon_type=AddonType(document["plan"]["addon_type"]),
            kubernetes=KubernetesVersion.parse(document["plan"]["kubernetes_version"]),
            current=AddonVersion.parse(document["plan"]["from"]),
            target=AddonVersion.parse(document["plan"]["to"]),
            requested=requested,
            steps=steps,
            notes=(f"resuming the journal at {journal.path}",),
        )

    def _journal_settings(self, journal: Journal, plan: Plan) -> dict[str, Any]:
        """The settings the journal sends on every step, checked as if they were new: a journal
        is a file anyone can edit, and nothing unchecked may reach EKS."""
        settings: dict[str, Any] = journal.document["settings"]
        carried = settings.get("carried_settings", [])
        well_formed = (
            settings.get("resolve_conflicts") in RESOLVE_CONFLICTS
            and isinstance(settings.get("configuration_values"), str | None)
            and isinstance(settings.get("service_account_role_arn"), str | None)
            and _well_formed_associations(settings.get("pod_identity_associations"))
            and isinstance(carried, list)
            and all(
                isinstance(c, dict)
                and all(isinstance(c.get(k), str) for k in ("container", "name", "value"))
                for c in carried
            )
        )
        if not well_formed:
            raise JournalMismatchError(
                f"journal {journal.path} is damaged or was edited (its settings are not what "
                "eksaddon writes)",
                hint="move it aside, or rerun with --discard-journal to plan afresh",
            )
        remaining = [
            Step(AddonVersion.parse(s["from"]), AddonVersion.parse(s["to"]))
            for s in journal.steps
            if s["state"] != journals.SUCCEEDED
        ]
        self._validate_configuration(
            settings["configuration_values"], plan._replace(steps=tuple(remaining))
        )
        return settings

    def _check_still_offered(self, journal: Journal, cluster: ClusterInfo) -> None:
        """A step that will be sent (again) must be a build EKS offers the cluster now."""
        to_send = [
            s["to"]
            for s in journal.steps
            if s["state"] in (journals.PENDING, journals.FAILED, journals.SENDING)
        ]
        if not to_send:
            return
        offered = {str(v) for v in offered_versions(self.gateway, cluster, self.options.addon)}
        withdrawn = [version for version in to_send if version not in offered]
        if withdrawn:
            raise JournalMismatchError(
                f"journal {journal.path} would send {', '.join(withdrawn)}, which EKS no longer "
                f"offers for Kubernetes {cluster.version} on cluster {cluster.name}; nothing "
                "was sent",
                hint=f"{journals.DISCARD_HINT} from the live catalogue",
            )

    def _check_position(self, journal: Journal, live: AddonVersion) -> None:
        """Refuse a journal whose next step does not start where the cluster is."""
        step = journal.next_step()
        if step is None:
            return
        expected = {step["from"]}
        if step["state"] in (journals.SENDING, journals.IN_FLIGHT):
            expected.add(step["to"])  # the update may have finished while we were away
        if str(live) not in expected:
            raise JournalMismatchError(
                f"journal {journal.path} expects {self.options.addon} at "
                f"{' or '.join(sorted(expected))} for step {step['index']} of "
                f"{len(journal.steps)}, but cluster {journal.document['cluster']} runs {live}",
                hint="someone changed the add-on meanwhile: check it, then rerun with "
                "--discard-journal to plan afresh",
            )

    # -- starting -----------------------------------------------------------------------------

    def _new_settings(self, addon: AddonState, plan: Plan, *, validate: bool) -> dict[str, Any]:
        """What every step sends: the options, the values in use and the settings on the nodes.

        With ``validate`` (a run that will change something), carried settings a target no
        longer knows are refused or, with --force, dropped, and the values are checked against
        every target's schema, all before anything is sent.
        """
        options = self.options
        values = options.configuration_values or addon.configuration_values
        carried: tuple[Customization, ...] = ()
        if self._node_settings:
            document = (
                configvalues.parse(values, label="the configuration values") if values else {}
            )
            result = carry(document, self._node_settings)
            carried = result.carried
            if carried:
                values = json.dumps(result.values, sort_keys=True)
        settings: dict[str, Any] = {
            "resolve_conflicts": options.resolve_conflicts,
            # Send the values in use on every step unless new ones are given: PRESERVE keeps
            # them anyway, and an explicit value means no step can fall back to defaults.
            "configuration_values": values,
            "service_account_role_arn": options.service_account_role_arn
            or addon.service_account_role_arn,
            "pod_identity_associations": None
            if options.pod_identity_associations is None
            else [
                {"service_account": a.service_account, "role_arn": a.role_arn}
                for a in options.pod_identity_associations
            ],
            "carried_settings": [
                {"container": c.container, "name": c.name, "value": c.value} for c in carried
            ],
            "dropped_settings": [],
        }
        if validate:
            settings = self._drop_unknown_carried(settings, plan)
            self._validate_configuration(settings["configuration_values"], plan)
        return settings

    def _risks(self, settings: dict[str, Any], addon: AddonState, resumed: bool) -> tuple[str, ...]:
        """Everything in this run that could lose a setting, each as one plan warning."""
        risks = []
        if settings["resolve_conflicts"] == "OVERWRITE":
            risks.append(
                "resolveConflicts=OVERWRITE: EKS resets every field of the add-on's objects that "
                "was changed outside EKS; only the configuration values survive"
            )
        if settings.get("dropped_settings"):
            risks.append(
                "--force drops settings the target does not know: "
                + ", ".join(settings["dropped_settings"])
            )
        if not resumed and self.options.configuration_values and addon.configuration_values:
            dropped = configvalues.dropped_keys(
                configvalues.parse(addon.configuration_values, label="the values in use"),
                configvalues.parse(settings["configuration_values"], label="the new values"),
            )
            if dropped:
                risks.append(
                    "--configuration-values replaces the values in use and drops: "
                    + ", ".join(dropped)
                )
        return tuple(risks)

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

    def _drop_unknown_carried(self, settings: dict[str, Any], plan: Plan) -> dict[str, Any]:
        """Carried settings a target version's schema no longer knows: refuse, or drop (--force).

        Dropping a setting silently is the failure eksaddon exists to prevent, so it needs an
        explicit --force, and is reported either way before anything changes.
        """
        carried = settings["carried_settings"]
        if not carried or not settings["configuration_values"]:
            return settings
        unknown: dict[str, AddonVersion] = {}
        for target in dict.fromkeys(step.target for step in plan.steps):
            schema = self._schema(target)
            for item in carried:
                probe = carry(
                    {}, [Customization(item["container"], item["name"], item["value"], None)]
                ).values
                if schema is not None and not configvalues.fits(probe, schema):
                    unknown.setdefault(item["name"], target)
        if not unknown:
            return settings
        names = [f"{name} (not known to {version})" for name, version in unknown.items()]
        if not self.options.force:
            raise InputError(
                f"settings running on the nodes would be lost: {', '.join(names)}",
                hint="remove them first, or pass --force to drop them",
            )
        document = configvalues.parse(settings["configuration_values"], label="the values")
        for section in (document.get("env", {}), document.get("init", {}).get("env", {})):
            for name in unknown:
                section.pop(name, None)
        kept = [c for c in carried if c["name"] not in unknown]
        return {
            **settings,
            "configuration_values": json.dumps(document, sort_keys=True),
            "carried_settings": kept,
            "dropped_settings": names,
        }

    def _validate_configuration(self, text: str | None, plan: Plan) -> None:
        if not text:
            return
        label = "the configuration values"
        check_configuration(
            self._schema,
            configvalues.parse(text, label=label),
            (step.target for step in plan.steps),
            addon=self.options.addon,
            label=label,
        )

    def _schema(self, version: AddonVersion) -> dict[str, Any] | None:
        """The configuration schema of ``version``, asked of EKS once per run: the carried
        settings and the configuration values are both checked against it."""
        if version not in self._schemas:
            self._schemas[version] = self.gateway.configuration_schema(self.options.addon, version)
        return self._schemas[version]

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
                "pod_identity_associations": list(addon.pod_identity_associations),
                "arn": addon.arn,
            },
        )
        self.progress(BackupWritten(path))
        return path

    # -- carrying out -------------------------------------------------------------------------

    def _carry_out(
        self, journal: Journal, plan: Plan, cluster: ClusterInfo, *, resumed: bool
    ) -> UpgradeResult:
        expect = getattr(self.after_step, "expect", None)
        if expect is not None:  # every carried setting must be back on the nodes after each step
            carried = journal.document["settings"].get("carried_settings", [])
            expect(
                self.matrix,
                [Customization(c["container"], c["name"], c["value"], None) for c in carried],
            )
        final: AddonState | None = None
        with journal.recording_the_end(
            interrupted=lambda: UpgradeInterruptedError(
                f"upgrade of {self.options.addon} on cluster {cluster.name} interrupted at "
                f"{self._position(journal)}",
                hint=f"the journal is kept at {journal.path}; rerun `eksaddon upgrade --cluster "
                f"{cluster.name}` to resume",
            ),
            stopped=lambda error: UpgradeStoppedError(
                f"upgrade of {self.options.addon} on cluster {cluster.name} stopped at "
                f"{self._position(journal)}: {error.message}",
                hint=self._resume_hint(journal, cluster, error),
            ),
        ):
            journal.set(state=journals.RUNNING, last_error=None)
            for step in journal.steps:
                if step["state"] != journals.SUCCEEDED:
                    final = self._step(journal, step, cluster)
        done = sum(1 for s in journal.steps if s["state"] == journals.SUCCEEDED)
        return UpgradeResult(
            cluster.name,
            cluster.region,
            plan,
            resumed,
            False,
            done,
            journal.path,
            journal.backup,
            final,
        )

    def _step(self, journal: Journal, step: dict[str, Any], cluster: ClusterInfo) -> AddonState:
        total = len(journal.steps)
        started = self.clock.now()
        ctx = StepContext(
            self.gateway,
            cluster.name,
            self.options.addon,
            step["index"],
            total,
            started,
            started + self.options.timeout,
            self.options.poll_interval,
            self.clock,
            self.progress,
        )
        hint = self._resume_hint(journal, cluster)
        if step["state"] == journals.FAILED:
            # The failed update's token would return that same update: a retry is a new attempt.
            journal.update_step(
                step,
                state=journals.PENDING,
                update_id=None,
                errors=[],
                attempt=int(step.get("attempt", 1)) + 1,
            )
        resumed = step["state"] != journals.PENDING
        if step["state"] == journals.PENDING:
            self._check_starting_point(journal, step, cluster)
        if step["state"] == journals.IN_FLIGHT:
            update_id: str | None = step["update_id"]
        else:
            update_id = self._send(ctx, journal, step, cluster)
        if update_id is not None:
            self.progress(
                StepStarted(
                    step["index"],
                    total,
                    AddonVersion.parse(step["from"]),
                    AddonVersion.parse(step["to"]),
                    update_id,
                    resumed,
                )
            )
            update = follow_update(ctx, update_id, resume_hint=hint)
            if update.status != "Successful":
                errors = [
                    {"code": e.code, "message": e.message, "resource_ids": list(e.resource_ids)}
                    for e in update.errors
                ]
                journal.update_step(
                    step, state=journals.FAILED, errors=errors, finished_at=journals.now()
                )
                detail = "; ".join(f"{e.code}: {e.message}" for e in update.errors) or "no details"
                raise UpgradeStoppedError(
                    f"update {update_id} of {self.options.addon} on cluster {cluster.name} to "
                    f"{step['to']} (step {step['index']} of {total}) ended {update.status}: "
                    f"{detail}",
                    hint=hint,
                )
        state = wait_healthy(ctx, resume_hint=hint)
        if str(state.version) != step["to"]:
            raise UpgradeStoppedError(
                f"after step {step['index']} {self.options.addon} on cluster {cluster.name} runs "
                f"{state.version}, not {step['to']}",
                hint=hint,
            )
        self.after_step(ctx, Step(AddonVersion.parse(step["from"]), AddonVersion.parse(step["to"])))
        journal.update_step(step, state=journals.SUCCEEDED, finished_at=journals.now())
        self.progress(StepFinished(step["index"], total, state.version, self.clock.now() - started))
        return state

    def _check_starting_point(
        self, journal: Journal, step: dict[str, Any], cluster: ClusterInfo
    ) -> None:
        """Just before a step is sent the add-on must run the version the journal expects:
        another actor's change (even a downgrade EKS would accept) stops the run (exit 4)."""
        live = self.gateway.describe_addon(cluster.name, self.options.addon)
        found = "nothing (the add-on is gone)" if live is None else str(live.version)
        if found != step["from"]:
            raise UpgradeStoppedError(
                f"before step {step['index']} of {len(journal.steps)} ({step['from']} → "
                f"{step['to']}) {self.options.addon} on cluster {cluster.name} runs {found}, "
                f"not {step['from']} as the journal expects: someone changed it meanwhile; "
                "nothing more was sent",
                hint=f"check it (`eksaddon status --cluster {cluster.name}`), then rerun "
                f"`eksaddon upgrade --cluster {cluster.name} --discard-journal` to plan afresh "
                "from it",
            )

    def _send(
        self, ctx: StepContext, journal: Journal, step: dict[str, Any], cluster: ClusterInfo
    ) -> str | None:
        """Start the step's update; None when a crash left it already done."""
        if step["state"] == journals.SENDING:
            live = self.gateway.describe_addon(cluster.name, self.options.addon)
            if live is not None and str(live.version) == step["to"]:
                return None  # sent and finished before the crash: only health is left to check
        journal.update_step(step, state=journals.SENDING, started_at=journals.now())
        settings = journal.document["settings"]
        request = AddonRequest(
            cluster=cluster.name,
            addon=self.options.addon,
            version=AddonVersion.parse(step["to"]),
            resolve_conflicts=settings["resolve_conflicts"],
            client_request_token=journal.token(step),
            configuration_values=settings["configuration_values"],
            service_account_role_arn=settings["service_account_role_arn"],
            pod_identity_associations=_associations(settings.get("pod_identity_associations")),
        )
        try:
            update = retry_transient(
                ctx,
                lambda: self.gateway.update_addon(request),
                what=f"UpdateAddon of {self.options.addon} to {step['to']}",
                resume_hint=self._resume_hint(journal, cluster),
            )
        except UpdateInProgressError as error:
            raise UpgradeStoppedError(error.message, hint=error.hint) from error
        journal.update_step(step, state=journals.IN_FLIGHT, update_id=update.id)
        return update.id

    def _position(self, journal: Journal) -> str:
        step = journal.next_step()
        if step is None:
            return "the end of the plan"
        in_flight = step["state"] == journals.IN_FLIGHT and step.get("update_id")
        flight = f", update {step['update_id']} in flight" if in_flight else ""
        return (
            f"step {step['index']} of {len(journal.steps)} ({step['from']} → {step['to']}{flight})"
        )

    def _resume_hint(
        self, journal: Journal, cluster: ClusterInfo, error: Exception | None = None
    ) -> str:
        if isinstance(error, StateDirectoryError):
            command = f"eksaddon upgrade --cluster {cluster.name}"
            return state_directory_resume_hint(journal, error, command)
        return (
            f"the journal is kept at {journal.path}; fix the cause, then rerun "
            f"`eksaddon upgrade --cluster {cluster.name}` to resume"
        )


def state_directory_resume_hint(journal: Journal, error: StateDirectoryError, command: str) -> str:
    """What to do when the state directory failed after a change: the journal on disk is the
    last complete record, and a rerun from the same directory resumes from it."""
    return (
        f"the last complete journal is kept at {journal.path}; once {error.directory} is "
        f"writable again (free space), rerun `{command}` with the same state directory to resume"
    )


def _following_own_update(journal: Journal | None) -> bool:
    """Whether the journal's next step is an update eksaddon sent: it is followed by its id,
    not waited out as someone else's."""
    step = journal.next_step() if journal is not None else None
    return step is not None and step["state"] in (journals.SENDING, journals.IN_FLIGHT)


def settled_addon(
    cluster: ClusterInfo,
    addon: AddonState,
    describe: Callable[[], AddonState],
    *,
    clock: Clock,
    timeout: float,
    poll_interval: float,
    progress: Progress,
) -> AddonState:
    """The add-on once it is neither CREATING nor UPDATING, waited for within ``timeout``.

    Planning from a version in flux would re-send an update that is just landing. DELETING (and
    a wait that runs out) stop the run before any change (exit 3).
    """
    name = addon.name
    if addon.status in SETTLING:
        started = clock.now()
        progress(
            Notice(
                f"{name} on cluster {cluster.name} is {addon.status}: waiting up to "
                f"{timeout:.0f}s for it to settle before planning"
            )
        )
        while addon.status in SETTLING:
            if clock.now() + poll_interval > started + timeout:
                raise EnvironmentProblemError(
                    f"{name} on cluster {cluster.name} is still {addon.status} after "
                    f"{timeout:.0f}s; nothing was changed",
                    hint="rerun once it has settled (`eksaddon status` shows it), or pass a "
                    "longer --timeout",
                )
            clock.sleep(poll_interval)
            previous, addon = addon.status, describe()
            if addon.status != previous:
                progress(
                    Notice(
                        f"{name} on cluster {cluster.name} is {addon.status} "
                        f"({clock.now() - started:.0f}s)"
                    )
                )
    if addon.status == "DELETING":
        raise EnvironmentProblemError(
            f"{name} on cluster {cluster.name} is DELETING; nothing was changed",
            hint=f"wait until it is gone, then `eksaddon install --cluster {cluster.name}`",
        )
    return addon


def _well_formed_associations(value: Any) -> bool:
    """A journal's pod identity associations: absent/None (keep) or pairs that still parse."""
    if value is None:
        return True
    try:
        _associations(value)
    except (InputError, TypeError, KeyError):
        return False
    return True


def _associations(value: Any) -> tuple[PodIdentityAssociation, ...] | None:
    """The journal's list as sent to EKS, each pair checked again (a journal can be edited)."""
    if value is None:
        return None
    from eksaddon.addons.pod_identity import parse_association

    if not isinstance(value, list):
        raise TypeError("pod_identity_associations is not a list")
    return tuple(
        parse_association(f"{item['service_account']}={item['role_arn']}") for item in value
    )
