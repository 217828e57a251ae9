"""The gate's reads: side by side where independent, one catalogue read per region × version ×
add-on for a fleet, and every read that fails said in the report (never a silent pass)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from gate_fakes import FakeKube, FakeUpgradeEks, K, deprecated_api_insight, insight, workload

from eksaddon.compat import Severity
from eksaddon.engine.fleet import FleetTarget, GatewayPool
from eksaddon.engine.gate import GateRequest, gate_cluster, matrices
from eksaddon.engine.gate_fleet import gate_fleet
from eksaddon.errors import AccessDeniedError, ClusterNotFoundError, InputError
from eksaddon.gate import Phase
from eksaddon.gateways.protocols import NodegroupInfo
from eksaddon.matrix.model import AddonType
from eksaddon.nodeside.rollout import NodeFacts

ADDONS = {
    "vpc-cni": "v1.16.4-eksbuild.2",
    "kube-proxy": "v1.26.15-eksbuild.10",
    "coredns": "v1.10.1-eksbuild.13",
    "aws-ebs-csi-driver": "v1.29.1-eksbuild.1",
}
FIRST_WAVE = ("describe_cluster", "list_addons", "list_insights", "nodegroups", "fargate_profiles")


def eks(**extra: Any) -> FakeUpgradeEks:
    fake = FakeUpgradeEks()
    fake.add(
        "prod",
        "1.29",
        ADDONS,
        insights=(deprecated_api_insight(), insight("Kubelet version skew", "PASSING")),
        nodegroups=(NodegroupInfo("old", "1.26", "1.26.15", "ACTIVE"),),
        **extra,
    )
    return fake


def run(fake: FakeUpgradeEks, *, target: str = "1.30", kube: Any = None, **request: Any) -> Any:
    return gate_cluster(
        fake,
        "prod",
        GateRequest(K(target), **request),
        matrix_for=matrices(),
        kube=(lambda info: kube) if kube is not None else None,
    )


class BarrierEks(FakeUpgradeEks):
    """Each call named in ``wave`` waits until ``parties`` calls are in flight: sequential calls
    would break the barrier (BrokenBarrierError), so passing proves they went out side by side."""

    wave: tuple[str, ...] = ()
    parties = 0

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(self.parties, timeout=10)

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name in super().__getattribute__("wave"):
            barrier = super().__getattribute__("barrier")

            def together(*args: Any) -> Any:
                barrier.wait()
                return attribute(*args)

            return together
        return attribute


class Together(BarrierEks):
    """Each first-wave call waits until all five are in flight."""

    wave = FIRST_WAVE
    parties = len(FIRST_WAVE)


def test_the_first_reads_go_out_together_and_nothing_is_written() -> None:
    fake = Together()
    fake.add("prod", "1.29", ADDONS)
    report = run(fake)
    assert [v.addon for v in report.addons] == sorted(ADDONS)
    assert fake.calls["DescribeAddon"] == 4
    # Current and target catalogue per add-on; no write (the fake's writes raise).
    assert fake.calls["DescribeAddonVersions"] == 8


SECOND_WAVE = ("describe_addon", "describe_insight", "addon_versions")


class SecondWaveTogether(BarrierEks):
    """Every DescribeAddon (4), DescribeInsight (1, the insight not PASSING) and catalogue read
    (4 add-ons × current and target version) waits until all 13 are in flight."""

    wave = SECOND_WAVE
    parties = 4 + 1 + 8


def test_the_second_reads_go_out_together() -> None:
    fake = SecondWaveTogether()
    fake.add(
        "prod",
        "1.29",
        ADDONS,
        insights=(deprecated_api_insight(), insight("Kubelet version skew", "PASSING")),
    )
    report = run(fake)
    assert [v.addon for v in report.addons] == sorted(ADDONS)
    assert (fake.calls["DescribeAddon"], fake.calls["DescribeInsight"]) == (4, 1)
    assert fake.calls["DescribeAddonVersions"] == 8


def test_the_whole_cluster_in_one_report() -> None:
    report = run(eks())
    phases = {v.addon: v.phase for v in report.addons}
    assert phases == {
        "aws-ebs-csi-driver": Phase.AFTER,
        "coredns": Phase.BEFORE,
        "kube-proxy": Phase.BEFORE,
        "vpc-cni": Phase.AFTER,
    }
    codes = {f.code for f in report.blocking}
    assert codes == {"insight-error", "node-group-behind"}
    assert report.failed


def test_describe_insight_only_for_insights_that_are_not_passing() -> None:
    fake = eks()
    report = run(fake)
    assert fake.calls["DescribeInsight"] == 1
    (error,) = [i for i in report.insights if i.summary.status == "ERROR"]
    assert error.detail is not None and error.detail.deprecations


def test_insights_that_cannot_be_read_are_a_warning() -> None:
    fake = eks()
    fake.fail["ListInsights"] = AccessDeniedError("eks:ListInsights: AccessDeniedException")
    report = run(fake)
    (unread,) = [f for f in report.findings if f.code == "insights-unread"]
    assert unread.severity is Severity.WARNING and "AccessDenied" in unread.message


def test_one_insight_detail_failing_keeps_its_status() -> None:
    fake = eks()
    fake.fail["DescribeInsight"] = AccessDeniedError("eks:DescribeInsight: AccessDeniedException")
    (error,) = [i for i in run(fake).insights if i.summary.status == "ERROR"]
    assert error.finding.severity is Severity.ERROR
    assert "details not read" in error.finding.message


def test_a_cluster_that_cannot_be_described_or_listed_stops_the_gate() -> None:
    with pytest.raises(ClusterNotFoundError):
        gate_cluster(
            FakeUpgradeEks(), "nope", GateRequest(K("1.30")), matrix_for=matrices(), kube=None
        )
    fake = eks()
    fake.fail["ListAddons"] = AccessDeniedError("eks:ListAddons: AccessDeniedException")
    with pytest.raises(AccessDeniedError):
        run(fake)


def test_a_target_below_the_cluster_is_refused() -> None:
    with pytest.raises(InputError, match="below the cluster's 1.29"):
        run(eks(), target="1.28")


def test_catalogue_failures_fall_back_to_the_bundled_matrix_and_say_so() -> None:
    fake = eks()
    fake.fail["DescribeAddonVersions"] = AccessDeniedError("DescribeAddonVersions: denied")
    report = run(fake)
    coredns = next(v for v in report.addons if v.addon == "coredns")
    assert coredns.catalogue_source == "bundled matrix"
    assert any(f.code == "catalogue-unread" for f in coredns.findings)


def test_addon_narrowing_and_nodegroup_failure() -> None:
    fake = eks()
    fake.fail["ListNodegroups"] = AccessDeniedError("eks:ListNodegroups: denied")
    report = run(fake, only=("coredns",))
    assert [v.addon for v in report.addons] == ["coredns"]
    assert fake.calls["DescribeAddon"] == 1
    assert any(f.code == "node-groups-unread" for f in report.findings)


def test_self_managed_core_addons_are_found_through_kubernetes() -> None:
    fake = FakeUpgradeEks()
    fake.add("prod", "1.29", {"vpc-cni": "v1.18.3-eksbuild.3"})
    image = (
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.28.12-minimal-eksbuild.5"
    )
    kube = FakeKube(
        [NodeFacts("ip-1", {"eks.amazonaws.com/nodegroup": "ng"}, "v1.29.3-eks-1")],
        {
            ("DaemonSet", "kube-system", "kube-proxy"): workload(
                "DaemonSet", "kube-proxy", "kube-proxy", image
            ),
            ("Deployment", "kube-system", "coredns"): workload(
                "Deployment", "coredns", "coredns", "eks/coredns:v1.10.1-eksbuild.13"
            ),
        },
    )
    report = run(fake, kube=kube)
    found = {v.addon: v for v in report.addons}
    assert found["kube-proxy"].type is AddonType.SELF_MANAGED
    assert str(found["kube-proxy"].version) == "v1.28.12"
    assert found["kube-proxy"].source == "Kubernetes (DaemonSet kube-system/kube-proxy image tag)"
    assert str(found["coredns"].version) == "v1.10.1"
    # vpc-cni is an EKS add-on: its DaemonSet is not looked at as a self-managed install.
    assert ("DaemonSet", "kube-system", "aws-node") not in kube.reads
    assert report.nodes.kubelet_versions() == {"ip-1": "v1.29.3-eks-1"}


def test_kubernetes_unreachable_is_said_for_nodes_and_self_managed_addons() -> None:
    def unreachable(info: Any) -> Any:
        from eksaddon.errors import KubernetesUnreachableError

        raise KubernetesUnreachableError("cannot reach https://example: connection refused")

    report = gate_cluster(
        eks(), "prod", GateRequest(K("1.30")), matrix_for=matrices(), kube=unreachable
    )
    codes = {f.code: f for f in report.findings}
    assert "connection refused" in codes["kubelets-unread"].message
    assert "connection refused" in codes["self-managed-not-looked-for"].message


def test_a_fleet_reads_each_catalogue_once_per_region_version_and_addon() -> None:
    fake = FakeUpgradeEks()
    for number in range(6):
        fake.add(f"c{number}", "1.29", ADDONS)
    pool = GatewayPool(lambda region, profile, role: fake)
    targets = [FleetTarget(f"c{n}", "us-west-2") for n in range(6)] + [
        FleetTarget("gone", "us-west-2")
    ]
    report = gate_fleet(
        targets, GateRequest(K("1.30")), pool=pool, matrix_for=matrices(), concurrency=4
    )
    assert fake.calls["DescribeAddonVersions"] == len(ADDONS) * 2
    results = {o.target.name: o for o in report.outcomes}
    assert results["gone"].report is None and results["gone"].exit_code == 3
    assert all(results[f"c{n}"].report is not None for n in range(6))
    assert int(report.exit_code) == 3
    # Every fleet report says why Kubernetes was not read.
    first = results["c0"].report
    assert first is not None
    assert any("a fleet run does not read Kubernetes" in f.message for f in first.findings)


def test_a_forbidden_workload_read_is_said_and_the_rest_still_read() -> None:
    from eksaddon.errors import KubernetesForbiddenError

    class Forbidden(FakeKube):
        def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
            raise KubernetesForbiddenError(f"forbidden: get deployments {namespace}/{name}")

    fake = FakeUpgradeEks()
    fake.add("prod", "1.29", {"vpc-cni": "v1.18.3-eksbuild.3"})
    image = "eks/kube-proxy:v1.28.12-minimal-eksbuild.5"
    kube = Forbidden(
        [NodeFacts("ip-1", {}, "v1.29.3-eks-1")],
        {
            ("DaemonSet", "kube-system", "kube-proxy"): workload(
                "DaemonSet", "kube-proxy", "kube-proxy", image
            )
        },
    )
    report = run(fake, kube=kube)
    assert "kube-proxy" in {v.addon for v in report.addons}
    (problem,) = [f for f in report.findings if f.code == "self-managed-not-looked-for"]
    assert "coredns: forbidden: get deployments" in problem.message
    assert report.nodes.kubelet_versions() == {"ip-1": "v1.29.3-eks-1"}
