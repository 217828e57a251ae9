"""Overlay the live EKS catalogue on a matrix: live data decides which builds exist."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from eksaddon import configvalues
from eksaddon.errors import NoLegalPathError
from eksaddon.gateways.protocols import CatalogueEntry, ClusterInfo, EksGateway
from eksaddon.matrix.model import Build, KubernetesEntry, Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion

SchemaOf = Callable[[AddonVersion], dict[str, Any] | None]


def with_live_catalogue(
    matrix: Matrix, kubernetes: KubernetesVersion, entries: list[CatalogueEntry], *, origin: str
) -> Matrix:
    """``matrix`` with the builds offered for ``kubernetes`` replaced by ``entries`` (complete).

    Other Kubernetes versions keep the matrix's data. The policy, features and DaemonSet
    defaults always come from the matrix: the API does not describe them.
    """
    if not entries:
        return matrix
    live = {e.version for e in entries}
    builds = {b.version: b for b in matrix.builds}
    for version in live - builds.keys():
        builds[version] = Build(version, frozenset(), ("eks:DescribeAddonVersions",))
    updated = []
    for version, build in builds.items():
        offered = set(build.kubernetes_versions) - {kubernetes}
        if version in live:
            offered.add(kubernetes)
        updated.append(build._replace(kubernetes_versions=frozenset(offered)))
    default = next((e.version for e in entries if e.default), None)
    entry = KubernetesEntry(
        version=kubernetes,
        latest=max(live),
        default=default,
        default_as_of="live",
        catalogue_complete=True,
        notes="from eks:DescribeAddonVersions",
    )
    return matrix._replace(
        origin=origin,
        builds=tuple(sorted(updated, key=lambda b: b.version, reverse=True)),
        kubernetes={**matrix.kubernetes, kubernetes: entry},
    )


class Overlays:
    """Matrices overlaid with a live catalogue, each made once and shared.

    A fleet's clusters of one region and Kubernetes version get the very same catalogue answer
    (one read, :class:`~eksaddon.engine.fleet.SharedCatalogue`), so laying it over the same matrix
    again for every cluster would make the same matrix hundreds of times. An entry is keyed by the
    identity of the matrix and of the answer, and keeps both: neither id can be reused while the
    entry lives. Safe across threads (two threads may make the same overlay once each).
    """

    def __init__(self) -> None:
        self._made: dict[
            tuple[int, KubernetesVersion, int, str],
            tuple[Matrix, list[CatalogueEntry], Matrix],
        ] = {}

    def with_live_catalogue(
        self,
        matrix: Matrix,
        kubernetes: KubernetesVersion,
        entries: list[CatalogueEntry],
        *,
        origin: str,
    ) -> Matrix:
        """:func:`with_live_catalogue`, made once per (matrix, version, answer, origin)."""
        key = (id(matrix), kubernetes, id(entries), origin)
        made = self._made.get(key)
        if made is None:  # the entry keeps matrix and entries alive: their ids are not reused
            overlaid = with_live_catalogue(matrix, kubernetes, entries, origin=origin)
            made = self._made[key] = (matrix, entries, overlaid)
        return made[2]


def offered_versions(gateway: EksGateway, cluster: ClusterInfo, addon: str) -> list[AddonVersion]:
    """The builds EKS offers ``cluster``'s Kubernetes version now (API failures raise: exit 3)."""
    return [entry.version for entry in gateway.addon_versions(addon, cluster.version)]


def live_catalogue(gateway: EksGateway, matrix: Matrix, cluster: ClusterInfo, addon: str) -> Matrix:
    """``matrix`` overlaid with the live catalogue, for commands that change a cluster.

    A change never stands on the bundled data: a catalogue that cannot be read raises its API
    error (exit 3) and one that offers nothing for the cluster's Kubernetes version exits 2, both
    before anything is sent. (``status`` and ``check-compat`` fall back, with a warning.)
    """
    entries = gateway.addon_versions(addon, cluster.version)
    if not entries:
        raise NoLegalPathError(
            f"EKS offers no {addon} build for Kubernetes {cluster.version} on cluster "
            f"{cluster.name} (eks:DescribeAddonVersions listed none); nothing was changed",
            hint="eksaddon plans a change only from the live catalogue, never from its bundled "
            "matrix: check the cluster's Kubernetes version and the add-on name",
        )
    return with_live_catalogue(matrix, cluster.version, entries, origin="eks:DescribeAddonVersions")


def check_configuration(
    schema_of: SchemaOf,
    document: dict[str, Any],
    targets: Iterable[AddonVersion],
    *,
    addon: str,
    label: str,
) -> None:
    """``document`` against the configuration schema of every target version (each asked for
    once); a version EKS describes no schema for is not checked. Raises the first mismatch,
    naming its JSON path."""
    for target in dict.fromkeys(targets):
        schema = schema_of(target)
        if schema is not None:
            configvalues.validate(document, schema, addon=addon, version=target, label=label)
