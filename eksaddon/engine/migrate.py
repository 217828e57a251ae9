"""``migrate``: make a self-managed VPC CNI the EKS add-on at the same version, no setting lost.

The settings running on the nodes become the add-on's configuration values (checked against the
add-on's schema first); EKS takes the DaemonSet over (resolveConflicts OVERWRITE, since every field
it manages is then given explicitly); afterwards the rollout must finish on every node and every
setting must run exactly as before, or the run stops (exit 4) with the backup named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from eksaddon.addons.base import drifted
from eksaddon.addons.vpc_cni import carry
from eksaddon.engine import journal as journals
from eksaddon.engine.catalogue import check_configuration
from eksaddon.engine.events import BackupWritten, ChangePlanned, Notice, Progress
from eksaddon.engine.install import create_and_wait, part_way
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.waiting import Clock
from eksaddon.errors import InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import AddonRequest, AddonState, ClusterInfo, EksGateway
from eksaddon.matrix.model import Matrix
from eksaddon.nodeside.helm import migration_notices
from eksaddon.planner import Step
from eksaddon.versions import AddonVersion, KubernetesVersion


class MigrateOptions(NamedTuple):
    cluster: str
    addon: str
    service_account_role_arn: str | None = None
    timeout: float = 1200.0
    poll_interval: float = 10.0
    dry_run: bool = False
    # EKS must take over fields that another manager (kubectl, eksaddon) owns: only OVERWRITE
    # does that, and it resets what is not in the configuration values, so the operator says so.
    resolve_conflicts: str | None = None


class MigrateResult(NamedTuple):
    cluster: str
    region: str
    addon: str
    version: AddonVersion
    configuration_values: str | None
    not_carried: tuple[str, ...]
    dry_run: bool
    backup: Path | None
    final: AddonState | None


def migrate(
    *,
    gateway: EksGateway,
    matrix: Matrix,
    nodes: RolloutCheck,
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
        return _migrate(
            gateway=gateway,
            matrix=matrix,
            nodes=nodes,
            options=options,
            state_directory=state_directory,
            progress=progress,
            confirm=confirm,
            clock=clock,
            cluster=cluster,
        )


def _migrate(
    *,
    gateway: EksGateway,
    matrix: Matrix,
    nodes: RolloutCheck,
    options: MigrateOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[str], bool],
    clock: Clock,
    cluster: ClusterInfo,
) -> MigrateResult:
    existing = gateway.describe_addon(cluster.name, options.addon)
    if existing is not None:
        raise InputError(
            f"{options.addon} on cluster {cluster.name} is already the EKS add-on "
            f"({existing.reported_version})",
            hint=f"use `eksaddon upgrade --cluster {cluster.name}`",
        )
    nodes.check_target(cluster)
    daemonset = nodes.kube.read_daemonset(nodes.namespace, nodes.name)
    assert daemonset is not None  # check_target refused an absent DaemonSet
    for line in migration_notices(daemonset):  # a Helm release: what stays in Helm's record
        progress(Notice(line))
    before = nodes.customizations(matrix)
    running = _running_version(daemonset, matrix, nodes)
    version = _same_release_build(gateway, options.addon, cluster.version, running)
    carried = carry({}, before)
    values = json.dumps(carried.values, sort_keys=True) if carried.carried else None
    if values is not None:
        check_configuration(
            partial(gateway.configuration_schema, options.addon),
            carried.values,
            [version],
            addon=options.addon,
            label="the settings running on the nodes",
        )
    not_carried = tuple(f"{c.container}/{c.name}" for c in carried.not_carried)
    if options.dry_run:
        return MigrateResult(
            cluster.name,
            cluster.region,
            options.addon,
            version,
            values,
            not_carried,
            True,
            None,
            None,
        )
    if not_carried:
        raise InputError(
            f"settings without a configuration key would be lost: {', '.join(not_carried)}",
            hint="move them into the add-on's configuration first, or migrate by hand",
        )
    if options.resolve_conflicts is None:
        raise InputError(
            f"migrating {options.addon} on cluster {cluster.name} lets EKS take over the "
            "objects other managers own, resetting every field not in the configuration values",
            hint="pass --resolve-conflicts overwrite to accept that (the settings on the nodes "
            "are carried; --dry-run shows them), or --resolve-conflicts none to let EKS refuse "
            "on any conflict",
        )
    carried_names = ", ".join(c.name for c in carried.carried) or "none"
    progress(
        ChangePlanned(
            f"make {options.addon} {running} on cluster {cluster.name} the EKS add-on "
            f"{version} with resolveConflicts={options.resolve_conflicts}; settings carried as "
            f"configuration values: {carried_names}",
            (f"{running} → the EKS add-on {version}",),
        )
    )
    if options.resolve_conflicts == "OVERWRITE":
        progress(
            Notice(
                "warning: resolveConflicts=OVERWRITE: EKS resets every field of the add-on's "
                "objects that was changed outside EKS; only the configuration values survive"
            )
        )
    if not confirm(
        f"make {options.addon} {running} on cluster {cluster.name} the EKS add-on {version} "
        f"with resolveConflicts={options.resolve_conflicts}"
    ):
        raise InputError("migration not confirmed; nothing was changed")
    backup = _backup(state_directory, cluster.region, cluster.name, options.addon, daemonset)
    progress(BackupWritten(backup))
    request = AddonRequest(
        cluster=cluster.name,
        addon=options.addon,
        version=version,
        resolve_conflicts=options.resolve_conflicts,
        client_request_token=f"eksaddon-migrate-{cluster.name}-{version}"[:64],
        configuration_values=values,
        service_account_role_arn=options.service_account_role_arn,
    )
    hint = f"the DaemonSet as it was is backed up in {backup}"
    final, ctx = create_and_wait(
        gateway,
        request,
        timeout=options.timeout,
        poll_interval=options.poll_interval,
        clock=clock,
        progress=progress,
        hint=hint,
    )
    nodes.expect(matrix, carried.carried)
    part_way(lambda: nodes(ctx, Step(running, version)), hint=hint)
    lost = drifted(before, part_way(lambda: nodes.live_values(matrix), hint=hint))
    if lost:
        raise UpgradeStoppedError(
            f"after the migration the settings on cluster {cluster.name} changed: "
            f"{'; '.join(lost)}",
            hint=hint,
        )
    progress(Notice(f"{options.addon} is now the EKS add-on {version}; no setting changed"))
    return MigrateResult(
        cluster.name, cluster.region, options.addon, version, values, (), False, backup, final
    )


def _running_version(
    daemonset: dict[str, Any], matrix: Matrix, nodes: RolloutCheck
) -> AddonVersion:
    from eksaddon.nodeside.detect import detect

    return detect(daemonset, matrix, label=f"DaemonSet {nodes.namespace}/{nodes.name}").version


def _same_release_build(
    gateway: EksGateway, addon: str, kubernetes: KubernetesVersion, running: AddonVersion
) -> AddonVersion:
    # The live catalogue only (an unreadable one raises: exit 3); no bundled fallback.
    entries = gateway.addon_versions(addon, kubernetes)
    same = [e.version for e in entries if e.version.release == running.release]
    if running.is_eksbuild and running in same:
        return running
    if not same:
        raise InputError(
            f"EKS offers no {addon} build of {running.release} for Kubernetes {kubernetes}",
            hint=f"upgrade the self-managed add-on to a release EKS offers first "
            f"(`eksaddon plan -k {kubernetes} --from {running} --to latest`)",
        )
    return max(same)


def _backup(
    directory: Path, region: str, cluster: str, addon: str, daemonset: dict[str, Any]
) -> Path:
    path = journals.backup_path(
        directory, region=region, cluster=cluster, addon=addon, suffix="_daemonset"
    )
    write_json_atomically(
        path,
        {
            "backup_version": 1,
            "taken_at": journals.now(),
            "region": region,
            "cluster": cluster,
            "addon": addon,
            "daemonset": daemonset,
        },
    )
    return path
