"""Reports as plain JSON-ready documents: the machine contract behind ``-o json`` and ``-o yaml``.

``schema_version`` changes only when a field is removed or changes meaning; new fields may appear.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eksaddon.compat import CompatReport
from eksaddon.matrix.summary import KubernetesRow, MatrixListing, MatrixSummary
from eksaddon.planner import Plan

if TYPE_CHECKING:
    from eksaddon.nodeside.detect import DetectedAddon

SCHEMA_VERSION = 1


def matrix_document(summary: MatrixSummary) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "addon": summary.addon,
        "source": summary.origin,
        "as_of": summary.as_of,
        "kubernetes_versions": {str(row.entry.version): _matrix_row(row) for row in summary.rows},
    }


def _matrix_row(row: KubernetesRow) -> dict[str, Any]:
    document: dict[str, Any] = {
        "latest": str(row.entry.latest),
        "default": _optional(row.entry.default),
        "builds": [str(b) for b in row.builds],
        "catalogue_complete": row.entry.catalogue_complete,
        "complete_through": _optional(row.entry.complete_through),
    }
    if row.entry.latest_as_of is not None:  # only where a matrix dates its latest build
        document["latest_as_of"] = row.entry.latest_as_of
    return document


def listing_document(listing: MatrixListing) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "addons": [
            {
                "addon": row.addon,
                "display_name": row.display_name,
                "source": row.origin,
                "as_of": row.as_of,
                "kubernetes_versions": [str(k) for k in row.kubernetes],
                "upgrade_policy": str(row.policy),
                "builds": row.builds,
                "catalogue_complete": row.catalogue_complete,
            }
            for row in listing.rows
        ],
    }


def plan_body(plan: Plan) -> dict[str, Any]:
    """The plan fields shared by ``plan`` and the ``plan`` key of ``check-compat``."""
    return {
        "kubernetes_version": str(plan.kubernetes),
        "addon_type": str(plan.addon_type),
        "from": str(plan.current),
        "to": str(plan.target),
        "requested": plan.requested,
        "direction": str(plan.direction),
        "steps": [
            {"from": str(s.source), "to": str(s.target), "notes": list(s.notes)} for s in plan.steps
        ],
        "notes": list(plan.notes),
        "warnings": list(plan.warnings),
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "addon": plan.addon, **plan_body(plan)}


def compat_document(report: CompatReport) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "addon": report.addon,
        "matrix": report.matrix_origin,
        "kubernetes_version": str(report.kubernetes),
        "target_kubernetes_version": _optional(report.target_kubernetes),
        "addon_version": str(report.addon_version),
        "addon_type": report.type_name,
        "findings": [
            {
                "code": f.code,
                "severity": str(f.severity),
                "message": f.message,
                "check": f.check,
            }
            for f in report.findings
        ],
        "plan": plan_body(report.plan) if report.plan is not None else None,
    }
    if report.plans:  # the type is unknown: the plan of each path
        document["plans"] = {
            str(kind): plan_body(p) if p is not None else None for kind, p in report.plans
        }
    if report.detected is not None:
        document["detected"] = detected_document(report.detected)
    return document


def detected_document(detected: DetectedAddon) -> dict[str, Any]:
    return {
        "version": str(detected.version),
        "type": detected.type_name,
        "type_basis": detected.type_basis,
        "type_evidence": [
            {
                "signal": e.signal,
                "points_to": None if e.points_to is None else str(e.points_to),
                "detail": e.detail,
            }
            for e in detected.type_evidence
        ],
        "helm": None if detected.helm is None else detected.helm._asdict(),
        "images": dict(detected.images),
        "customizations": [
            {
                "container": c.container,
                "name": c.name,
                "value": c.value,
                "default": c.default,
                "kind": c.kind,
            }
            for c in detected.customizations
        ],
        "features": list(detected.features),
        "drift": [
            {"container": d.container, "kind": d.kind, "name": d.name, "expected": d.expected}
            for d in detected.drift
        ],
        "drift_note": detected.drift_note,
    }


def _optional(value: object | None) -> str | None:
    return None if value is None else str(value)
