from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eksaddon.compat import Severity
from eksaddon.engine.install import InstallOptions, install
from eksaddon.engine.refresh import diff, read_catalogues, refreshed_document
from eksaddon.engine.status import collect_status, live_check_compat
from eksaddon.errors import AccessDeniedError, InputError
from eksaddon.gateways.protocols import HealthIssue
from eksaddon.matrix import Matrix
from eksaddon.matrix.loader import build_matrix
from eksaddon.versions import AddonVersion, KubernetesVersion
from fakes import FakeClock, FakeEks

K = KubernetesVersion.parse
V = AddonVersion.parse


def do_install(eks: FakeEks, bundled: Matrix, tmp_path: Path, **options: Any) -> Any:
    return install(
        gateway=eks,
        matrix=bundled,
        options=InstallOptions(cluster="prod", addon="vpc-cni", poll_interval=1, **options),
        state_directory=tmp_path,
        progress=lambda e: None,
        confirm=lambda what: True,
        clock=FakeClock(),
    )


def test_install_creates_the_default_build(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version=None)
    result = do_install(eks, bundled, tmp_path)
    assert str(result.version) == "v1.16.4-eksbuild.2"  # the catalogue's default
    assert result.final.status == "ACTIVE"
    assert eks.calls["CreateAddon"] == 1
    assert result.backup is not None and result.backup.exists()


def test_install_refuses_an_existing_addon(bundled: Matrix, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="already an EKS add-on on cluster prod"):
        do_install(FakeEks(), bundled, tmp_path)


def test_install_checks_configuration_values_first(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version=None)
    with pytest.raises(InputError, match=r"schema at \$: Additional properties .*'bogus'"):
        do_install(eks, bundled, tmp_path, configuration_values='{"bogus": true}')
    assert eks.calls["CreateAddon"] == 0


def test_status_reports_version_health_and_path(bundled: Matrix) -> None:
    report = collect_status(
        FakeEks(version="v1.16.4-eksbuild.2"), bundled, cluster="prod", addon="vpc-cni"
    )
    assert report.addon is not None and str(report.addon.version) == "v1.16.4-eksbuild.2"
    assert str(report.latest) == "v1.18.3-eksbuild.3"
    assert str(report.default) == "v1.16.4-eksbuild.2"
    assert report.catalogue_source == "eks:DescribeAddonVersions"
    assert report.update_available
    assert report.plan is not None and len(report.plan.steps) == 2
    assert report.fargate_profiles == ("kube-system",)
    assert report.nodegroups[0].name == "workers"


def test_status_of_an_addon_eks_does_not_manage(bundled: Matrix) -> None:
    report = collect_status(FakeEks(version=None), bundled, cluster="prod", addon="vpc-cni")
    assert report.addon is None
    assert not report.update_available
    assert report.addon_type.startswith("not managed by EKS")


def test_live_check_compat_names_its_sources(bundled: Matrix) -> None:
    report = live_check_compat(
        FakeEks(version="v1.15.5-eksbuild.1"),
        bundled,
        cluster="prod",
        addon="vpc-cni",
        target_kubernetes=None,
        features=(),
        fail_on=Severity.ERROR,
    )
    sources = [f.message for f in report.findings if f.check == "sources"]
    assert any("from eks:DescribeCluster" in m for m in sources)
    assert any("from eks:DescribeAddon" in m for m in sources)
    assert "version catalogue from eks:DescribeAddonVersions" in sources
    assert report.plan is not None


def test_live_check_compat_falls_back_to_the_matrix_with_a_warning(bundled: Matrix) -> None:
    eks = FakeEks(version="v1.15.5-eksbuild.1")

    def denied(addon: str, kubernetes: KubernetesVersion) -> list[Any]:
        raise AccessDeniedError("access denied to eks:DescribeAddonVersions")

    eks.addon_versions = denied  # type: ignore[method-assign]
    report = live_check_compat(
        eks,
        bundled,
        cluster="prod",
        addon="vpc-cni",
        target_kubernetes=None,
        features=(),
        fail_on=Severity.WARNING,
    )
    fallback = next(f for f in report.findings if f.code == "catalogue-fallback")
    assert fallback.severity is Severity.WARNING
    assert "bundled vpc-cni.yaml" in fallback.message
    assert report.failed


def test_live_check_compat_reports_health_issues(bundled: Matrix) -> None:
    eks = FakeEks(version="v1.18.3-eksbuild.3")
    eks.addon["status"] = "DEGRADED"  # type: ignore[index]
    eks.addon["issues"] = (HealthIssue("InsufficientNumberOfReplicas", "x"),)  # type: ignore[index]
    report = live_check_compat(
        eks,
        bundled,
        cluster="prod",
        addon="vpc-cni",
        target_kubernetes=None,
        features=(),
        fail_on=Severity.ERROR,
    )
    assert any(f.code == "health-issue" for f in report.findings)
    assert report.failed


def test_refresh_replaces_the_catalogue_and_validates(
    bundled: Matrix, bundled_raw: dict[str, Any]
) -> None:
    eks = FakeEks(kubernetes="1.30")
    catalogues = read_catalogues(eks, "vpc-cni", [K("1.30")])
    document = refreshed_document(bundled_raw, catalogues, region="us-west-2")
    refreshed = build_matrix(document, label="refreshed")
    entry = refreshed.entry(K("1.30"))
    assert entry.catalogue_complete
    assert str(entry.default) == "v1.16.4-eksbuild.2"
    assert V("v1.17.1-eksbuild.1") in refreshed.builds_for(K("1.30"))
    assert V("v1.18.2-eksbuild.1") not in refreshed.builds_for(K("1.30"))  # not offered live
    assert refreshed.builds_for(K("1.29")) == bundled.builds_for(K("1.29"))  # untouched
    assert "EKS-API" in document["sources"]


def test_refresh_can_add_a_kubernetes_version(bundled_raw: dict[str, Any]) -> None:
    eks = FakeEks(kubernetes="1.31")
    document = refreshed_document(
        bundled_raw, read_catalogues(eks, "vpc-cni", [K("1.31")]), region="us-west-2"
    )
    assert next(iter(document["kubernetes_versions"])) == "1.31"


def test_diff_lists_added_and_removed_builds(bundled: Matrix) -> None:
    eks = FakeEks(kubernetes="1.30")
    report = diff(bundled, read_catalogues(eks, "vpc-cni", [K("1.30")]), region="us-west-2")
    (row,) = report.versions
    assert V("v1.17.1-eksbuild.1") in row.added
    assert V("v1.18.2-eksbuild.1") in row.removed
    assert row.default == (None, V("v1.16.4-eksbuild.2"))
    assert report.changed
