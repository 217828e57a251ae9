"""``eksaddon check-compat``: gate a cluster or add-on upgrade in CI; offline, live, or a fleet."""

from __future__ import annotations

import io
from pathlib import Path

import click

from eksaddon.cli.aws_options import cluster_option, make_gateway
from eksaddon.cli.options import (
    ADDON_VERSION,
    DEFAULT_ADDON,
    KUBERNETES_VERSION,
    _complete_addons,
    feature_option,
    global_options,
    kube_options,
    output_option,
    parse_type,
    type_option,
)
from eksaddon.cli.shared import emit, kube_reader
from eksaddon.compat import CompatReport, Severity, check_compat
from eksaddon.datafiles import read_document
from eksaddon.errors import ExitCode, InputError
from eksaddon.matrix import Matrix
from eksaddon.reports import OutputFormat, annotations_of, render
from eksaddon.versions import AddonVersion, KubernetesVersion

FORMATS = (
    OutputFormat.TABLE,
    OutputFormat.JSON,
    OutputFormat.YAML,
    OutputFormat.JUNIT,
    OutputFormat.MARKDOWN,
)


@click.command("check-compat")
@click.option(
    "--addon",
    "addons",
    multiple=True,
    metavar="NAME",
    help=f"Add-on whose matrix to use (default: {DEFAULT_ADDON}). With --target-kubernetes-version "
    "and --cluster or a fleet: the add-ons the gate covers (repeatable; default: every add-on).",
    shell_complete=_complete_addons,
)
@cluster_option(required=False)
@click.option("--all-clusters", is_flag=True, help="Check every cluster of each --region.")
@click.option(
    "--clusters",
    "clusters_file",
    metavar="FILE",
    help="YAML list of clusters: name, region, optional profile or role_arn.",
)
@click.option(
    "--region",
    "regions",
    metavar="REGION",
    multiple=True,
    help="AWS region (repeatable with --all-clusters).",
)
@click.option("--profile", metavar="NAME", help="AWS profile (default: the credential chain).")
@kube_options("With --cluster: kubeconfig for the node side (default: $KUBECONFIG).")
@click.option("--skip-node-side", is_flag=True, help="With --cluster: only what EKS says.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Clusters checked at once in a fleet.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Check only shard I of N (stable; shards cover every cluster exactly once).",
)
@click.option(
    "-k",
    "--kubernetes-version",
    type=KUBERNETES_VERSION,
    help="The cluster's Kubernetes version (offline check).",
)
@click.option("--addon-version", type=ADDON_VERSION, help="The installed add-on version.")
@click.option(
    "--daemonset",
    metavar="FILE",
    help="A `kubectl get daemonset aws-node -n kube-system -o yaml` backup "
    "(YAML or JSON; - for stdin).",
)
@click.option(
    "--target-kubernetes-version",
    type=KUBERNETES_VERSION,
    help="The Kubernetes version the cluster is about to move to.",
)
@type_option
@feature_option
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)
@output_option(*FORMATS)
@click.option(
    "--report-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here instead of stdout (then stdout carries annotations).",
)
@click.option(
    "--annotations",
    type=click.Choice(["github"]),
    help="Also print GitHub Actions annotations for warnings and errors.",
)
@click.pass_context
def check_compat_command(
    ctx: click.Context,
    addons: tuple[str, ...],
    cluster: str | None,
    all_clusters: bool,
    clusters_file: str | None,
    regions: tuple[str, ...],
    profile: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    skip_node_side: bool,
    concurrency: int,
    shard: str | None,
    kubernetes_version: KubernetesVersion | None,
    addon_version: AddonVersion | None,
    daemonset: str | None,
    target_kubernetes_version: KubernetesVersion | None,
    addon_type: str,
    features: tuple[str, ...],
    fail_on: str,
    output: str,
    report_file: Path | None,
    annotations: str | None,
) -> int:
    """Check an add-on version against a Kubernetes version (and the one you move to).

    Offline: -k with --addon-version or --daemonset. Live: --cluster reads both from EKS.
    Fleet: --all-clusters or --clusters FILE checks many clusters; the exit code is the worst.
    Gate: --cluster (or a fleet) with --target-kubernetes-version checks the whole cluster:
    every add-on, EKS upgrade insights, node versions and the one-minor rule.
    """
    modes = sum(bool(m) for m in (cluster, all_clusters, clusters_file))
    if modes > 1:
        raise InputError("choose one of --cluster, --all-clusters and --clusters")
    if annotations and report_file is None and output != "table":
        raise InputError(
            f"--annotations share stdout with the report: add --report-file FILE for -o {output}"
        )
    threshold = Severity(fail_on)
    if modes and target_kubernetes_version is not None:
        if kubernetes_version or addon_version or daemonset or features:
            raise InputError(
                "the cluster-upgrade gate reads every version from EKS and Kubernetes: drop -k, "
                "--addon-version, --daemonset and --feature"
            )
        from eksaddon.cli import gate_run

        if not cluster:
            return gate_run.run_gate_fleet(
                all_clusters=all_clusters,
                clusters_file=clusters_file,
                regions=regions,
                profile=profile,
                concurrency=concurrency,
                shard=shard,
                target=target_kubernetes_version,
                addons=addons,
                matrix=global_options(ctx).matrix,
                threshold=threshold,
                output=output,
                report_file=report_file,
                annotations=annotations,
            )
        if shard:
            raise InputError("--shard applies to fleets (--all-clusters or --clusters)")
        if len(regions) > 1:
            raise InputError("one --region for a single cluster (several go with --all-clusters)")
        return gate_run.run_gate(
            gateway=make_gateway(profile, regions[0] if regions else None),
            cluster=cluster,
            target=target_kubernetes_version,
            addons=addons,
            matrix=global_options(ctx).matrix,
            kube=None if skip_node_side else gate_run.kube_connector(kubeconfig, kube_context),
            threshold=threshold,
            output=output,
            report_file=report_file,
            annotations=annotations,
        )
    if len(addons) > 1:
        raise InputError(
            "--addon is repeatable only for the cluster-upgrade gate "
            "(--cluster or a fleet with --target-kubernetes-version)"
        )
    addon = addons[0] if addons else DEFAULT_ADDON
    if all_clusters or clusters_file:
        from eksaddon.addons import profile_for
        from eksaddon.cli.fleet_run import run_fleet

        # Any add-on EKS offers, as for one cluster: no matrix file means the live catalogue.
        return run_fleet(
            matrix=profile_for(addon, global_options(ctx).matrix).matrix,
            addon=addon,
            all_clusters=all_clusters,
            clusters_file=clusters_file,
            regions=regions,
            profile=profile,
            concurrency=concurrency,
            shard=shard,
            target=target_kubernetes_version,
            features=features,
            threshold=threshold,
            output=output,
            report_file=report_file,
            annotations=annotations,
        )
    if shard:
        raise InputError("--shard applies to fleets (--all-clusters or --clusters)")
    if len(regions) > 1:
        raise InputError("one --region for a single cluster (several go with --all-clusters)")
    if cluster is not None:
        if kubernetes_version or addon_version or daemonset:
            raise InputError(
                "--cluster reads the versions from EKS: drop -k, --addon-version "
                "and --daemonset, or drop --cluster to check offline"
            )
        from eksaddon.addons import profile_for
        from eksaddon.engine.status import live_check_compat

        # Any add-on EKS offers: one with no matrix file is checked on the live catalogue.
        addon_profile = profile_for(addon, global_options(ctx).matrix)
        report = live_check_compat(
            make_gateway(profile, regions[0] if regions else None),
            addon_profile.matrix,
            cluster=cluster,
            addon=addon,
            target_kubernetes=target_kubernetes_version,
            features=features,
            fail_on=threshold,
            kube=None if skip_node_side else kube_reader(kubeconfig, kube_context),
            profile=addon_profile,
        )
    else:
        report = _offline(
            global_options(ctx).load(addon),
            kubernetes_version,
            addon_version,
            daemonset,
            target_kubernetes_version,
            addon_type,
            features,
            threshold,
        )
    buffer = io.StringIO()
    render(report, OutputFormat(output), buffer)
    emit(buffer.getvalue(), annotations_of(report) if annotations else [], output, report_file)
    return ExitCode.CHECK_FAILED if report.failed else ExitCode.OK


def _offline(
    matrix: Matrix,
    kubernetes: KubernetesVersion | None,
    addon_version: AddonVersion | None,
    daemonset: str | None,
    target: KubernetesVersion | None,
    addon_type: str,
    features: tuple[str, ...],
    threshold: Severity,
) -> CompatReport:
    if kubernetes is None:
        raise InputError(
            "give --kubernetes-version (offline), --cluster (live), or "
            "--all-clusters / --clusters (fleet)",
            hint="see 'eksaddon check-compat --help'",
        )
    if (addon_version is None) == (daemonset is None):
        raise InputError(
            "give exactly one of --addon-version and --daemonset",
            hint="see 'eksaddon check-compat --help'",
        )
    detected = None
    if daemonset is not None:
        from eksaddon.nodeside.detect import detect

        document = read_document(daemonset, what="DaemonSet backup")
        detected = detect(document, matrix, label=daemonset)
    return check_compat(
        matrix,
        kubernetes=kubernetes,
        addon_version=addon_version,
        detected=detected,
        target_kubernetes=target,
        addon_type=parse_type(addon_type),
        features=features,
        fail_on=threshold,
    )
