"""``eksaddon`` processes forked from a warm interpreter, for tests that run the CLI as a process.

Started from the console script, each CLI process first spends ~1.5 s of CPU under load importing
botocore and the Kubernetes client and reading botocore's JSON models before its first request;
the end-to-end tests and the fault matrix's signal cases paid that for every run. The server
(``warm_cli_server.py``) imports them and reads the models once, then forks one child per run,
which runs exactly what the console script runs: its own process and session, the entry point
and its signal handlers, the given arguments, environment, working directory and stdin, stdout
and stderr on pipes, and a wait status at the end. What a fresh process would read from its
environment while importing is taken care of there (see its docstring).

What only a freshly started process shows stays on the installed console script: start-up
imports (tests/test_startup.py), packaging (tests/test_packaging.py), the terminal (pty) cases,
shell completion, the signals that strike the script itself (tests/reliability/test_signals.py,
some of test_fault_matrix.py's), and tests/e2e/test_live_cli.py, which also kills and stops it.

:func:`run` answers as :func:`subprocess.run` with ``capture_output=True, text=True`` does, on
one server per test process (per xdist worker), started when first needed;
:class:`WarmProcess` answers as much of :class:`subprocess.Popen` as the signal cases use.
"""

from __future__ import annotations

import json
import locale
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SERVER = Path(__file__).with_name("warm_cli_server.py")
COMMAND = ["eksaddon"]  # how a TimeoutExpired names the run


class WarmCli:
    """The server and the test's end of its socket; :meth:`start` runs one CLI process."""

    def __init__(self) -> None:
        # One JSON message per packet, both ways (a stream could split or join them).
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.channel = ours
        self.server = subprocess.Popen(
            [sys.executable, str(SERVER), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the test run is not the server's
        )
        theirs.close()
        self._lock = threading.Lock()  # one request at a time, each answered in turn
        self._started: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ended: dict[int, int] = {}
        self._gone = False  # the server ended: no run it started will be reported any more
        self._end = threading.Condition()
        self._replies = threading.Thread(target=self._read_replies, daemon=True)
        self._replies.start()

    def _read_replies(self) -> None:
        while reply := self.channel.recv(1 << 16):
            message: dict[str, Any] = json.loads(reply)
            if "ended" in message:
                with self._end:
                    self._ended[message["ended"]] = message["status"]
                    self._end.notify_all()
            else:
                self._started.put(message)
        with self._end:
            self._gone = True
            self._end.notify_all()
        self._started.put({"refused": "the warm CLI server is gone"})

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        cwd: str | Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
        stderr: int | None = None,
        terminal: bool = False,
    ) -> WarmProcess:
        """One run, as ``Popen`` starts it: ``env`` and ``cwd`` default to this process's;
        ``stdin`` is DEVNULL, None (this process's) or a file descriptor, which is closed;
        ``stdout`` and ``stderr`` are pipes read into ``communicate`` unless given (the
        caller's to close). ``terminal``: stdin is a pty, the run's controlling terminal."""
        if stdin == subprocess.DEVNULL:
            stdin = os.open(os.devnull, os.O_RDONLY)
        elif stdin is None:
            stdin = os.dup(0)
        ours: list[int] = [stdin]  # closed here once sent
        readers: list[int | None] = []
        targets: list[int] = []
        for given in (stdout, stderr):
            if given is None:
                read_end, write_end = os.pipe()
                readers.append(read_end)
                targets.append(write_end)
                ours.append(write_end)
            else:
                readers.append(None)
                targets.append(given)
        request = {
            "argv": list(argv),
            "env": dict(os.environ if env is None else env),
            "cwd": str(cwd if cwd is not None else os.getcwd()),
            "terminal": terminal,
        }
        try:
            with self._lock:
                socket.send_fds(self.channel, [json.dumps(request).encode()], [stdin, *targets])
                reply = self._started.get()
        finally:
            for fd in ours:
                os.close(fd)
        if "refused" in reply:
            for unread in readers:
                if unread is not None:
                    os.close(unread)
            raise AssertionError(f"the warm CLI cannot run this: {reply['refused']}")
        return WarmProcess(self, int(reply["started"]), *readers)

    def wait_for(self, pid: int, timeout: float | None) -> int | None:
        """The child's wait status once it has ended, or None after ``timeout`` seconds."""
        with self._end:
            self._end.wait_for(lambda: pid in self._ended or self._gone, timeout)
            status = self._ended.get(pid)
            assert status is not None or not self._gone, "the warm CLI server is gone"
            return status

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        input: str | None = None,
        stdin: int | None = subprocess.DEVNULL,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run([eksaddon, *argv], capture_output=True, text=True, check=False)``."""
        feeder = None
        if input is not None:
            stdin, write_end = os.pipe()
            data = input.encode(locale.getpreferredencoding(False))
            feeder = threading.Thread(target=_feed, args=(write_end, data), daemon=True)
            feeder.start()
        process = self.start(argv, env, cwd=cwd, stdin=stdin)
        try:
            out, err = process.communicate(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        assert process.returncode is not None
        return subprocess.CompletedProcess([*COMMAND, *argv], process.returncode, out, err)

    def close(self) -> None:
        self.channel.shutdown(socket.SHUT_RDWR)  # the server sees the end and exits
        self.server.wait(timeout=30)
        self._replies.join(30)
        self.channel.close()


def _feed(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as pipe:
        try:
            pipe.write(data)
        except BrokenPipeError:  # the run did not read it all, as with Popen
            pass


def _text(data: bytes) -> str:
    """As ``text=True`` decodes a pipe: the locale's encoding, universal newlines."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


class WarmProcess:
    """One forked ``eksaddon`` run: ``pid``, ``poll``, ``kill``, ``communicate``, ``returncode``."""

    def __init__(self, cli: WarmCli, pid: int, out: int | None, err: int | None) -> None:
        self.cli, self.pid = cli, pid
        self.returncode: int | None = None
        self._output: dict[int, bytes] = {}
        # Both pipes are drained as the run writes, so that a chatty run never blocks on a full one.
        self._pipes = (out, err)
        self._fds = tuple(fd for fd in self._pipes if fd is not None)
        self._readers = [
            threading.Thread(target=self._drain, args=(fd,), daemon=True) for fd in self._fds
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            self._output[fd] = pipe.read()

    def poll(self) -> int | None:
        return self._ended(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._ended(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(COMMAND, timeout or 0)
        return code

    def _ended(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            status = self.cli.wait_for(self.pid, timeout)
            if status is not None:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:  # it ended meanwhile
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        for thread in self._readers:
            thread.join(timeout)
            if thread.is_alive():
                raise subprocess.TimeoutExpired(COMMAND, timeout or 0)
        self.wait(timeout)
        out, err = ("" if fd is None else _text(self._output[fd]) for fd in self._pipes)
        return out, err


_shared: WarmCli | None = None
_shared_lock = threading.Lock()


def shared() -> WarmCli:
    """This test process's server (one per xdist worker), started by its first run; the
    session's end (tests/conftest.py) stops it."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WarmCli()
        return _shared


def close_shared() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    stdin: int | None = subprocess.DEVNULL,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([*eksaddon_command(), *argv], capture_output=True, text=True,
    check=False, stdin=stdin)``, the process forked from this test process's warm server."""
    return shared().run(argv, env=env, cwd=cwd, input=input, stdin=stdin, timeout=timeout)
