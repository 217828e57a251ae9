"""Documents for the live commands: status, upgrade and install results, matrix diff."""

from __future__ import annotations

from typing import Any

from eksaddon.engine.install import InstallResult
from eksaddon.engine.nodeside_status import NodeSide
from eksaddon.engine.refresh import MatrixDiff
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
        "addon_type": "managed" if report.addon is not None else "not-managed",
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
