"""What every fleet report shares, whatever each cluster's report is (check-compat's or the
gate's): the result of an outcome, the document's summary and cluster list, the table and its
summary line, the Markdown summary, an unreachable cluster as a JUnit suite, the worst finding."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TextIO
from xml.etree import ElementTree

from eksaddon.compat import Severity
from eksaddon.engine.fleet import FleetTarget
from eksaddon.errors import ExitCode
from eksaddon.textsafety import for_terminal

RESULTS = {ExitCode.OK: "passed", ExitCode.CHECK_FAILED: "failed"}


class Outcome(Protocol):
    """One cluster's outcome in a fleet (ClusterOutcome, GateOutcome)."""

    @property
    def target(self) -> FleetTarget: ...

    @property
    def report(self) -> Any: ...

    @property
    def error(self) -> str | None: ...

    @property
    def exit_code(self) -> ExitCode: ...


def result_of(outcome: Outcome) -> str:
    return RESULTS.get(outcome.exit_code, "error")


def summary_of(outcomes: Sequence[Outcome]) -> dict[str, int]:
    counts = dict.fromkeys(("passed", "failed", "error"), 0)
    for outcome in outcomes:
        counts[result_of(outcome)] += 1
    return {"clusters": len(outcomes), **counts}


def fleet_document(
    head: dict[str, Any],
    outcomes: Sequence[Outcome],
    report_document: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """``head`` (schema, what was checked, exit code), then the summary and every cluster."""
    return {
        **head,
        "summary": summary_of(outcomes),
        "clusters": [
            {
                "cluster": o.target.name,
                "region": o.target.region,
                "result": result_of(o),
                "exit_code": int(o.exit_code),
                "error": o.error,
                "report": report_document(o.report) if o.report is not None else None,
            }
            for o in outcomes
        ],
    }


def worst(outcome: Outcome, findings: Callable[[Any], Iterable[Any]]) -> str:
    """The outcome's error, or its most severe finding above INFO, or that all passed."""
    if outcome.error is not None:
        return outcome.error
    assert outcome.report is not None
    ranked = sorted(findings(outcome.report), key=lambda f: f.severity.rank, reverse=True)
    bad = [f for f in ranked if f.severity is not Severity.INFO]
    return bad[0].message if bad else "all checks passed"


def with_shard(title: str, shard: str | None, form: str) -> str:
    return title + (form.format(shard) if shard else "")


def write_table(
    stream: TextIO,
    title: str,
    shard: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    outcomes: Sequence[Outcome],
) -> None:
    """A rich table titled ``title`` (and the shard), one row per cluster, then the fleet's
    summary line."""
    from rich.table import Table

    from eksaddon.reports.table import console_for

    console = console_for(stream)
    grid = Table(title=with_shard(title, shard, ", shard {}"))
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    console.print(grid)
    summary = summary_of(outcomes)
    console.print(
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['error']} could not be checked"
    )


def markdown_summary(outcomes: Sequence[Outcome], fail_on: Severity) -> str:
    summary = summary_of(outcomes)
    return (
        f"**{summary['passed']} passed · {summary['failed']} failed · {summary['error']} could "
        f"not be checked** (fail on {fail_on})"
    )


def unreachable_suite(
    suites: ElementTree.Element, name: str, classname: str, error: str | None
) -> None:
    """A cluster that could not be checked: one suite with one test case in error."""
    suite = ElementTree.SubElement(suites, "testsuite", name=name)
    case = ElementTree.SubElement(suite, "testcase", name="reachable", classname=classname)
    message = for_terminal(error or "")
    ElementTree.SubElement(case, "error", message=message, type="error").text = message
    suite.set("tests", "1")
    suite.set("failures", "0")
    suite.set("errors", "1")
