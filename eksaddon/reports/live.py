"""Documents for the live commands: status, upgrade and install results, matrix diff."""

from __future__ import annotations

from typing import Any

from eksaddon.engine.install import InstallResult
from eksaddon.engine.nodeside_status import NodeSide
from eksaddon.engine.pod_identity_status import PodIdentityStatus
from eksaddon.engine.refresh import MatrixDiff
from eksaddon.engine.self_managed_status import SelfManaged
from eksaddon.engine.status import StatusReport
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.gateways.protocols import AddonState
from eksaddon.reports.documents import SCHEMA_VERSION, detected_document, plan_body


def _optional(value: object | None) -> str | None:
    return None if value is None else str(value)


def addon_document(state: AddonState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "version": state.reported_version,
        "status": state.status,
        "health_issues": [
            {"code": i.code, "message": i.message, "resource_ids": list(i.resource_ids)}
            for i in state.issues
        ],
        "configuration_values": state.configuration_values,
        "service_account_role_arn": state.service_account_role_arn,
        "pod_identity_associations": list(state.pod_identity_associations),
        "arn": state.arn,
    }


def status_document(report: StatusReport) -> dict[str, Any]:
    cluster = report.cluster
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": cluster.name,
        "region": cluster.region,
        "kubernetes_version": str(cluster.version),
        "platform_version": cluster.platform_version,
        "addon": report.addon_name,
        "addon_type": _addon_type(report),
        "installed": addon_document(report.addon),
        "latest": _optional(report.latest),
        "default": _optional(report.default),
        "catalogue_source": report.catalogue_source,
        "catalogue_warning": report.catalogue_warning,
        "update_available": report.update_available,
        "plan": plan_body(report.plan) if report.plan is not None else None,
        "plan_problem": report.plan_problem,
        "nodegroups": [
            {
                "name": g.name,
                "kubernetes_version": g.kubernetes_version,
                "release_version": g.release_version,
                "status": g.status,
            }
            for g in report.nodegroups
        ],
        "fargate_profiles": list(report.fargate_profiles),
        "node_side": node_side_document(report.node_side),
        "node_side_note": report.node_side_note,
        "pod_identity": pod_identity_document(report.pod_identity),
        "self_managed": self_managed_document(report.self_managed),
    }


def _addon_type(report: StatusReport) -> str:
    """managed, self-managed or absent; not-managed when Kubernetes does not tell which."""
    if report.addon is not None:
        return "managed"
    found = report.self_managed
    if found is not None and found.state in ("self-managed", "absent"):
        return found.state
    return "not-managed"


def self_managed_document(found: SelfManaged | None) -> dict[str, Any] | None:
    """What Kubernetes shows of an add-on EKS does not manage (None: not looked for)."""
    if found is None:
        return None
    return {
        "state": found.state,
        "workload": found.workload,
        "image_tag": found.image_tag,
        "version": _optional(found.version),
        "version_note": found.version_note,
        "evidence": list(found.evidence),
        "next_step": found.next_step,
        "kubernetes_problem": found.problem,
    }


def pod_identity_document(status: PodIdentityStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {
        "associations": list(status.associations),
        "recommended_for": None if status.build is None else str(status.build),
        "recommended": None
        if status.recommended is None
        else [
            {
                "service_account": c.service_account,
                "recommended_managed_policies": list(c.recommended_managed_policies),
            }
            for c in status.recommended
        ],
        "note": status.note,
    }


def node_side_document(side: NodeSide | None) -> dict[str, Any] | None:
    if side is None:
        return None
    rollout = side.rollout
    return {
        "state": side.state,
        "other_cni": side.other_cni,
        "detected": detected_document(side.detected) if side.detected is not None else None,
        "rollout": None
        if rollout is None
        else {
            "done": rollout.done,
            "nodes": list(rollout.nodes),
            "behind": list(rollout.behind),
            "crashlooping": list(rollout.crashlooping),
            "desired": rollout.desired,
            "updated": rollout.updated,
            "available": rollout.available,
        },
        "fargate_nodes": list(side.fargate_nodes),
        "findings": list(side.findings),
        # A workload read without a defaults table: which one, and its version or why unknown.
        **(
            {
                "workload": side.workload,
                "version": _optional(side.version),
                "version_note": side.version_note,
            }
            if side.detected is None and side.state == "running"
            else {}
        ),
    }


def upgrade_document(result: UpgradeResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": result.cluster,
        "region": result.region,
        "addon": result.plan.addon,
        "dry_run": result.dry_run,
        "resumed": result.resumed,
        "steps_done": result.steps_done,
        "plan": plan_body(result.plan),
        "journal": _optional(result.journal),
        "backup": _optional(result.backup),
        "final": addon_document(result.final),
    }


def diff_document(report: MatrixDiff) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "addon": report.addon,
        "matrix": report.origin,
        "region": report.region,
        "changed": report.changed,
        "kubernetes_versions": {
            str(row.kubernetes): {
                "added": [str(v) for v in row.added],
                "removed": [str(v) for v in row.removed],
                "latest": {"matrix": _optional(row.latest[0]), "live": _optional(row.latest[1])},
                "default": {"matrix": _optional(row.default[0]), "live": _optional(row.default[1])},
            }
            for row in report.versions
        },
    }


def install_document(result: InstallResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": result.cluster,
        "region": result.region,
        "addon": result.addon,
        "version": str(result.version),
        "dry_run": result.dry_run,
        "backup": _optional(result.backup),
        "final": addon_document(result.final),
    }
