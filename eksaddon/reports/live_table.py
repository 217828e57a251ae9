"""Tables for the live commands (rich)."""

from __future__ import annotations

from typing import TextIO

from rich.table import Table

from eksaddon.engine.install import InstallResult
from eksaddon.engine.refresh import MatrixDiff
from eksaddon.engine.status import StatusReport
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.reports.table import console_for, plan_steps


def status(report: StatusReport, stream: TextIO) -> None:
    console = console_for(stream)
    cluster, addon = report.cluster, report.addon
    table = Table(
        title=f"{report.addon_name} on cluster {cluster.name} ({cluster.region})", show_header=False
    )
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("Kubernetes", f"{cluster.version} (platform {cluster.platform_version or '?'})")
    table.add_row("Add-on type", report.addon_type)
    if report.self_managed is not None:
        found = report.self_managed
        if found.image_tag is not None:
            table.add_row("Image tag", found.image_tag)
        table.add_row("Evidence", "; ".join(found.evidence))
        if found.next_step:
            table.add_row("Next step", found.next_step)
    if addon is not None:
        table.add_row("Version", addon.reported_version)
        table.add_row("Status", addon.status)
        issues = "; ".join(f"{i.code}: {i.message}" for i in addon.issues) or "none"
        table.add_row("Health issues", issues)
        table.add_row("Configuration values", addon.configuration_values or "none (defaults)")
        table.add_row("Service account role", addon.service_account_role_arn or "none (node role)")
    table.add_row("Latest / default", f"{report.latest or '?'} / {report.default or '?'}")
    table.add_row("Catalogue", report.catalogue_source)
    if report.catalogue_warning:
        table.add_row("Warning", report.catalogue_warning)
    update = "yes" if report.update_available else "no"
    if report.plan_problem:
        update = f"unknown: {report.plan_problem}"
    table.add_row("Update available", update)
    groups = ", ".join(f"{g.name} ({g.kubernetes_version or '?'})" for g in report.nodegroups)
    table.add_row("Node groups", groups or "none")
    fargate = ", ".join(report.fargate_profiles)
    table.add_row(
        "Fargate profiles", f"{fargate} (their CNI is not updated)" if fargate else "none"
    )
    if report.pod_identity is not None:
        pod_identity = report.pod_identity
        table.add_row("Pod identity", ", ".join(pod_identity.associations) or "none")
        table.add_row("Recommended policies", pod_identity.describe_recommended())
    _node_side_rows(report, table)
    console.print(table)
    if report.plan is not None and report.plan.steps:
        console.print("Path to the latest build:")
        plan_steps(report.plan, console)


def upgrade(result: UpgradeResult, stream: TextIO) -> None:
    console = console_for(stream)
    plan = result.plan
    if result.dry_run:
        console.print(
            f"Dry run: {plan.addon} on cluster {result.cluster} would go "
            f"{plan.current} → {plan.target} in {len(plan.steps)} step(s)."
        )
        plan_steps(plan, console)
        return
    if not plan.steps:
        console.print(f"{plan.addon} on cluster {result.cluster} is already at {plan.target}.")
        return
    final = result.final.version if result.final is not None else plan.target
    console.print(
        f"{plan.addon} on cluster {result.cluster} is now at {final} "
        f"({result.steps_done} step(s){', resumed' if result.resumed else ''})."
    )
    console.print(f"Journal: {result.journal}")
    console.print(f"Backup: {result.backup}")


def diff(report: MatrixDiff, stream: TextIO) -> None:
    console = console_for(stream)
    table = Table(title=f"{report.addon}: live catalogue ({report.region}) against {report.origin}")
    for column in ("Kubernetes", "Added (live only)", "Removed (matrix only)", "Latest", "Default"):
        table.add_column(column, overflow="fold")
    for row in report.versions:
        latest = _change(*row.latest)
        default = _change(*row.default)
        table.add_row(
            str(row.kubernetes),
            ", ".join(map(str, row.added)) or "—",
            ", ".join(map(str, row.removed)) or "—",
            latest,
            default,
        )
    console.print(table)
    console.print(
        "The matrix matches the live catalogue."
        if not report.changed
        else "The live catalogue differs: `eksaddon matrix refresh --write FILE` pins it."
    )


def _change(before: object, after: object) -> str:
    return str(after) if before == after else f"{before or '—'} → {after or '—'}"


def install(result: InstallResult, stream: TextIO) -> None:
    console = console_for(stream)
    if result.dry_run:
        console.print(
            f"Dry run: would create {result.addon} {result.version} on cluster {result.cluster}."
        )
        return
    status = result.final.status if result.final is not None else "?"
    console.print(
        f"{result.addon} {result.version} created on cluster {result.cluster} ({status})."
    )
    console.print(f"Backup: {result.backup}")


def _node_side_rows(report: StatusReport, table: Table) -> None:
    side = report.node_side
    if side is None:
        table.add_row("Node side", report.node_side_note or "not read")
        return
    if side.state != "running":
        state = f"{side.name} {side.state}" + (
            f", replaced by {side.other_cni}" if side.other_cni else ""
        )
        table.add_row("Node side", state)
        return
    if side.detected is None:  # a workload read without a defaults table
        table.add_row("Nodes run", str(side.version or f"unknown: {side.version_note}"))
        if side.rollout is not None:
            done = "complete" if side.rollout.done else f"in progress ({side.rollout.progress})"
            table.add_row("Rollout", done)
        return
    detected = side.detected
    table.add_row("Nodes run", f"{detected.version} ({detected.type_name}: {detected.type_basis})")
    custom = ", ".join(f"{c.container}/{c.name}={c.value}" for c in detected.customizations)
    table.add_row("Custom settings", custom or "none (manifest defaults)")
    if detected.helm is not None:
        table.add_row("Installed by", detected.helm.describe())
    if detected.drift:
        release = detected.version.release
        table.add_row(
            "Drift",
            f"lacks what the {release} manifest has (an upgrade restores it): "
            + "; ".join(d.describe() for d in detected.drift),
        )
    if side.rollout is not None:
        state = "complete" if side.rollout.done else f"in progress ({side.rollout.progress})"
        table.add_row("Rollout", state)
    if side.fargate_nodes:
        table.add_row("Fargate nodes", f"{len(side.fargate_nodes)} (own CNI, excluded)")
    for finding in side.findings:
        table.add_row("Warning", finding)
    if side.other_cni:
        table.add_row("Other CNI", side.other_cni)
