"""``status`` and live ``check-compat`` on a cluster created before EKS add-ons: EKS has no
kube-proxy or CoreDNS add-on (DescribeAddon: not found), Kubernetes runs them self-managed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from addon_objects import ClusterObjects, coredns_deployment, kube_proxy_daemonset

from eksaddon.addons import profile_for
from eksaddon.compat import CompatReport, Severity
from eksaddon.engine.status import StatusReport, collect_status, live_check_compat
from eksaddon.errors import ApiError, EksAddonError
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.matrix.model import AddonType
from eksaddon.reports.live import status_document
from eksaddon.versions import AddonVersion
from fakes import FakeEks

KUBECTL = ["kubectl-client-side-apply"]


def eks_without(addon: str, builds: list[str]) -> FakeEks:
    eks = FakeEks(version=None)  # DescribeAddon: not found
    eks.catalogue = [AddonVersion.parse(b) for b in builds]
    eks.default = eks.catalogue[0]
    return eks


KUBE_PROXY_BUILDS = ["v1.29.7-eksbuild.5", "v1.28.12-eksbuild.5"]
COREDNS_BUILDS = ["v1.11.3-eksbuild.1", "v1.10.1-eksbuild.13"]


def status(addon: str, builds: list[str], kube: Callable[[ClusterInfo], Any]) -> StatusReport:
    profile = profile_for(addon)
    return collect_status(
        eks_without(addon, builds), profile.matrix, cluster="prod", addon=addon, kube=kube,
        profile=profile,
    )  # fmt: skip


def compat(
    addon: str, builds: list[str], kube: Callable[[ClusterInfo], Any] | None
) -> CompatReport:
    profile = profile_for(addon)
    return live_check_compat(
        eks_without(addon, builds), profile.matrix, cluster="prod", addon=addon,
        target_kubernetes=None, features=(), fail_on=Severity.ERROR, kube=kube, profile=profile,
    )  # fmt: skip


def unreachable(info: ClusterInfo) -> Any:
    raise ApiError("Kubernetes API of cluster prod: connection refused")


def test_status_finds_a_self_managed_kube_proxy_and_its_version() -> None:
    kube = ClusterObjects(kube_proxy_daemonset("v1.28.12-minimal-eksbuild.5", managers=KUBECTL))
    report = status("kube-proxy", KUBE_PROXY_BUILDS, lambda info: kube)
    found = report.self_managed
    assert found is not None and found.state == "self-managed"
    assert str(found.version) == "v1.28.12-eksbuild.5"
    assert found.image_tag == "v1.28.12-minimal-eksbuild.5"
    assert found.workload == "DaemonSet kube-system/kube-proxy"
    assert found.evidence[0] == "eks:DescribeAddon finds no EKS add-on"
    assert "has no field manager 'eks' (managers: kubectl-client-side-apply)" in found.evidence[2]
    assert found.next_step is not None
    assert "`eksaddon migrate --cluster prod --addon kube-proxy`" in found.next_step
    assert report.addon_type == (
        "self-managed: DaemonSet kube-system/kube-proxy runs v1.28.12-eksbuild.5"
    )
    document = status_document(report)
    assert document["addon_type"] == "self-managed"
    assert document["self_managed"]["version"] == "v1.28.12-eksbuild.5"
    assert document["self_managed"]["next_step"] == found.next_step


def test_status_says_unknown_and_why_when_the_image_tag_does_not_show_the_version() -> None:
    kube = ClusterObjects(coredns_deployment("latest", managers=KUBECTL))
    report = status("coredns", COREDNS_BUILDS, lambda info: kube)
    found = report.self_managed
    assert found is not None and found.state == "self-managed"
    assert found.version is None and found.image_tag == "latest"
    assert found.version_note is not None and "invalid image tag 'latest'" in found.version_note
    assert "version unknown (invalid image tag 'latest'" in report.addon_type


def test_status_says_kubernetes_could_not_be_read_rather_than_absent() -> None:
    report = status("kube-proxy", KUBE_PROXY_BUILDS, unreachable)
    found = report.self_managed
    assert found is not None and found.state == "unknown"
    assert found.problem is not None and "connection refused" in found.problem
    assert "Kubernetes could not be read" in report.addon_type
    assert "absent" not in report.addon_type
    assert status_document(report)["addon_type"] == "not-managed"


def test_status_of_an_addon_that_does_not_run_says_absent() -> None:
    kube = ClusterObjects()
    report = status("coredns", COREDNS_BUILDS, lambda info: kube)
    assert report.self_managed is not None and report.self_managed.state == "absent"
    assert status_document(report)["addon_type"] == "absent"
    assert kube.reads[0] == ("Deployment", "coredns")


def test_status_of_an_eks_addon_does_not_look_for_a_self_managed_one() -> None:
    kube = ClusterObjects(kube_proxy_daemonset("v1.28.12-minimal-eksbuild.5"))
    eks = FakeEks(version="v1.28.12-eksbuild.5")
    eks.catalogue = [AddonVersion.parse(b) for b in KUBE_PROXY_BUILDS]
    profile = profile_for("kube-proxy")
    report = collect_status(
        eks, profile.matrix, cluster="prod", addon="kube-proxy", kube=lambda info: kube,
        profile=profile,
    )  # fmt: skip
    assert report.self_managed is None and report.addon_type == "managed"


def test_check_compat_checks_a_self_managed_kube_proxy_at_the_version_its_image_shows() -> None:
    kube = ClusterObjects(kube_proxy_daemonset("v1.28.12-minimal-eksbuild.5", managers=KUBECTL))
    report = compat("kube-proxy", KUBE_PROXY_BUILDS, lambda info: kube)
    assert report.addon_type is AddonType.SELF_MANAGED
    assert str(report.addon_version) == "v1.28.12"  # a self-managed install runs a release
    assert "self-managed" in report.checks
    messages = [f.message for f in report.findings]
    assert any(
        "image tag v1.28.12-minimal-eksbuild.5 from Kubernetes (DaemonSet kube-system/kube-proxy)"
        in m
        for m in messages
    )
    (own,) = [f for f in report.findings if f.code == "self-managed"]
    assert "eks:DescribeAddon finds no EKS add-on" in own.message
    assert "next: `eksaddon migrate --cluster prod --addon kube-proxy`" in own.message
    assert not any(f.code == "version-unreadable" for f in report.findings)


def test_check_compat_fails_on_a_self_managed_version_it_cannot_read() -> None:
    kube = ClusterObjects(coredns_deployment("latest", managers=KUBECTL))
    report = compat("coredns", COREDNS_BUILDS, lambda info: kube)
    assert report.failed
    (unreadable,) = [f for f in report.findings if f.code == "version-unreadable"]
    assert unreadable.severity is Severity.ERROR
    assert "which coredns version Deployment kube-system/coredns runs is unknown" in (
        unreadable.message
    )
    assert report.addon_version == "unknown"


def test_check_compat_says_kubernetes_could_not_be_read() -> None:
    with pytest.raises(EksAddonError) as raised:
        compat("kube-proxy", KUBE_PROXY_BUILDS, unreachable)
    assert "Kubernetes could not be read to look for a self-managed one" in raised.value.message
    assert "connection refused" in raised.value.message


def test_check_compat_says_the_workload_is_absent_and_what_to_do() -> None:
    with pytest.raises(EksAddonError) as raised:
        compat("coredns", COREDNS_BUILDS, lambda info: ClusterObjects())
    assert "and Deployment kube-system/coredns is absent" in raised.value.message
    assert raised.value.hint is not None and "eksaddon install" in raised.value.hint


def test_check_compat_without_kubernetes_says_where_to_look() -> None:
    with pytest.raises(EksAddonError) as raised:
        compat("kube-proxy", KUBE_PROXY_BUILDS, None)
    assert raised.value.hint is not None and "drop --skip-node-side" in raised.value.hint


def test_check_compat_of_a_missing_vpc_cni_is_refused_as_before() -> None:
    kube = ClusterObjects()
    with pytest.raises(EksAddonError) as raised:
        compat("vpc-cni", ["v1.18.3-eksbuild.3"], lambda info: kube)
    assert "vpc-cni is not an EKS add-on on cluster prod" in raised.value.message
    assert raised.value.hint is not None and "--daemonset" in raised.value.hint
    assert kube.reads == []
