"""Where eksaddon keeps journals and backups, and how it writes them (atomically, owner-only)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

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
    make_private_directory(path.parent)
    write_text_atomically(path, json.dumps(document, indent=2) + "\n", mode=0o600)


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
