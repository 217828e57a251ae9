"""``eksaddon matrix show``: the bundled (or --matrix) compatibility matrix."""

from __future__ import annotations

import sys

import click

from eksaddon.cli.options import KUBERNETES_VERSION, addon_option, global_options, output_option
from eksaddon.errors import ExitCode
from eksaddon.matrix.summary import summarize
from eksaddon.reports import OutputFormat, render
from eksaddon.versions import KubernetesVersion


@click.group("matrix")
def matrix_group() -> None:
    """Show the compatibility matrix."""


@matrix_group.command("show")
@addon_option
@click.option("-k", "--kubernetes-version", type=KUBERNETES_VERSION, help="Only this version.")
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@click.pass_context
def show_command(
    ctx: click.Context, addon: str, kubernetes_version: KubernetesVersion | None, output: str
) -> int:
    """Latest, default and every offered build for each Kubernetes version."""
    matrix = global_options(ctx).load(addon)
    if kubernetes_version is not None:
        matrix.entry(kubernetes_version)  # an unknown version is an error, not an empty table
    render(summarize(matrix, kubernetes_version), OutputFormat(output), sys.stdout)
    return ExitCode.OK
