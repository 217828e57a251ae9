"""Renderers: every report in every format it has, chosen by ``-o/--output``, through one registry.

json and yaml write the report's *document* (a plain JSON-ready dict, the machine contract); the
other formats (table for people, markdown and junit for CI) have a renderer of their own. Which
functions those are for a report type is data: :data:`REGISTRY` maps the report's class (by its
dotted name, so nothing is imported to look it up) to a :class:`ReportKind` naming its document
builder and renderers as ``"module:function"`` strings. A renderer's module is imported only when
that format of that report is written, so a json run never pays for rich and an offline command
never imports a live command's engine.

Registering a new report type (say ``GateReport``, defined in ``eksaddon/gate.py``)::

    "eksaddon.gate.GateReport": ReportKind(
        document="eksaddon.reports.gate_documents:gate_document",
        renderers={
            OutputFormat.TABLE: "eksaddon.reports.gate_table:render",
            OutputFormat.MARKDOWN: "eksaddon.reports.gate_markdown:render",
            OutputFormat.JUNIT: "eksaddon.reports.gate_junit:render",
        },
        annotations="eksaddon.reports.gate_annotations:annotations",
    ),

- the key is ``f"{cls.__module__}.{cls.__qualname__}"`` of the class that defines the report (a
  subclass finds its base's entry); moving the class means changing the key, and
  tests/reports/test_registry.py fails until it is;
- ``document(report) -> dict`` returns the json/yaml document (``schema_version`` first);
- each renderer is ``render(report, stream: TextIO) -> None``; json and yaml need none;
- ``annotations(report) -> list[str]`` (optional): GitHub workflow commands for ``--annotations``.

Renderer modules import only result records (report types and the records inside them), the text
helpers and each other; tests/test_layers.py holds that line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib import import_module
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from eksaddon.compat import CompatReport
    from eksaddon.matrix.summary import MatrixListing, MatrixSummary
    from eksaddon.planner import Plan

    # The offline reports (the live ones are registered the same way, by name).
    Report = MatrixSummary | MatrixListing | Plan | CompatReport


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    JUNIT = "junit"
    MARKDOWN = "markdown"

    def __str__(self) -> str:
        return self.value


# Written from the report's document, for every registered report.
DOCUMENT_FORMATS = (OutputFormat.JSON, OutputFormat.YAML)


@dataclass(frozen=True)
class ReportKind:
    """Where one report type's document builder and per-format renderers live."""

    document: str
    renderers: Mapping[OutputFormat, str] = field(default_factory=dict)
    annotations: str | None = None

    @property
    def formats(self) -> tuple[OutputFormat, ...]:
        return tuple(f for f in OutputFormat if f in DOCUMENT_FORMATS or f in self.renderers)


_R = "eksaddon.reports."
TABLE, MARKDOWN, JUNIT = OutputFormat.TABLE, OutputFormat.MARKDOWN, OutputFormat.JUNIT

REGISTRY: dict[str, ReportKind] = {
    # Offline reports.
    "eksaddon.matrix.summary.MatrixSummary": ReportKind(
        document=_R + "documents:matrix_document", renderers={TABLE: _R + "table:matrix"}
    ),
    "eksaddon.matrix.summary.MatrixListing": ReportKind(
        document=_R + "documents:listing_document", renderers={TABLE: _R + "table:listing"}
    ),
    "eksaddon.planner.Plan": ReportKind(
        document=_R + "documents:plan_document", renderers={TABLE: _R + "table:plan"}
    ),
    "eksaddon.compat.report.CompatReport": ReportKind(
        document=_R + "documents:compat_document",
        renderers={
            TABLE: _R + "table:compat",
            MARKDOWN: _R + "markdown:render",
            JUNIT: _R + "junit:render",
        },
        annotations=_R + "annotations:report_annotations",
    ),
    # The live commands' reports.
    "eksaddon.engine.status.StatusReport": ReportKind(
        document=_R + "live:status_document", renderers={TABLE: _R + "live_table:status"}
    ),
    "eksaddon.engine.refresh.MatrixDiff": ReportKind(
        document=_R + "live:diff_document", renderers={TABLE: _R + "live_table:diff"}
    ),
    "eksaddon.engine.upgrade.UpgradeResult": ReportKind(
        document=_R + "live:upgrade_document", renderers={TABLE: _R + "live_table:upgrade"}
    ),
    "eksaddon.engine.install.InstallResult": ReportKind(
        document=_R + "live:install_document", renderers={TABLE: _R + "live_table:install"}
    ),
    "eksaddon.engine.fleet.FleetReport": ReportKind(
        document=_R + "fleet:document",
        renderers={
            TABLE: _R + "fleet:table",
            MARKDOWN: _R + "fleet:markdown",
            JUNIT: _R + "fleet:junit",
        },
        annotations=_R + "fleet:github_annotations",
    ),
    # upgrade --all-addons and cluster-upgrade.
    "eksaddon.engine.all_addons_records.AllAddonsResult": ReportKind(
        document=_R + "journey:all_addons_document",
        renderers={TABLE: _R + "journey:all_addons_table"},
    ),
    "eksaddon.engine.journey_records.JourneyResult": ReportKind(
        document=_R + "journey:journey_document", renderers={TABLE: _R + "journey:journey_table"}
    ),
    # The cluster-upgrade gate (check-compat --target-kubernetes-version, live or a fleet).
    "eksaddon.gate.GateReport": ReportKind(
        document=_R + "gate_document:gate_document",
        renderers={
            TABLE: _R + "gate_render:table",
            MARKDOWN: _R + "gate_render:markdown",
            JUNIT: _R + "gate_render:junit",
        },
        annotations=_R + "gate_render:github_annotations",
    ),
    "eksaddon.engine.gate_fleet.GateFleetReport": ReportKind(
        document=_R + "gate_fleet:document",
        renderers={
            TABLE: _R + "gate_fleet:table",
            MARKDOWN: _R + "gate_fleet:markdown",
            JUNIT: _R + "gate_fleet:junit",
        },
        annotations=_R + "gate_fleet:github_annotations",
    ),
}


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def kind_of(report: object) -> ReportKind:
    """The registry entry of ``report``'s class (or of the nearest registered base class)."""
    for cls in type(report).__mro__:
        kind = REGISTRY.get(type_name(cls))
        if kind is not None:
            return kind
    raise TypeError(f"no report kind registered for {type_name(type(report))}")


def resolve(reference: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` reference names (its module imported now)."""
    module, _, name = reference.partition(":")
    function: Callable[..., Any] = getattr(import_module(module), name)
    return function


def document(report: object) -> dict[str, Any]:
    built: dict[str, Any] = resolve(kind_of(report).document)(report)
    return built


def annotations_of(report: object) -> list[str]:
    """``report``'s GitHub workflow commands (none if its type has no annotations)."""
    reference = kind_of(report).annotations
    if reference is None:
        return []
    lines: list[str] = resolve(reference)(report)
    return lines


def redacted(value: Any, redact: Callable[[str], str] | None = None) -> Any:
    """``value`` with every string passed through textsafety.redact: json and yaml carry the
    original text (their serialisers escape it), never a credential eksaddon holds."""
    if redact is None:
        from eksaddon.textsafety import redactor

        redact = redactor()  # the secrets known now, for every string of the document
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redacted(k, redact): redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, redact) for v in value]
    return value


def render(report: object, output: OutputFormat, stream: TextIO) -> None:
    """Write ``report`` to ``stream`` in ``output`` format."""
    kind = kind_of(report)
    if output is OutputFormat.JSON:
        import json

        # One write: json.dump would write each of a fleet report's ~10^5 pieces on its own.
        stream.write(json.dumps(redacted(document(report)), indent=2, ensure_ascii=False) + "\n")
    elif output is OutputFormat.YAML:
        from eksaddon.datafiles import dump_yaml

        dump_yaml(redacted(document(report)), stream)
    elif output in kind.renderers:
        resolve(kind.renderers[output])(report, stream)
    else:  # the CLI offers only the formats each command supports
        raise ValueError(f"{output} output is not available for this report")
