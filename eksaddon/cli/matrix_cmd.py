"""``eksaddon matrix list/show/refresh/diff``: the bundled (or --matrix) compatibility matrices."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from eksaddon.cli.aws_options import aws_options, make_gateway
from eksaddon.cli.options import KUBERNETES_VERSION, addon_option, global_options, output_option
from eksaddon.cli.shared import write_yaml_file
from eksaddon.engine.refresh import diff, new_document, read_catalogues, refreshed_document
from eksaddon.errors import ExitCode, InputError
from eksaddon.matrix.loader import bundled_addons, has_matrix, load_bundled, load_document
from eksaddon.matrix.summary import listing, summarize
from eksaddon.reports import OutputFormat, render
from eksaddon.versions import KubernetesVersion


@click.group("matrix")
def matrix_group() -> None:
    """Show, refresh or diff the compatibility matrix."""


@matrix_group.command("list")
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
def list_command(output: str) -> int:
    """The bundled add-on matrices: as-of date, Kubernetes range, upgrade policy."""
    render(listing(load_bundled(a) for a in bundled_addons()), OutputFormat(output), sys.stdout)
    return ExitCode.OK


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


def _kubernetes_versions(
    requested: tuple[KubernetesVersion, ...], covered: list[KubernetesVersion]
) -> list[KubernetesVersion]:
    return sorted(set(requested), reverse=True) if requested else covered


@matrix_group.command("refresh")
@addon_option
@aws_options
@click.option(
    "-k",
    "--kubernetes-version",
    "kubernetes_versions",
    type=KUBERNETES_VERSION,
    multiple=True,
    help="Versions to refresh (repeatable; default: every version the "
    "matrix covers). A new version is added. Required for an add-on with no matrix.",
)
@click.option(
    "--write",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the refreshed matrix (YAML).",
)
@click.pass_context
def refresh_command(
    ctx: click.Context,
    addon: str,
    region: str | None,
    profile: str | None,
    kubernetes_versions: tuple[KubernetesVersion, ...],
    target: Path,
) -> int:
    """Write a matrix file built from the live EKS catalogue (pin it with --matrix).

    Any add-on EKS offers works: one with no matrix file starts from an empty one."""
    override = global_options(ctx).matrix
    if has_matrix(addon, override):
        raw, matrix = load_document(addon, override)
        covered = matrix.kubernetes_versions
    else:
        raw, covered = new_document(addon), []
        if not kubernetes_versions:
            raise InputError(
                f"no matrix for add-on {addon!r} says which Kubernetes versions to read",
                hint="name them with -k (for example -k 1.29 -k 1.30)",
            )
    gateway = make_gateway(profile, region)
    versions = _kubernetes_versions(kubernetes_versions, covered)
    document = refreshed_document(
        raw, read_catalogues(gateway, addon, versions), region=gateway.region
    )
    write_yaml_file(target, document, header=f"eksaddon matrix refresh ({gateway.region})")
    click.echo(
        f"wrote {target}: {addon} catalogue for Kubernetes "
        f"{', '.join(map(str, versions))} from eks:DescribeAddonVersions",
        err=True,
    )
    return ExitCode.OK


@matrix_group.command("diff")
@addon_option
@aws_options
@click.option(
    "-k",
    "--kubernetes-version",
    "kubernetes_versions",
    type=KUBERNETES_VERSION,
    multiple=True,
    help="Versions to compare (repeatable; default: all covered).",
)
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@click.pass_context
def diff_command(
    ctx: click.Context,
    addon: str,
    region: str | None,
    profile: str | None,
    kubernetes_versions: tuple[KubernetesVersion, ...],
    output: str,
) -> int:
    """How the live EKS catalogue differs from the matrix. Exit 1 when it differs."""
    matrix = global_options(ctx).load(addon)
    gateway = make_gateway(profile, region)
    versions = _kubernetes_versions(kubernetes_versions, matrix.kubernetes_versions)
    report = diff(matrix, read_catalogues(gateway, addon, versions), region=gateway.region)
    render(report, OutputFormat(output), sys.stdout)
    return ExitCode.CHECK_FAILED if report.changed else ExitCode.OK
