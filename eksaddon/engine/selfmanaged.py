"""``upgrade`` of a self-managed add-on: render each step's manifest, apply it, verify it.

Only an add-on whose profile has manifests (``renders_manifests``: vpc-cni today) can be
upgraded this way; any other self-managed add-on is refused before anything is read.

No EKS add-on API is involved: eksaddon plans with the self-managed releases, backs up every
object it will touch, renders each step's manifest for the cluster's region with the settings
running on the nodes carried, applies it with server-side apply (field manager ``eksaddon``), and
waits for the rollout on every node with the settings proven (the one step runner,
:mod:`eksaddon.engine.steps`, with the manifest-apply driver), journaling every step so a rerun
resumes where a stop left off. The managed upgrade's rules hold here too: one run per cluster
and add-on (the lock), a journal resumed only on its own cluster (identity and backup checked),
and a state directory that fails is exit 3 before the first apply and 4 after it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from eksaddon import planner
from eksaddon.engine import journal as journals
from eksaddon.engine.events import BackupWritten, Notice, PlanReady, Progress, StepChanges
from eksaddon.engine.journal import ClusterIdentity, Journal, check_identity
from eksaddon.engine.manifest_steps import APPLIED as APPLIED
from eksaddon.engine.manifest_steps import ManifestApplyDriver
from eksaddon.engine.resume import journal_plan
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.steps import RunSettings, run_steps
from eksaddon.engine.upgrade import UpgradeOptions, UpgradeResult
from eksaddon.engine.waiting import Clock, retrying
from eksaddon.errors import AddonNotFoundError, InputError
from eksaddon.gateways.protocols import ClusterInfo, EksGateway, KubernetesWriter
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.nodeside.detect import Customization, detect
from eksaddon.nodeside.helm import HelmRelease, before_applying
from eksaddon.nodeside.render import render
from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion


def upgrade_self_managed(
    *,
    gateway: EksGateway,
    writer: KubernetesWriter,
    nodes: RolloutCheck,
    matrix: Matrix,
    options: UpgradeOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[Plan], bool],
    clock: Clock,
    take_over_from_helm: bool = False,
) -> UpgradeResult:
    if not nodes.profile.renders_manifests:
        raise no_manifests(options.addon, options.cluster)
    cluster = gateway.describe_cluster(options.cluster)
    path = journals.journal_path(
        state_directory, region=cluster.region, cluster=cluster.name, addon=options.addon
    )
    with journals.cluster_lock(path, cluster=cluster.name, addon=options.addon):
        return _upgrade(
            cluster=cluster,
            path=path,
            gateway=gateway,
            writer=writer,
            nodes=nodes,
            matrix=matrix,
            options=options,
            state_directory=state_directory,
            progress=progress,
            confirm=confirm,
            clock=clock,
            take_over_from_helm=take_over_from_helm,
        )


def _upgrade(
    *,
    cluster: ClusterInfo,
    path: Path,
    gateway: EksGateway,
    writer: KubernetesWriter,
    nodes: RolloutCheck,
    matrix: Matrix,
    options: UpgradeOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[Plan], bool],
    clock: Clock,
    take_over_from_helm: bool,
) -> UpgradeResult:
    daemonset = _read_target(cluster, nodes, options, clock)
    detected = detect(daemonset, matrix, label=nodes.label, region=cluster.region)
    journal, archived = Journal.load_unfinished(path, discard=options.discard_journal)
    if archived is not None:
        progress(Notice(f"previous journal moved to {archived}"))
    if journal is not None:
        check_identity(journal, ClusterIdentity.of(cluster, options.addon))
        journal.check_backup()
    plan = (
        planner.plan(
            matrix,
            kubernetes=cluster.version,
            current=detected.version,
            target=options.target,
            addon_type=AddonType.SELF_MANAGED,
            features=detected.features,
        )
        if journal is None
        else journal_plan(journal)
    )
    if detected.helm is not None:  # a Helm release: Helm upgrades it, unless taken over
        _helm_guard(detected.helm, plan, cluster.name, take_over_from_helm, progress)
    progress(PlanReady(plan, journal is not None, path if journal else None, "server-side apply"))
    if options.dry_run and journal is None:
        for number, text in enumerate(
            step_diffs(daemonset, plan, cluster.region, detected.customizations, matrix), start=1
        ):
            progress(StepChanges(number, len(plan.steps), "DaemonSet", text))
    if options.dry_run or not plan.steps:
        return UpgradeResult(
            cluster.name,
            cluster.region,
            plan,
            journal is not None,
            options.dry_run,
            0,
            path if journal else None,
            None,
            None,
        )
    resumed = journal is not None
    if journal is None:
        if not confirm(plan):
            raise InputError("upgrade not confirmed; nothing was changed")
        journal = _start(
            path, plan, cluster, detected.customizations, writer, state_directory, progress, options
        )
    carried = tuple(Customization(**c) for c in journal.document["settings"]["carried"])
    nodes.expect(matrix, carried)

    def rendered(target: AddonVersion) -> list[dict[str, Any]]:
        return render(target, cluster.region, customizations=carried, matrix=matrix, shipped=False)

    run_steps(
        journal,
        driver=ManifestApplyDriver(writer, rendered),
        node_side=nodes,
        run=RunSettings(
            gateway,
            cluster,
            options.addon,
            options.timeout,
            options.poll_interval,
            clock,
            progress,
        ),
    )
    return UpgradeResult(
        cluster.name,
        cluster.region,
        plan,
        resumed,
        False,
        len(journal.steps),
        journal.path,
        journal.backup,
        None,
    )


def no_manifests(addon: str, cluster: str) -> AddonNotFoundError:
    """The refusal for a self-managed add-on eksaddon has no manifests of."""
    return AddonNotFoundError(
        f"{addon} is not an EKS add-on on cluster {cluster} (it is self-managed or absent), "
        f"and eksaddon has no manifests to upgrade a self-managed {addon} with; nothing was "
        "changed",
        hint=f"create it with `eksaddon install --cluster {cluster} --addon {addon}`, or "
        "upgrade it with the tool that installed it",
    )


def _read_target(
    cluster: ClusterInfo, nodes: RolloutCheck, options: UpgradeOptions, clock: Clock
) -> dict[str, Any]:
    """The add-on's DaemonSet, once the hook saw this cluster may be changed; reads before any
    change are retried within one --timeout, as for a managed add-on."""

    def read() -> dict[str, Any]:
        nodes.check_target(cluster)
        found = nodes.kube.read_daemonset(nodes.namespace, nodes.name)
        assert found is not None  # check_target refuses an absent DaemonSet
        return found

    return retrying(
        read,
        clock=clock,
        deadline=clock.now() + options.timeout,
        poll_interval=options.poll_interval,
    )


def _helm_guard(
    release: HelmRelease, plan: Plan, cluster: str, take_over: bool, progress: Progress
) -> None:
    lines, refusal = before_applying(
        release, [s.target for s in plan.steps], cluster=cluster, take_over=take_over
    )
    for line in lines:
        progress(Notice(line))
    if refusal is not None:
        raise refusal


def _start(
    path: Path,
    plan: Plan,
    cluster: ClusterInfo,
    customizations: tuple[Customization, ...],
    writer: KubernetesWriter,
    state_directory: Path,
    progress: Progress,
    options: UpgradeOptions,
) -> Journal:
    # Render every step first: a setting no release can carry, or a region without a registry,
    # stops the run before anything changes.
    rendered = [
        render(step.target, cluster.region, customizations=customizations, shipped=False)
        for step in plan.steps
    ]
    touched = {(o["kind"], o["metadata"]["name"]): o for objects in rendered for o in objects}
    backup = journals.backup_path(
        state_directory,
        region=cluster.region,
        cluster=cluster.name,
        addon=options.addon,
        suffix="_objects",
    )
    write_json_atomically(
        backup,
        {
            "backup_version": 1,
            "taken_at": journals.now(),
            "cluster": cluster.name,
            "cluster_arn": cluster.arn,
            "region": cluster.region,
            "objects": [live for o in touched.values() if (live := writer.read(o)) is not None],
        },
    )
    progress(BackupWritten(backup))
    settings = {"carried": [c._asdict() for c in customizations], "resolve_conflicts": None}
    return Journal.create(
        path,
        plan=plan,
        identity=ClusterIdentity.of(cluster, options.addon),
        settings=settings,
        backup=backup,
    )


def step_diffs(
    live: dict[str, Any],
    plan: Plan,
    region: str,
    customizations: tuple[Customization, ...],
    matrix: Matrix,
) -> list[str]:
    """A unified diff of the DaemonSet's pod template per step: what each apply would change."""
    import difflib

    import yaml

    def template(daemonset: dict[str, Any]) -> list[str]:
        spec = daemonset.get("spec", {}).get("template", {})
        return yaml.safe_dump(spec, sort_keys=True).splitlines(keepends=True)

    before = template(live)
    diffs = []
    for step in plan.steps:
        objects = render(
            step.target, region, customizations=customizations, matrix=matrix, shipped=False
        )
        after = template(next(o for o in objects if o["kind"] == "DaemonSet"))
        diffs.append(
            "".join(difflib.unified_diff(before, after, str(step.source), str(step.target), n=1))
            or "(no change)\n"
        )
        before = after
    return diffs
