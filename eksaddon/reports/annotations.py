"""GitHub Actions workflow commands (``::error``/``::warning``) for findings."""

from __future__ import annotations

from eksaddon.compat import CompatReport, Severity
from eksaddon.textsafety import for_terminal


def _escape(text: str, *, property_value: bool = False) -> str:
    # Safe for a terminal first (a CI log is one), then GitHub's workflow-command escaping: data
    # escapes % CR LF; property values also : and ,.
    text = for_terminal(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def error_annotation(subject: str, message: str) -> str:
    return f"::error title={_escape(subject, property_value=True)}::{_escape(message)}"


def report_annotations(report: CompatReport) -> list[str]:
    """A single check's annotations (the registry's entry for CompatReport)."""
    return compat_annotations(report, f"eksaddon {report.addon} on Kubernetes {report.kubernetes}")


def compat_annotations(report: CompatReport, subject: str) -> list[str]:
    """One annotation per warning or error finding, titled with ``subject``."""
    title = _escape(subject, property_value=True)
    return [
        f"::{'error' if f.severity is Severity.ERROR else 'warning'} title={title}::"
        f"{_escape(f.message)}"
        for f in report.findings
        if f.severity is not Severity.INFO
    ]
