"""Who manages a DaemonSet, from the signals its backup holds: EKS's field manager, Helm's
release, ``kubectl apply``'s annotation, the pre-installed chart's labels, the image tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from eksaddon.matrix.model import AddonType, DaemonSetSpec
from eksaddon.nodeside import helm
from eksaddon.nodeside.daemonset_doc import brief, get_in
from eksaddon.versions import AddonVersion

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NO_MANAGED_FIELDS = "no-managed-fields"
_SHOW_MANAGED_FIELDS = "kubectl get daemonset {name} -n {namespace} -o yaml --show-managed-fields"


class TypeEvidence(NamedTuple):
    """One signal of who manages the DaemonSet; ``points_to`` None: it tells neither way."""

    signal: str
    points_to: AddonType | None
    detail: str


def managed_fields_hint(spec: DaemonSetSpec) -> str:
    """How to take a backup that shows who manages the DaemonSet."""
    return _SHOW_MANAGED_FIELDS.format(name=spec.name, namespace=spec.namespace)


def type_signals(
    document: Any, version: AddonVersion, spec: DaemonSetSpec
) -> Iterator[TypeEvidence]:
    """Every signal of who manages the DaemonSet that the backup holds, strongest first."""
    metadata = document.get("metadata")
    managers = _managers(document)
    eks = spec.managed_field_manager
    if managers is None:
        yield TypeEvidence(
            NO_MANAGED_FIELDS,
            None,
            "the backup has no metadata.managedFields (kubectl hides them), so EKS's field "
            f"manager {eks!r} cannot be seen; take the backup with "
            f"`{managed_fields_hint(spec)}`",
        )
    elif eks in managers:
        yield TypeEvidence(
            "eks-field-manager", AddonType.MANAGED, f"metadata.managedFields has manager {eks!r}"
        )
    else:
        yield TypeEvidence(
            "other-field-managers",
            AddonType.SELF_MANAGED,
            f"metadata.managedFields has no manager {eks!r} "
            f"(managers: {brief(', '.join(sorted(managers)) or 'none', quote=False)})",
        )
    notes = helm.annotations_of(metadata)
    release = helm.read_release(metadata)
    if release is not None:
        yield TypeEvidence(
            "helm-release",
            AddonType.SELF_MANAGED,
            f"annotation {helm.RELEASE_NAME}={release.name}: installed by Helm "
            f"({helm.describe(release)})",
        )
    if LAST_APPLIED in notes:
        yield TypeEvidence(
            "kubectl-last-applied",
            AddonType.SELF_MANAGED,
            f"annotation {LAST_APPLIED}: applied with `kubectl apply`",
        )
    chart = helm.chart_labels(metadata)
    if chart and release is None:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(chart.items()))
        yield TypeEvidence(
            "preinstalled-chart-labels",
            AddonType.SELF_MANAGED,
            f"labels {shown} without Helm's meta.helm.sh annotations: the CNI EKS pre-installs "
            "on a new cluster",
        )
    if version.is_eksbuild:
        yield TypeEvidence(
            "eksbuild-image-tag",
            None,
            f"image tag {version} is an EKS build, which tells nothing: EKS pre-installs the "
            "self-managed CNI with EKS build tags too",
        )
    else:
        yield TypeEvidence(
            "plain-release-image-tag",
            AddonType.SELF_MANAGED,
            f"image tag {version} is a plain release; EKS add-on builds run vX.Y.Z-eksbuild.N "
            "images",
        )


def addon_type_of(evidence: tuple[TypeEvidence, ...]) -> AddonType | None:
    """EKS's field manager decides; without it any other owner's mark; else unknown."""
    pointed = {e.points_to for e in evidence}
    if AddonType.MANAGED in pointed:
        return AddonType.MANAGED
    if AddonType.SELF_MANAGED in pointed:
        return AddonType.SELF_MANAGED
    return None


def type_basis(addon_type: AddonType | None, evidence: tuple[TypeEvidence, ...]) -> str:
    used = [e.detail for e in evidence if e.points_to is addon_type] if addon_type else []
    return "; ".join(used or [e.detail for e in evidence])


def _managers(document: Any) -> set[str] | None:
    """The field managers of the DaemonSet; None when the backup has no managedFields."""
    fields = get_in(document, "metadata", "managedFields")
    if not isinstance(fields, list) or not fields:
        return None
    return {
        f["manager"] for f in fields if isinstance(f, dict) and isinstance(f.get("manager"), str)
    }
