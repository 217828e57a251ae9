"""``eksaddon check-compat``: gate a cluster or add-on upgrade in CI, offline or live."""

from __future__ import annotations

import sys

import click

from eksaddon.cli.aws_options import aws_options, cluster_option, make_gateway
from eksaddon.cli.options import (
    ADDON_VERSION,
    KUBERNETES_VERSION,
    addon_option,
    feature_option,
    global_options,
    output_option,
    parse_type,
    type_option,
)
from eksaddon.compat import CompatReport, Severity, check_compat
from eksaddon.datafiles import read_document
from eksaddon.errors import ExitCode, InputError
from eksaddon.matrix import Matrix
from eksaddon.reports import OutputFormat, render
from eksaddon.versions import AddonVersion, KubernetesVersion


@click.command("check-compat")
@addon_option
@cluster_option(required=False)
@aws_options
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
@output_option(
    OutputFormat.TABLE,
    OutputFormat.JSON,
    OutputFormat.YAML,
    OutputFormat.JUNIT,
    OutputFormat.MARKDOWN,
)
@click.pass_context
def check_compat_command(
    ctx: click.Context,
    addon: str,
    cluster: str | None,
    region: str | None,
    profile: str | None,
    kubernetes_version: KubernetesVersion | None,
    addon_version: AddonVersion | None,
    daemonset: str | None,
    target_kubernetes_version: KubernetesVersion | None,
    addon_type: str,
    features: tuple[str, ...],
    fail_on: str,
    output: str,
) -> int:
    """Check an add-on version against a Kubernetes version (and the one you move to).

    Offline: -k with --addon-version or --daemonset. Live: --cluster reads both from EKS.
    """
    matrix = global_options(ctx).load(addon)
    threshold = Severity(fail_on)
    if cluster is not None:
        if kubernetes_version or addon_version or daemonset:
            raise InputError(
                "--cluster reads the versions from EKS: drop -k, --addon-version "
                "and --daemonset, or drop --cluster to check offline"
            )
        from eksaddon.engine.status import live_check_compat

        report = live_check_compat(
            make_gateway(profile, region),
            matrix,
            cluster=cluster,
            addon=addon,
            target_kubernetes=target_kubernetes_version,
            features=features,
            fail_on=threshold,
        )
    else:
        report = _offline(
            matrix,
            kubernetes_version,
            addon_version,
            daemonset,
            target_kubernetes_version,
            addon_type,
            features,
            threshold,
        )
    render(report, OutputFormat(output), sys.stdout)
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
            "give --kubernetes-version (offline) or --cluster (live)",
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
