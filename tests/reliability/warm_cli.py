"""``eksaddon`` processes forked from a warm interpreter, for the fault matrix's signal cases.

A signal must strike a real CLI process: its own process and session, the console script's entry
point and signal handlers, stdout and stderr on pipes, a wait status at the end. Started from
the console script, each such process first spends ~1.5 s of CPU under load importing botocore
and the Kubernetes client before its first request; thirty cases paid that thirty times. The
server (``warm_cli_server.py``) imports them once and forks one child per run, which then runs
exactly what the console script runs. The installed console script itself stays covered: some
signal cases still start it (``test_signal``), and tests/e2e/test_live_cli.py kills and stops it.

:class:`WarmProcess` answers as much of :class:`subprocess.Popen` as the signal cases use.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

SERVER = Path(__file__).with_name("warm_cli_server.py")


class WarmCli:
    """The server and the test's end of its socket; :meth:`start` runs one CLI process."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.channel = ours
        self.replies = ours.makefile("rb")
        self.server = subprocess.Popen(
            [sys.executable, str(SERVER), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the test run is not the server's
        )
        theirs.close()

    def start(self, argv: list[str], env: dict[str, str]) -> WarmProcess:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        request = json.dumps({"argv": argv, "env": env}).encode()
        try:
            socket.send_fds(self.channel, [request], [stdin, out_write, err_write])
        finally:
            for fd in (stdin, out_write, err_write):
                os.close(fd)
        pid = int(self._reply()["pid"])
        return WarmProcess(self, pid, out_read, err_read)

    def _reply(self) -> dict[str, int]:
        line = self.replies.readline()
        assert line, "the warm CLI server is gone"
        reply: dict[str, int] = json.loads(line)
        return reply

    def close(self) -> None:
        self.replies.close()
        self.channel.close()  # the server sees the end of its socket and exits
        self.server.wait(timeout=30)


class WarmProcess:
    """One forked ``eksaddon`` run: ``pid``, ``poll``, ``kill``, ``communicate``, ``returncode``."""

    def __init__(self, cli: WarmCli, pid: int, out: int, err: int) -> None:
        self.cli, self.pid = cli, pid
        self.returncode: int | None = None
        self._output: dict[int, bytes] = {}
        # Both pipes are drained as the run writes, so that a chatty run never blocks on a full one.
        self._readers = [
            threading.Thread(target=self._drain, args=(fd,), daemon=True) for fd in (out, err)
        ]
        self._fds = (out, err)
        for reader in self._readers:
            reader.start()
        self._status = threading.Thread(target=self._wait_status, daemon=True)
        self._status.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            self._output[fd] = pipe.read()

    def _wait_status(self) -> None:
        self.returncode = os.waitstatus_to_exitcode(self.cli._reply()["status"])

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended meanwhile
                pass

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        for thread in (*self._readers, self._status):
            thread.join(timeout)
            if thread.is_alive():
                raise subprocess.TimeoutExpired(["eksaddon"], timeout or 0)
        out, err = (self._output[fd].decode() for fd in self._fds)
        return out, err


def warm_cli() -> Iterator[WarmCli]:
    """A fixture's body: the server for a module's cases, stopped after them."""
    cli = WarmCli()
    try:
        yield cli
    finally:
        cli.close()
