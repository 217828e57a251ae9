"""Reports of ``upgrade --all-addons`` and ``cluster-upgrade``: a text summary and a document.

Every text from outside (add-on names, versions, update ids, messages) is made safe for the
terminal in the text form; the JSON/YAML document carries it as data.
"""

from __future__ import annotations

from typing import Any, TextIO

from eksaddon.engine.all_addons import AddonOutcome, AddonTarget, AllAddonsResult
from eksaddon.engine.journey import JourneyPlan, JourneyResult, NodeAction
from eksaddon.textsafety import for_terminal

DOCUMENT_VERSION = 1


def _outcome(outcome: AddonOutcome) -> dict[str, Any]:
    return {
        "addon": outcome.addon,
        "phase": outcome.phase,
        "target": outcome.target,
        "state": outcome.state,
        "steps": [{"from": str(s.source), "to": str(s.target)} for s in outcome.steps],
        "steps_done": outcome.steps_done,
        "from": outcome.source,
        "version": outcome.version,
        "journal": str(outcome.journal) if outcome.journal else None,
        "backup": str(outcome.backup) if outcome.backup else None,
        "error": outcome.error,
        "self_managed": outcome.self_managed,
        "next_step": outcome.next_step,
    }


def all_addons_document(result: AllAddonsResult) -> dict[str, Any]:
    return {
        "document_version": DOCUMENT_VERSION,
        "cluster": result.cluster,
        "region": result.region,
        "kubernetes_version": result.kubernetes_version,
        "for_kubernetes_version": result.for_kubernetes_version,
        "phase": result.phase,
        "dry_run": result.dry_run,
        "addons": [_outcome(o) for o in result.addons],
        "self_managed_unknown": result.self_managed_unknown,
        "journal": str(result.journal) if result.journal else None,
    }


def _node(node: NodeAction) -> dict[str, Any]:
    return {"name": node.name, "kind": node.kind, "version": node.version, "command": node.command}


def _plan(plan: JourneyPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "source": plan.source,
        "target": plan.target,
        "force_upgrade_insights": plan.force,
        "overridden_findings": list(plan.overridden),
        "before": [_outcome(o) for o in plan.before],
        "after": [
            {
                "addon": t.addon,
                "target": t.target,
                "reason": t.reason,
                "self_managed": t.self_managed,
                "not_carried": t.not_carried,
            }
            for t in plan.after
        ],
        "after_self_managed_unknown": plan.after_unknown,
        "nodes": [_node(n) for n in plan.nodes],
    }


def journey_document(result: JourneyResult) -> dict[str, Any]:
    return {
        "document_version": DOCUMENT_VERSION,
        "cluster": result.cluster,
        "region": result.region,
        "kubernetes_version": result.source,
        "target_kubernetes_version": result.target,
        "dry_run": result.dry_run,
        "plan": _plan(result.plan),
        "stages": [{"stage": s, "state": state} for s, state in result.stages],
        "before": all_addons_document(result.before) if result.before else None,
        "control_plane": result.control_plane,
        "after": all_addons_document(result.after) if result.after else None,
        "nodes": [_node(n) for n in result.nodes],
        "journal": str(result.journal) if result.journal else None,
    }


def _t(value: object) -> str:
    return for_terminal(str(value))


def _outcome_line(outcome: AddonOutcome) -> str:
    if outcome.next_step is not None:  # self-managed, not carried
        return (
            f"  {_t(outcome.addon):<24} self-managed: not carried — {_t(outcome.next_step or '')}"
        )
    path = " → ".join([_t(outcome.source), *(_t(s.target) for s in outcome.steps)])
    detail = path if outcome.steps else _t(outcome.version or "unknown")
    marker = " (self-managed)" if outcome.self_managed else ""
    return f"  {_t(outcome.addon):<24} {outcome.state:<12} {detail}{marker}"


def _after_line(target: AddonTarget) -> str:
    if target.not_carried is not None:
        return (
            f"  {_t(target.addon):<24} {_t(target.reason)}; not carried — {_t(target.not_carried)}"
        )
    return f"  {_t(target.addon):<24} {_t(target.reason)}"


def all_addons_text(result: AllAddonsResult) -> str:
    what = (
        f"before Kubernetes {_t(result.for_kubernetes_version)}"
        if result.for_kubernetes_version
        else f"latest for Kubernetes {_t(result.kubernetes_version)}"
    )
    verb = "plan" if result.dry_run else "result"
    lines = [f"{verb}: every add-on of cluster {_t(result.cluster)}, {what}"]
    lines += [_outcome_line(o) for o in result.addons] or ["  no add-ons to carry"]
    if result.self_managed_unknown:
        lines.append(f"  {_t(result.self_managed_unknown)}")
    if result.journal:
        lines.append(f"run journal: {_t(result.journal)}")
    return "\n".join(lines)


def journey_text(result: JourneyResult) -> str:
    lines = [
        f"{'plan' if result.dry_run else 'result'}: cluster {_t(result.cluster)} Kubernetes "
        f"{_t(result.source)} → {_t(result.target)}"
    ]
    plan = result.plan
    if plan is not None and result.dry_run:
        lines.append(
            "1. gate: passed" + (" (insight findings overridden)" if plan.overridden else "")
        )
        lines += [f"   overridden: {_t(f)}" for f in plan.overridden]
        lines.append("2. before the control plane:")
        lines += [_outcome_line(o) for o in plan.before] or ["  nothing to move"]
        force = " with force (--force-upgrade-insights)" if plan.force else ""
        lines.append(f"3. control plane: UpdateClusterVersion to {_t(plan.target)}{force}")
        lines.append("4. after the control plane (latest builds for the new version):")
        lines += [_after_line(t) for t in plan.after] or ["  every EKS add-on to its latest build"]
        if plan.after_unknown:
            lines.append(f"  {_t(plan.after_unknown)}")
        lines.append("5. nodes still to upgrade (eksaddon does not upgrade nodes):")
    else:
        for stage, state in result.stages:
            lines.append(f"  {stage:<14} {state}")
        control = result.control_plane
        if control.get("update_id"):
            lines.append(f"control-plane update: {_t(control['update_id'])}")
        for phase in (result.before, result.after):
            if phase is not None:
                lines.append(all_addons_text(phase))
        lines.append("nodes still to upgrade (eksaddon does not upgrade nodes):")
    for node in result.nodes:
        command = f": {_t(node.command)}" if node.command else ""
        lines.append(f"  {_t(node.describe())}{command}")
    if result.journal:
        lines.append(f"journal: {_t(result.journal)}")
    return "\n".join(lines)


def all_addons_table(result: AllAddonsResult, stream: TextIO) -> None:
    stream.write(all_addons_text(result) + "\n")


def journey_table(result: JourneyResult, stream: TextIO) -> None:
    stream.write(journey_text(result) + "\n")
