"""What ``matrix show`` presents (per Kubernetes version, latest, default and offered builds) and
what ``matrix list`` presents (one line per bundled add-on)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from eksaddon.matrix.model import KubernetesEntry, Matrix, PolicyKind
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


class AddonListing(NamedTuple):
    addon: str
    display_name: str
    origin: str
    as_of: str | None
    kubernetes: tuple[KubernetesVersion, ...]  # newest first
    policy: PolicyKind
    builds: int
    catalogue_complete: bool  # every covered Kubernetes version's catalogue is complete


class MatrixListing(NamedTuple):
    rows: tuple[AddonListing, ...]


def listing(matrices: Iterable[Matrix]) -> MatrixListing:
    """One row per matrix, in add-on name order."""
    rows = (
        AddonListing(
            addon=m.addon,
            display_name=m.display_name,
            origin=m.origin,
            as_of=m.as_of,
            kubernetes=tuple(m.kubernetes_versions),
            policy=m.policy.kind,
            builds=len(m.builds),
            catalogue_complete=all(e.catalogue_complete for e in m.kubernetes.values()),
        )
        for m in matrices
    )
    return MatrixListing(tuple(sorted(rows, key=lambda row: row.addon)))
