"""The gate over a fleet, in every format: each cluster's report carries the single-cluster
content (json: the schema_version 2 document per cluster; junit: a suite per cluster)."""

from __future__ import annotations

from typing import Any, TextIO
from xml.etree import ElementTree

from eksaddon.engine.gate_fleet import GateFleetReport, GateOutcome
from eksaddon.gate import GateReport
from eksaddon.reports.annotations import error_annotation
from eksaddon.reports.fleet_shared import (
    RESULTS,
    fleet_document,
    markdown_summary,
    result_of,
    summary_of,
    unreachable_suite,
    with_shard,
    worst,
    write_table,
)
from eksaddon.reports.gate_document import GATE_SCHEMA_VERSION, gate_document
from eksaddon.reports.gate_render import _write_junit, junit_suite, markdown_lines
from eksaddon.reports.gate_render import github_annotations as cluster_annotations
from eksaddon.textsafety import for_terminal

__all__ = ["RESULTS", "document", "github_annotations", "junit", "markdown", "result_of", "table"]


def document(report: GateFleetReport) -> dict[str, Any]:
    head = {
        "schema_version": GATE_SCHEMA_VERSION,
        "kind": "cluster-upgrade-gate-fleet",
        "target_kubernetes_version": report.target_kubernetes,
        "fail_on": str(report.fail_on),
        "shard": report.shard,
        "exit_code": int(report.exit_code),
    }
    return fleet_document(head, report.outcomes, gate_document)


def _findings(report: GateReport) -> Any:
    return (f for _, f in report.every_finding())


def _worst(outcome: GateOutcome) -> str:
    return worst(outcome, _findings)


def _phases(outcome: GateOutcome) -> str:
    if outcome.report is None:
        return "?"
    before = [v.addon for v in outcome.report.addons if str(v.phase) == "before"]
    return ", ".join(before) or "—"


def table(report: GateFleetReport, stream: TextIO) -> None:
    title = f"eksaddon gate to {report.target_kubernetes} across {len(report.outcomes)} cluster(s)"
    rows = (
        (
            o.target.name,
            o.target.region or "-",
            str(o.report.kubernetes_version) if o.report else "?",
            _phases(o),
            result_of(o),
            _worst(o),
        )
        for o in report.outcomes
    )
    columns = ("Cluster", "Region", "Kubernetes", "Before", "Result", "Worst finding")
    write_table(stream, title, report.shard, columns, rows, report.outcomes)


def markdown(report: GateFleetReport, stream: TextIO) -> None:
    summary = summary_of(report.outcomes)
    title = f"# eksaddon gate to {report.target_kubernetes} across {summary['clusters']} cluster(s)"
    lines = [
        with_shard(title, report.shard, " (shard {})"),
        "",
        markdown_summary(report.outcomes, report.fail_on),
    ]
    for o in report.outcomes:
        lines.append("")
        if o.report is None:
            lines.append(f"## {for_terminal(o.target.key)}: could not be checked")
            lines.append("")
            lines.append(for_terminal(o.error or ""))
        else:
            lines += markdown_lines(o.report)
    stream.write("\n".join(for_terminal(line) for line in lines) + "\n")


def junit(report: GateFleetReport, stream: TextIO) -> None:
    suites = ElementTree.Element("testsuites", name=f"eksaddon gate to {report.target_kubernetes}")
    for o in report.outcomes:
        if o.report is not None:
            junit_suite(o.report, suites)
        else:
            unreachable_suite(
                suites, for_terminal(o.target.key), f"eksaddon.gate.{o.target.key}", o.error
            )
    _write_junit(suites, stream)


def github_annotations(report: GateFleetReport) -> list[str]:
    lines = []
    for o in report.outcomes:
        if o.report is None:
            lines.append(error_annotation(f"eksaddon gate {o.target.key}", o.error or ""))
        else:
            lines += cluster_annotations(o.report)
    return lines
