"""The matrices the cluster-upgrade gate (:mod:`eksaddon.engine.gate`) decides with: each add-on's
bundled matrix, or the one ``--matrix FILE`` gives, loaded once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eksaddon.matrix.model import Matrix

MatrixFor = Callable[[str], Matrix | None]


def matrices(override: str | Path | None = None) -> MatrixFor:
    """The matrix of each add-on eksaddon has data for, loaded once: ``--matrix FILE`` (or
    $EKSADDON_MATRIX) replaces the bundled matrix of the add-on it describes; None for an add-on
    known only to EKS."""
    import os

    from eksaddon.datafiles import read_document
    from eksaddon.matrix.loader import ENV_OVERRIDE, build_matrix, bundled_addons, load_bundled

    loaded: dict[str, Matrix | None] = {}
    source = override or os.environ.get(ENV_OVERRIDE) or None
    if source is not None:
        given = build_matrix(read_document(source, what="matrix file"), label=str(source))
        loaded[given.addon] = given
    bundled = set(bundled_addons())

    def matrix_for(addon: str) -> Matrix | None:
        if addon not in loaded:
            loaded[addon] = load_bundled(addon) if addon in bundled else None
        return loaded[addon]

    return matrix_for
