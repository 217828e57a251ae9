"""The layers hold: import-linter's contracts (.importlinter) and the rules that go by file name.

Every import counts: module-level, inside functions (the lazy ones that keep start-up fast) and
under TYPE_CHECKING. An exception is listed with its reason; the test fails on any new violation
and on an exception that no longer happens, so the lists only shrink.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import re
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "eksaddon"

# Which modules may import each SDK (and the HTTP client under it), by module name.
SDK_HOMES = {
    "boto3": r"eksaddon\.gateways\.aws\w*",
    "botocore": r"eksaddon\.gateways\.aws\w*",
    "kubernetes": r"eksaddon\.gateways\.kube\w*",
    "urllib3": r"eksaddon\.gateways\.kube\w*",
}
CONCRETE_GATEWAY = re.compile(r"eksaddon\.gateways\.(aws|kube)\w*")
# The CLI builds the concrete gateways and hands them to the engine; nothing else may.
WIRES_GATEWAYS = re.compile(r"eksaddon\.(cli|gateways)(\..+)?")
# Domain and engine code never prints: click and rich belong to the CLI and the reports.
TERMINAL_LIBRARIES = ("click", "rich")
TERMINAL_HOMES = re.compile(r"eksaddon\.(cli|reports)(\..+)?")
# What reports may import besides result records (and each other): text made safe for a terminal,
# and the one YAML writer -o yaml shares with the other YAML eksaddon writes.
REPORT_HELPERS: dict[str, set[str] | None] = {  # None: any name
    "eksaddon.textsafety": None,
    "eksaddon.datafiles": {"dump_yaml"},
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("eksaddon", include_external_packages=True, cache_dir=None)


def test_the_import_linter_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    code = lint_imports(config_filename=str(REPO / ".importlinter"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def direct_importers(graph: grimp.ImportGraph, imported: str) -> set[str]:
    return {
        m for m in graph.find_modules_that_directly_import(imported) if m.startswith("eksaddon")
    }


@pytest.mark.parametrize("sdk", sorted(SDK_HOMES))
def test_each_sdk_is_imported_only_by_its_gateway(graph: grimp.ImportGraph, sdk: str) -> None:
    importers = direct_importers(graph, sdk)
    if sdk in ("boto3", "kubernetes"):  # the graph sees external imports at all
        assert importers, f"nothing imports {sdk}"
    assert {m for m in importers if not re.fullmatch(SDK_HOMES[sdk], m)} == set()


def test_only_the_cli_builds_concrete_gateways(graph: grimp.ImportGraph) -> None:
    concrete = [m for m in graph.modules if CONCRETE_GATEWAY.fullmatch(m)]
    importers = {m for g in concrete for m in direct_importers(graph, g)}
    assert {m for m in importers if not WIRES_GATEWAYS.fullmatch(m)} == set()


@pytest.mark.parametrize("library", TERMINAL_LIBRARIES)
def test_only_the_cli_and_reports_touch_the_terminal(
    graph: grimp.ImportGraph, library: str
) -> None:
    importers = direct_importers(graph, library)
    assert {m for m in importers if not TERMINAL_HOMES.fullmatch(m)} == set()


def test_commands_never_import_each_other(graph: grimp.ImportGraph) -> None:
    """A command module shares through cli/shared.py, options.py, aws_options.py, never through
    another command's module (directly or through a chain)."""
    commands = sorted(m for m in graph.modules if re.fullmatch(r"eksaddon\.cli\.\w+_cmd", m))
    assert len(commands) >= 7, commands
    chains = [
        graph.find_shortest_chain(importer=a, imported=b)
        for a in commands
        for b in commands
        if a != b
    ]
    assert [c for c in chains if c is not None] == []


def imports_in(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """Every import in a module, wherever it is (module level, functions, TYPE_CHECKING):
    (module, names imported from it, line). A plain ``import x`` imports no names."""
    found: list[tuple[str, tuple[str, ...], int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, tuple(a.name for a in node.names), node.lineno))
    return found


def is_record(value: Any) -> bool:
    """A result record: a NamedTuple, a dataclass or an Enum (data, not behaviour)."""
    if not isinstance(value, type):
        return False
    named_tuple = issubclass(value, tuple) and hasattr(value, "_fields")
    return named_tuple or dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)


def report_modules() -> list[Path]:
    return sorted((PACKAGE / "reports").glob("*.py"))


@pytest.mark.parametrize("path", report_modules(), ids=lambda p: p.name)
def test_reports_import_only_result_records(path: Path) -> None:
    """What a renderer takes from outside eksaddon.reports is result records (the report types
    and the records inside them) and the terminal-text helpers: never a function that does
    work, so rendering can never call the engine, a gateway or the CLI."""
    not_records = []
    for module, names, line in imports_in(path):
        if not module.startswith("eksaddon") or module.startswith("eksaddon.reports"):
            continue
        allowed = REPORT_HELPERS.get(module, set())
        if allowed is None:
            continue
        names = tuple(n for n in names if n not in allowed)
        if not names and module not in REPORT_HELPERS:
            not_records.append(f"line {line}: import {module}")
        loaded = importlib.import_module(module)
        not_records += [
            f"line {line}: {module}.{name}"
            for name in names
            if not is_record(getattr(loaded, name))
        ]
    assert not_records == []


def test_the_rules_see_lazy_and_type_checking_imports() -> None:
    """The walk finds imports inside functions and under TYPE_CHECKING (guards the guard)."""
    found = {m for m, _, _ in imports_in(PACKAGE / "reports" / "documents.py")}
    assert "eksaddon.nodeside.detect" in found  # under TYPE_CHECKING there
    found = {m for m, _, _ in imports_in(PACKAGE / "reports" / "__init__.py")}
    assert "eksaddon.textsafety" in found  # inside redacted()
    assert not is_record(importlib.import_module("eksaddon.compat").check_compat)
    assert is_record(importlib.import_module("eksaddon.compat").CompatReport)
