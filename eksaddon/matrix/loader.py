"""Find, read and validate a matrix file, and build the typed :class:`Matrix` from it.

Which file: ``--matrix FILE`` first, then ``$EKSADDON_MATRIX``, then the file bundled in the wheel
(``version_matrix/<addon>.yaml``). A new add-on is a new YAML file there, not new code.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from eksaddon.datafiles import parse_document, read_bytes
from eksaddon.errors import EksAddonError, InputFileError, MatrixError
from eksaddon.matrix import cache, validation
from eksaddon.matrix.bundled import BUNDLED_PACKAGE as BUNDLED_PACKAGE
from eksaddon.matrix.bundled import bundled_addons as bundled_addons
from eksaddon.matrix.bundled import bundled_file
from eksaddon.matrix.model import (
    Build,
    ContainerDefaults,
    DaemonSetSpec,
    Detector,
    DowngradeWarning,
    Feature,
    Gate,
    KubernetesEntry,
    Matrix,
    PolicyKind,
    Release,
    SettingDefault,
    SkewLimit,
    SkewPolicy,
    UpgradePolicy,
    Workload,
    WorkloadKind,
)
from eksaddon.versions import AddonVersion, ImageTagRule, KubernetesVersion

ENV_OVERRIDE = "EKSADDON_MATRIX"


def load_matrix(addon: str, override: str | Path | None = None) -> Matrix:
    """Load and validate the matrix for ``addon`` (``override`` is the ``--matrix`` option)."""
    return load_document(addon, override)[1]


def load_document(addon: str, override: str | Path | None = None) -> tuple[dict[str, Any], Matrix]:
    """The validated raw document and the typed matrix (``matrix refresh`` edits the former)."""
    source = override or os.environ.get(ENV_OVERRIDE) or None
    if source is not None:
        label, data = str(source), _read(source)
    else:
        label, data = _read_bundled(addon)
    raw, matrix = _from_bytes(data, label=label)
    if matrix.addon != addon:
        raise MatrixError(
            f"matrix file {label} describes add-on {matrix.addon!r}, not {addon!r}",
            hint=f"pass --addon {matrix.addon} or a matrix file for {addon}",
        )
    return raw, matrix


def _read(source: str | Path) -> bytes:
    try:
        return read_bytes(source, what="matrix file")
    except InputFileError as error:
        raise MatrixError(error.message, hint=error.hint) from None


def _read_bundled(addon: str) -> tuple[str, bytes]:
    resource = bundled_file(addon)
    if not resource.is_file():
        known = ", ".join(bundled_addons()) or "none"
        raise MatrixError(
            f"no bundled matrix for add-on {addon!r} (bundled: {known})",
            hint="pass --matrix FILE for another add-on",
        )
    return f"bundled {addon}.yaml", resource.read_bytes()


def _from_bytes(data: bytes, *, label: str, cached: bool = True) -> tuple[dict[str, Any], Matrix]:
    raw = cache.load(data) if cached else None
    if raw is None:
        try:
            raw = parse_document(data, what="matrix file", label=label)
        except InputFileError as error:
            raise MatrixError(error.message, hint=error.hint) from None
        validation.check_schema(raw, label=label)
        if cached:
            cache.store(data, raw)
    return raw, _checked(raw, label=label)


def build_matrix(raw: Any, *, label: str) -> Matrix:
    """Validate ``raw`` (a parsed matrix document) and build the typed matrix from it."""
    validation.check_schema(raw, label=label)
    return _checked(raw, label=label)


def _checked(raw: Any, *, label: str) -> Matrix:
    """Build the typed matrix from a schema-valid document and check its consistency."""
    try:
        matrix = _build(raw, label=label)
    except EksAddonError as error:  # a version that passed the pattern but not the parser
        raise MatrixError(f"matrix file {label}: {error.message}") from None
    validation.check_consistency(matrix, label=label)
    return matrix


def _build(raw: Mapping[str, Any], *, label: str) -> Matrix:
    return Matrix(
        addon=raw["addon"],
        display_name=raw.get("display_name") or raw["addon"],
        as_of=raw.get("as_of"),
        origin=label,
        kubernetes={
            KubernetesVersion.parse(key): _kubernetes_entry(key, value)
            for key, value in raw["kubernetes_versions"].items()
        },
        builds=tuple(sorted((_build_entry(b) for b in raw["builds"]), key=_version, reverse=True)),
        releases=tuple(
            sorted(
                (_release(r) for r in raw.get("self_managed", {}).get("releases", [])),
                key=_version,
                reverse=True,
            )
        ),
        policy=_policy(raw["upgrade_policy"]),
        features={name: _feature(name, f) for name, f in raw.get("features", {}).items()},
        daemonset=_daemonset(raw["daemonset"]) if "daemonset" in raw else None,
        notes=tuple(raw.get("notes", [])),
        workloads=tuple(_workload(w) for w in raw.get("workloads", [])),
    )


def _policy(value: Mapping[str, Any]) -> UpgradePolicy:
    skew = value.get("skew")
    return UpgradePolicy(
        max_minor_step=value.get("max_minor_step"),
        gates=tuple(_gate(g) for g in value.get("gates", [])),
        downgrade_warnings=tuple(_warning(w) for w in value.get("downgrade_warnings", [])),
        source=value.get("source"),
        kind=PolicyKind(value.get("kind", PolicyKind.MINOR_STEPS.value)),
        skew=None if skew is None else _skew(skew),
    )


def _skew(value: Mapping[str, Any]) -> SkewPolicy:
    return SkewPolicy(
        max_newer=value["max_newer_minors"],
        max_older=value["max_older_minors"],
        older_limits=tuple(
            SkewLimit(KubernetesVersion.parse(limit["below"]), limit["max_older_minors"])
            for limit in value.get("older_limits", [])
        ),
        source=value.get("source"),
    )


def _workload(value: Mapping[str, Any]) -> Workload:
    return Workload(
        kind=WorkloadKind(value["kind"]),
        namespace=value["namespace"],
        name=value["name"],
        version_container=value["version_container"],
        image_tag=None if value["image_tag"] is None else ImageTagRule(value["image_tag"]),
        version_image=value.get("version_image"),
        source=value.get("source"),
        notes=value.get("notes"),
    )


def _version(item: Build | Release) -> AddonVersion:
    return item.version


def _optional_version(value: str | None) -> AddonVersion | None:
    return None if value is None else AddonVersion.parse(value)


def _optional_kubernetes(value: str | None) -> KubernetesVersion | None:
    return None if value is None else KubernetesVersion.parse(value)


def _kubernetes_entry(key: str, value: Mapping[str, Any]) -> KubernetesEntry:
    return KubernetesEntry(
        version=KubernetesVersion.parse(key),
        latest=AddonVersion.parse(value["latest"]),
        default=_optional_version(value.get("default")),
        default_as_of=value.get("default_as_of"),
        catalogue_complete=value["catalogue_complete"],
        notes=value.get("notes"),
        complete_through=_optional_version(value.get("complete_through")),
        latest_as_of=value.get("latest_as_of"),
    )


def _build_entry(value: Mapping[str, Any]) -> Build:
    return Build(
        version=AddonVersion.parse(value["version"]),
        kubernetes_versions=frozenset(_kubernetes_list(value["kubernetes_versions"])),
        sources=tuple(value.get("sources", [])),
        notes=value.get("notes"),
        not_offered_for=frozenset(_kubernetes_list(value.get("not_offered_for", []))),
    )


def _kubernetes_list(values: Iterable[str]) -> list[KubernetesVersion]:
    return [KubernetesVersion.parse(v) for v in values]


def _release(value: Mapping[str, Any]) -> Release:
    return Release(
        version=AddonVersion.parse(value["version"]),
        date=value.get("date"),
        kubernetes_min=_optional_kubernetes(value.get("kubernetes_min")),
        notes=value.get("notes"),
    )


def _gate(value: Mapping[str, Any]) -> Gate:
    return Gate(
        id=value["id"],
        target_at_least=AddonVersion.parse(value["target_at_least"]),
        requires_current_at_least=AddonVersion.parse(value["requires_current_at_least"]),
        reason=value["reason"],
    )


def _warning(value: Mapping[str, Any]) -> DowngradeWarning:
    return DowngradeWarning(
        id=value["id"],
        from_at_least=AddonVersion.parse(value["from_at_least"]),
        to_below=AddonVersion.parse(value["to_below"]),
        message=value["message"],
    )


def _feature(name: str, value: Mapping[str, Any]) -> Feature:
    return Feature(
        name=name,
        description=value["description"],
        detect=tuple(Detector(**d) for d in value["detect"]),
        requires_addon=_optional_version(value.get("requires_addon")),
        requires_kubernetes=_optional_kubernetes(value.get("requires_kubernetes")),
        downgrade_floor=_optional_version(value.get("downgrade_floor")),
        floor_reason=value.get("floor_reason"),
        source=value.get("source"),
        configuration=tuple((c["path"], c["equals"]) for c in value.get("configuration", [])),
    )


def _setting(value: Mapping[str, Any]) -> SettingDefault:
    return SettingDefault(
        name=value["name"],
        default=value["default"],
        since=_optional_version(value.get("since")),
        until=_optional_version(value.get("until")),
        value_from=value.get("value_from"),
    )


def _daemonset(value: Mapping[str, Any]) -> DaemonSetSpec:
    containers = {
        name: ContainerDefaults(
            name=name,
            since=_optional_version(spec.get("since")),
            env=tuple(_setting(s) for s in spec.get("env", [])),
            args=tuple(_setting(s) for s in spec.get("args", [])),
        )
        for name, spec in value["containers"].items()
    }
    return DaemonSetSpec(
        name=value["name"],
        namespace=value["namespace"],
        version_container=value["version_container"],
        version_image=value["version_image"],
        managed_field_manager=value["managed_field_manager"],
        containers=containers,
    )


def load_bundled(addon: str, *, cached: bool = True) -> Matrix:
    """The bundled matrix for ``addon``, whatever ``--matrix`` or $EKSADDON_MATRIX say.

    ``cached=False`` neither reads nor writes the matrix cache (a default looked up in passing
    must leave no file behind).
    """
    label, data = _read_bundled(addon)
    return _from_bytes(data, label=label, cached=cached)[1]


def has_matrix(addon: str, override: str | Path | None = None) -> bool:
    """Whether :func:`load_document` has a file to read for ``addon`` (it may still be invalid)."""
    if override or os.environ.get(ENV_OVERRIDE):
        return True
    return addon in bundled_addons()
