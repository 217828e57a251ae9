"""Shared fixtures: an isolated environment per test, the bundled matrix, and a CLI runner."""

from __future__ import annotations

import copy
import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import bytecode_cache  # noqa: F401 - first of ours: before eksaddon is imported
from eksaddon.cli import main
from eksaddon.matrix import Matrix, load_matrix
from eksaddon.matrix.loader import BUNDLED_PACKAGE
from reliability_ledger import LEDGER
from tests_support import Result
from virtual_clock import FastForwardClock
from warm_cli import close_shared
from worker_ledgers import merge_into, to_wire

LEDGER_OUTPUT = "eksaddon_reliability_ledger"


def _share_botocore_data_loader() -> None:
    """Every botocore session of the test process shares one data loader.

    A CLI process makes one session and parses botocore's JSON models once; the in-process CLI
    runs (and moto, which makes a session for each ARN it checks) would parse them again for
    every run, which was a sixth of the fault matrix's CPU time. A shared loader gives each
    session the models a first one parsed, as one session does for all its clients.
    """
    import botocore.session

    create = botocore.session.create_loader
    loaders: dict[str | None, Any] = {}

    def shared_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared_loader


_share_botocore_data_loader()


def _ask_partitions_once() -> None:
    """moto checks every cluster's role ARN against the partitions a new boto3 Session lists:
    a Session per cluster (20 ms with the shared loader above, 0.4 s without it), 200 clusters
    for the fleet tests alone. The partitions are botocore's data and never change within a run,
    so moto's own check (unchanged) asks a stand-in that lists them from the first Session made.
    """
    import moto.eks.utils

    real_session = getattr(moto.eks.utils, "Session")  # noqa: B009 - moto's own import of it

    class PartitionsOnce:
        partitions: list[str] | None = None

        def get_available_partitions(self) -> list[str]:
            if PartitionsOnce.partitions is None:
                PartitionsOnce.partitions = list(real_session().get_available_partitions())
            return list(PartitionsOnce.partitions)

    setattr(moto.eks.utils, "Session", PartitionsOnce)  # noqa: B010


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the test modules are imported: cheap cluster creation, if any of them uses moto
    (importing moto here for a run that needs none would cost it seconds)."""
    if "moto" in sys.modules:
        _ask_partitions_once()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the warm CLI server if a test started one (warm_cli.py); on an xdist worker, hand
    this worker's reliability tally to the controller."""
    close_shared()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[LEDGER_OUTPUT] = to_wire(LEDGER)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: how many workers `-n auto` starts
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers per core. A worker spends much of its time waiting (on CLI subprocesses, the
    stand-in servers, kube-apiserver), so one per core left the cores half idle: on the 2-core
    machine the suite took 8 min 12 s with 2 workers, 6 min 2 s with 4, 6 min 40 s with 6
    (each worker also starts its own kube-apiserver and etcd). docs/performance.md has the runs."""
    return 2 * (os.cpu_count() or 1)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent when xdist is not installed
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: add up the tallies of the workers, which ran the tests."""
    wire = getattr(node, "workeroutput", {}).get(LEDGER_OUTPUT)
    if wire is not None:
        merge_into(LEDGER, wire)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The reliability campaign's totals, when this run included any of it (all workers')."""
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


@pytest.fixture
def fast_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FastForwardClock]:
    """Waits of the engine take no time: every SystemClock (what the CLI hands the engine for
    step deadlines, polling and backoff) tells a FastForwardClock's time for this test."""
    from eksaddon.engine.upgrade import SystemClock

    clock = FastForwardClock()
    monkeypatch.setattr(SystemClock, "now", lambda self: clock.now())
    monkeypatch.setattr(SystemClock, "sleep", lambda self, seconds: clock.sleep(seconds))
    yield clock
    clock.close()
    assert clock.errors == [], "a timer of the fast clock failed"


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
