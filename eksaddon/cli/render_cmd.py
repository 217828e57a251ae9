"""``eksaddon render``: the node-side manifest of a release for a region, settings carried."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from eksaddon.cli.options import ADDON_VERSION, addon_option, global_options
from eksaddon.datafiles import read_document
from eksaddon.errors import ExitCode, InputError
from eksaddon.textsafety import for_terminal
from eksaddon.versions import AddonVersion

if TYPE_CHECKING:
    from pathlib import Path

    from eksaddon.matrix import Matrix
    from eksaddon.nodeside.detect import Customization


@click.command("render")
@addon_option
@click.option(
    "--version",
    "version",
    type=ADDON_VERSION,
    required=True,
    help="Release to render (plain vX.Y.Z, v1.7 to v1.23).",
)
@click.option(
    "--region",
    metavar="REGION",
    help="Region whose ECR registry serves the images (required "
    "for the manifest; with --helm-values: the registry the values point the chart at).",
)
@click.option(
    "--preserve-from",
    metavar="BACKUP",
    help="A DaemonSet backup (kubectl get daemonset aws-node -n kube-system -o yaml) "
    "whose custom settings the manifest carries.",
)
@click.option(
    "--helm-values",
    is_flag=True,
    help="Write a values file for the aws-vpc-cni Helm chart instead of the manifest: the "
    "chart's own keys, only what differs from its defaults (the settings of --preserve-from).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="yaml: documents for kubectl apply; json: a List.",
)
@click.pass_context
def render_command(
    ctx: click.Context,
    addon: str,
    version: AddonVersion,
    region: str | None,
    preserve_from: str | None,
    helm_values: bool,
    output: str,
) -> int:
    """Print the node-side manifest (RBAC, CRDs, ConfigMap, DaemonSet) of a release, or with
    --helm-values the Helm chart values that carry the same settings."""
    from eksaddon.nodeside.detect import detect
    from eksaddon.nodeside.render import render

    matrix = _renderable(addon, global_options(ctx).matrix)
    customizations: tuple[Customization, ...] = ()
    if preserve_from is not None:
        document = read_document(preserve_from, what="DaemonSet backup")
        customizations = detect(document, matrix, label=preserve_from).customizations
    if helm_values:
        return _helm_values(matrix, version, region, customizations, preserve_from, output)
    if region is None:
        raise InputError(
            "give --region: the manifest's images come from that region's registry",
            hint="e.g. eksaddon render --version v1.18.3 --region us-west-2",
        )
    objects = render(version, region, customizations=customizations, matrix=matrix)
    from eksaddon.nodeside.components import upstream_notes

    for note in upstream_notes(version, region.strip().lower()):
        # Upstream's file has a slip that the manifest keeps (it is what upstream ships): say so.
        click.echo(f"note: {note}", err=True)
    if output == "json":
        listing = {"apiVersion": "v1", "kind": "List", "items": objects}
        json.dump(listing, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from eksaddon.datafiles import dump_yaml as dump

        for document in objects:
            sys.stdout.write("---\n")
            dump(document, sys.stdout)
    return ExitCode.OK


def _helm_values(
    matrix: Matrix,
    version: AddonVersion,
    region: str | None,
    customizations: tuple[Customization, ...],
    source: str | None,
    output: str,
) -> int:
    from eksaddon.nodeside.helm_values import as_yaml, helm_values
    from eksaddon.nodeside.render import registry_for

    if version.is_eksbuild:
        raise InputError(
            f"{version} is an EKS add-on build; the Helm chart installs releases",
            hint=f"pass --version {version.release}",
        )
    if matrix.find_release(version) is None:
        raise InputError(f"{version} is not a known {matrix.addon} release (no such upstream tag)")
    result = helm_values(
        customizations,
        version,
        matrix,
        registry=registry_for(region) if region is not None else None,
    )
    for item, why in result.not_carried:
        sys.stderr.write(
            for_terminal(f"warning: {item.container}/{item.name} is not carried: {why}") + "\n"
        )
    if output == "json":
        json.dump(result.values, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(as_yaml(result, source=source))
    return ExitCode.OK


def _renderable(addon: str, override: Path | None) -> Matrix:
    """The matrix of an add-on whose manifests eksaddon ships; a clear refusal for any other."""
    from eksaddon.addons import DEFAULT_ADDON, profile_for

    profile = profile_for(addon, override)
    if not profile.renders_manifests:
        raise InputError(
            f"eksaddon ships no manifests for {addon}: `render` prints only the node-side "
            f"manifests it bundles (--addon {DEFAULT_ADDON})",
            hint=f"EKS installs {addon}'s objects itself: `eksaddon install --addon {addon}`",
        )
    return profile.matrix
