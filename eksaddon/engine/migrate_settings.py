"""``migrate`` for an add-on whose profile reads its settings (kube-proxy, CoreDNS): a
self-managed install becomes the EKS add-on at the same release, its settings carried.

Clusters created before EKS add-ons run a self-managed kube-proxy and CoreDNS. Their custom
settings (kube-proxy's ``mode: ipvs``, Corefile edits, the replica count) live in Kubernetes
objects that EKS overwrites when it takes them over; the profile reads them (pure), maps them to
configuration values, and every one is checked against the target build's schema. What the
schema cannot hold stops the migration before any change (``--force`` drops it, naming each).
Then: the objects backed up, CreateAddon (resolveConflicts OVERWRITE or NONE, the operator's
choice), ACTIVE awaited, the workload rolled out at the new build and every carried setting
found running, or the run stops part-way (exit 4) naming the backup.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from eksaddon import configvalues
from eksaddon.addons.base import (
    AddonProfile,
    ObjectRef,
    Objects,
    Setting,
    VersionReading,
    drifted,
    image_tag,
    main_workload,
    tag_shows,
    unknown_to_schema,
    workload_version,
)
from eksaddon.engine import journal as journals
from eksaddon.engine.events import BackupWritten, ChangePlanned, Notice, Progress
from eksaddon.engine.install import create_and_wait, part_way
from eksaddon.engine.migrate import MigrateOptions, MigrateResult, same_release_build
from eksaddon.engine.profile_objects import read_objects
from eksaddon.engine.rollout_check import ensure_same_cluster
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.waiting import Clock, PollSchedule, StepContext
from eksaddon.errors import EksAddonError, InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import AddonRequest, ClusterInfo, EksGateway, KubernetesReader
from eksaddon.matrix.model import AddonType, Workload
from eksaddon.versions import AddonVersion


@runtime_checkable
class DescribedSettings(Protocol):
    """Settings rules that also explain what they found (CoreDNS: the Corefile's edits)."""

    def describe(self, objects: Objects) -> list[str]: ...


def workload_ref(workload: Workload) -> ObjectRef:
    return ObjectRef(str(workload.kind), workload.namespace, workload.name)


def migrate_profiled(
    *,
    gateway: EksGateway,
    profile: AddonProfile,
    kube: KubernetesReader,
    options: MigrateOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[str], bool],
    clock: Clock,
) -> MigrateResult:
    cluster = gateway.describe_cluster(options.cluster)
    journal = journals.journal_path(
        state_directory, region=cluster.region, cluster=cluster.name, addon=options.addon
    )
    with journals.cluster_lock(journal, cluster=cluster.name, addon=options.addon):
        return _Migration(gateway, profile, kube, options, progress, clock, cluster).run(
            state_directory, confirm
        )


class _Migration:
    def __init__(
        self,
        gateway: EksGateway,
        profile: AddonProfile,
        kube: KubernetesReader,
        options: MigrateOptions,
        progress: Progress,
        clock: Clock,
        cluster: ClusterInfo,
    ) -> None:
        self.gateway = gateway
        self.profile = profile
        self.kube = kube
        self.options = options
        self.progress = progress
        self.clock = clock
        self.cluster = cluster
        workload = main_workload(profile)
        if workload is None or not profile.settings.sources(profile.matrix):
            raise InputError(
                f"eksaddon does not know where {options.addon}'s settings live on the nodes, so "
                "it cannot migrate it without losing them; nothing was changed",
                hint="docs/addons.md lists the add-ons whose settings eksaddon reads",
            )
        self.workload = workload
        self.refs = (workload_ref(workload), *profile.settings.sources(profile.matrix))

    @property
    def where(self) -> str:
        return f"{self.options.addon} on cluster {self.cluster.name}"

    def run(self, state_directory: Path, confirm: Callable[[str], bool]) -> MigrateResult:
        existing = self.gateway.describe_addon(self.cluster.name, self.options.addon)
        if existing is not None:
            raise InputError(
                f"{self.where} is already the EKS add-on ({existing.reported_version})",
                hint=f"use `eksaddon upgrade --cluster {self.cluster.name} --addon "
                f"{self.options.addon}`",
            )
        ensure_same_cluster(self.kube.host, self.cluster)
        objects = read_objects(self.kube, self.refs)
        running = self._running_version(objects)
        version = same_release_build(
            self.gateway, self.options.addon, self.cluster.version, running
        )
        settings = self.profile.settings.custom(objects, self.profile.matrix)
        values, carried, dropped = self._values(settings, version)
        notes = self._notes(objects)
        result = MigrateResult(
            self.cluster.name,
            self.cluster.region,
            self.options.addon,
            version,
            values,
            tuple(_named(s) for s in dropped),
            self.options.dry_run,
            None,
            None,
            carried=tuple(_named(s) for s in carried),
            notes=notes,
        )
        if self.options.dry_run:
            return result
        self._consent(running, version, carried, confirm)
        backup = _backup(state_directory, self.cluster, self.options.addon, objects)
        self.progress(BackupWritten(backup))
        final = self._create(version, values, carried, backup)
        self.progress(
            Notice(
                f"{self.options.addon} is now the EKS add-on {version}; no carried setting changed"
            )
        )
        return result._replace(dry_run=False, backup=backup, final=final)

    # -- before any change -------------------------------------------------------------------

    def _running_version(self, objects: Objects) -> AddonVersion:
        document = objects.get(workload_ref(self.workload))
        label = f"{self.workload.kind} {self.workload.namespace}/{self.workload.name}"
        if document is None:
            raise InputError(
                f"{label} is absent on cluster {self.cluster.name}: there is no self-managed "
                f"{self.options.addon} to migrate; nothing was changed",
                hint=f"install the EKS add-on instead (`eksaddon install --addon "
                f"{self.options.addon}`)",
            )
        if self.profile.who_manages(objects) is AddonType.MANAGED:
            self.progress(
                Notice(
                    f"{label} carries EKS's field manager, but EKS has no {self.options.addon} "
                    "add-on on the cluster (deleted with --preserve?): migrating it"
                )
            )
        try:
            reading = workload_version(self.workload, document)
        except EksAddonError as error:  # a tag of another form than the add-on's
            reading = VersionReading(None, error.message)
        if reading.version is None:
            raise InputError(
                f"which {self.options.addon} build {label} runs is unknown: "
                f"{reading.why_unknown}; nothing was changed",
                hint="set an image EKS publishes for this add-on first, or migrate by hand",
            )
        return reading.version

    def _values(
        self, settings: tuple[Setting, ...], version: AddonVersion
    ) -> tuple[str | None, tuple[Setting, ...], tuple[Setting, ...]]:
        """The configuration values to send, what they carry, and what is dropped (--force)."""
        rules = self.profile.settings
        carried = rules.carry({}, settings)
        schema = self.gateway.configuration_schema(self.options.addon, version)
        unfit = (
            []
            if schema is None
            else unknown_to_schema(rules, carried.carried, lambda d: configvalues.fits(d, schema))
        )
        lost = (*carried.not_carried, *unfit)
        if lost and not (self.options.force or self.options.dry_run):
            raise InputError(
                f"migrating {self.where} to the EKS add-on {version} would lose settings its "
                f"configuration cannot hold: {_reasons(carried.not_carried, unfit, version)}; "
                "nothing was changed",
                hint="--force migrates without them (each is named), or move them first",
            )
        if lost and self.options.force:
            self.progress(
                Notice(f"--force: dropping {', '.join(_named(s) for s in lost)} (not carried)")
            )
        document = rules.remove(carried.values, [s.name for s in unfit])
        kept = tuple(s for s in carried.carried if s not in unfit)
        if schema is not None and document:
            configvalues.validate(
                document,
                schema,
                addon=self.options.addon,
                version=version,
                label="the settings running on the cluster",
            )
        values = json.dumps(document, sort_keys=True) if document else None
        return values, kept, tuple(lost)

    def _notes(self, objects: Objects) -> tuple[str, ...]:
        rules = self.profile.settings
        return tuple(rules.describe(objects)) if isinstance(rules, DescribedSettings) else ()

    def _consent(
        self,
        running: AddonVersion,
        version: AddonVersion,
        carried: tuple[Setting, ...],
        confirm: Callable[[str], bool],
    ) -> None:
        options = self.options
        if options.resolve_conflicts is None:
            raise InputError(
                f"migrating {self.where} lets EKS take over objects other managers own, "
                "resetting every field not in the configuration values",
                hint="pass --resolve-conflicts overwrite to accept that (the settings are "
                "carried; --dry-run shows them), or --resolve-conflicts none to let EKS refuse "
                "on any conflict",
            )
        names = ", ".join(_named(s) for s in carried) or "none"
        summary = (
            f"make {options.addon} {running} on cluster {self.cluster.name} the EKS add-on "
            f"{version} with resolveConflicts={options.resolve_conflicts}"
        )
        self.progress(
            ChangePlanned(
                f"{summary}; settings carried as configuration values: {names}",
                (f"{running} → the EKS add-on {version}",),
            )
        )
        if not confirm(summary):
            raise InputError("migration not confirmed; nothing was changed")

    # -- the change --------------------------------------------------------------------------

    def _create(
        self,
        version: AddonVersion,
        values: str | None,
        carried: tuple[Setting, ...],
        backup: Path,
    ) -> Any:
        options = self.options
        request = AddonRequest(
            cluster=self.cluster.name,
            addon=options.addon,
            version=version,
            resolve_conflicts=options.resolve_conflicts or "NONE",
            client_request_token=f"eksaddon-migrate-{self.cluster.name}-{options.addon}-{version}"[
                :64
            ],
            configuration_values=values,
            service_account_role_arn=options.service_account_role_arn,
        )
        hint = f"the objects as they were are backed up in {backup}"
        final, ctx = create_and_wait(
            self.gateway,
            request,
            timeout=options.timeout,
            poll_interval=options.poll_interval,
            clock=self.clock,
            progress=self.progress,
            hint=hint,
        )
        part_way(lambda: self._wait_rolled_out(ctx, version, carried, hint), hint=hint)
        return final

    def _wait_rolled_out(
        self, ctx: StepContext, version: AddonVersion, carried: tuple[Setting, ...], hint: str
    ) -> None:
        """Until the deadline: the workload runs ``version`` on every replica/node, and every
        carried setting runs with its value."""
        problem = "no answer"
        schedule = PollSchedule(ctx.clock, ctx.poll_interval)
        while True:
            objects = read_objects(self.kube, self.refs)
            problem = self._behind(objects, version) or ""
            if not problem:
                lost = drifted(carried, self.profile.settings.running(objects, self.profile.matrix))
                if not lost:
                    return
                problem = f"the carried settings do not run: {'; '.join(lost)}"
            if schedule.next() > ctx.deadline:
                raise UpgradeStoppedError(
                    f"after the migration of {self.where} to the EKS add-on {version}: {problem}",
                    hint=hint,
                )
            schedule.wait()

    def _behind(self, objects: Objects, version: AddonVersion) -> str | None:
        """Why the workload has not rolled out ``version`` yet (None: it has)."""
        workload = self.workload
        label = f"{workload.kind} {workload.namespace}/{workload.name}"
        document = objects.get(workload_ref(workload))
        if document is None:
            return f"{label} is missing"
        shows = tag_shows(workload, image_tag(document, workload.version_container), version)
        if shows is False:
            return f"{label} does not run {version} yet"
        return rollout_behind(document, label)


def rollout_behind(document: Mapping[str, Any], label: str) -> str | None:
    """A DaemonSet's or Deployment's status short of a finished rollout (None: finished)."""
    metadata = document.get("metadata") or {}
    status = document.get("status") or {}
    if not isinstance(status, Mapping) or not isinstance(metadata, Mapping):
        return f"{label} has no readable status"
    generation = metadata.get("generation")
    if generation is not None and status.get("observedGeneration") != generation:
        return f"{label}: the controller has not observed generation {generation} yet"
    if document.get("kind") == "Deployment":
        spec = document.get("spec") or {}
        wanted = spec.get("replicas", 1) if isinstance(spec, Mapping) else 1
        counts = ("updatedReplicas", "availableReplicas")
    else:
        wanted = status.get("desiredNumberScheduled")
        counts = ("updatedNumberScheduled", "numberAvailable")
    short = [f"{key} {status.get(key, 0)}/{wanted}" for key in counts if status.get(key) != wanted]
    return f"{label}: {', '.join(short)}" if short else None


def _named(setting: Setting) -> str:
    value = setting.value if setting.value is None or len(setting.value) <= 60 else "(text)"
    if setting.kind == "corefile":
        value = "(edited, carried whole)"
    return f"{setting.container}/{setting.name}={value}"


def _reasons(no_key: Iterable[Setting], unfit: Iterable[Setting], version: AddonVersion) -> str:
    parts = [f"{_named(s)} (no configuration key)" for s in no_key]
    parts += [f"{_named(s)} (the {version} schema refuses it)" for s in unfit]
    return ", ".join(parts)


def _backup(directory: Path, cluster: ClusterInfo, addon: str, objects: Objects) -> Path:
    path = journals.backup_path(
        directory, region=cluster.region, cluster=cluster.name, addon=addon, suffix="_objects"
    )
    write_json_atomically(
        path,
        {
            "backup_version": 1,
            "taken_at": journals.now(),
            "region": cluster.region,
            "cluster": cluster.name,
            "addon": addon,
            "objects": [dict(document) for document in objects.values() if document is not None],
        },
    )
    return path
