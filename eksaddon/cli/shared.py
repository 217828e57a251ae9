"""What several commands share beyond their options: consent, the node-side reader, where a
report goes. A command module imports these (and cli/options.py, cli/aws_options.py), never
another command's module; tests/test_layers.py holds that line."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eksaddon.errors import InputError
from eksaddon.textsafety import for_terminal

if TYPE_CHECKING:
    from eksaddon.gateways.protocols import ClusterInfo, KubernetesReader


def confirmer(yes: bool, what: Callable[[Any], str]) -> Callable[[Any], bool]:
    """The ``confirm`` callback of a changing command: ``--yes`` consents; otherwise a person at
    a terminal is asked, and anything else (CI, a pipe) is refused before a change."""

    def confirm(subject: Any) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise InputError(
                f"refusing to {what(subject)} without confirmation: standard input is not a "
                "terminal",
                hint="pass --yes to run unattended, or --dry-run to only see the plan",
            )
        # The question names what EKS and Kubernetes answered (add-ons, versions, warnings).
        return click.confirm(f"{for_terminal(what(subject))}?", default=False, err=True)

    return confirm


def kube_reader(
    kubeconfig: str | None, context: str | None
) -> Callable[[ClusterInfo], KubernetesReader]:
    """Connects to the cluster's Kubernetes API once EKS has named the cluster, refusing a
    kubeconfig that points at another cluster (status, live check-compat)."""

    def connect(cluster: ClusterInfo) -> KubernetesReader:
        from eksaddon.engine.rollout_check import ensure_same_cluster
        from eksaddon.gateways.kube import KubeGateway

        kube = KubeGateway(kubeconfig=kubeconfig, context=context)
        ensure_same_cluster(kube.host, cluster)
        return kube

    return connect


def emit(text: str, annotations: list[str], output: str, report_file: Path | None) -> None:
    """The report to stdout or --report-file; annotations to stdout; the GitHub job summary."""
    for line in annotations:
        sys.stdout.write(line + "\n")
    if report_file is not None:
        from eksaddon.engine.state import write_text_atomically

        write_text_atomically(report_file, text, mode=0o644)
    else:
        sys.stdout.write(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if output == "markdown" and summary:
        with open(summary, "a", encoding="utf-8") as stream:  # GitHub's job summary file
            stream.write(text if text.endswith("\n") else text + "\n")


def write_yaml_file(path: Path, document: Any, *, header: str) -> None:
    """Write ``document`` as YAML, atomically, with a comment line saying where it came from."""
    from eksaddon.datafiles import dump_yaml
    from eksaddon.engine.state import write_text_atomically

    stream = io.StringIO()
    stream.write(f"# {header}\n")
    dump_yaml(document, stream)
    write_text_atomically(path, stream.getvalue(), mode=0o644)
