"""``eksaddon migrate``: a self-managed VPC CNI becomes the EKS add-on, settings intact."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from eksaddon.cli.aws_options import aws_options, cluster_option, make_gateway
from eksaddon.cli.options import (
    Seconds,
    addon_option,
    global_options,
    kube_options,
    progress_option,
)
from eksaddon.cli.progress import chosen_display
from eksaddon.cli.shared import confirmer
from eksaddon.engine.migrate import MigrateOptions, migrate
from eksaddon.engine.migrate_settings import migrate_profiled
from eksaddon.engine.state import state_dir
from eksaddon.engine.upgrade import SystemClock
from eksaddon.errors import ExitCode, InputError
from eksaddon.textsafety import for_terminal


@click.command("migrate")
@cluster_option()
@addon_option
@aws_options
@kube_options("kubeconfig of the cluster.")
@click.option(
    "--service-account-role-arn", metavar="ARN", help="IAM role for the add-on's service account."
)
@click.option("--dry-run", is_flag=True, help="Show the configuration values; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--resolve-conflicts",
    type=click.Choice(["none", "overwrite"], case_sensitive=False),
    help="Required to migrate: overwrite lets EKS take the objects over (resetting fields not "
    "in the configuration values); none makes EKS refuse on any conflict.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Migrate although settings the add-on's configuration cannot hold are lost (each is "
    "named); without it such a migration is refused before any change.",
)
@click.option("--timeout", type=Seconds(1), default=1200, show_default=True)
@click.option("--poll-interval", type=Seconds(0.05), default=10, show_default=True)
@click.option("--state-dir", "state_directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@progress_option
@click.pass_context
def migrate_command(
    ctx: click.Context,
    cluster: str,
    addon: str,
    region: str | None,
    profile: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    service_account_role_arn: str | None,
    dry_run: bool,
    yes: bool,
    resolve_conflicts: str | None,
    force: bool,
    timeout: float,
    poll_interval: float,
    state_directory: Path | None,
    output: str,
    progress_mode: str,
) -> int:
    """Make a self-managed add-on the EKS add-on at the same release; no setting may change."""
    from eksaddon.addons import profile_of
    from eksaddon.engine.rollout_check import RolloutCheck
    from eksaddon.gateways.kube import KubeGateway

    options = MigrateOptions(
        cluster=cluster,
        addon=addon,
        service_account_role_arn=service_account_role_arn,
        timeout=timeout,
        poll_interval=poll_interval,
        dry_run=dry_run,
        resolve_conflicts=resolve_conflicts.upper() if resolve_conflicts else None,
        force=force,
    )
    matrix = global_options(ctx).load(addon)
    if force and matrix.daemonset is not None:
        raise InputError(
            f"--force is not available for migrating {addon}: a setting without a "
            "configuration key stops the migration; nothing was changed",
            hint="move such settings into the add-on's configuration first (--dry-run lists them)",
        )
    display = chosen_display(
        progress_mode, title=f"eksaddon migrate · {addon} on cluster {cluster}"
    )
    kube = KubeGateway(kubeconfig=kubeconfig, context=kube_context)
    with display as progress:
        confirm = progress.pausing(confirmer(yes, str), asks=not yes)
        if matrix.daemonset is not None:  # the matrix names the DaemonSet and its settings
            result = migrate(
                gateway=make_gateway(profile, region),
                matrix=matrix,
                nodes=RolloutCheck(kube),
                options=options,
                state_directory=state_directory or state_dir(),
                progress=progress,
                confirm=confirm,
                clock=SystemClock(),
            )
        else:  # the add-on's profile reads its settings (kube-proxy, CoreDNS)
            result = migrate_profiled(
                gateway=make_gateway(profile, region),
                profile=profile_of(matrix),
                kube=kube,
                options=options,
                state_directory=state_directory or state_dir(),
                progress=progress,
                confirm=confirm,
                clock=SystemClock(),
            )
    document = {
        "schema_version": 1,
        "cluster": result.cluster,
        "region": result.region,
        "addon": result.addon,
        "version": str(result.version),
        "dry_run": result.dry_run,
        "configuration_values": result.configuration_values,
        "carried": list(result.carried),
        "not_carried": list(result.not_carried),
        "dropped": list(result.not_carried) if force and not result.dry_run else [],
        "notes": list(result.notes),
        "backup": None if result.backup is None else str(result.backup),
    }
    if output == "json":
        from eksaddon.reports import redacted

        json.dump(redacted(document), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        # The values and setting names come from the cluster's DaemonSet: shown made safe.
        verb = "would become" if result.dry_run else "is now"
        lines = [
            f"{addon} on cluster {cluster} {verb} the EKS add-on {result.version}",
            f"configuration values: {result.configuration_values or 'none'}",
        ]
        if result.carried:
            lines.append(f"settings carried: {', '.join(result.carried)}")
        lines.extend(result.notes)
        if result.not_carried:
            said = "dropped (--force)" if force else "not expressible as configuration"
            lines.append(f"{said}: {', '.join(result.not_carried)}")
        if result.backup is not None:
            lines.append(f"backup: {result.backup}")
        for line in lines:
            click.echo(for_terminal(line))
    return ExitCode.OK
