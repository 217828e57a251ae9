"""The gate's report in every format: table, markdown, junit, GitHub annotations, json/yaml.

junit: one test suite per cluster, a test case per add-on, per insight and per cluster-level check
(control plane, one-minor rule, node groups, kubelets...); a case fails when it has a finding at or
above ``--fail-on`` (the exit code's rule), so the CI's test view and the job's result agree.
Every outside text is shown through textsafety (terminals, XML and web pages read these).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO
from xml.etree import ElementTree

from eksaddon.compat import Finding, Severity
from eksaddon.gate import AddonVerdict, GateReport
from eksaddon.reports.annotations import _escape
from eksaddon.textsafety import for_terminal

_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def _line(finding: Finding) -> str:
    return f"[{finding.severity}] {finding.code}: {for_terminal(finding.message)}"


def _title(report: GateReport) -> str:
    return (
        f"{report.cluster} ({report.region}): Kubernetes {report.kubernetes_version} → "
        f"{report.target_kubernetes_version}"
    )


def _verdict(report: GateReport) -> str:
    errors = len(report.blocking)
    if report.failed:
        return f"failed ({errors} blocking, findings at or above {report.fail_on})"
    return "passed"


# -- junit ---------------------------------------------------------------------------------------


def _case(
    suite: ElementTree.Element,
    report: GateReport,
    classname: str,
    name: str,
    findings: Iterable[Finding],
) -> int:
    findings = list(findings)
    case = ElementTree.SubElement(suite, "testcase", name=for_terminal(name), classname=classname)
    bad = [f for f in findings if report.fails(f)]
    if bad:
        worst = max(bad, key=lambda f: f.severity.rank)
        failure = ElementTree.SubElement(
            case, "failure", message=for_terminal(worst.message), type=str(worst.severity)
        )
        failure.text = "\n".join(_line(f) for f in bad)
    if findings:
        ElementTree.SubElement(case, "system-out").text = "\n".join(_line(f) for f in findings)
    return 1 if bad else 0


def junit_suite(report: GateReport, suites: ElementTree.Element) -> None:
    key = f"{report.region}/{report.cluster}"
    suite = ElementTree.SubElement(
        suites, "testsuite", name=for_terminal(f"eksaddon gate {_title(report)}")
    )
    tests = failures = 0
    base = f"eksaddon.gate.{for_terminal(key)}"
    for verdict in report.addons:
        tests += 1
        failures += _case(suite, report, f"{base}.addons", verdict.addon, verdict.findings)
    for insight in report.insights:
        tests += 1
        name = insight.summary.name or "insights"
        failures += _case(suite, report, f"{base}.insights", name, [insight.finding])
    checks: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if finding.check != "insights":
            checks.setdefault(finding.check, []).append(finding)
    for check, findings in checks.items():
        tests += 1
        failures += _case(suite, report, f"{base}.cluster", check, findings)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")


def _write_junit(suites: ElementTree.Element, stream: TextIO) -> None:
    ElementTree.indent(suites)
    stream.write(ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n")


def junit(report: GateReport, stream: TextIO) -> None:
    suites = ElementTree.Element("testsuites")
    junit_suite(report, suites)
    _write_junit(suites, stream)


# -- markdown ------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return for_terminal(text).replace("\\", "\\\\").replace("|", "\\|")


def _version(verdict: AddonVerdict) -> str:
    return str(verdict.version or verdict.reported_version or "?")


def markdown_lines(report: GateReport, level: str = "##") -> list[str]:
    lines = [
        f"{level} eksaddon gate: {_cell(_title(report))}",
        "",
        f"**Result:** {_verdict(report)}",
        "",
        "| Add-on | Type | Version | Phase | Steps |",
        "|---|---|---|---|---|",
    ]
    for v in report.addons:
        steps = (
            " → ".join([str(v.steps[0].source), *(str(s.target) for s in v.steps)])
            if v.steps
            else "—"
        )
        lines.append(
            f"| {_cell(v.addon)} | {v.type or 'unknown'} | {_cell(_version(v))} "
            f"| {v.phase} | {_cell(steps)} |"
        )
    lines += ["", "| | Severity | Add-on | Finding |", "|---|---|---|---|"]
    lines += [
        f"| {_ICON[f.severity]} | {f.severity} | {_cell(addon or '(cluster)')} "
        f"| {_cell(f.message)} |"
        for addon, f in sorted(report.every_finding(), key=lambda i: -i[1].severity.rank)
    ]
    return lines


def markdown(report: GateReport, stream: TextIO) -> None:
    stream.write("\n".join(for_terminal(line) for line in markdown_lines(report)) + "\n")


# -- annotations ---------------------------------------------------------------------------------


def github_annotations(report: GateReport) -> list[str]:
    """``::error``/``::warning`` for each warning and error, titled with cluster and add-on."""
    lines = []
    for addon, finding in report.every_finding():
        if finding.severity is Severity.INFO:
            continue
        subject = f"eksaddon gate {report.cluster}" + (f" {addon}" if addon else "")
        kind = "error" if finding.severity is Severity.ERROR else "warning"
        lines.append(
            f"::{kind} title={_escape(subject, property_value=True)}::{_escape(finding.message)}"
        )
    return lines


# -- table ---------------------------------------------------------------------------------------


def table(report: GateReport, stream: TextIO) -> None:
    from rich.table import Table

    from eksaddon.reports.table import _STYLE, console_for, safe_text

    console = console_for(stream)
    addons = Table(title=f"eksaddon gate: {_title(report)}")
    for column in ("Add-on", "Type", "Version", "Phase", "Steps", "Source"):
        addons.add_column(column, overflow="fold")
    for v in report.addons:
        steps = " → ".join(str(s.target) for s in v.steps) or "—"
        addons.add_row(
            v.addon,
            str(v.type or "unknown"),
            str(v.version or v.reported_version or "?"),
            str(v.phase),
            steps,
            v.source,
        )
    console.print(addons)
    findings = Table(title="Findings")
    for column in ("Severity", "Add-on", "Check", "Finding"):
        findings.add_column(column, overflow="fold")
    for addon, f in sorted(report.every_finding(), key=lambda i: -i[1].severity.rank):
        findings.add_row(
            safe_text(str(f.severity), _STYLE[f.severity]), addon or "(cluster)", f.check, f.message
        )
    console.print(findings)
    console.print(f"Result: {_verdict(report)}")
