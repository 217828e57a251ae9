"""Where eksaddon keeps journals and backups, and how it writes them (atomically, owner-only).

Every file here describes one cluster's add-on, so none is ever reached through a symlink or
written over one: a journal or backup that is a link, not a regular file, or not the user's own
is refused (``O_NOFOLLOW`` and ``fstat``), and an atomic write refuses such a file at its target
instead of replacing it. A failing directory (read-only, full) is one typed error,
:class:`~eksaddon.errors.StateDirectoryError`, never a bare ``OSError``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from eksaddon.errors import (
    EksAddonError,
    JournalMismatchError,
    RunInProgressError,
    StateDirectoryError,
    UnsafeStateFileError,
)

ENV_STATE_DIR = "EKSADDON_STATE_DIR"


def state_dir() -> Path:
    """Where journals and backups live.

    ``$EKSADDON_STATE_DIR``, else ``$XDG_STATE_HOME/eksaddon``, else ``~/.local/state/eksaddon``.
    """
    configured = os.environ.get(ENV_STATE_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "eksaddon"


def write_json_atomically(path: Path, document: Any) -> None:
    """Write ``document`` so that a reader sees the old file or the new one, never half of one.

    Journals and backups describe the cluster's configuration: owner-only (0600, directory 0700).
    """
    text = json.dumps(document, indent=2) + "\n"
    try:
        make_private_directory(path.parent)
        refuse_unsafe(path)
        write_text_atomically(path, text, mode=0o600)
    except OSError as error:
        raise StateDirectoryError(path.parent, error) from error


def make_private_directory(directory: Path) -> None:
    """Create ``directory`` and each missing parent owner-only (0700), whatever the umask.

    ``mkdir(mode=0o700, parents=True)`` is not enough: the mode is masked by the umask and applies
    to the last directory only, so the state directory itself (a parent of ``journals/``) would
    be created group- or world-readable under a permissive umask. Directories that already exist
    are left as they are: a ``--state-dir`` may be a directory the user shares on purpose.
    """
    missing: list[Path] = []
    current = directory
    while not os.path.lexists(current) and current.parent != current:
        missing.append(current)
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another run: not ours to change
            continue
        os.chmod(created, 0o700)
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)  # raises the usual error (a file in the way)


def write_text_atomically(path: Path, text: str, *, mode: int) -> None:
    """Write ``text`` to a fsynced temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def refuse_unsafe(path: Path) -> None:
    """Raise unless ``path`` is absent or a regular file of this user (never a symlink)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    _check_safe(path, info)


def _check_safe(path: Path, info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStateFileError(path, "it is a symbolic link")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeStateFileError(path, "it is not a regular file")
    if info.st_uid != os.getuid():
        raise UnsafeStateFileError(path, f"it belongs to user id {info.st_uid}, not to you")


def read_private_file(path: Path) -> bytes | None:
    """The bytes of ``path`` (None if absent), read without following a symlink and only if it is
    a regular file of this user; raises :class:`UnsafeStateFileError` otherwise."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise UnsafeStateFileError(path, "it is a symbolic link") from None
        raise
    try:
        _check_safe(path, os.fstat(descriptor))
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as stream:
        return stream.read()


class JsonDocument(NamedTuple):
    """What a state file holds, parsed: any JSON value (``null`` too, for the caller to refuse)."""

    value: Any


def read_json_document(path: Path, *, what: str, hint: str) -> JsonDocument | None:
    """The JSON document of a private state file (a journal), None when there is no file.

    An unsafe path stays an :class:`UnsafeStateFileError`; a file that cannot be read or parsed
    (nested too deeply included) is a :class:`JournalMismatchError` naming ``what`` and ``hint``.
    """
    try:
        content = read_private_file(path)
        if content is None:
            return None
        return JsonDocument(json.loads(content.decode("utf-8")))
    except UnsafeStateFileError:
        raise
    except (OSError, ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise JournalMismatchError(f"{what} {path} cannot be read ({reason})", hint=hint) from None


def move_aside(path: Path, suffix: str) -> Path | None:
    """Rename ``path`` (whatever it is; a symlink moves as the link) to a free name beside it;
    None if there is nothing there. Nothing is ever deleted."""
    if not os.path.lexists(path):
        return None
    stem = path.name.removesuffix(".json")
    for number in range(1000):
        extra = f".{number}" if number else ""
        target = path.with_name(f"{stem}.{suffix}{extra}.json")
        if not os.path.lexists(target):
            try:
                os.rename(path, target)
            except OSError as error:
                raise StateDirectoryError(path.parent, error) from error
            return target
    raise StateDirectoryError(path.parent, OSError(errno.EEXIST, "too many archived journals"))


FINISHED = "finished"  # the state of a journal whose run is over (journal_schema, run_journal)

JournalT = TypeVar("JournalT", bound="JournalFile")


def now() -> str:
    """The time a journal records (``created_at``, ``updated_at``): UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class JournalFile:
    """A journal on disk (an add-on upgrade's, engine/journal.py, or a run's of several,
    engine/run_journal.py): where it is and its JSON document, saved whole after every change,
    moved aside, never deleted, once its run is over. A subclass reads and checks its own
    format (``load``) and names the time in a moved-aside file's name (``stamp``)."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document

    @staticmethod
    def stamp() -> str:
        raise NotImplementedError

    @classmethod
    def load(cls: type[JournalT], path: Path) -> JournalT | None:
        """The journal at ``path``, None if there is none; refuses a corrupt or altered one."""
        raise NotImplementedError

    @classmethod
    def load_unfinished(
        cls: type[JournalT], path: Path, *, discard: bool
    ) -> tuple[JournalT | None, Path | None]:
        """The journal at ``path`` to resume (None if there is none), and where a finished or
        discarded one was moved aside (None if nothing was moved).

        ``discard`` gets past any journal: truncated, unreadable, of an unknown format, a
        symlink (moved as the link; its target is not touched), never deleting anything; it is
        moved to ``<name>.<stamp>.<its state, or "discarded">.json``.
        """
        if discard:
            try:
                found = cls.load(path)
            except EksAddonError:
                found = None
            suffix = found.state if found is not None else "discarded"
            return None, move_aside(path, f"{cls.stamp()}.{suffix}")
        journal = cls.load(path)
        if journal is not None and journal.state == FINISHED:
            return None, journal.archive()
        return journal, None

    @property
    def state(self) -> str:
        return str(self.document["state"])

    def save(self) -> None:
        self.document["updated_at"] = now()
        write_json_atomically(self.path, self.document)

    def archive(self) -> Path:
        """Move the journal aside (kept for the record) so that a new run can start."""
        target = move_aside(self.path, f"{self.stamp()}.{self.state}")
        assert target is not None  # the journal was just read or written there
        return target


@contextmanager
def run_lock(path: Path, *, what: str) -> Iterator[None]:
    """Hold an advisory lock on ``path`` (``<state dir>/locks/…``, journal.lock_path) for one run.

    A second run for the same cluster and add-on on this machine refuses at once
    (:class:`RunInProgressError`, exit 3) naming the holder's pid, which the lock file records.
    The lock is the kernel's (``flock``): it goes with the process, however that ends, so a
    killed run never leaves a stale lock. The file itself is left in place: removing it would
    let a third run lock a fresh file while the second still holds the old one.
    """
    try:
        make_private_directory(path.parent)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeStateFileError(path, "it is a symbolic link") from None
        raise StateDirectoryError(path.parent, error) from error
    try:
        _check_safe(path, os.fstat(descriptor))
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
            raise RunInProgressError(
                f"another eksaddon run (pid {holder or 'unknown'}) is changing {what} "
                f"(lock {path})",
                hint="wait for it to finish, then rerun",
            ) from None
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        except OSError as error:
            raise StateDirectoryError(path.parent, error) from error
        yield
    finally:
        os.close(descriptor)  # releases the lock
