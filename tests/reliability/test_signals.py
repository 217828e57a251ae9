"""Signals from the first instant: SIGINT and SIGTERM at any moment give exit 130 and one line.

The installed CLI is started against an EKS endpoint that accepts connections and never answers,
so every instant below falls inside a run that has not finished. The instants are counted from
the moment the process can first catch SIGTERM (Linux shows it in /proc/<pid>/status, SigCgt):
before that the interpreter itself is starting and no eksaddon code has run — nothing can have
been read or changed, and no program written in Python can catch a signal then. eksaddon
installs its handler first thing (eksaddon/__init__.py), before it imports anything else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliability.world import one_error_line
from reliability_ledger import LEDGER
from tests_support import eksaddon_command

INSTANTS_MS = (0, 20, 50, 100, 200, 400)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux /proc to see the handler"
)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A TCP endpoint that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def _environment(endpoint: str, tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EKSADDON_"))}
    environment.update(
        {
            "AWS_ENDPOINT_URL_EKS": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "EKSADDON_API_TIMEOUT": "60",
            "EKSADDON_STATE_DIR": str(tmp_path / "state"),
            "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
    )
    return environment


def _catches(pid: int, number: signal.Signals) -> bool:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (number - 1)))
    return False


def _wait_until_catching(process: subprocess.Popen[str], number: signal.Signals) -> None:
    deadline = time.monotonic() + 30
    while not _catches(process.pid, number):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the handler was never installed"
        time.sleep(0.001)


@pytest.mark.parametrize("instant", INSTANTS_MS, ids=[f"{ms}ms" for ms in INSTANTS_MS])
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_at_an_early_instant_is_exit_130_and_one_line(
    silent_endpoint: str, tmp_path: Path, number: signal.Signals, instant: int
) -> None:
    LEDGER.fault(f"{number.name} early", f"{instant} ms after start")
    process = subprocess.Popen(
        [*eksaddon_command(), "upgrade", "--cluster", "prod", "--yes", "--skip-rollout-check"],
        env=_environment(silent_endpoint, tmp_path),
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        # SIGTERM's bit: Python catches SIGINT itself from early on (KeyboardInterrupt, which
        # would be a traceback there); eksaddon sets SIGINT's handler, then SIGTERM's.
        _wait_until_catching(process, signal.SIGTERM)
        time.sleep(instant / 1000)
        assert process.poll() is None, "the run ended before the signal"
        process.send_signal(number)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    LEDGER.saw_output(out, err)
    assert process.returncode == 130, err
    assert one_error_line(err) == "eksaddon: error: interrupted"
    assert err.count("\n") == 1, err
    assert out == ""
    assert not (tmp_path / "state" / "journals").exists() or not any(
        (tmp_path / "state" / "journals").glob("*.json")
    )


def test_imported_as_a_library_eksaddon_leaves_the_signal_handlers_alone() -> None:
    probe = (
        "import signal, eksaddon, eksaddon.cli;"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,"
        " signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert shown.split() == ["True", "True"]


def test_an_in_process_run_restores_the_handlers(run) -> None:  # type: ignore[no-untyped-def]
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    assert run("plan", "-k", "1.29", "--from", "v1.16.4-eksbuild.2").code == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
