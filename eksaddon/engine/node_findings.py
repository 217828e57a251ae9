"""Live ``check-compat``'s node-side findings: what the nodes run, against what EKS reports.

Every message names the profile's workload as the cluster has it (``NodeSide.workload``), never a
particular add-on's.
"""

from __future__ import annotations

from typing import Any

from eksaddon.compat import Finding, Severity
from eksaddon.engine.nodeside_status import NodeSide
from eksaddon.gateways.protocols import AddonState
from eksaddon.nodeside.detect import DetectedAddon


def node_findings(read: dict[str, Any], state: AddonState) -> list[Finding]:
    """Findings about the node side ``read`` (a NodeSide, or a note saying why not read)."""
    side: NodeSide | None = read.get("node_side")
    if side is None:
        return [Finding("node-side", "node-side-unread", Severity.WARNING, read["node_side_note"])]
    if side.state != "running":
        other = f", replaced by {side.other_cni}" if side.other_cni else ""
        return [
            Finding(
                "node-side",
                "cni-not-running",
                Severity.ERROR,
                f"the {side.name} {_kind(side)} is {side.state}{other}",
            )
        ]
    if side.detected is None:
        return _workload_findings(side, state)
    detected = side.detected
    findings = [
        Finding(
            "node-side",
            "nodes-run",
            Severity.INFO,
            f"the nodes run {detected.version} (from the {side.name} image)",
        )
    ]
    if state.readable_version is not None and detected.version != state.readable_version:
        findings.append(
            Finding(
                "node-side",
                "version-drift",
                Severity.WARNING,
                f"EKS reports {state.reported_version} but the {side.name} {_kind(side)} runs "
                f"{detected.version}",
            )
        )
    if detected.customizations:
        names = ", ".join(sorted({c.name for c in detected.customizations}))
        findings.append(
            Finding(
                "node-side",
                "customizations",
                Severity.INFO,
                f"{len(detected.customizations)} custom setting(s) on the nodes, "
                f"carried by `eksaddon upgrade`: {names}",
            )
        )
    findings += _ownership_and_drift(detected, side.name)
    findings += [Finding("node-side", "image-registry", Severity.WARNING, f) for f in side.findings]
    if side.rollout is not None and not side.rollout.done:
        findings.append(
            Finding(
                "node-side",
                "rollout-in-progress",
                Severity.WARNING,
                f"{side.name} rollout not finished: {side.rollout.progress}",
            )
        )
    return findings


def _kind(side: NodeSide) -> str:
    return (side.workload or "DaemonSet").split(" ", 1)[0]


def _workload_findings(side: NodeSide, state: AddonState) -> list[Finding]:
    """A workload read without a defaults table: its version (or why unknown) and rollout."""
    if side.version is None:
        findings = [
            Finding(
                "node-side",
                "nodes-run",
                Severity.INFO,
                f"the version the nodes run is unknown: {side.version_note}",
            )
        ]
    else:
        findings = [
            Finding(
                "node-side",
                "nodes-run",
                Severity.INFO,
                f"the nodes run {side.version} (from the {side.name} image)",
            )
        ]
        reported = state.readable_version
        if reported is not None and side.version != reported:
            findings.append(
                Finding(
                    "node-side",
                    "version-drift",
                    Severity.WARNING,
                    f"EKS reports {state.reported_version} but the {side.name} {_kind(side)} "
                    f"runs {side.version}",
                )
            )
    if side.rollout is not None and not side.rollout.done:
        findings.append(
            Finding(
                "node-side",
                "rollout-in-progress",
                Severity.WARNING,
                f"{side.name} rollout not finished: {side.rollout.progress}",
            )
        )
    return findings


def _ownership_and_drift(detected: DetectedAddon, name: str) -> list[Finding]:
    """A Helm release behind the EKS add-on, and what the DaemonSet lacks of its release."""
    findings = []
    if detected.helm is not None:
        from eksaddon.nodeside.helm import describe

        findings.append(
            Finding(
                "node-side",
                "helm-release-left",
                Severity.WARNING,
                f"{name} still carries the marks of {describe(detected.helm)}: a later "
                "`helm upgrade` or `helm uninstall` of it would change or delete objects the "
                "EKS add-on owns (see docs/helm.md)",
            )
        )
    findings += [
        Finding(
            "node-side",
            "drift",
            Severity.WARNING,
            f"drift from the {detected.version.release} manifest: {d.describe()}; an update "
            "of the add-on restores it",
        )
        for d in detected.drift
    ]
    return findings
