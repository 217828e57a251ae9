"""``eksaddon status``: what EKS says about a cluster's add-on."""

from __future__ import annotations

import sys

import click

from eksaddon.cli.aws_options import aws_options, cluster_option, make_gateway
from eksaddon.cli.options import addon_option, global_options, output_option
from eksaddon.engine.status import collect_status
from eksaddon.errors import ExitCode
from eksaddon.reports import OutputFormat, render


@click.command("status")
@cluster_option()
@addon_option
@aws_options
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@click.pass_context
def status_command(
    ctx: click.Context,
    cluster: str,
    addon: str,
    region: str | None,
    profile: str | None,
    output: str,
) -> int:
    """The cluster's version, the add-on's type, version, health and settings, and its path."""
    report = collect_status(
        make_gateway(profile, region), global_options(ctx).load(addon), cluster=cluster, addon=addon
    )
    render(report, OutputFormat(output), sys.stdout)
    return ExitCode.OK
