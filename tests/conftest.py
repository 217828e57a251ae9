"""Shared fixtures: an isolated environment per test, the bundled matrix, and a CLI runner."""

from __future__ import annotations

import copy
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eksaddon.cli import main
from eksaddon.matrix import Matrix, load_matrix
from eksaddon.matrix.loader import BUNDLED_PACKAGE
from reliability_ledger import LEDGER
from tests_support import Result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The reliability campaign's totals, when this run included any of it."""
    if LEDGER.empty:
        return
    terminalreporter.section("eksaddon reliability summary")
    for line in LEDGER.summary():
        terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the developer's settings or share a cache or state directory with another."""
    monkeypatch.delenv("EKSADDON_MATRIX", raising=False)
    monkeypatch.setenv("EKSADDON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EKSADDON_STATE_DIR", str(tmp_path / "state"))
    # No test may look for credentials on the network (EC2 instance metadata is not ours to ask).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EKS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def bundled_raw() -> dict[str, Any]:
    """The bundled vpc-cni matrix document, parsed (tests copy it before changing it)."""
    from importlib import resources

    text = resources.files(BUNDLED_PACKAGE).joinpath("vpc-cni.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def raw_matrix(bundled_raw: dict[str, Any]) -> dict[str, Any]:
    """A private deep copy of the bundled document, free to break."""
    return copy.deepcopy(bundled_raw)


@pytest.fixture(scope="session")
def bundled() -> Matrix:
    return load_matrix("vpc-cni")


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the real CLI entry point in-process: exit code, stdout and stderr."""

    def invoke(*args: str, stdin: str | bytes | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        # A private patcher: undoing the test's own monkeypatch would also undo the isolated
        # environment (state and cache directories) for the rest of the test.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "stdout", out)
            patch.setattr(sys, "stderr", err)
            if stdin is not None:
                data = stdin.encode() if isinstance(stdin, str) else stdin
                patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
            try:
                main(list(args))
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            else:  # pragma: no cover - main always exits
                code = 0
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a named file under tmp_path with text or bytes content."""

    def writer(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return writer
