"""``matrix refresh`` and ``matrix diff``: the live EKS catalogue against a matrix file."""

from __future__ import annotations

import copy
import re
import time
from typing import Any, NamedTuple

from eksaddon.errors import InputError
from eksaddon.gateways.protocols import CatalogueEntry, EksGateway
from eksaddon.matrix.loader import build_matrix
from eksaddon.matrix.model import Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion

SOURCE_ID = "EKS-API"
ADDON_NAME = re.compile(r"[a-z0-9][a-z0-9\-_]{0,99}")


class KubernetesDiff(NamedTuple):
    kubernetes: KubernetesVersion
    added: tuple[AddonVersion, ...]
    removed: tuple[AddonVersion, ...]
    latest: tuple[AddonVersion | None, AddonVersion | None]
    default: tuple[AddonVersion | None, AddonVersion | None]

    @property
    def changed(self) -> bool:
        return (
            bool(self.added or self.removed)
            or self.latest[0] != self.latest[1]
            or (self.default[0] != self.default[1])
        )


class MatrixDiff(NamedTuple):
    addon: str
    origin: str
    region: str
    versions: tuple[KubernetesDiff, ...]

    @property
    def changed(self) -> bool:
        return any(v.changed for v in self.versions)


def read_catalogues(
    gateway: EksGateway, addon: str, kubernetes_versions: list[KubernetesVersion]
) -> dict[KubernetesVersion, list[CatalogueEntry]]:
    """One describe_addon_versions (all pages) per Kubernetes version."""
    return {k: gateway.addon_versions(addon, k) for k in kubernetes_versions}


def diff(
    matrix: Matrix, catalogues: dict[KubernetesVersion, list[CatalogueEntry]], *, region: str
) -> MatrixDiff:
    rows = []
    for kubernetes, entries in sorted(catalogues.items(), reverse=True):
        live = {e.version for e in entries}
        known = set(matrix.builds_for(kubernetes)) if kubernetes in matrix.kubernetes else set()
        entry = matrix.kubernetes.get(kubernetes)
        rows.append(
            KubernetesDiff(
                kubernetes=kubernetes,
                added=tuple(sorted(live - known, reverse=True)),
                removed=tuple(sorted(known - live, reverse=True)),
                latest=(entry.latest if entry else None, max(live) if live else None),
                default=(
                    entry.default if entry else None,
                    next((e.version for e in entries if e.default), None),
                ),
            )
        )
    return MatrixDiff(matrix.addon, matrix.origin, region, tuple(rows))


def new_document(addon: str) -> dict[str, Any]:
    """The start of a matrix for an add-on with no matrix file: no builds, the generic policy.

    :func:`refreshed_document` fills in the catalogue. With no rules known for the add-on, the
    policy is ``catalogue`` (any build EKS offers for the cluster's version, in one update): the
    live catalogue is all there is to go on, and the file says so.
    """
    if ADDON_NAME.fullmatch(addon) is None:
        raise InputError(
            f"invalid add-on name {addon[:64]!r}: expected lower-case letters, digits, '-' or '_'",
            hint="pass the add-on name as EKS spells it (aws eks describe-addon-versions)",
        )
    return {
        "format_version": 1,
        "addon": addon,
        "display_name": addon,
        "notes": [
            f"Written by `eksaddon matrix refresh --addon {addon}` from the live EKS catalogue: "
            "eksaddon has no bundled rules for this add-on."
        ],
        "kubernetes_versions": {},
        "builds": [],
        "upgrade_policy": {
            "kind": "catalogue",
            "source": "no bundled matrix: any build EKS offers for the cluster's version is one "
            "update away (no step rule is known)",
        },
    }


def refreshed_document(
    raw: dict[str, Any], catalogues: dict[KubernetesVersion, list[CatalogueEntry]], *, region: str
) -> dict[str, Any]:
    """``raw`` with the catalogues of the given Kubernetes versions replaced by live data.

    Policy, features, releases and DaemonSet defaults are kept: the API does not describe them.
    The result is validated like any matrix file before it is returned.
    """
    document = copy.deepcopy(raw)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    document["as_of"] = today
    document.setdefault("sources", {})[SOURCE_ID] = (
        f"eks:DescribeAddonVersions in {region}, {today} (eksaddon matrix refresh)"
    )
    builds = {b["version"]: b for b in document["builds"]}
    empty = sorted(str(k) for k, entries in catalogues.items() if not entries)
    if empty:
        raise InputError(
            f"EKS lists no {document['addon']} versions for Kubernetes {', '.join(empty)} in "
            f"{region}; nothing to write for it",
            hint="drop that -k, or check the version and --region",
        )
    for kubernetes, entries in catalogues.items():
        key = str(kubernetes)
        live = {str(e.version) for e in entries}
        for version in live - builds.keys():
            builds[version] = {
                "version": version,
                "kubernetes_versions": [],
                "sources": [SOURCE_ID],
            }
        for version, build in builds.items():
            offered = [k for k in build["kubernetes_versions"] if k != key]
            build["kubernetes_versions"] = sorted(
                [*offered, key] if version in live else offered, key=KubernetesVersion.parse
            )
            withdrawn = [k for k in build.get("not_offered_for", []) if k != key]
            if withdrawn or "not_offered_for" in build:
                build["not_offered_for"] = withdrawn
        newest = max(e.version for e in entries)
        default = next((e.version for e in entries if e.default), None)
        document["kubernetes_versions"][key] = {
            "latest": str(newest),
            "default": None if default is None else str(default),
            "default_as_of": today if default is not None else None,
            "catalogue_complete": True,
            "complete_through": str(newest),
            "notes": f"from eks:DescribeAddonVersions in {region} on {today}",
        }
    document["builds"] = sorted(
        builds.values(), key=lambda b: AddonVersion.parse(b["version"]), reverse=True
    )
    document["kubernetes_versions"] = dict(
        sorted(
            document["kubernetes_versions"].items(),
            key=lambda item: KubernetesVersion.parse(item[0]),
            reverse=True,
        )
    )
    build_matrix(document, label="the refreshed matrix")
    return document
