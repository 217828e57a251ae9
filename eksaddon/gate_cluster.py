"""The gate's cluster part: the control plane, the one-minor rule, EKS upgrade insights, nodes.

Pure. The rules (upgrade-rules.yaml beside the repository):
- EKS updates the control plane one minor at a time and only when it is ACTIVE;
- every managed node group (and Fargate node) must run the control plane's minor before the
  update (EKS user guide, update-cluster);
- a kubelet may be at most three minors older than the API server (two for kubelets older than
  1.25) and never newer (Kubernetes version-skew policy): nodes that would fall outside at the
  target block the upgrade;
- insights: ERROR blocks, WARNING warns, UNKNOWN warns that EKS could not tell, PASSING informs;
  insights that cannot be read are a warning, never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from eksaddon.compat import Finding, Severity
from eksaddon.gate import GateFacts, InsightFacts, InsightVerdict, KubeletFacts
from eksaddon.gateways.protocols import INSIGHT_STATUSES, InsightDetail
from eksaddon.textsafety import for_terminal
from eksaddon.versions import KubernetesVersion

UPGRADE_READINESS = "UPGRADE_READINESS"
KUBELET_MAX_OLDER = 3
KUBELET_MAX_OLDER_BEFORE_1_25 = 2  # kubelets older than 1.25 (version-skew policy)
_KUBELET = re.compile(r"v?(\d{1,4})\.(\d{1,4})(?:\.\d+)?(?:[-+][0-9A-Za-z.\-]*)?")
NODES_NAMED = 5  # a finding names this many nodes, then counts the rest


def _minors(older: KubernetesVersion, newer: KubernetesVersion) -> int:
    return newer.minor - older.minor


def cluster_findings(facts: GateFacts) -> Iterator[Finding]:
    cluster, target = facts.cluster, facts.target
    yield Finding(
        "control-plane",
        "control-plane",
        Severity.INFO,
        f"cluster {cluster.name} ({cluster.region}) runs Kubernetes {cluster.version}, "
        f"platform {for_terminal(cluster.platform_version or 'unknown')}",
    )
    if cluster.status != "ACTIVE":
        yield Finding(
            "control-plane",
            "cluster-not-active",
            Severity.ERROR,
            f"cluster {cluster.name} is {for_terminal(cluster.status or 'of unknown status')}: "
            "EKS updates the control plane of an ACTIVE cluster only",
        )
    for issue in cluster.health_issues:
        yield Finding(
            "control-plane",
            "cluster-health-issue",
            Severity.ERROR,
            f"control plane health issue {for_terminal(issue.code)}: {for_terminal(issue.message)}",
        )
    yield from _one_minor(cluster.version, target)
    for problem in facts.addon_problems:
        yield Finding("addons", "addons-unread", Severity.WARNING, problem)
    if facts.self_managed_problem is not None:
        yield Finding(
            "self-managed",
            "self-managed-not-looked-for",
            Severity.WARNING,
            "self-managed add-ons not (all) looked for through Kubernetes: "
            f"{facts.self_managed_problem}",
        )


def upgrade_chain(current: KubernetesVersion, target: KubernetesVersion) -> list[KubernetesVersion]:
    """current, then every minor up to target (same major)."""
    return [KubernetesVersion(current.major, m) for m in range(current.minor, target.minor + 1)]


def _one_minor(current: KubernetesVersion, target: KubernetesVersion) -> Iterator[Finding]:
    if target.major != current.major:
        yield Finding(
            "one-minor",
            "one-minor-at-a-time",
            Severity.ERROR,
            f"Kubernetes {target} is another major version than {current}: "
            "no upgrade path is known",
        )
    elif target == current:
        yield Finding(
            "one-minor",
            "same-version",
            Severity.INFO,
            f"the cluster already runs {current}: the add-ons and nodes are checked at {current}",
        )
    elif _minors(current, target) > 1:
        chain = " → ".join(str(v) for v in upgrade_chain(current, target))
        following = KubernetesVersion(current.major, current.minor + 1)
        yield Finding(
            "one-minor",
            "one-minor-at-a-time",
            Severity.ERROR,
            f"Kubernetes {target} is {_minors(current, target)} minors ahead of {current}: EKS "
            f"updates the control plane one minor at a time ({chain}); gate "
            f"--target-kubernetes-version {following} first, upgrade, then gate the next",
        )
    else:
        yield Finding(
            "one-minor",
            "one-minor",
            Severity.INFO,
            f"{current} → {target} is one minor: EKS can update the control plane in one step",
        )


# -- insights ------------------------------------------------------------------------------------


def insight_verdicts(facts: GateFacts) -> tuple[InsightVerdict, ...]:
    if facts.insights_problem is not None:
        # A gate that could not ask EKS must not look like one EKS passed.
        unread = Finding(
            "insights",
            "insights-unread",
            Severity.WARNING,
            f"EKS upgrade insights could not be read ({facts.insights_problem}): they are not "
            "checked, which is not a pass; grant eks:ListInsights and eks:DescribeInsight or "
            "check them in the EKS console",
        )
        return (_placeholder(unread),)
    return tuple(_insight(i, facts.target) for i in facts.insights)


def _placeholder(finding: Finding) -> InsightVerdict:
    from eksaddon.gateways.protocols import InsightSummary

    summary = InsightSummary("", "insights unread", "", "UNREAD", None, None, None, None, None)
    return InsightVerdict(summary, None, finding, upgrade_readiness=True)


_SEVERITY = {"ERROR": Severity.ERROR, "WARNING": Severity.WARNING, "UNKNOWN": Severity.WARNING}


def _insight(facts: InsightFacts, target: KubernetesVersion) -> InsightVerdict:
    summary = facts.summary
    readiness = summary.category == UPGRADE_READINESS
    status = summary.status
    severity = _SEVERITY.get(status, Severity.INFO if status == "PASSING" else Severity.WARNING)
    if not readiness and severity is Severity.ERROR:
        severity = Severity.WARNING  # not about the upgrade: shown, never blocking it
    name = for_terminal(summary.name)
    if status == "UNKNOWN":
        head = f"EKS could not tell whether {name} affects the upgrade"
    elif status not in INSIGHT_STATUSES:
        head = f"{name}: status {for_terminal(status)}, which eksaddon does not know"
    else:
        head = f"{name}: {status}"
    parts = [head]
    if summary.reason:
        parts.append(for_terminal(summary.reason))
    if facts.detail is not None and status != "PASSING":
        parts += _detail(facts.detail)
    elif facts.detail_problem is not None:
        parts.append(f"details not read: {facts.detail_problem}")
    checked = summary.kubernetes_version
    about = f", checked for Kubernetes {for_terminal(checked)}" if checked else ""
    if checked and checked != str(target):
        about += f" (the target is {target})"
    category = (
        ""
        if readiness
        else f", category {for_terminal(summary.category)}: not an upgrade-readiness insight"
    )
    refreshed = for_terminal(summary.last_refresh or "unknown")
    message = (
        "; ".join(parts)
        + f" (EKS insight {for_terminal(summary.id)}{about}{category}; last refreshed {refreshed})"
    )
    finding = Finding("insights", f"insight-{status.lower()}"[:40], severity, message)
    return InsightVerdict(summary, facts.detail, finding, readiness)


def _detail(detail: InsightDetail) -> Iterator[str]:
    if detail.recommendation:
        yield f"recommendation: {for_terminal(detail.recommendation)}"
    for deprecation in detail.deprecations:
        replaced = (
            f", replaced by {for_terminal(deprecation.replaced_with)}"
            if deprecation.replaced_with
            else ""
        )
        removed = (
            f", no longer served from {for_terminal(deprecation.stop_serving_version)}"
            if deprecation.stop_serving_version
            else ""
        )
        clients = ", ".join(
            f"{for_terminal(c.user_agent)}"
            + (f" ({c.requests_last_30_days} calls in 30 days)" if c.requests_last_30_days else "")
            for c in deprecation.clients
        )
        called = f"; still called by {clients}" if clients else ""
        yield f"deprecated API {for_terminal(deprecation.usage)}{replaced}{removed}{called}"
    for addon in detail.addon_compatibility:
        versions = ", ".join(for_terminal(v) for v in addon.compatible_versions) or "none listed"
        yield f"{for_terminal(addon.addon)} compatible with the next version: {versions}"
    resources = [
        for_terminal(r.kubernetes_resource_uri or r.arn or "")
        for r in detail.resources
        if (r.kubernetes_resource_uri or r.arn) and r.status != "PASSING"
    ]
    if resources:
        yield f"resources: {_named(resources)}"


def _named(names: list[str]) -> str:
    shown = ", ".join(names[:NODES_NAMED])
    return shown + (f" and {len(names) - NODES_NAMED} more" if len(names) > NODES_NAMED else "")


# -- nodes ---------------------------------------------------------------------------------------


def kubelet_minor(text: str | None) -> KubernetesVersion | None:
    """``v1.29.3-eks-ae9a62a`` → 1.29; None when the text is not a version."""
    match = _KUBELET.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    return KubernetesVersion(int(match.group(1)), int(match.group(2)))


def allowed_kubelet_lag(kubelet: KubernetesVersion) -> int:
    below = kubelet < KubernetesVersion(1, 25)
    return KUBELET_MAX_OLDER_BEFORE_1_25 if below else KUBELET_MAX_OLDER


def node_findings(facts: GateFacts) -> Iterator[Finding]:
    yield from _groups(facts)
    yield from _kubelets(facts)
    yield from _fargate(facts)


def _groups(facts: GateFacts) -> Iterator[Finding]:
    current, target, cluster = facts.cluster.version, facts.target, facts.cluster.name
    if facts.nodegroups_problem is not None:
        yield Finding(
            "node-groups",
            "node-groups-unread",
            Severity.WARNING,
            f"managed node groups could not be read ({facts.nodegroups_problem}): their "
            "versions are not checked",
        )
        return
    for group in facts.nodegroups:
        name = for_terminal(group.name)
        minor = kubelet_minor(group.kubernetes_version)
        if minor is None:
            yield Finding(
                "node-groups",
                "node-group-version-unknown",
                Severity.WARNING,
                f"node group {name}: EKS reports version "
                f"{for_terminal(group.kubernetes_version or 'none')}, which eksaddon cannot read",
            )
            continue
        if minor != current:
            outside = ""
            if minor.major == target.major and _minors(minor, target) > allowed_kubelet_lag(minor):
                outside = (
                    f", and at {target} its kubelets would be {_minors(minor, target)} minors "
                    f"behind the API server (the policy allows {allowed_kubelet_lag(minor)})"
                )
            yield Finding(
                "node-groups",
                "node-group-behind",
                Severity.ERROR,
                f"node group {name} runs Kubernetes {minor}: EKS updates the control plane only "
                f"when every managed node group runs its minor ({current}){outside}; upgrade it "
                f"first (eksaddon does not upgrade nodes): `aws eks update-nodegroup-version "
                f"--cluster-name {cluster} --nodegroup-name {name} --kubernetes-version {current}`",
            )
        else:
            yield Finding(
                "node-groups",
                "node-group",
                Severity.INFO,
                f"node group {name} runs Kubernetes {minor} "
                f"(release {for_terminal(group.release_version or 'unknown')})",
            )
        if group.status not in (None, "ACTIVE"):
            yield Finding(
                "node-groups",
                "node-group-status",
                Severity.WARNING,
                f"node group {name} is {for_terminal(group.status)}",
            )


def _kubelets(facts: GateFacts) -> Iterator[Finding]:
    if facts.kubelets_problem is not None:
        yield Finding(
            "kubelets",
            "kubelets-unread",
            Severity.WARNING,
            f"the nodes' kubelet versions were not read ({facts.kubelets_problem}): nodes outside "
            "the kubelet skew policy after the upgrade would not be seen",
        )
        return
    current, target = facts.cluster.version, facts.target
    groups: dict[tuple[str, Severity, str], list[str]] = {}
    for node in facts.kubelets:
        code, severity, text = _kubelet(node, current, target)
        groups.setdefault((code, severity, text), []).append(for_terminal(node.node))
    for (code, severity, text), nodes in sorted(groups.items(), key=lambda i: -i[0][1].rank):
        yield Finding("kubelets", code, severity, f"{len(nodes)} node(s) ({_named(nodes)}): {text}")
    if not facts.kubelets:
        yield Finding("kubelets", "no-nodes", Severity.INFO, "Kubernetes lists no nodes")


def _kubelet(
    node: KubeletFacts, current: KubernetesVersion, target: KubernetesVersion
) -> tuple[str, Severity, str]:
    kind = "Fargate" if node.fargate else ("managed" if node.managed else "self-managed")
    minor = kubelet_minor(node.kubelet_version)
    shown = for_terminal(node.kubelet_version or "none")
    if minor is None:
        return "kubelet-unknown", Severity.WARNING, f"{kind} kubelet version {shown} cannot be read"
    fix = (
        "restart their pods: Fargate starts them on nodes at the control plane's version"
        if node.fargate
        else "upgrade or replace them first (eksaddon does not upgrade nodes)"
    )
    if minor.major != target.major or _minors(minor, target) > allowed_kubelet_lag(minor):
        return (
            "kubelet-outside-skew",
            Severity.ERROR,
            f"{kind} kubelet {minor} would be {_minors(minor, target)} minors older than the API "
            f"server at {target} (the version-skew policy allows {allowed_kubelet_lag(minor)}); "
            f"{fix}",
        )
    if minor > current:
        return (
            "kubelet-newer",
            Severity.WARNING,
            f"{kind} kubelet {minor} is newer than the control plane ({current})",
        )
    if minor < current:
        # EKS requires managed and Fargate nodes on the control plane's minor before the update
        # and recommends it for self-managed ones.
        severity = Severity.WARNING if kind == "self-managed" else Severity.ERROR
        return (
            "kubelet-behind",
            severity,
            f"{kind} kubelet {minor} is behind the control plane ({current}): EKS wants nodes on "
            f"{current} before the control plane moves to {target}; {fix}",
        )
    return "kubelet", Severity.INFO, f"{kind} kubelet {minor}, the control plane's minor"


def _fargate(facts: GateFacts) -> Iterator[Finding]:
    if facts.fargate_problem is not None:
        yield Finding(
            "fargate",
            "fargate-unread",
            Severity.WARNING,
            f"Fargate profiles could not be read ({facts.fargate_problem})",
        )
        return
    if not facts.fargate_profiles:
        return
    names = _named([for_terminal(p) for p in facts.fargate_profiles])
    if facts.kubelets_problem is not None:
        yield Finding(
            "fargate",
            "fargate-nodes-unchecked",
            Severity.WARNING,
            f"Fargate profile(s) {names}: their nodes' versions need Kubernetes, which was not "
            "read",
        )
    else:
        yield Finding(
            "fargate",
            "fargate-profiles",
            Severity.INFO,
            f"Fargate profile(s) {names}: their nodes are checked with the kubelets",
        )
