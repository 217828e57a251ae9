"""Fleet reports: every format for many clusters, and GitHub annotations."""

from __future__ import annotations

from typing import Any, TextIO
from xml.etree import ElementTree

from eksaddon.compat import CompatReport
from eksaddon.engine.fleet import ClusterOutcome, FleetReport
from eksaddon.reports.annotations import compat_annotations, error_annotation
from eksaddon.reports.documents import SCHEMA_VERSION, compat_document
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
from eksaddon.reports.junit import line
from eksaddon.textsafety import for_terminal

__all__ = ["RESULTS", "document", "github_annotations", "junit", "markdown", "result_of", "table"]


def document(report: FleetReport) -> dict[str, Any]:
    head = {
        "schema_version": SCHEMA_VERSION,
        "addon": report.addon,
        "fail_on": str(report.fail_on),
        "shard": report.shard,
        "exit_code": int(report.exit_code),
    }
    return fleet_document(head, report.outcomes, compat_document)


def _findings(report: CompatReport) -> Any:
    return report.findings


def _worst(outcome: ClusterOutcome) -> str:
    return worst(outcome, _findings)


def table(report: FleetReport, stream: TextIO) -> None:
    title = f"{report.addon} across {len(report.outcomes)} cluster(s)"
    rows = (
        (
            o.target.name,
            o.target.region or "-",
            str(o.report.kubernetes) if o.report else "?",
            str(o.report.addon_version) if o.report else "?",
            result_of(o),
            _worst(o),
        )
        for o in report.outcomes
    )
    columns = ("Cluster", "Region", "Kubernetes", "Add-on", "Result", "Worst finding")
    write_table(stream, title, report.shard, columns, rows, report.outcomes)


def markdown(report: FleetReport, stream: TextIO) -> None:
    summary = summary_of(report.outcomes)
    lines = [
        with_shard(
            f"## eksaddon check-compat: {report.addon} across {summary['clusters']} cluster(s)",
            report.shard,
            " (shard {})",
        ),
        "",
        markdown_summary(report.outcomes, report.fail_on),
        "",
        "| | Cluster | Region | Kubernetes | Add-on | Worst finding |",
        "|---|---|---|---|---|---|",
    ]
    icons = {"passed": "✅", "failed": "❌", "error": "⚠️"}
    for o in report.outcomes:
        cells = [
            icons[result_of(o)],
            o.target.name,
            o.target.region or "-",
            str(o.report.kubernetes) if o.report else "?",
            str(o.report.addon_version) if o.report else "?",
            _worst(o),
        ]
        lines.append("| " + " | ".join(for_terminal(c).replace("|", "\\|") for c in cells) + " |")
    stream.write("\n".join(lines) + "\n")


def junit(report: FleetReport, stream: TextIO) -> None:
    """A test suite per cluster, a test case per check; an unreachable cluster is one error."""
    suites = ElementTree.Element("testsuites", name=f"eksaddon check-compat {report.addon}")
    for o in report.outcomes:
        if o.report is None:
            unreachable_suite(suites, o.target.key, f"eksaddon.fleet.{o.target.key}", o.error)
            continue
        suite = ElementTree.SubElement(suites, "testsuite", name=o.target.key)
        failures = 0
        for check in o.report.checks:
            case = ElementTree.SubElement(
                suite, "testcase", name=check, classname=f"eksaddon.fleet.{o.target.key}"
            )
            bad = [f for f in o.report.findings_for(check) if o.report.fails(f)]
            if bad:
                failures += 1
                failure = ElementTree.SubElement(
                    case, "failure", message=for_terminal(bad[0].message), type=str(bad[0].severity)
                )
                failure.text = "\n".join(line(f) for f in bad)
        suite.set("tests", str(len(o.report.checks)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
    ElementTree.indent(suites)
    stream.write(ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n")


def github_annotations(report: FleetReport) -> list[str]:
    """``::error``/``::warning`` workflow commands for every warning and error, per cluster."""
    lines = []
    for o in report.outcomes:
        subject = f"eksaddon {report.addon} on {o.target.key}"
        if o.report is None:
            lines.append(error_annotation(subject, o.error or "could not be checked"))
        else:
            lines += compat_annotations(o.report, subject)
    return lines
