"""A cache of matrix documents that already passed the schema, keyed by their exact bytes.

Parsing the YAML and checking the schema are most of an offline command's own start-up time. A
document is cached only after it validated, under a key made of its SHA-256, the eksaddon version
and the schema's fingerprint, so a cached entry stands for "these very bytes passed this
very schema".
Consistency checks still run on every load. The cache is best-effort: if the directory cannot be
used, commands simply parse and validate every time.

Location: ``$EKSADDON_CACHE_DIR`` (set it empty to turn the cache off), else
``$XDG_CACHE_HOME/eksaddon``, else ``~/.cache/eksaddon``. Entries are readable by the owner only.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
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


def _key(data: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(__version__.encode())
    digest.update(json.dumps(MATRIX_SCHEMA, sort_keys=True).encode())
    digest.update(data)
    return digest.hexdigest()


def load(data: bytes) -> dict[str, Any] | None:
    """The validated document for ``data``, if an earlier run cached it."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        cached = json.loads((directory / f"matrix-{_key(data)}.json").read_bytes())
    except (OSError, ValueError):
        return None
    return cached if isinstance(cached, dict) else None


def store(data: bytes, document: dict[str, Any]) -> None:
    """Remember that ``data`` validated as ``document``; skip silently if the cache is unusable."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".matrix-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream)
        os.replace(temporary, directory / f"matrix-{_key(data)}.json")
        _prune(directory)
    except (OSError, TypeError, ValueError):
        return


def _prune(directory: Path) -> None:
    """Keep the newest entries only: each distinct matrix (or eksaddon release) adds one."""
    entries = sorted(directory.glob("matrix-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[KEEP:]:
        stale.unlink(missing_ok=True)
