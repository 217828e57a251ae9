"""Fleet reports: every format for many clusters, and GitHub annotations."""

from __future__ import annotations

from typing import Any, TextIO
from xml.etree import ElementTree

from eksaddon.compat import Severity
from eksaddon.engine.fleet import ClusterOutcome, FleetReport
from eksaddon.errors import ExitCode
from eksaddon.reports.annotations import compat_annotations, error_annotation
from eksaddon.reports.documents import SCHEMA_VERSION, compat_document
from eksaddon.reports.junit import line
from eksaddon.textsafety import for_terminal

RESULTS = {ExitCode.OK: "passed", ExitCode.CHECK_FAILED: "failed"}


def result_of(outcome: ClusterOutcome) -> str:
    return RESULTS.get(outcome.exit_code, "error")


def document(report: FleetReport) -> dict[str, Any]:
    counts = dict.fromkeys(("passed", "failed", "error"), 0)
    for outcome in report.outcomes:
        counts[result_of(outcome)] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "addon": report.addon,
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
                "report": compat_document(o.report) if o.report is not None else None,
            }
            for o in report.outcomes
        ],
    }


def _worst(outcome: ClusterOutcome) -> str:
    if outcome.error is not None:
        return outcome.error
    assert outcome.report is not None
    ranked = sorted(outcome.report.findings, key=lambda f: f.severity.rank, reverse=True)
    bad = [f for f in ranked if f.severity is not Severity.INFO]
    return bad[0].message if bad else "all checks passed"


def table(report: FleetReport, stream: TextIO) -> None:
    from rich.table import Table

    from eksaddon.reports.table import console_for

    console = console_for(stream)
    title = f"{report.addon} across {len(report.outcomes)} cluster(s)"
    grid = Table(title=title + (f", shard {report.shard}" if report.shard else ""))
    for column in ("Cluster", "Region", "Kubernetes", "Add-on", "Result", "Worst finding"):
        grid.add_column(column, overflow="fold")
    for o in report.outcomes:
        kubernetes = str(o.report.kubernetes) if o.report else "?"
        version = str(o.report.addon_version) if o.report else "?"
        grid.add_row(
            o.target.name, o.target.region or "-", kubernetes, version, result_of(o), _worst(o)
        )
    console.print(grid)
    summary = document(report)["summary"]
    console.print(
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['error']} could not be checked"
    )


def markdown(report: FleetReport, stream: TextIO) -> None:
    summary = document(report)["summary"]
    lines = [
        f"## eksaddon check-compat: {report.addon} across {summary['clusters']} cluster(s)"
        + (f" (shard {report.shard})" if report.shard else ""),
        "",
        f"**{summary['passed']} passed · {summary['failed']} failed · {summary['error']} could "
        f"not be checked** (fail on {report.fail_on})",
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
        suite = ElementTree.SubElement(suites, "testsuite", name=o.target.key)
        if o.report is None:
            case = ElementTree.SubElement(
                suite, "testcase", name="reachable", classname=f"eksaddon.fleet.{o.target.key}"
            )
            message = for_terminal(o.error or "")
            error = ElementTree.SubElement(case, "error", message=message, type="error")
            error.text = message
            suite.set("tests", "1")
            suite.set("failures", "0")
            suite.set("errors", "1")
            continue
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
