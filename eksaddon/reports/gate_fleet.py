"""The gate over a fleet, in every format: each cluster's report carries the single-cluster
content (json: the schema_version 2 document per cluster; junit: a suite per cluster)."""

from __future__ import annotations

from typing import Any, TextIO
from xml.etree import ElementTree

from eksaddon.compat import Severity
from eksaddon.engine.gate_fleet import GateFleetReport, GateOutcome
from eksaddon.errors import ExitCode
from eksaddon.reports.annotations import error_annotation
from eksaddon.reports.gate_document import GATE_SCHEMA_VERSION, gate_document
from eksaddon.reports.gate_render import _write_junit, junit_suite, markdown_lines
from eksaddon.reports.gate_render import github_annotations as cluster_annotations
from eksaddon.textsafety import for_terminal

RESULTS = {ExitCode.OK: "passed", ExitCode.CHECK_FAILED: "failed"}


def result_of(outcome: GateOutcome) -> str:
    return RESULTS.get(outcome.exit_code, "error")


def document(report: GateFleetReport) -> dict[str, Any]:
    counts = dict.fromkeys(("passed", "failed", "error"), 0)
    for outcome in report.outcomes:
        counts[result_of(outcome)] += 1
    return {
        "schema_version": GATE_SCHEMA_VERSION,
        "kind": "cluster-upgrade-gate-fleet",
        "target_kubernetes_version": report.target_kubernetes,
        "fail_on": str(report.fail_on),
        "shard": report.shard,
        "exit_code": int(report.exit_code),
        "summary": {"clusters": len(report.outcomes), **counts},
        "clusters": [
            {
                "cluster": o.target.name,
                "region": o.target.region,
                "result": result_of(o),
                "exit_code": int(o.exit_code),
                "error": o.error,
                "report": gate_document(o.report) if o.report is not None else None,
            }
            for o in report.outcomes
        ],
    }


def _worst(outcome: GateOutcome) -> str:
    if outcome.error is not None:
        return outcome.error
    assert outcome.report is not None
    ranked = sorted((f for _, f in outcome.report.every_finding()), key=lambda f: -f.severity.rank)
    bad = [f for f in ranked if f.severity is not Severity.INFO]
    return bad[0].message if bad else "all checks passed"


def _phases(outcome: GateOutcome) -> str:
    if outcome.report is None:
        return "?"
    before = [v.addon for v in outcome.report.addons if str(v.phase) == "before"]
    return ", ".join(before) or "—"


def table(report: GateFleetReport, stream: TextIO) -> None:
    from rich.table import Table

    from eksaddon.reports.table import console_for

    console = console_for(stream)
    title = f"eksaddon gate to {report.target_kubernetes} across {len(report.outcomes)} cluster(s)"
    grid = Table(title=title + (f", shard {report.shard}" if report.shard else ""))
    for column in ("Cluster", "Region", "Kubernetes", "Before", "Result", "Worst finding"):
        grid.add_column(column, overflow="fold")
    for o in report.outcomes:
        kubernetes = str(o.report.kubernetes_version) if o.report else "?"
        grid.add_row(
            o.target.name, o.target.region or "-", kubernetes, _phases(o), result_of(o), _worst(o)
        )
    console.print(grid)
    summary = document(report)["summary"]
    console.print(
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['error']} could not be checked"
    )


def markdown(report: GateFleetReport, stream: TextIO) -> None:
    summary = document(report)["summary"]
    lines = [
        f"# eksaddon gate to {report.target_kubernetes} across {summary['clusters']} cluster(s)"
        + (f" (shard {report.shard})" if report.shard else ""),
        "",
        f"**{summary['passed']} passed · {summary['failed']} failed · {summary['error']} could "
        f"not be checked** (fail on {report.fail_on})",
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
            continue
        suite = ElementTree.SubElement(suites, "testsuite", name=for_terminal(o.target.key))
        case = ElementTree.SubElement(
            suite, "testcase", name="reachable", classname=f"eksaddon.gate.{o.target.key}"
        )
        message = for_terminal(o.error or "")
        ElementTree.SubElement(case, "error", message=message, type="error").text = message
        suite.set("tests", "1")
        suite.set("failures", "0")
        suite.set("errors", "1")
    _write_junit(suites, stream)


def github_annotations(report: GateFleetReport) -> list[str]:
    lines = []
    for o in report.outcomes:
        if o.report is None:
            lines.append(error_annotation(f"eksaddon gate {o.target.key}", o.error or ""))
        else:
            lines += cluster_annotations(o.report)
    return lines
