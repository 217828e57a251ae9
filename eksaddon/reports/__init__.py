"""Renderers: one ``render(report, stream)`` per output format, chosen by ``-o/--output``.

json and yaml render the documents of :mod:`eksaddon.reports.documents`; table (rich), markdown and
junit are written for people and CI systems. Renderer modules are imported on use, so a json run
never pays for rich.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TextIO

from eksaddon.compat import CompatReport
from eksaddon.matrix.summary import MatrixListing, MatrixSummary
from eksaddon.planner import Plan

Report = MatrixSummary | MatrixListing | Plan | CompatReport


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    JUNIT = "junit"
    MARKDOWN = "markdown"

    def __str__(self) -> str:
        return self.value


def document(report: object) -> dict[str, Any]:
    from eksaddon.reports import documents

    if isinstance(report, MatrixSummary):
        return documents.matrix_document(report)
    if isinstance(report, MatrixListing):
        return documents.listing_document(report)
    if isinstance(report, Plan):
        return documents.plan_document(report)
    if isinstance(report, CompatReport):
        return documents.compat_document(report)
    # The live commands' reports: imported only when one of them renders.
    from eksaddon.engine.refresh import MatrixDiff
    from eksaddon.engine.status import StatusReport
    from eksaddon.reports import live

    if isinstance(report, StatusReport):
        return live.status_document(report)
    if isinstance(report, MatrixDiff):
        return live.diff_document(report)
    from eksaddon.engine.install import InstallResult
    from eksaddon.engine.upgrade import UpgradeResult

    if isinstance(report, UpgradeResult):
        return live.upgrade_document(report)
    if isinstance(report, InstallResult):
        return live.install_document(report)
    raise TypeError(f"no document for {type(report).__name__}")


def redacted(value: Any) -> Any:
    """``value`` with every string passed through textsafety.redact: json and yaml carry the
    original text (their serialisers escape it), never a credential eksaddon holds."""
    from eksaddon.textsafety import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redacted(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


def render(report: object, output: OutputFormat, stream: TextIO) -> None:
    """Write ``report`` to ``stream`` in ``output`` format."""
    if output is OutputFormat.JSON:
        import json

        json.dump(redacted(document(report)), stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    elif output is OutputFormat.YAML:
        from eksaddon.reports.yamlout import dump

        dump(redacted(document(report)), stream)
    elif output is OutputFormat.TABLE:
        from eksaddon.reports import table

        table.render(report, stream)
    elif output is OutputFormat.MARKDOWN and isinstance(report, CompatReport):
        from eksaddon.reports import markdown

        markdown.render(report, stream)
    elif output is OutputFormat.JUNIT and isinstance(report, CompatReport):
        from eksaddon.reports import junit

        junit.render(report, stream)
    else:  # the CLI offers only the formats each command supports
        raise ValueError(f"{output} output is not available for this report")
