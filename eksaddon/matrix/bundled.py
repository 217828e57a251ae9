"""Where the bundled matrix files are: ``version_matrix/<addon>.yaml`` inside the installed package.

Kept apart from the loader, with nothing but the standard library's cheapest modules, because
start-up, ``--version`` and shell completion look here on every run. ``importlib.resources`` alone
costs ~6 ms to import (it pulls in tempfile, shutil, random and zipfile); a package installed from
the wheel, editable or not, is a plain directory, so that is read directly, and
``importlib.resources`` serves only a package that is not on the file system (a zip import).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.abc imports importlib.resources
    from importlib.abc import Traversable

BUNDLED_PACKAGE = "version_matrix"
SUFFIX = ".yaml"


def bundled_root() -> Traversable:
    """The bundled package's directory (a :class:`~pathlib.Path` when it is on disk)."""
    import version_matrix

    locations = list(getattr(version_matrix, "__path__", []))
    if len(locations) == 1 and os.path.isdir(locations[0]):
        return Path(locations[0])
    from importlib import resources  # pragma: no cover - zip imports only

    return resources.files(BUNDLED_PACKAGE)  # pragma: no cover


def bundled_addons() -> list[str]:
    """Add-ons with a bundled matrix file, discovered from the package data, sorted."""
    return sorted(
        entry.name[: -len(SUFFIX)]
        for entry in bundled_root().iterdir()
        if entry.name.endswith(SUFFIX) and entry.is_file()
    )


def bundled_file(addon: str) -> Traversable:
    """The bundled matrix file for ``addon`` (it may not exist: check ``is_file()``)."""
    return bundled_root().joinpath(f"{addon}{SUFFIX}")


def bundled_as_of() -> list[tuple[str, str | None]]:
    """(add-on, as-of date) of every bundled matrix, read without parsing the YAML (``--version``).

    ``as_of`` is a top-level key, so its line starts in column 0; a test checks the answer against
    what the loader reads from every bundled file.
    """
    return [(addon, _top_level_scalar(bundled_file(addon), "as_of")) for addon in bundled_addons()]


def _top_level_scalar(resource: Traversable, key: str) -> str | None:
    prefix = f"{key}:"
    try:
        text = resource.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith(prefix):
            return _scalar(line[len(prefix) :].strip()) or None
    return None


def _scalar(value: str) -> str:
    """A one-line YAML scalar's text: quoted ('…' or "…") or plain up to a `` #`` comment."""
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    return value.split(" #", 1)[0].strip()
