"""JUnit XML: one test suite for the add-on, one test case per check.

A check fails when it has a finding at or above ``--fail-on``, the same rule as the exit code, so
the CI's test view and the job's result never disagree. Every finding is in ``system-out``.
"""

from __future__ import annotations

from typing import TextIO
from xml.etree import ElementTree

from eksaddon.compat import CompatReport, Finding
from eksaddon.textsafety import for_terminal


def line(finding: Finding) -> str:
    return f"[{finding.severity}] {finding.code}: {for_terminal(finding.message)}"


def render(report: CompatReport, stream: TextIO) -> None:
    # XML 1.0 cannot carry most control characters at all, and CI systems show these texts in
    # terminals and web pages: every message is made safe first.
    suite_name = f"eksaddon check-compat {report.addon} on Kubernetes {report.kubernetes}"
    suite = ElementTree.Element("testsuite", name=suite_name)
    failures = 0
    for check in report.checks:
        findings = report.findings_for(check)
        case = ElementTree.SubElement(
            suite, "testcase", name=check, classname=f"eksaddon.check_compat.{report.addon}"
        )
        bad = [f for f in findings if report.fails(f)]
        if bad:
            failures += 1
            worst = max(bad, key=lambda f: f.severity.rank)
            failure = ElementTree.SubElement(
                case, "failure", message=for_terminal(worst.message), type=str(worst.severity)
            )
            failure.text = "\n".join(line(f) for f in bad)
        if findings:
            out = ElementTree.SubElement(case, "system-out")
            out.text = "\n".join(line(f) for f in findings)
    suite.set("tests", str(len(report.checks)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suites = ElementTree.Element("testsuites")
    suites.append(suite)
    ElementTree.indent(suites)
    stream.write(ElementTree.tostring(suites, encoding="unicode", xml_declaration=True))
    stream.write("\n")
