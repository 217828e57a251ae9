"""What ``matrix show`` presents: per Kubernetes version, latest, default and offered builds."""

from __future__ import annotations

from typing import NamedTuple

from eksaddon.matrix.model import KubernetesEntry, Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion


class KubernetesRow(NamedTuple):
    entry: KubernetesEntry
    builds: tuple[AddonVersion, ...]


class MatrixSummary(NamedTuple):
    addon: str
    display_name: str
    origin: str
    as_of: str | None
    rows: tuple[KubernetesRow, ...]
    notes: tuple[str, ...]


def summarize(matrix: Matrix, kubernetes: KubernetesVersion | None = None) -> MatrixSummary:
    """Rows for every covered Kubernetes version (newest first), or only ``kubernetes``."""
    versions = [kubernetes] if kubernetes is not None else matrix.kubernetes_versions
    rows = tuple(
        KubernetesRow(matrix.entry(version), tuple(matrix.builds_for(version)))
        for version in versions
    )
    return MatrixSummary(
        addon=matrix.addon,
        display_name=matrix.display_name,
        origin=matrix.origin,
        as_of=matrix.as_of,
        rows=rows,
        notes=matrix.notes,
    )
