"""``eksaddon plan``: the stepwise path from one version to another, offline."""

from __future__ import annotations

import sys

import click

from eksaddon import planner
from eksaddon.cli.options import (
    ADDON_VERSION,
    KUBERNETES_VERSION,
    TARGET,
    addon_option,
    feature_option,
    global_options,
    output_option,
    parse_type,
    type_option,
)
from eksaddon.errors import ExitCode
from eksaddon.reports import OutputFormat, render
from eksaddon.versions import AddonVersion, KubernetesVersion


@click.command("plan")
@addon_option
@click.option(
    "-k",
    "--kubernetes-version",
    type=KUBERNETES_VERSION,
    required=True,
    help="The cluster's Kubernetes version.",
)
@click.option("--from", "current", type=ADDON_VERSION, required=True, help="Current version.")
@click.option(
    "--to",
    "target",
    type=TARGET,
    default="latest",
    show_default=True,
    help="Target: a version, latest or default.",
)
@type_option
@feature_option
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@click.pass_context
def plan_command(
    ctx: click.Context,
    addon: str,
    kubernetes_version: KubernetesVersion,
    current: AddonVersion,
    target: str,
    addon_type: str,
    features: tuple[str, ...],
    output: str,
) -> int:
    """Plan a safe upgrade or downgrade, one minor version per step."""
    result = planner.plan(
        global_options(ctx).load(addon),
        kubernetes=kubernetes_version,
        current=current,
        target=target,
        addon_type=parse_type(addon_type),
        features=features,
    )
    render(result, OutputFormat(output), sys.stdout)
    return ExitCode.OK
