"""The report registry: every entry names a real report class and real functions; dispatch goes by
class (a subclass finds its base's entry); each format imports only what it needs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from importlib import import_module
from typing import NamedTuple

import pytest

from eksaddon.matrix import Matrix
from eksaddon.planner import Plan, plan
from eksaddon.reports import (
    DOCUMENT_FORMATS,
    REGISTRY,
    OutputFormat,
    ReportKind,
    annotations_of,
    document,
    kind_of,
    render,
    resolve,
    type_name,
)
from eksaddon.versions import AddonVersion, KubernetesVersion


def class_at(dotted: str) -> type:
    """The class a registry key names, found the way Python would (module, then qualname)."""
    module, _, qualname = dotted.rpartition(".")
    found: object = import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    assert isinstance(found, type), dotted
    return found


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_each_key_names_the_class_that_defines_it(key: str) -> None:
    # A class moved to another module keeps working only if its key moves with it.
    assert type_name(class_at(key)) == key


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_each_reference_names_a_function(key: str) -> None:
    kind = REGISTRY[key]
    references = [kind.document, *kind.renderers.values()]
    references += [kind.annotations] if kind.annotations else []
    for reference in references:
        assert callable(resolve(reference)), reference
    # json and yaml come from the document: no report registers a renderer for them.
    assert not set(kind.renderers) & set(DOCUMENT_FORMATS)


@pytest.fixture
def a_plan(bundled: Matrix) -> Plan:
    return plan(
        bundled,
        kubernetes=KubernetesVersion.parse("1.29"),
        current=AddonVersion.parse("v1.15.0-eksbuild.2"),
        target="latest",
    )


def test_a_subclass_renders_as_its_base(a_plan: Plan) -> None:
    class Annotated(Plan):
        pass

    special = Annotated(*a_plan)
    assert kind_of(special) is REGISTRY["eksaddon.planner.Plan"]
    assert document(special) == document(a_plan)


def test_an_unregistered_report_is_a_type_error() -> None:
    class Unknown(NamedTuple):
        value: int

    with pytest.raises(TypeError, match="no report kind registered for .*Unknown"):
        render(Unknown(1), OutputFormat.JSON, io.StringIO())


def test_a_format_the_report_lacks_is_refused(a_plan: Plan) -> None:
    assert kind_of(a_plan).formats == (OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
    with pytest.raises(ValueError, match="junit output is not available"):
        render(a_plan, OutputFormat.JUNIT, io.StringIO())
    assert annotations_of(a_plan) == []  # no annotations registered for plans


def test_a_registered_kind_is_all_a_new_report_needs(
    monkeypatch: pytest.MonkeyPatch, a_plan: Plan
) -> None:
    """Registering a type by name is enough for every format it names (the gate's way in)."""

    class Verdict(NamedTuple):
        cluster: str

    monkeypatch.setitem(
        REGISTRY,
        type_name(Verdict),
        ReportKind(
            # This module as pytest imported it (its name depends on the rootdir's layout).
            document=f"{__name__}:verdict_document",
            renderers={OutputFormat.MARKDOWN: f"{__name__}:verdict_markdown"},
            annotations=f"{__name__}:verdict_annotations",
        ),
    )
    stream = io.StringIO()
    render(Verdict("prod"), OutputFormat.JSON, stream)
    assert json.loads(stream.getvalue()) == {"schema_version": 1, "cluster": "prod"}
    stream = io.StringIO()
    render(Verdict("prod"), OutputFormat.MARKDOWN, stream)
    assert stream.getvalue() == "## prod\n"
    assert annotations_of(Verdict("prod")) == ["::notice::prod"]


def verdict_document(report: NamedTuple) -> dict[str, object]:
    return {"schema_version": 1, **report._asdict()}


def verdict_markdown(report: NamedTuple, stream: io.StringIO) -> None:
    stream.write(f"## {report[0]}\n")


def verdict_annotations(report: NamedTuple) -> list[str]:
    return [f"::notice::{report[0]}"]


PROBE = """
import sys
from eksaddon.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {{"rich", "eksaddon.reports.table", "eksaddon.reports.live", "eksaddon.reports.live_table",
         "eksaddon.engine.status", "eksaddon.engine.upgrade", "eksaddon.engine.install",
         "eksaddon.engine.fleet"}}
loaded = sorted(m for m in sys.modules if m in heavy or m.startswith("rich."))
sys.stderr.write("\\nLOADED " + ",".join(loaded) + "\\n")
"""


@pytest.mark.parametrize(
    "args",
    [
        ["check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2", "-o", "json"],
        ["check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2", "-o", "junit"],
        ["plan", "-k", "1.23", "--from", "v1.6.3", "-o", "yaml"],
        ["matrix", "show", "-o", "json"],
    ],
    ids=" ".join,
)
def test_a_machine_format_of_an_offline_report_loads_no_rich_and_no_live_report(
    args: list[str],
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED "))
    assert line == "LOADED ", done.stderr
