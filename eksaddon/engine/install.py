"""``install``: create the EKS add-on where there is none, with the upgrade's care.

It plans only from the live catalogue, holds the run's lock, and writes its backup (which also
proves the state directory writable) before CreateAddon. Once CreateAddon may have been accepted,
every stop is exit 4 (part-way), never 3.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple, TypeVar

from eksaddon import configvalues, planner
from eksaddon.engine import journal as journals
from eksaddon.engine.catalogue import check_configuration, live_catalogue
from eksaddon.engine.events import BackupWritten, ChangePlanned, Progress
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.waiting import Clock, StepContext, wait_healthy
from eksaddon.errors import (
    ApiError,
    EksAddonError,
    InputError,
    UnexpectedAnswerError,
    UpgradeStoppedError,
)
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    ClusterInfo,
    EksGateway,
    PodIdentityAssociation,
)
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.versions import AddonVersion


class InstallOptions(NamedTuple):
    cluster: str
    addon: str
    version: str = planner.DEFAULT
    resolve_conflicts: str = "NONE"
    configuration_values: str | None = None
    service_account_role_arn: str | None = None
    # None: none sent (CreateAddon then creates no association).
    pod_identity_associations: tuple[PodIdentityAssociation, ...] | None = None
    timeout: float = 1200.0
    poll_interval: float = 10.0
    dry_run: bool = False


class InstallResult(NamedTuple):
    cluster: str
    region: str
    addon: str
    version: AddonVersion
    dry_run: bool
    backup: Path | None
    final: AddonState | None


def install(
    *,
    gateway: EksGateway,
    matrix: Matrix,
    options: InstallOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[str], bool],
    clock: Clock,
) -> InstallResult:
    cluster = gateway.describe_cluster(options.cluster)
    journal = journals.journal_path(
        state_directory, region=cluster.region, cluster=cluster.name, addon=options.addon
    )
    with journals.cluster_lock(journal, cluster=cluster.name, addon=options.addon):
        return _install(
            gateway=gateway,
            matrix=matrix,
            options=options,
            state_directory=state_directory,
            progress=progress,
            confirm=confirm,
            clock=clock,
            cluster=cluster,
        )


def _install(
    *,
    gateway: EksGateway,
    matrix: Matrix,
    options: InstallOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[str], bool],
    clock: Clock,
    cluster: ClusterInfo,
) -> InstallResult:
    existing = gateway.describe_addon(cluster.name, options.addon)
    if existing is not None:
        raise InputError(
            f"{options.addon} is already an EKS add-on on cluster {cluster.name} "
            f"({existing.reported_version}, {existing.status})",
            hint=f"use `eksaddon upgrade --cluster {cluster.name}`",
        )
    live = live_catalogue(gateway, matrix, cluster, options.addon)
    version, _ = planner.resolve_target(
        live, kubernetes=cluster.version, addon_type=AddonType.MANAGED, target=options.version
    )
    if options.configuration_values:
        document = configvalues.parse(
            options.configuration_values, label="the configuration values"
        )
        check_configuration(
            partial(gateway.configuration_schema, options.addon),
            document,
            [version],
            addon=options.addon,
            label="the configuration values",
        )
    if options.dry_run:
        return InstallResult(cluster.name, cluster.region, options.addon, version, True, None, None)
    progress(
        ChangePlanned(
            f"create {options.addon} {version} on cluster {cluster.name}",
            (f"create {options.addon} {version}",),
        )
    )
    if not confirm(f"create {options.addon} {version} on cluster {cluster.name}"):
        raise InputError("install not confirmed; nothing was changed")
    backup = journals.backup_path(
        state_directory, region=cluster.region, cluster=cluster.name, addon=options.addon
    )
    # Nothing to restore yet, but the record says what was there (nothing) and when.
    write_json_atomically(
        backup,
        {
            "backup_version": 1,
            "taken_at": journals.now(),
            "region": cluster.region,
            "cluster": cluster.name,
            "kubernetes_version": str(cluster.version),
            "addon": options.addon,
            "addon_version": None,
            "status": "ABSENT",
            "configuration_values": None,
            "service_account_role_arn": None,
            "arn": None,
        },
    )
    progress(BackupWritten(backup))
    request = AddonRequest(
        cluster=cluster.name,
        addon=options.addon,
        version=version,
        resolve_conflicts=options.resolve_conflicts,
        client_request_token=f"eksaddon-install-{cluster.name}-{options.addon}-{version}"[:64],
        configuration_values=options.configuration_values,
        service_account_role_arn=options.service_account_role_arn,
        pod_identity_associations=options.pod_identity_associations,
    )
    final, _ = create_and_wait(
        gateway,
        request,
        timeout=options.timeout,
        poll_interval=options.poll_interval,
        clock=clock,
        progress=progress,
        hint=f"check `eksaddon status --cluster {cluster.name}`",
    )
    return InstallResult(cluster.name, cluster.region, options.addon, version, False, backup, final)


def create_and_wait(
    gateway: EksGateway,
    request: AddonRequest,
    *,
    timeout: float,
    poll_interval: float,
    clock: Clock,
    progress: Progress,
    hint: str,
) -> tuple[AddonState, StepContext]:
    """CreateAddon, then wait until ACTIVE with no health issues (the context for what follows).

    A refusal of CreateAddon (a permanent error: denied, invalid) changed nothing and keeps its
    exit 3 (2 for bad input); a temporary one may have reached EKS after all, so it, like every
    error after CreateAddon was accepted, stops the run part-way (exit 4). So does an answer that
    does not fit the model: EKS accepted the request and may have created the add-on.
    """
    try:
        gateway.create_addon(request)
    except UnexpectedAnswerError as error:
        raise UpgradeStoppedError(error.message, hint=hint) from error
    except ApiError as error:
        if not error.temporary:
            raise
        raise UpgradeStoppedError(
            f"CreateAddon of {request.addon} {request.version} on cluster {request.cluster} "
            f"failed and may have reached EKS: {error.one_line()}",
            hint=hint,
        ) from error
    started = clock.now()
    ctx = StepContext(
        gateway,
        request.cluster,
        request.addon,
        1,
        1,
        started,
        started + timeout,
        poll_interval,
        clock,
        progress,
    )
    return part_way(lambda: wait_healthy(ctx, resume_hint=hint), hint=hint), ctx


T = TypeVar("T")


def part_way(call: Callable[[], T], *, hint: str) -> T:
    """``call`` after a change was made: any stop it raises becomes exit 4 (part-way), since a
    pipeline reads exit 3 as "nothing changed" and may throw the state away."""
    try:
        return call()
    except UpgradeStoppedError:
        raise
    except EksAddonError as error:
        raise UpgradeStoppedError(error.message, hint=hint) from error
