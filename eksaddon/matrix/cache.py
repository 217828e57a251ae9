"""A cache of matrix documents that already passed the schema, keyed by their exact bytes.

Parsing the YAML and checking the schema are most of an offline command's own start-up time. A
document is cached only after it validated, together with the very bytes it came from, the
eksaddon version and the schema it passed; an entry is used only when all three are equal to this
run's (compared in full, not through a digest), so a cached entry stands for "these very bytes
passed this very schema". The file name (a CRC-32 and the length of the bytes) only finds the
entry: two files that share it simply replace each other's entry. No hashlib: loading OpenSSL's
digests costs a warm run ~4 ms, more than reading and comparing the entry.
Consistency checks still run on every load. The cache is best-effort: if the directory cannot be
used, commands simply parse and validate every time.

Location: ``$EKSADDON_CACHE_DIR`` (set it empty to turn the cache off), else
``$XDG_CACHE_HOME/eksaddon``, else ``~/.cache/eksaddon``. Entries are readable by the owner only.
"""

from __future__ import annotations

import binascii
import json
import os
from pathlib import Path
from typing import Any

from eksaddon import __version__
from eksaddon.matrix.schema import MATRIX_SCHEMA

ENV_CACHE_DIR = "EKSADDON_CACHE_DIR"
KEEP = 8


def cache_dir() -> Path | None:
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eksaddon"


def _entry_name(data: bytes) -> str:
    return f"matrix-{binascii.crc32(data):08x}-{len(data)}.json"


def _source(data: bytes) -> str:
    # latin-1 maps every byte to one character and back: the entry holds the bytes exactly.
    return data.decode("latin-1")


def load(data: bytes) -> dict[str, Any] | None:
    """The validated document for ``data``, if an earlier run cached it."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        entry = json.loads((directory / _entry_name(data)).read_bytes())
    except (OSError, ValueError):
        return None
    if not (
        isinstance(entry, dict)
        and entry.get("eksaddon") == __version__
        and entry.get("source") == _source(data)
        and entry.get("schema") == MATRIX_SCHEMA
        and isinstance(entry.get("document"), dict)
    ):
        return None
    document: dict[str, Any] = entry["document"]
    return document


def store(data: bytes, document: dict[str, Any]) -> None:
    """Remember that ``data`` validated as ``document``; skip silently if the cache is unusable."""
    directory = cache_dir()
    if directory is None:
        return
    import tempfile  # only a run that validated a new document writes (~3 ms to import)

    entry = {
        "eksaddon": __version__,
        "schema": MATRIX_SCHEMA,
        "source": _source(data),
        "document": document,
    }
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".matrix-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(entry, stream)
        os.replace(temporary, directory / _entry_name(data))
        _prune(directory)
    except (OSError, TypeError, ValueError):
        return


def _prune(directory: Path) -> None:
    """Keep the newest entries only: each distinct matrix (or eksaddon release) adds one."""
    entries = sorted(directory.glob("matrix-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[KEEP:]:
        stale.unlink(missing_ok=True)
