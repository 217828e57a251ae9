"""The gate's JSON/YAML document, ``schema_version: 2`` (docs/json-output.md).

Version 2 because the shape is new: one document per cluster with every add-on, the insights and
the nodes; version-1 documents (a single add-on) are unchanged.
"""

from __future__ import annotations

from typing import Any

from eksaddon.compat import Finding
from eksaddon.gate import AddonVerdict, GateReport, InsightVerdict
from eksaddon.planner import Step

GATE_SCHEMA_VERSION = 2


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _steps(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
    return [{"from": str(s.source), "to": str(s.target), "notes": list(s.notes)} for s in steps]


def _finding(
    report: GateReport, finding: Finding, addon: str | None, verdict: AddonVerdict | None
) -> dict[str, Any]:
    return {
        "code": finding.code,
        "check": finding.check,
        "severity": str(finding.severity),
        "message": finding.message,
        "addon": addon,
        "source": report.source_of(verdict, finding),
    }


def _addon(report: GateReport, verdict: AddonVerdict) -> dict[str, Any]:
    return {
        "addon": verdict.addon,
        "type": _text(verdict.type),
        "version": _text(verdict.version),
        "reported_version": verdict.reported_version,
        "source": verdict.source,
        "phase": str(verdict.phase),
        "steps": _steps(verdict.steps),
        "after_steps": _steps(verdict.after_steps),
        "latest": _text(verdict.latest),
        "target_latest": _text(verdict.target_latest),
        "offered_for_current": verdict.offered_current,
        "offered_for_target": verdict.offered_target,
        "catalogue_source": verdict.catalogue_source,
        "target_catalogue_source": verdict.target_catalogue_source,
        "findings": [_finding(report, f, verdict.addon, verdict) for f in verdict.findings],
    }


def _insight(insight: InsightVerdict) -> dict[str, Any]:
    summary, detail = insight.summary, insight.detail
    document: dict[str, Any] = {
        "id": summary.id,
        "name": summary.name,
        "category": summary.category,
        "status": summary.status,
        "reason": summary.reason,
        "severity": str(insight.finding.severity),
        "kubernetes_version": summary.kubernetes_version,
        "recommendation": detail.recommendation if detail is not None else None,
        "last_refresh": summary.last_refresh,
        "last_transition": summary.last_transition,
        "source": "EKS API (eks:ListInsights, eks:DescribeInsight)",
    }
    if detail is not None:
        document["additional_info"] = dict(detail.additional_info)
        document["resources"] = [
            {"status": r.status, "kubernetes_resource_uri": r.kubernetes_resource_uri, "arn": r.arn}
            for r in detail.resources
        ]
        document["deprecations"] = [
            {
                "usage": d.usage,
                "replaced_with": d.replaced_with,
                "stop_serving_version": d.stop_serving_version,
                "start_serving_replacement_version": d.start_serving_replacement_version,
                "clients": [
                    {
                        "user_agent": c.user_agent,
                        "requests_last_30_days": c.requests_last_30_days,
                        "last_request": c.last_request,
                    }
                    for c in d.clients
                ],
            }
            for d in detail.deprecations
        ]
        document["addon_compatibility"] = [
            {"addon": a.addon, "compatible_versions": list(a.compatible_versions)}
            for a in detail.addon_compatibility
        ]
    return document


def gate_document(report: GateReport) -> dict[str, Any]:
    verdicts = {v.addon: v for v in report.addons}
    nodes = report.nodes
    return {
        "schema_version": GATE_SCHEMA_VERSION,
        "kind": "cluster-upgrade-gate",
        "cluster": report.cluster,
        "region": report.region,
        "kubernetes_version": str(report.kubernetes_version),
        "target_kubernetes_version": str(report.target_kubernetes_version),
        "platform_version": report.platform_version,
        "status": report.status,
        "fail_on": str(report.fail_on),
        "result": "failed" if report.failed else "passed",
        "phases": {
            phase: [v.addon for v in report.addons if str(v.phase) == phase]
            for phase in ("before", "after", "none")
        },
        "addons": [_addon(report, v) for v in report.addons],
        "insights": [_insight(i) for i in report.upgrade_insights if i.summary.id],
        "other_insights": [_insight(i) for i in report.other_insights],
        "nodes": {
            "groups": [
                {
                    "name": g.name,
                    "kubernetes_version": g.kubernetes_version,
                    "release_version": g.release_version,
                    "status": g.status,
                    "source": "EKS API (eks:DescribeNodegroup)",
                }
                for g in nodes.groups
            ],
            "groups_read": nodes.groups_read,
            "kubelet_versions": nodes.kubelet_versions(),
            "kubelets_read": nodes.kubelets_read,
            "kubelets_source": "Kubernetes (nodes)",
            "fargate_nodes": [k.node for k in nodes.kubelets if k.fargate],
            "fargate_profiles": list(nodes.fargate_profiles),
        },
        "findings": [
            _finding(report, f, addon, verdicts.get(addon) if addon else None)
            for addon, f in report.every_finding()
        ],
    }
