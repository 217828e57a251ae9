"""``eksaddon upgrade`` and ``eksaddon install``: change a cluster's add-on, step by step."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from eksaddon import configvalues
from eksaddon.addons import profile_for
from eksaddon.addons.base import AddonProfile, NodeSideHook
from eksaddon.cli.aws_options import aws_options, cluster_option, make_gateway
from eksaddon.cli.options import (
    KUBERNETES_VERSION,
    TARGET,
    Seconds,
    addon_option,
    global_options,
    kube_options,
    output_option,
    progress_option,
)
from eksaddon.cli.pod_identity_option import associations, pod_identity_option
from eksaddon.cli.progress import chosen_display
from eksaddon.cli.shared import confirmer
from eksaddon.engine.hooks import hook_for, needs_kubernetes
from eksaddon.engine.install import InstallOptions, install
from eksaddon.engine.state import state_dir
from eksaddon.engine.upgrade import (
    SystemClock,
    UpgradeOptions,
    Upgrader,
)
from eksaddon.errors import AddonNotFoundError, ExitCode
from eksaddon.planner import Plan
from eksaddon.reports import OutputFormat, render
from eksaddon.versions import KubernetesVersion

if TYPE_CHECKING:
    from eksaddon.engine.events import Progress
    from eksaddon.engine.upgrade import UpgradeResult
    from eksaddon.gateways.kube import KubeGateway
    from eksaddon.gateways.protocols import EksGateway

F = TypeVar("F", bound=Callable[..., Any])


def change_options(function: F) -> F:
    """Options shared by upgrade and install."""
    for decorator in reversed(
        [
            cluster_option(),
            addon_option,
            aws_options,
            click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing."),
            click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
            click.option(
                "--configuration-values",
                metavar="@FILE|JSON",
                help="Configuration values (JSON or YAML), checked against each target "
                "version's schema before anything is sent. Default: the values in use "
                "(upgrade), none (install).",
            ),
            click.option(
                "--service-account-role-arn",
                metavar="ARN",
                help="IAM role for the add-on's service account (default: keep the current).",
            ),
            pod_identity_option,
            click.option(
                "--timeout",
                type=Seconds(1),
                default=1200,
                show_default=True,
                help="Seconds each step may take before the run stops (exit 4).",
            ),
            click.option(
                "--poll-interval",
                type=Seconds(0.05),
                default=10,
                show_default=True,
                help="Seconds between status polls.",
            ),
            click.option(
                "--state-dir",
                "state_directory",
                type=click.Path(file_okay=False, path_type=Path),
                help="Where journals and backups go (default $EKSADDON_STATE_DIR or "
                "~/.local/state/eksaddon).",
            ),
            output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML),
            progress_option,
        ]
    ):
        function = decorator(function)
    return function


def _describe(plan: Plan) -> str:
    warnings = "".join(f" (warning: {w})" for w in plan.warnings)
    return (
        f"update {plan.addon} {plan.current} → {plan.target} in {len(plan.steps)} step(s){warnings}"
    )


def _kube_gateway(
    kubeconfig: str | None, context: str | None, *, dry_run: bool
) -> KubeGateway | None:
    from eksaddon.errors import EksAddonError
    from eksaddon.gateways.kube import KubeGateway

    try:
        return KubeGateway(kubeconfig=kubeconfig, context=context)
    except EksAddonError as error:
        if dry_run:  # a plan of a managed add-on needs EKS only
            return None
        raise type(error)(
            error.message,
            hint="pass --kubeconfig/--context for the node-side check, or --skip-rollout-check",
        ) from error


def _node_side(
    profile: AddonProfile,
    *,
    skip: bool,
    kubeconfig: str | None,
    context: str | None,
    dry_run: bool,
) -> tuple[NodeSideHook | None, KubeGateway | None]:
    """The profile's node-side hook and the Kubernetes gateway it reads (None: not used)."""
    if not needs_kubernetes(profile):
        # Nothing to read on the cluster: the hook only says what is not checked (with
        # --skip-rollout-check too: the live-only line is never left out).
        return hook_for(profile, None), None
    if skip:
        return None, None
    kube = _kube_gateway(kubeconfig, context, dry_run=dry_run)
    return (None, None) if kube is None else (hook_for(profile, kube), kube)


@click.command("upgrade")
@change_options
@click.option(
    "--to",
    "target",
    type=TARGET,
    default="latest",
    show_default=True,
    help="Target: a version, latest or default.",
)
@click.option(
    "--resolve-conflicts",
    type=click.Choice(["none", "preserve", "overwrite"], case_sensitive=False),
    default="preserve",
    show_default=True,
    help="How EKS treats settings changed outside it. OVERWRITE resets them.",
)
@click.option(
    "--discard-journal", is_flag=True, help="Set aside an unfinished journal and plan afresh."
)
@kube_options(
    "kubeconfig for the node-side rollout check (default: $KUBECONFIG or ~/.kube/config)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Drop settings running on the nodes that the target version no longer knows.",
)
@click.option(
    "--skip-rollout-check",
    is_flag=True,
    help="Trust EKS's ACTIVE alone; do not check the add-on's pods on the nodes.",
)
@click.option(
    "--take-over-from-helm",
    is_flag=True,
    help="Self-managed: apply the manifests even though the add-on is a Helm release (Helm's "
    "record is then stale; see docs/helm.md). Without it such an upgrade is refused.",
)
@click.option(
    "--all-addons",
    is_flag=True,
    help="Every add-on, one at a time in a documented order, under one run journal: the EKS "
    "add-ons, and the self-managed core add-ons found through Kubernetes (a self-managed "
    "vpc-cni through its manifests; kube-proxy and CoreDNS are listed 'not carried' with the "
    "`eksaddon migrate` command, exit 0). See docs/cluster-upgrade.md.",
)
@click.option(
    "--for-kubernetes-version",
    type=KUBERNETES_VERSION,
    help="With --all-addons: only the add-ons that must move before the control plane goes to "
    "this version (the gate's before phase; refused, nothing changed, if that needs a "
    "self-managed add-on eksaddon cannot upgrade). Without it: every add-on to its latest "
    "build for the cluster's version, never older than it runs.",
)
@click.pass_context
def upgrade_command(
    ctx: click.Context,
    cluster: str,
    addon: str,
    region: str | None,
    profile: str | None,
    dry_run: bool,
    yes: bool,
    configuration_values: str | None,
    service_account_role_arn: str | None,
    pod_identity_association: tuple[str, ...],
    timeout: float,
    poll_interval: float,
    state_directory: Path | None,
    output: str,
    progress_mode: str,
    target: str,
    resolve_conflicts: str,
    discard_journal: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    skip_rollout_check: bool,
    force: bool,
    take_over_from_helm: bool,
    all_addons: bool,
    for_kubernetes_version: KubernetesVersion | None,
) -> int:
    """Carry a managed add-on to a version one minor step at a time; resumable."""
    if all_addons or for_kubernetes_version is not None:
        from eksaddon.cli import all_addons as every

        return every.upgrade_all_addons(ctx, locals())
    options = UpgradeOptions(
        cluster=cluster,
        addon=addon,
        target=target,
        resolve_conflicts=resolve_conflicts.upper(),
        configuration_values=configvalues.load_option(configuration_values)
        if configuration_values
        else None,
        service_account_role_arn=service_account_role_arn,
        pod_identity_associations=associations(pod_identity_association),
        timeout=timeout,
        poll_interval=poll_interval,
        dry_run=dry_run,
        discard_journal=discard_journal,
        force=force,
    )
    gateway = make_gateway(profile, region)
    addon_profile = profile_for(addon, global_options(ctx).matrix)
    hook, kube = _node_side(
        addon_profile,
        skip=skip_rollout_check,
        kubeconfig=kubeconfig,
        context=kube_context,
        dry_run=dry_run,
    )
    display = chosen_display(
        progress_mode, title=f"eksaddon upgrade · {addon} on cluster {cluster}"
    )
    with display as progress:
        confirm = progress.pausing(confirmer(yes, _describe), asks=not yes)
        upgrader = Upgrader(
            gateway=gateway,
            matrix=addon_profile.matrix,
            options=options,
            state_directory=state_directory or state_dir(),
            progress=progress,
            confirm=confirm,
            node_side=hook,
            profile=addon_profile,
        )
        try:
            result = upgrader.run()
        except AddonNotFoundError as error:
            result = _self_managed(
                error,
                profile=addon_profile,
                gateway=gateway,
                kube=kube,
                hook=hook,
                options=options,
                state_directory=state_directory or state_dir(),
                progress=progress,
                confirm=confirm,
                take_over_from_helm=take_over_from_helm,
            )
    render(result, OutputFormat(output), sys.stdout)
    return ExitCode.OK


def _self_managed(
    error: AddonNotFoundError,
    *,
    profile: AddonProfile,
    gateway: EksGateway,
    kube: KubeGateway | None,
    hook: NodeSideHook | None,
    options: UpgradeOptions,
    state_directory: Path,
    progress: Progress,
    confirm: Callable[[Plan], bool],
    take_over_from_helm: bool,
) -> UpgradeResult:
    """No EKS add-on: a self-managed one is upgraded by applying its manifests, when eksaddon
    has them and the Kubernetes API is at hand."""
    from eksaddon.engine.rollout_check import RolloutCheck
    from eksaddon.engine.selfmanaged import no_manifests, upgrade_self_managed

    if not profile.renders_manifests:
        raise no_manifests(options.addon, options.cluster) from error
    if kube is None or not isinstance(hook, RolloutCheck):  # it lives only on the cluster
        raise AddonNotFoundError(
            error.message,
            hint="a self-managed upgrade needs the Kubernetes API: drop --skip-rollout-check",
        ) from error
    return upgrade_self_managed(
        gateway=gateway,
        writer=kube,
        nodes=hook,
        matrix=profile.matrix,
        options=options,
        state_directory=state_directory,
        progress=progress,
        confirm=confirm,
        clock=SystemClock(),
        take_over_from_helm=take_over_from_helm,
    )


@click.command("install")
@change_options
@click.option(
    "--version",
    "version",
    type=TARGET,
    default="default",
    show_default=True,
    help="Version to create: a version, latest or default (EKS's default build).",
)
@click.pass_context
def install_command(
    ctx: click.Context,
    cluster: str,
    addon: str,
    region: str | None,
    profile: str | None,
    dry_run: bool,
    yes: bool,
    configuration_values: str | None,
    service_account_role_arn: str | None,
    pod_identity_association: tuple[str, ...],
    timeout: float,
    poll_interval: float,
    state_directory: Path | None,
    output: str,
    progress_mode: str,
    version: str,
) -> int:
    """Create the EKS add-on on a cluster that has none."""
    options = InstallOptions(
        cluster=cluster,
        addon=addon,
        version=version,
        configuration_values=configvalues.load_option(configuration_values)
        if configuration_values
        else None,
        service_account_role_arn=service_account_role_arn,
        pod_identity_associations=associations(pod_identity_association),
        timeout=timeout,
        poll_interval=poll_interval,
        dry_run=dry_run,
    )
    display = chosen_display(
        progress_mode, title=f"eksaddon install · {addon} on cluster {cluster}"
    )
    with display as progress:
        result = install(
            gateway=make_gateway(profile, region),
            matrix=profile_for(addon, global_options(ctx).matrix).matrix,
            options=options,
            state_directory=state_directory or state_dir(),
            progress=progress,
            confirm=progress.pausing(confirmer(yes, str), asks=not yes),
            clock=SystemClock(),
        )
    render(result, OutputFormat(output), sys.stdout)
    return ExitCode.OK
