"""``check-compat``: is this add-on version fine for this Kubernetes version, and what is the path?

Pure: it reads the matrix and what the caller detected, and returns a report of findings. Each
named check yields findings; a check with no warning or error is a passing check (one JUnit test
case each), so CI sees exactly which question failed.

The records are in :mod:`eksaddon.compat.report`, one path's checks in :mod:`eksaddon.compat.paths`;
this module settles who manages the add-on, runs one path or both, and adds what the DaemonSet
shows (type, Helm, custom settings, drift).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from eksaddon.compat.paths import PathContext, path_findings
from eksaddon.compat.report import (
    CHECKS,
    MANAGED_PATH,
    SELF_MANAGED_PATH,
    CompatReport,
    Finding,
    Severity,
)
from eksaddon.errors import InputError
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.planner import Plan, infer_addon_type
from eksaddon.versions import AddonVersion, KubernetesVersion

if TYPE_CHECKING:  # only --daemonset runs need the DaemonSet reader
    from eksaddon.nodeside.detect import DetectedAddon

__all__ = [
    "CHECKS",
    "MANAGED_PATH",
    "SELF_MANAGED_PATH",
    "CompatReport",
    "Finding",
    "Severity",
    "check_compat",
]


def check_compat(
    matrix: Matrix,
    *,
    kubernetes: KubernetesVersion,
    addon_version: AddonVersion | None = None,
    detected: DetectedAddon | None = None,
    target_kubernetes: KubernetesVersion | None = None,
    addon_type: AddonType | None = None,
    features: Iterable[str] = (),
    fail_on: Severity = Severity.ERROR,
) -> CompatReport:
    """Check an add-on version (given, or detected from a DaemonSet) against the matrix.

    The type is ``addon_type`` (``--type``), else what the DaemonSet's evidence shows, else (a
    version alone) what the version's shape suggests. When the evidence does not tell, both
    paths are checked and every finding that differs between them says which path it is for.
    """
    version = detected.version if detected is not None else addon_version
    if version is None:
        raise ValueError("check_compat needs addon_version or detected")
    matrix.entry(kubernetes)
    if target_kubernetes is not None:
        matrix.entry(target_kubernetes)
        if target_kubernetes < kubernetes:
            raise InputError(
                f"--target-kubernetes-version {target_kubernetes} is below the cluster's "
                f"{kubernetes}: EKS clusters cannot be downgraded"
            )
    type_findings: list[Finding] = []
    if detected is not None and addon_type is not None:
        detected, type_findings = _settle_type(detected, addon_type)
    kind = (
        addon_type
        if addon_type is not None
        else (detected.addon_type if detected is not None else infer_addon_type(version))
    )
    names = set(features) | set(detected.features if detected else ())
    unknown = sorted(names - set(matrix.features))
    if unknown:
        raise InputError(
            f"unknown feature {unknown[0]!r} (known: {', '.join(sorted(matrix.features))})"
        )
    chosen = tuple(matrix.features[n] for n in sorted(names))

    def context(path: AddonType) -> PathContext:
        # A self-managed install runs the release an EKS build packages (its images' tag may
        # carry -eksbuild.N all the same): checked as that release.
        checked = version.release if path is AddonType.SELF_MANAGED else version
        return PathContext(matrix, kubernetes, target_kubernetes, checked, path, chosen)

    plans: tuple[tuple[AddonType, Plan | None], ...] = ()
    if kind is None:
        upgrade = None
        on_path, plans = _both_paths(context(AddonType.MANAGED), context(AddonType.SELF_MANAGED))
        checked_version = version
    else:
        ctx = context(kind)
        upgrade, on_path = path_findings(ctx)
        checked_version = ctx.version
        if checked_version != version:
            type_findings.append(
                Finding(
                    "offered",
                    "release-of-build",
                    Severity.INFO,
                    f"{version} is an EKS build tag; as a self-managed install it runs release "
                    f"{checked_version}, which is what is checked",
                )
            )
    return CompatReport(
        addon=matrix.addon,
        matrix_origin=matrix.origin,
        kubernetes=kubernetes,
        target_kubernetes=target_kubernetes,
        addon_version=checked_version,
        addon_type=kind,
        checks=CHECKS,
        findings=(*type_findings, *on_path, *_settings(detected, matrix)),
        plan=upgrade,
        detected=detected,
        fail_on=fail_on,
        plans=plans,
    )


def _settle_type(
    detected: DetectedAddon, addon_type: AddonType
) -> tuple[DetectedAddon, list[Finding]]:
    """``--type`` decides; a contradiction with the DaemonSet's evidence is said, not hidden."""
    from eksaddon.nodeside.detect import TypeEvidence

    findings = []
    against = [e for e in detected.type_evidence if e.points_to not in (None, addon_type)]
    if against:
        findings.append(
            Finding(
                "settings",
                "type-contradicts-evidence",
                Severity.WARNING,
                f"--type {addon_type} given, but the DaemonSet shows otherwise: "
                + "; ".join(e.detail for e in against),
            )
        )
    settled = detected.with_type(
        addon_type, TypeEvidence("type-option", addon_type, f"--type {addon_type} given")
    )
    return settled, findings


def _both_paths(
    managed: PathContext, self_managed: PathContext
) -> tuple[list[Finding], tuple[tuple[AddonType, Plan | None], ...]]:
    """Both paths' findings: once where they agree, marked with their path where they differ."""
    managed_plan, on_managed = path_findings(managed)
    self_plan, on_self = path_findings(self_managed)
    findings = [f for f in on_managed if f in on_self]
    findings += [
        f._replace(message=f"{MANAGED_PATH}: {f.message}") for f in on_managed if f not in on_self
    ]
    findings += [
        f._replace(message=f"{SELF_MANAGED_PATH}: {f.message}")
        for f in on_self
        if f not in on_managed
    ]
    order = {check: index for index, check in enumerate(CHECKS)}
    findings.sort(key=lambda f: order.get(f.check, len(order)))
    return findings, ((AddonType.MANAGED, managed_plan), (AddonType.SELF_MANAGED, self_plan))


def _settings(detected: DetectedAddon | None, matrix: Matrix) -> Iterator[Finding]:
    if detected is None:
        return
    yield from _type(detected, matrix)
    if detected.helm is not None:
        from eksaddon.nodeside.helm import describe

        yield Finding(
            "settings",
            "helm-release",
            Severity.INFO,
            f"installed as {describe(detected.helm)}: upgrade it with `helm upgrade` "
            "(`eksaddon render --helm-values` writes the values file); a manifest applied over "
            "it leaves Helm's record stale",
        )
    count = len(detected.customizations)
    if count:
        names = ", ".join(sorted({c.name for c in detected.customizations}))
        yield Finding(
            "settings",
            "customizations",
            Severity.INFO,
            f"{count} custom setting(s) to carry across every step: {names}",
        )
    release = detected.version.release
    for drift in detected.drift:
        yield Finding(
            "settings",
            "drift",
            Severity.WARNING,
            f"drift from the {release} manifest (not a custom setting): {drift.describe()}; "
            "an upgrade or `eksaddon render --preserve-from` restores it",
        )
    if detected.drift_note is not None:
        yield Finding(
            "settings",
            "drift-not-checked",
            Severity.INFO,
            f"drift not checked: {detected.drift_note}",
        )


def _type(detected: DetectedAddon, matrix: Matrix) -> Iterator[Finding]:
    from eksaddon.nodeside.detect import NO_MANAGED_FIELDS

    if detected.addon_type is None:
        yield Finding(
            "settings",
            "addon-type-unknown",
            Severity.WARNING,
            f"who manages {matrix.addon} is unknown ({detected.type_basis}); findings marked "
            f"'{MANAGED_PATH}' or '{SELF_MANAGED_PATH}' hold only on that path: pass --type "
            "managed or --type self-managed to settle it",
        )
        return
    yield Finding(
        "settings",
        "addon-type",
        Severity.INFO,
        f"{detected.addon_type} add-on ({detected.type_basis})",
    )
    if not detected.has_managed_fields:
        yield Finding(
            "settings",
            "no-managed-fields",
            Severity.INFO,
            next(e.detail for e in detected.type_evidence if e.signal == NO_MANAGED_FIELDS),
        )
