"""``eksaddon status``: what EKS says about a cluster's add-on."""

from __future__ import annotations

import sys

import click

from eksaddon.addons import profile_for
from eksaddon.cli.aws_options import aws_options, cluster_option, make_gateway
from eksaddon.cli.options import addon_option, global_options, kube_options, output_option
from eksaddon.cli.shared import kube_reader
from eksaddon.engine.status import collect_status
from eksaddon.errors import ExitCode
from eksaddon.reports import OutputFormat, render


@click.command("status")
@cluster_option()
@addon_option
@aws_options
@kube_options("kubeconfig for the node side (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--skip-node-side", is_flag=True, help="Report only what EKS says.")
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@click.pass_context
def status_command(
    ctx: click.Context,
    cluster: str,
    addon: str,
    region: str | None,
    profile: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    skip_node_side: bool,
    output: str,
) -> int:
    """The add-on as EKS and the nodes see it: type, version, health, settings, the path on."""
    addon_profile = profile_for(addon, global_options(ctx).matrix)
    report = collect_status(
        make_gateway(profile, region),
        addon_profile.matrix,
        cluster=cluster,
        addon=addon,
        kube=None if skip_node_side else kube_reader(kubeconfig, kube_context),
        profile=addon_profile,
    )
    render(report, OutputFormat(output), sys.stdout)
    return ExitCode.OK
