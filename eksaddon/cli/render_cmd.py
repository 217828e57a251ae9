"""``eksaddon render``: the node-side manifest of a release for a region, settings carried."""

from __future__ import annotations

import json
import sys

import click

from eksaddon.cli.options import ADDON_VERSION, addon_option, global_options
from eksaddon.datafiles import read_document
from eksaddon.errors import ExitCode
from eksaddon.versions import AddonVersion


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
    "--region", required=True, metavar="REGION", help="Region whose ECR registry serves the images."
)
@click.option(
    "--preserve-from",
    metavar="BACKUP",
    help="A DaemonSet backup (kubectl get daemonset aws-node -n kube-system -o yaml) "
    "whose custom settings the manifest carries.",
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
    region: str,
    preserve_from: str | None,
    output: str,
) -> int:
    """Print the node-side manifest (RBAC, CRDs, ConfigMap, DaemonSet) of a release."""
    from eksaddon.nodeside.detect import Customization, detect
    from eksaddon.nodeside.render import render

    matrix = global_options(ctx).load(addon)
    customizations: tuple[Customization, ...] = ()
    if preserve_from is not None:
        document = read_document(preserve_from, what="DaemonSet backup")
        customizations = detect(document, matrix, label=preserve_from).customizations
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
        from eksaddon.reports.yamlout import dump

        for document in objects:
            sys.stdout.write("---\n")
            dump(document, sys.stdout)
    return ExitCode.OK
