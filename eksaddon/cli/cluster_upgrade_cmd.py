"""``eksaddon cluster-upgrade``: gate, add-ons before, the control plane, add-ons after."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from eksaddon.cli.aws_options import aws_options, cluster_option
from eksaddon.cli.options import (
    KUBERNETES_VERSION,
    Seconds,
    global_options,
    kube_options,
    output_option,
    progress_option,
)
from eksaddon.errors import ExitCode
from eksaddon.reports import OutputFormat
from eksaddon.versions import KubernetesVersion


def describe_journey(plan: object) -> str:
    """The one question a journey asks before it changes anything (with what --force sends)."""
    from eksaddon.cli.all_addons import describe_outcomes
    from eksaddon.engine.journey import JourneyPlan

    assert isinstance(plan, JourneyPlan)
    force = (
        " WITH EKS's force, overriding the upgrade insights"
        + (f" ({'; '.join(plan.overridden)})" if plan.overridden else "")
        if plan.force
        else ""
    )
    left = [t.addon for t in plan.after if t.not_carried is not None]
    kept = f" (self-managed {', '.join(left)}: not carried)" if left else ""
    return (
        f"upgrade cluster {plan.cluster} from Kubernetes {plan.source} to {plan.target}: before, "
        f"{describe_outcomes(plan.before)}; then the control plane{force}; then every add-on to "
        f"its latest build{kept}"
    )


@click.command("cluster-upgrade")
@cluster_option()
@aws_options
@click.option(
    "--to", "target", type=KUBERNETES_VERSION, required=True, help="The next Kubernetes minor."
)
@click.option(
    "--force-upgrade-insights",
    is_flag=True,
    help="Send EKS's force: update the control plane even though upgrade insights fail. Shown "
    "in the plan and asked for (--yes without a terminal).",
)
@click.option(
    "--control-plane-timeout",
    type=Seconds(1),
    default=3600,
    show_default=True,
    help="Seconds the control-plane update may take before the run stops (exit 4; a rerun "
    "follows the same update).",
)
@click.option(
    "--timeout",
    type=Seconds(1),
    default=1200,
    show_default=True,
    help="Seconds each add-on step may take before the run stops (exit 4).",
)
@click.option(
    "--poll-interval",
    type=Seconds(0.05),
    default=10,
    show_default=True,
    help="Seconds between status polls.",
)
@click.option(
    "--resolve-conflicts",
    type=click.Choice(["none", "preserve", "overwrite"], case_sensitive=False),
    default="preserve",
    show_default=True,
    help="How EKS treats add-on settings changed outside it. OVERWRITE resets them.",
)
@click.option("--dry-run", is_flag=True, help="Show the whole journey; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--discard-journal", is_flag=True, help="Set aside an unfinished journey and plan afresh."
)
@click.option(
    "--state-dir",
    "state_directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where journals and backups go (default $EKSADDON_STATE_DIR or ~/.local/state/eksaddon).",
)
@kube_options(
    "kubeconfig for the node-side rollout checks (default: $KUBECONFIG or ~/.kube/config)."
)
@click.option(
    "--skip-rollout-check",
    is_flag=True,
    help="Trust EKS's ACTIVE alone for every add-on; do not check pods on the nodes.",
)
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@progress_option
@click.pass_context
def cluster_upgrade_command(
    ctx: click.Context,
    cluster: str,
    region: str | None,
    profile: str | None,
    target: KubernetesVersion,
    force_upgrade_insights: bool,
    control_plane_timeout: float,
    timeout: float,
    poll_interval: float,
    resolve_conflicts: str,
    dry_run: bool,
    yes: bool,
    discard_journal: bool,
    state_directory: Path | None,
    kubeconfig: str | None,
    kube_context: str | None,
    skip_rollout_check: bool,
    output: str,
    progress_mode: str,
) -> int:
    """Upgrade a cluster to the next Kubernetes minor: gate, add-ons, control plane, add-ons.

    The add-on phases cover the EKS add-ons and the self-managed core add-ons found through
    Kubernetes: a self-managed vpc-cni is carried through its manifests; kube-proxy and CoreDNS
    are listed "not carried" with the `eksaddon migrate` command (refused before any change when
    the gate needs one moved before the control plane). See docs/cluster-upgrade.md.
    """
    from eksaddon.cli.all_addons import (
        CarrySettings,
        describe_plan,
        gate_runner,
        make_carry,
        self_managed_scan,
        upgrade_gateway,
    )
    from eksaddon.cli.progress import chosen_display
    from eksaddon.cli.shared import confirmer
    from eksaddon.engine.journey import Journey, JourneyOptions
    from eksaddon.engine.state import state_dir
    from eksaddon.engine.upgrade import SystemClock
    from eksaddon.reports import render

    gateway = upgrade_gateway(profile, region)
    directory = state_directory or state_dir()
    settings = CarrySettings(
        cluster=cluster,
        resolve_conflicts=resolve_conflicts.upper(),
        timeout=timeout,
        poll_interval=poll_interval,
        force=False,  # never drop an add-on's settings on a journey: refuse instead
        skip_rollout_check=skip_rollout_check,
        kubeconfig=kubeconfig,
        kube_context=kube_context,
        take_over_from_helm=False,
        matrix_override=global_options(ctx).matrix,
    )
    title = f"eksaddon cluster-upgrade · cluster {cluster} to Kubernetes {target}"
    with chosen_display(progress_mode, title=title) as progress:
        result = Journey(
            gateway=gateway,
            gate=gate_runner(
                gateway,
                matrix_override=settings.matrix_override,
                kubeconfig=kubeconfig,
                kube_context=kube_context,
                read_kubernetes=not skip_rollout_check,
            ),
            carry=make_carry(settings, gateway=gateway, state_directory=directory),
            options=JourneyOptions(
                cluster=cluster,
                target=target,
                force_upgrade_insights=force_upgrade_insights,
                control_plane_timeout=control_plane_timeout,
                poll_interval=poll_interval,
                dry_run=dry_run,
                discard_journal=discard_journal,
            ),
            state_directory=directory,
            progress=progress,
            confirm=progress.pausing(confirmer(yes, describe_journey), asks=not yes),
            confirm_changed=progress.pausing(confirmer(yes, describe_plan), asks=not yes),
            clock=SystemClock(),
            scan_self_managed=self_managed_scan(
                matrix_override=settings.matrix_override,
                kubeconfig=kubeconfig,
                kube_context=kube_context,
                read_kubernetes=not skip_rollout_check,
            ),
        ).run()
    render(result, OutputFormat(output), sys.stdout)
    return ExitCode.OK
