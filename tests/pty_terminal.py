"""The CLI on a pseudo-terminal, and what a terminal (pyte's emulator) shows of it: the installed
script (a command line), or a run forked from the warm CLI server (tests/warm_cli.py: the CLI's
arguments and ``warm``), the same entry point without the imports of a fresh start.

The child gets the pty as its controlling terminal (a session of its own), so a Ctrl-C typed
into it is the terminal's SIGINT, as at a real keyboard. Everything the child writes is kept
(``raw``) and fed to a VT emulator (``screen``), so tests can assert on the escape stream (the
cursor shown again) and on what a person would read.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

import pyte

from warm_cli import WarmCli, WarmProcess

COLUMNS, ROWS = 120, 60  # tall enough that nothing scrolls out of the emulator's view


def _controlling_terminal() -> None:  # runs in the child, after setsid, before exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """One child process on a pty of COLUMNS x ROWS."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stdout: IO[bytes] | None = None,
        warm: WarmCli | None = None,
    ) -> None:
        """``stdout``: where the child's standard output goes instead of the terminal; ``warm``:
        fork the run from this server (``argv`` are then the CLI's arguments)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        # The size comes from the pty; $CI is the caller's to set or not.
        environment = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        environment["TERM"] = "xterm-256color"
        self.process: subprocess.Popen[bytes] | WarmProcess
        if warm is not None:
            out = slave if stdout is None else stdout.fileno()
            self.process = warm.start(
                argv, environment, stdin=os.dup(slave), stdout=out, stderr=slave, terminal=True
            )
        else:
            self.process = subprocess.Popen(
                list(argv),
                env=environment,
                stdin=slave,
                stdout=slave if stdout is None else stdout,
                stderr=slave,
                start_new_session=True,
                preexec_fn=_controlling_terminal,
            )
        os.close(slave)
        self._master = master
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.ByteStream(self.screen)
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: every slave side is closed, the child is gone
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk
                self._stream.feed(chunk)

    # -- what the terminal shows ---------------------------------------------------------------

    @property
    def raw(self) -> bytes:
        with self._lock:
            return bytes(self._raw)

    def lines(self) -> list[str]:
        """The screen's rows, trailing blanks removed (and trailing empty rows)."""
        with self._lock:
            rows = [row.rstrip() for row in self.screen.display]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def text(self) -> str:
        return "\n".join(self.lines())

    @property
    def cursor_hidden(self) -> bool:
        with self._lock:
            return bool(self.screen.cursor.hidden)

    # -- driving it ------------------------------------------------------------------------------

    def wait_for(self, shown: Callable[[str], bool] | str, timeout: float = 60) -> str:
        """The screen's text once ``shown`` holds for it (a string: appears on screen)."""
        check = (lambda text: shown in text) if isinstance(shown, str) else shown
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if check(text):
                return text
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        text = self.text()
        if check(text):
            return text
        raise AssertionError(f"not shown within {timeout}s: {shown!r}\n--- screen ---\n{text}")

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait()
