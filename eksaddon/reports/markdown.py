"""Markdown for CI job summaries (GitHub's $GITHUB_STEP_SUMMARY, GitLab MR notes)."""

from __future__ import annotations

from typing import TextIO

from eksaddon.compat import CompatReport, Severity
from eksaddon.textsafety import for_terminal

_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def _cell(text: str) -> str:
    return for_terminal(text).replace("\\", "\\\\").replace("|", "\\|")


def render(report: CompatReport, stream: TextIO) -> None:
    target = f" → {report.target_kubernetes}" if report.target_kubernetes else ""
    verdict = f"failed (findings at or above {report.fail_on})" if report.failed else "passed"
    lines = [
        f"## {report.addon} {report.addon_version} on Kubernetes {report.kubernetes}{target}",
        "",
        f"**Result:** {verdict} · type: {report.type_name} · matrix: `{report.matrix_origin}`",
        "",
        "| | Severity | Check | Finding |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {_ICON[f.severity]} | {f.severity} | {f.check} | {_cell(f.message)} |"
        for f in report.findings
    ]
    named = [("Upgrade plan", report.plan)] + [
        # The type is unknown: each path's plan, named.
        (f"Upgrade plan if it is {'the EKS add-on' if k == 'managed' else k}", p)
        for k, p in ((str(kind), path) for kind, path in report.plans)
    ]
    for title, plan in named:
        if plan is None or not plan.steps:
            continue
        lines += ["", f"### {title}", "", "| Step | From | To | Notes |", "|---|---|---|---|"]
        lines += [
            f"| {n} | {s.source} | {s.target} | {_cell('; '.join(s.notes))} |"
            for n, s in enumerate(plan.steps, start=1)
        ]
    if report.detected is not None and report.detected.customizations:
        lines += [
            "",
            "### Custom settings",
            "",
            "| Container | Setting | Value | Default |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {c.container} | `{_cell(c.name)}` | `{_cell(str(c.value))}` | "
            f"{_cell(str(c.default)) if c.default is not None else '—'} |"
            for c in report.detected.customizations
        ]
    # Each line is one line: outside text in it (versions, names) is escaped, never a newline.
    stream.write("\n".join(for_terminal(line) for line in lines) + "\n")
