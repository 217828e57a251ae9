"""Tables for people, drawn with rich. On a pipe rich writes plain text without colour."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from eksaddon.compat import CompatReport, Severity
from eksaddon.matrix.model import AddonType
from eksaddon.matrix.summary import MatrixListing, MatrixSummary
from eksaddon.planner import Plan
from eksaddon.textsafety import for_terminal
from eksaddon.versions import AddonVersion

PIPE_WIDTH = 120
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "green"}


class SafeConsole(Console):
    """A rich console that shows every string it is given through textsafety.for_terminal: cells,
    titles and lines carry names, versions and messages from AWS and Kubernetes, and a newline,
    an escape sequence or a bidi override in one must show as an escape, never act."""

    def render_str(self, text: str, *args: Any, **kwargs: Any) -> Text:
        return super().render_str(for_terminal(text), *args, **kwargs)


def safe_text(text: str, style: str = "") -> Text:
    """A styled Text (which rich does not pass through render_str), made safe the same way."""
    return Text(for_terminal(text), style=style)


def console_for(stream: TextIO) -> Console:
    # Off a terminal (CI logs, files) rich would assume 80 columns; logs are read wider.
    width = None if stream.isatty() else PIPE_WIDTH
    # markup and emoji off: findings and versions are our text, and "[1/12]" or ":warning:" in a
    # message must print as written, not be read as rich markup.
    return SafeConsole(
        file=stream, highlight=False, soft_wrap=False, width=width, markup=False, emoji=False
    )


# The renderers the registry names (eksaddon/reports/__init__.py): one per report type.


def matrix(summary: MatrixSummary, stream: TextIO) -> None:
    _matrix(summary, console_for(stream))


def listing(report: MatrixListing, stream: TextIO) -> None:
    _listing(report, console_for(stream))


def plan(report: Plan, stream: TextIO) -> None:
    _plan(report, console_for(stream))


def compat(report: CompatReport, stream: TextIO) -> None:
    _compat(report, console_for(stream))


def _matrix(summary: MatrixSummary, console: Console) -> None:
    table = Table(title=f"{summary.display_name} ({summary.addon}) — {summary.origin}")
    for column in ("Kubernetes", "Latest", "Default", "Builds offered (newest first)"):
        table.add_column(column, overflow="fold")
    for row in summary.rows:
        entry = row.entry
        builds = _builds(row.builds, every=len(summary.rows) == 1)
        if not entry.catalogue_complete:
            builds += " (catalogue incomplete)"
        latest = str(entry.latest)
        if entry.latest_as_of:  # a data point, not the latest at the matrix's as_of
            from eksaddon.textsafety import for_terminal

            latest += f" (as of {for_terminal(entry.latest_as_of)})"
        table.add_row(str(entry.version), latest, str(entry.default or "unknown"), builds)
    console.print(table)
    if len(summary.rows) > 1:
        console.print("Every build of one version: eksaddon matrix show -k VERSION (or -o json).")
    if summary.as_of:
        console.print(f"Matrix as of {summary.as_of}.")


def _listing(listing: MatrixListing, console: Console) -> None:
    from eksaddon.textsafety import for_terminal

    table = Table(title="Bundled matrices")
    columns = ("Add-on", "Name", "As of", "Kubernetes", "Upgrade policy", "Builds", "Catalogue")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in listing.rows:
        covered = f"{row.kubernetes[-1]}–{row.kubernetes[0]}" if len(row.kubernetes) > 1 else ""
        table.add_row(
            row.addon,
            for_terminal(row.display_name),
            for_terminal(row.as_of or "unknown"),
            covered or str(row.kubernetes[0]),
            str(row.policy),
            str(row.builds),
            "complete" if row.catalogue_complete else "incomplete",
        )
    console.print(table)
    console.print("Details: eksaddon matrix show --addon NAME.")


def _builds(builds: tuple[AddonVersion, ...], *, every: bool) -> str:
    """Every build when one version is shown; else the count and the minors they span."""
    if not builds:
        return "none recorded"
    if every:
        return ", ".join(str(b) for b in builds)
    oldest, newest = builds[-1], builds[0]
    if oldest.minor_line == newest.minor_line:
        return f"{len(builds)} builds, all v{newest.major}.{newest.minor}"
    return f"{len(builds)} builds, v{oldest.major}.{oldest.minor}–v{newest.major}.{newest.minor}"


def _plan(plan: Plan, console: Console) -> None:
    console.print(
        f"{plan.addon} ({plan.addon_type}) on Kubernetes {plan.kubernetes}: "
        f"{plan.current} → {plan.target} ({plan.direction})"
    )
    plan_steps(plan, console)


def plan_steps(plan: Plan, console: Console) -> None:
    if not plan.steps:
        console.print("Nothing to do: already at the target.")
        return
    table = Table()
    for column in ("Step", "From", "To", "Notes"):
        table.add_column(column, overflow="fold")
    for number, step in enumerate(plan.steps, start=1):
        table.add_row(str(number), str(step.source), str(step.target), "; ".join(step.notes))
    console.print(table)
    for note in plan.notes:
        console.print(f"Note: {note}")
    for warning in plan.warnings:
        console.print(safe_text(f"Warning: {warning}", style="yellow"))


def _compat(report: CompatReport, console: Console) -> None:
    target = f" → {report.target_kubernetes}" if report.target_kubernetes else ""
    console.print(
        f"{report.addon} {report.addon_version} ({report.type_name}) on Kubernetes "
        f"{report.kubernetes}{target} — matrix: {report.matrix_origin}"
    )
    table = Table()
    for column in ("Severity", "Check", "Finding"):
        table.add_column(column, overflow="fold")
    for finding in report.findings:
        table.add_row(
            Text(str(finding.severity), style=_STYLE[finding.severity]),
            finding.check,
            finding.message,
        )
    console.print(table)
    if report.detected is not None and report.detected.customizations:
        _customizations(report, console)
    if report.plan is not None:
        console.print("Upgrade plan:")
        plan_steps(report.plan, console)
    for kind, path in report.plans:  # the type is unknown: each path's plan, named
        where = "the EKS add-on" if kind is AddonType.MANAGED else "self-managed"
        if path is None:
            console.print(f"No upgrade plan if it is {where}.")
        else:
            console.print(f"Upgrade plan if it is {where}:")
            plan_steps(path, console)


def _customizations(report: CompatReport, console: Console) -> None:
    assert report.detected is not None
    table = Table(title="Custom settings (differ from the manifest defaults)")
    for column in ("Container", "Setting", "Value", "Default"):
        table.add_column(column, overflow="fold")
    for item in report.detected.customizations:
        table.add_row(item.container, item.name, str(item.value), str(item.default or "—"))
    console.print(table)
