"""``eksaddon upgrade --all-addons``, and the per-add-on upgrade that ``cluster-upgrade`` shares.

``upgrade_cmd`` owns the command and its flags; it hands an ``--all-addons`` run here. The one
piece both commands need is :func:`make_carry`: the single-add-on upgrade (the same Upgrader,
rollout check and self-managed fallback as ``eksaddon upgrade --addon``), as the narrow entry
point the engines call once per add-on.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import click

from eksaddon.cli.shared import confirmer
from eksaddon.engine.all_addons import (
    NOT_CARRIED,
    AddonOutcome,
    AllAddonsRun,
    Carry,
    CarryRequest,
    ScanSelfManaged,
    latest_selection,
    targets_in_phase,
)
from eksaddon.engine.upgrade import SystemClock, UpgradeOptions, Upgrader, UpgradeResult
from eksaddon.engine.waiting import Clock
from eksaddon.errors import (
    AddonNotFoundError,
    EksAddonError,
    EnvironmentProblemError,
    ExitCode,
    InputError,
    MatrixError,
)
from eksaddon.planner import Plan
from eksaddon.reports import OutputFormat
from eksaddon.versions import KubernetesVersion

if TYPE_CHECKING:
    from eksaddon.addons.base import AddonProfile, NodeSideHook
    from eksaddon.engine.journey import GateReportLike, RunGate
    from eksaddon.gateways.kube import KubeGateway
    from eksaddon.gateways.protocols import ClusterInfo, ClusterUpgradeGateway


class CarrySettings(NamedTuple):
    """The flags of one run that apply to every add-on it carries."""

    cluster: str
    resolve_conflicts: str
    timeout: float
    poll_interval: float
    force: bool
    skip_rollout_check: bool
    kubeconfig: str | None
    kube_context: str | None
    take_over_from_helm: bool
    matrix_override: Path | None


def upgrade_gateway(profile: str | None, region: str | None) -> ClusterUpgradeGateway:
    """The AWS gateway (boto3 is imported only now)."""
    from eksaddon.cli.aws_options import make_gateway

    return make_gateway(profile, region)


def addon_profile(addon: str, override: Path | None) -> AddonProfile:
    """The add-on's profile: from ``--matrix`` when it describes this add-on, else the bundled
    matrix, else the generic profile of a live-only add-on (the registry decides)."""
    from eksaddon.addons import profile_for

    if override is not None:
        try:
            return profile_for(addon, override)
        except MatrixError:
            pass  # --matrix describes another add-on of the run
    return profile_for(addon)


def make_carry(
    settings: CarrySettings,
    *,
    gateway: ClusterUpgradeGateway,
    state_directory: Path,
    clock: Clock | None = None,
) -> Carry:
    """One add-on's upgrade (or its plan, as a dry run), exactly as ``upgrade --addon`` does:
    the profile's node-side hook, the self-managed path when there is no EKS add-on."""
    kubes: list[KubeGateway] = []  # made once, on the first add-on that needs it

    def kube_gateway() -> KubeGateway:
        if not kubes:
            from eksaddon.gateways.kube import KubeGateway

            try:
                kubes.append(
                    KubeGateway(kubeconfig=settings.kubeconfig, context=settings.kube_context)
                )
            except EksAddonError as error:
                raise type(error)(
                    error.message,
                    hint="pass --kubeconfig/--context for the node-side checks, or "
                    "--skip-rollout-check",
                ) from error
        return kubes[0]

    def node_side(profile: AddonProfile, dry_run: bool) -> NodeSideHook | None:
        from eksaddon.engine.hooks import hook_for, needs_kubernetes

        if not needs_kubernetes(profile):
            # Nothing to read on the cluster: the hook only says what is not checked (with
            # --skip-rollout-check too, as `upgrade --addon`: the line is never left out).
            return hook_for(profile, None)
        if settings.skip_rollout_check or dry_run:  # a plan needs EKS only
            return None
        return hook_for(profile, kube_gateway())

    def carry(request: CarryRequest) -> UpgradeResult:
        addon, progress = request.target.addon, request.progress
        profile = addon_profile(addon, settings.matrix_override)
        options = UpgradeOptions(
            cluster=settings.cluster,
            addon=addon,
            target=request.target.target,
            resolve_conflicts=settings.resolve_conflicts,
            timeout=settings.timeout,
            poll_interval=settings.poll_interval,
            dry_run=request.dry_run,
            force=settings.force,
        )
        hook = node_side(profile, request.dry_run)
        upgrader = Upgrader(
            gateway=gateway,
            matrix=profile.matrix,
            options=options,
            state_directory=state_directory,
            progress=progress,
            confirm=request.confirm,
            clock=clock or SystemClock(),
            node_side=hook,
            profile=profile,
        )
        try:
            return upgrader.run()
        except AddonNotFoundError as error:
            return self_managed(error, profile, options, request, hook)

    def self_managed(
        error: AddonNotFoundError,
        profile: AddonProfile,
        options: UpgradeOptions,
        request: CarryRequest,
        hook: NodeSideHook | None,
    ) -> UpgradeResult:
        """No EKS add-on: a self-managed one is upgraded by applying its manifests, as
        ``upgrade --addon`` does, when eksaddon has them and the Kubernetes API is at hand."""
        from eksaddon.engine.rollout_check import RolloutCheck
        from eksaddon.engine.selfmanaged import no_manifests, upgrade_self_managed

        if not profile.renders_manifests:
            raise no_manifests(options.addon, options.cluster) from error
        if settings.skip_rollout_check:  # it lives only on the cluster
            raise AddonNotFoundError(
                error.message,
                hint="a self-managed upgrade needs the Kubernetes API: drop --skip-rollout-check",
            ) from error
        if request.dry_run:
            from eksaddon.engine.hooks import hook_for

            hook = hook_for(profile, kube_gateway())
        if not isinstance(hook, RolloutCheck):
            raise no_manifests(options.addon, options.cluster) from error
        return upgrade_self_managed(
            gateway=gateway,
            writer=kube_gateway(),
            nodes=hook,
            matrix=profile.matrix,
            options=options,
            state_directory=state_directory,
            progress=request.progress,
            confirm=request.confirm,
            clock=clock or SystemClock(),
            take_over_from_helm=settings.take_over_from_helm,
        )

    return carry


def describe_plan(plan: Plan) -> str:
    """One add-on's plan, asked for again when it changed since the whole plan was shown."""
    return f"update {plan.addon} {plan.current} → {plan.target} in {len(plan.steps)} step(s)"


def describe_outcomes(outcomes: Sequence[AddonOutcome]) -> str:
    moving = [o for o in outcomes if o.steps]
    parts = [
        f"{o.addon}{' (self-managed)' if o.self_managed else ''} {o.version} → "
        f"{o.steps[-1].target} ({len(o.steps)} step(s))"
        for o in moving
    ]
    left = [o.addon for o in outcomes if o.state == NOT_CARRIED]
    kept = f" (self-managed {', '.join(left)}: not carried)" if left else ""
    return ("upgrade " + "; ".join(parts) if parts else "change nothing") + kept


def self_managed_scan(
    *,
    matrix_override: Path | None,
    kubeconfig: str | None,
    kube_context: str | None,
    read_kubernetes: bool,
) -> ScanSelfManaged:
    """The self-managed core add-ons of a run without a target version (and of the journey's
    after phase), found through Kubernetes as the gate finds them; not read with
    --skip-rollout-check (the run then says they are unknown)."""
    from eksaddon.cli.gate_run import kube_connector
    from eksaddon.engine.all_addons_scan import kubernetes_scan
    from eksaddon.engine.gate import matrices

    # A kubeconfig on another cluster makes them unknown (and says why), never that cluster's.
    return kubernetes_scan(
        kube_connector(kubeconfig, kube_context) if read_kubernetes else None,
        matrices(matrix_override),
        not_read="--skip-rollout-check",
    )


def gate_runner(
    gateway: ClusterUpgradeGateway,
    *,
    matrix_override: Path | None = None,
    kubeconfig: str | None = None,
    kube_context: str | None = None,
    read_kubernetes: bool = True,
) -> RunGate:
    """The cluster-upgrade gate (eksaddon/engine/gate.py, the ``gate`` row's ``gate_cluster``),
    asked for one cluster and target; Kubernetes (kubelets, self-managed add-ons) is read
    unless the run skips the node side."""
    import importlib

    try:
        engine: Any = importlib.import_module("eksaddon.engine.gate")
    except ImportError:
        engine = None
    names = ("gate_cluster", "GateRequest", "matrices")
    if engine is None or not all(hasattr(engine, name) for name in names):
        raise EnvironmentProblemError(
            "this eksaddon has no cluster-upgrade gate yet (eksaddon/engine/gate.py): the add-ons "
            "that must move before the control plane cannot be chosen; nothing was changed",
            hint="without --for-kubernetes-version every add-on goes to its latest build",
        )

    def kube(cluster: ClusterInfo) -> Any:
        # As check-compat's gate: a kubeconfig on another cluster is said, never read as this one.
        from eksaddon.cli.gate_run import kube_connector

        return kube_connector(kubeconfig, kube_context)(cluster)

    def gate(cluster: ClusterInfo, target: KubernetesVersion) -> GateReportLike:
        report = engine.gate_cluster(
            gateway,
            cluster.name,
            engine.GateRequest(target=target),
            matrix_for=engine.matrices(matrix_override),
            kube=kube if read_kubernetes else None,
            kube_note="--skip-rollout-check",
        )
        return cast("GateReportLike", report)

    return gate


def run_all_addons(
    ctx: click.Context,
    *,
    settings: CarrySettings,
    for_kubernetes_version: KubernetesVersion | None,
    profile: str | None,
    region: str | None,
    dry_run: bool,
    discard_journal: bool,
    yes: bool,
    state_directory: Path,
    output: str,
    progress_mode: str,
) -> int:
    """``upgrade --all-addons``: called by ``upgrade_cmd`` with the flags that apply."""
    from eksaddon.cli.progress import chosen_display
    from eksaddon.reports import render

    gateway = upgrade_gateway(profile, region)
    if for_kubernetes_version is None:
        scan = self_managed_scan(
            matrix_override=settings.matrix_override,
            kubeconfig=settings.kubeconfig,
            kube_context=settings.kube_context,
            read_kubernetes=not settings.skip_rollout_check,
        )

        def select(cluster: ClusterInfo) -> Any:
            return latest_selection(gateway, cluster, scan)

    else:
        gate = gate_runner(
            gateway,
            matrix_override=settings.matrix_override,
            kubeconfig=settings.kubeconfig,
            kube_context=settings.kube_context,
            read_kubernetes=not settings.skip_rollout_check,
        )
        target = for_kubernetes_version

        def select(cluster: ClusterInfo) -> Any:
            return targets_in_phase(gate(cluster, target).addons, "before")

    title = f"eksaddon upgrade · every add-on on cluster {settings.cluster}"
    with chosen_display(progress_mode, title=title) as progress:
        result = AllAddonsRun(
            gateway=gateway,
            cluster=settings.cluster,
            for_kubernetes_version=for_kubernetes_version,
            select=select,
            carry=make_carry(settings, gateway=gateway, state_directory=state_directory),
            state_directory=state_directory,
            progress=progress,
            confirm=progress.pausing(confirmer(yes, describe_outcomes), asks=not yes),
            confirm_changed=progress.pausing(confirmer(yes, describe_plan), asks=not yes),
            dry_run=dry_run,
            discard_journal=discard_journal,
        ).run()
    render(result, OutputFormat(output), sys.stdout)
    return ExitCode.OK


def refuse_single_addon_flags(ctx: click.Context, **given: object) -> None:
    """Flags that name one add-on's version or values make no sense for every add-on."""
    named = [
        f"--{name.replace('_', '-')}"
        for name, value in given.items()
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        and value not in (None, False)
    ]
    if named:
        raise InputError(
            f"{', '.join(named)} applies to one add-on, not with --all-addons; nothing was changed",
            hint="upgrade that add-on on its own with `eksaddon upgrade --addon NAME`",
        )


def upgrade_all_addons(ctx: click.Context, params: dict[str, Any]) -> int:
    """``upgrade --all-addons [--for-kubernetes-version K]`` from the upgrade command's params."""
    from eksaddon.cli.options import global_options
    from eksaddon.engine.state import state_dir

    if not params["all_addons"]:
        raise InputError("--for-kubernetes-version needs --all-addons", hint="add --all-addons")
    refuse_single_addon_flags(
        ctx,
        addon=params["addon"],
        target=params["target"],
        configuration_values=params["configuration_values"],
        service_account_role_arn=params["service_account_role_arn"],
    )
    settings = CarrySettings(
        cluster=params["cluster"],
        resolve_conflicts=str(params["resolve_conflicts"]).upper(),
        timeout=params["timeout"],
        poll_interval=params["poll_interval"],
        force=params["force"],
        skip_rollout_check=params["skip_rollout_check"],
        kubeconfig=params["kubeconfig"],
        kube_context=params["kube_context"],
        take_over_from_helm=params["take_over_from_helm"],
        matrix_override=global_options(ctx).matrix,
    )
    # (SIGTERM is already an interrupt: the boundary's signals_interrupt turns it into Ctrl-C.)
    return run_all_addons(
        ctx,
        settings=settings,
        for_kubernetes_version=params["for_kubernetes_version"],
        profile=params["profile"],
        region=params["region"],
        dry_run=params["dry_run"],
        discard_journal=params["discard_journal"],
        yes=params["yes"],
        state_directory=params["state_directory"] or state_dir(),
        output=params["output"],
        progress_mode=params["progress_mode"],
    )
