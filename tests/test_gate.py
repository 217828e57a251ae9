"""The gate's pure decisions: phases and steps per add-on, insights, nodes, the one-minor rule."""

from __future__ import annotations

from typing import Any

from gate_fakes import CATALOGUES, deprecated_api_insight, insight

from eksaddon.compat import Finding, Severity
from eksaddon.engine.catalogue import with_live_catalogue
from eksaddon.gate import (
    AddonFacts,
    GateFacts,
    GateReport,
    InsightFacts,
    KubeletFacts,
    Phase,
    decide,
    finding_source,
)
from eksaddon.gate_addons import empty_matrix
from eksaddon.gate_cluster import kubelet_minor
from eksaddon.gateways.protocols import (
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    HealthIssue,
    NodegroupInfo,
)
from eksaddon.matrix import load_matrix
from eksaddon.matrix.model import AddonType, Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion

V = AddonVersion.parse
K = KubernetesVersion.parse
LIVE = "EKS API (eks:DescribeAddonVersions)"


def cluster(version: str = "1.29", **changes: Any) -> ClusterInfo:
    return ClusterInfo("prod", K(version), "eks.7", "ACTIVE", "us-west-2")._replace(**changes)


def live(addon: str, matrix: Matrix, *versions: str) -> Matrix:
    for kubernetes in versions:
        offered = sorted((V(v) for v in CATALOGUES[addon][kubernetes]), reverse=True)
        entries = [CatalogueEntry(v, False) for v in offered]
        matrix = with_live_catalogue(matrix, K(kubernetes), entries, origin=LIVE)
    return matrix


def eks_addon(
    addon: str,
    version: str,
    *,
    live_for: tuple[str, ...] = ("1.29", "1.30"),
    status: str = "ACTIVE",
) -> AddonFacts:
    matrix = live(addon, load_matrix(addon), *live_for)
    state = AddonState(addon, "prod", version, status, (), None, None)
    return AddonFacts(
        name=addon,
        type=AddonType.MANAGED,
        reported_version=version,
        version=state.readable_version,
        source="EKS API (eks:DescribeAddon)",
        matrix=matrix,
        catalogue_sources=tuple((K(k), LIVE) for k in live_for),
        state=state,
    )


def gate(*addons: AddonFacts, target: str = "1.30", **facts: Any) -> GateReport:
    base = GateFacts(cluster=facts.pop("cluster", cluster()), target=K(target), addons=addons)
    return decide(base._replace(**facts))


def codes(findings: tuple[Finding, ...] | list[Finding]) -> dict[str, Severity]:
    return {f.code: f.severity for f in findings}


def steps(verdict_steps: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(str(s.source), str(s.target)) for s in verdict_steps]  # type: ignore[attr-defined]


def test_a_build_the_target_does_not_offer_moves_before_the_control_plane() -> None:
    report = gate(eks_addon("coredns", "v1.10.1-eksbuild.13"))
    (verdict,) = report.addons
    assert verdict.phase is Phase.BEFORE
    assert steps(verdict.steps) == [("v1.10.1-eksbuild.13", "v1.11.3-eksbuild.1")]
    assert verdict.offered_current is True and verdict.offered_target is False
    found = codes(verdict.findings)
    assert found["before-control-plane"] is Severity.WARNING  # eksaddon carries it: not blocking
    assert found["version-not-offered"] is Severity.WARNING
    assert not report.blocking


def test_kube_proxy_that_would_fall_out_of_skew_moves_before_and_again_after() -> None:
    report = gate(eks_addon("kube-proxy", "v1.26.15-eksbuild.10"))
    (verdict,) = report.addons
    assert verdict.phase is Phase.BEFORE
    # The newest build offered for both 1.29 and 1.30 and inside the policy at both.
    assert steps(verdict.steps) == [("v1.26.15-eksbuild.10", "v1.29.7-eksbuild.5")]
    assert steps(verdict.after_steps) == [("v1.29.7-eksbuild.5", "v1.30.3-eksbuild.5")]
    message = next(f.message for f in verdict.findings if f.code == "before-control-plane")
    assert "outside the version-skew policy at 1.30" in message


def test_kube_proxy_within_skew_goes_to_the_target_minor_after() -> None:
    (verdict,) = gate(eks_addon("kube-proxy", "v1.28.12-eksbuild.5")).addons
    assert verdict.phase is Phase.AFTER
    assert steps(verdict.steps) == [("v1.28.12-eksbuild.5", "v1.30.3-eksbuild.5")]


def test_vpc_cni_after_steps_one_minor_at_a_time_on_the_target() -> None:
    (verdict,) = gate(eks_addon("vpc-cni", "v1.16.4-eksbuild.2")).addons
    assert verdict.phase is Phase.AFTER
    assert steps(verdict.steps) == [
        ("v1.16.4-eksbuild.2", "v1.17.1-eksbuild.1"),
        ("v1.17.1-eksbuild.1", "v1.18.3-eksbuild.3"),
    ]
    assert codes(verdict.findings)["behind-latest"] is Severity.WARNING
    behind = next(f.message for f in verdict.findings if f.code == "behind-latest")
    assert "2 minor version(s) behind" in behind


def test_an_addon_at_the_targets_latest_needs_nothing() -> None:
    (verdict,) = gate(eks_addon("vpc-cni", "v1.18.3-eksbuild.3")).addons
    assert verdict.phase is Phase.NONE and verdict.steps == ()
    assert codes(verdict.findings)["up-to-date"] is Severity.INFO


def test_a_build_not_offered_for_the_current_version_is_an_error() -> None:
    facts = eks_addon("vpc-cni", "v1.12.6-eksbuild.2")  # the live 1.29 catalogue lacks it
    (verdict,) = gate(facts).addons
    current = [f for f in verdict.findings if f.check == "offered"]
    assert codes(current)["version-not-offered"] is Severity.ERROR


def test_no_build_for_both_versions_is_a_blocking_error() -> None:
    facts = eks_addon("coredns", "v1.10.1-eksbuild.13")
    only_old = live("coredns", load_matrix("coredns"), "1.30")
    # 1.29 now offers only the old build: nothing bridges to 1.30.
    only_old = with_live_catalogue(
        only_old, K("1.29"), [CatalogueEntry(V("v1.10.1-eksbuild.13"), True)], origin=LIVE
    )
    report = gate(facts._replace(matrix=only_old))
    (verdict,) = report.addons
    assert verdict.phase is Phase.NONE
    assert codes(verdict.findings)["no-path-before"] is Severity.ERROR
    assert report.blocking and report.failed


def test_an_unreadable_eks_build_blocks_and_is_shown_as_reported() -> None:
    facts = eks_addon("vpc-cni", "v1.18.3-eksbuild.3")._replace(
        reported_version="latest\x1b[2J", version=None, version_problem="not a version"
    )
    (verdict,) = gate(facts).addons
    (finding,) = [f for f in verdict.findings if f.code == "version-unreadable"]
    assert finding.severity is Severity.ERROR
    assert "\x1b" not in finding.message


def test_health_issues_and_a_failed_status_block() -> None:
    facts = eks_addon("coredns", "v1.11.3-eksbuild.1", status="DEGRADED")
    facts = facts._replace(
        state=facts.state._replace(issues=(HealthIssue("InsufficientNumberOfReplicas", "0/2"),))  # type: ignore[union-attr]
    )
    found = codes(gate(facts).addons[0].findings)
    assert found["addon-status"] is Severity.ERROR
    assert found["health-issue"] is Severity.ERROR


def test_an_addon_known_only_to_eks_uses_the_live_catalogue() -> None:
    matrix = empty_matrix("aws-guardduty-agent")
    entries = [
        CatalogueEntry(V("v1.6.1-eksbuild.1"), False),
        CatalogueEntry(V("v1.5.0-eksbuild.1"), True),
    ]
    for k in ("1.29", "1.30"):
        matrix = with_live_catalogue(matrix, K(k), entries, origin=LIVE)
    facts = AddonFacts(
        "aws-guardduty-agent",
        AddonType.MANAGED,
        "v1.5.0-eksbuild.1",
        V("v1.5.0-eksbuild.1"),
        "EKS API (eks:DescribeAddon)",
        matrix,
        ((K("1.29"), LIVE), (K("1.30"), LIVE)),
    )
    (verdict,) = gate(facts).addons
    assert verdict.phase is Phase.AFTER
    assert steps(verdict.steps) == [("v1.5.0-eksbuild.1", "v1.6.1-eksbuild.1")]


def test_without_the_live_catalogue_unknown_offers_are_said_not_guessed() -> None:
    facts = eks_addon("coredns", "v1.10.1-eksbuild.13", live_for=())
    (verdict,) = gate(facts).addons
    assert verdict.catalogue_source == "bundled matrix"
    assert codes(verdict.findings)["version-not-recorded"] is Severity.WARNING
    assert finding_source(verdict, verdict.findings[-1]).endswith("bundled matrix")


# -- the one-minor rule and the control plane ------------------------------------------------


def test_a_target_two_minors_ahead_is_refused_with_the_chain() -> None:
    report = gate(target="1.31")
    (finding,) = [f for f in report.findings if f.code == "one-minor-at-a-time"]
    assert finding.severity is Severity.ERROR
    assert "1.29 → 1.30 → 1.31" in finding.message
    assert "--target-kubernetes-version 1.30 first" in finding.message


def test_one_minor_passes_and_the_control_plane_health_blocks() -> None:
    assert codes(gate().findings)["one-minor"] is Severity.INFO
    sick = cluster(status="UPDATING", health_issues=(HealthIssue("SubnetNotFound", "gone"),))
    found = codes(gate(cluster=sick).findings)
    assert found["cluster-not-active"] is Severity.ERROR
    assert found["cluster-health-issue"] is Severity.ERROR


# -- insights --------------------------------------------------------------------------------


def test_insight_statuses_become_findings_with_id_and_refresh() -> None:
    report = gate(
        insights=(
            InsightFacts(deprecated_api_insight().summary, deprecated_api_insight()),
            InsightFacts(insight("Kubelet version skew", "WARNING").summary, None),
            InsightFacts(insight("kube-proxy version skew", "UNKNOWN").summary, None),
            InsightFacts(insight("Cluster health issues", "PASSING").summary, None),
            InsightFacts(
                insight("Hybrid nodes", "ERROR", category="MISCONFIGURATION").summary, None
            ),
        )
    )
    by_name = {i.summary.name: i.finding for i in report.insights}
    error = by_name["Deprecated APIs removed in Kubernetes v1.30"]
    assert error.severity is Severity.ERROR
    assert "a1b2c3d4-deprecated" in error.message and "2024-09-10T08:00:00Z" in error.message
    assert "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas" in error.message
    assert "replaced by /apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas" in error.message
    assert "kubectl/v1.26.0 (12 calls in 30 days)" in error.message
    assert by_name["Kubelet version skew"].severity is Severity.WARNING
    unknown = by_name["kube-proxy version skew"]
    assert unknown.severity is Severity.WARNING and "EKS could not tell" in unknown.message
    assert by_name["Cluster health issues"].severity is Severity.INFO
    other = by_name["Hybrid nodes"]
    assert (
        other.severity is Severity.WARNING and "not an upgrade-readiness insight" in other.message
    )
    assert [i.summary.name for i in report.other_insights] == ["Hybrid nodes"]


def test_unreadable_insights_are_a_warning_never_a_silent_pass() -> None:
    report = gate(insights_problem="AccessDeniedException: eks:ListInsights")
    (finding,) = [f for f in report.findings if f.check == "insights"]
    assert finding.code == "insights-unread" and finding.severity is Severity.WARNING
    assert "not a pass" in finding.message


# -- nodes -----------------------------------------------------------------------------------


def test_a_node_group_behind_the_control_plane_blocks_with_the_command() -> None:
    report = gate(nodegroups=(NodegroupInfo("old", "1.26", "1.26.15-20240910", "ACTIVE"),))
    (finding,) = [f for f in report.findings if f.code == "node-group-behind"]
    assert finding.severity is Severity.ERROR
    assert "would be 4 minors behind" in finding.message
    assert (
        "aws eks update-nodegroup-version --cluster-name prod --nodegroup-name old"
        in finding.message
    )


def test_kubelets_outside_the_skew_at_the_target_block_fargate_included() -> None:
    report = gate(
        kubelets=(
            KubeletFacts("ip-1", "v1.26.15-eks-1", fargate=False, managed=False),
            KubeletFacts("ip-2", "v1.28.3-eks-1", fargate=False, managed=False),
            KubeletFacts("fargate-1", "v1.26.3-eks-1", fargate=True, managed=False),
            KubeletFacts("ip-3", "v1.29.3-eks-1", fargate=False, managed=True),
        )
    )
    found = {f.message.split(":")[0]: f for f in report.findings if f.check == "kubelets"}
    assert found["1 node(s) (ip-1)"].severity is Severity.ERROR
    assert found["1 node(s) (fargate-1)"].severity is Severity.ERROR
    assert "restart their pods" in found["1 node(s) (fargate-1)"].message
    assert found["1 node(s) (ip-2)"].severity is Severity.WARNING  # self-managed, within skew
    assert found["1 node(s) (ip-3)"].severity is Severity.INFO
    assert report.nodes.kubelet_versions()["ip-1"] == "v1.26.15-eks-1"


def test_kubelets_not_read_is_said() -> None:
    report = gate(
        kubelets_problem="Kubernetes not read (--skip-node-side)", fargate_profiles=("fp",)
    )
    found = codes(report.findings)
    assert found["kubelets-unread"] is Severity.WARNING
    assert found["fargate-nodes-unchecked"] is Severity.WARNING


def test_kubelet_versions_are_read_leniently_and_skew_allows_two_below_1_25() -> None:
    assert kubelet_minor("v1.29.3-eks-ae9a62a") == K("1.29")
    assert kubelet_minor("1.30") == K("1.30")
    assert kubelet_minor("not a version") is None and kubelet_minor(None) is None
    report = gate(
        target="1.27",
        cluster=cluster("1.26"),
        kubelets=(KubeletFacts("old", "v1.24.1", False, False),),
    )
    (finding,) = [f for f in report.findings if f.check == "kubelets"]
    assert finding.severity is Severity.ERROR and "allows 2" in finding.message


def test_fail_on_warning_fails_on_a_before_phase() -> None:
    facts = GateFacts(cluster(), K("1.30"), (eks_addon("coredns", "v1.10.1-eksbuild.13"),))
    assert not decide(facts).failed
    assert decide(facts, fail_on=Severity.WARNING).failed


def test_kube_proxy_moved_after_must_stay_within_the_skew_of_every_kubelet() -> None:
    report = gate(
        eks_addon("kube-proxy", "v1.28.12-eksbuild.5"),
        kubelets=(
            KubeletFacts("ip-old", "v1.26.15-eks-1", fargate=False, managed=True),
            KubeletFacts("ip-new", "v1.29.3-eks-1", fargate=False, managed=True),
        ),
    )
    (verdict,) = report.addons
    found = {f.code: f for f in verdict.findings}
    # Now v1.28 is two minors from the 1.26 kubelet (allowed); after the phase v1.30 is four.
    assert "kubelet-skew" not in found
    after = found["kubelet-skew-after"]
    assert after.severity is Severity.ERROR
    assert "v1.30.3-eksbuild.5" in after.message and "1 node(s) (ip-old)" in after.message
    assert "Kubernetes" in finding_source(verdict, after)
    assert report.blocking


def test_kube_proxy_already_outside_a_kubelets_skew_is_an_error_now() -> None:
    (verdict,) = gate(
        eks_addon("kube-proxy", "v1.29.7-eksbuild.5"),
        kubelets=(KubeletFacts("ancient", "v1.25.16-eks-1", fargate=False, managed=False),),
    ).addons
    found = codes(verdict.findings)
    assert found["kubelet-skew"] is Severity.ERROR
    assert found["kubelet-skew-after"] is Severity.ERROR


def test_the_kubelet_half_of_the_skew_is_said_unchecked_and_only_for_skew_addons() -> None:
    report = gate(
        eks_addon("kube-proxy", "v1.29.7-eksbuild.5"),
        eks_addon("vpc-cni", "v1.18.3-eksbuild.3"),
        kubelets_problem="Kubernetes not read (--skip-node-side)",
    )
    kube_proxy, vpc_cni = report.addons
    assert codes(kube_proxy.findings)["kubelet-skew-unchecked"] is Severity.INFO
    assert not [f for f in vpc_cni.findings if f.check == "kubelet-skew"]
