from __future__ import annotations

import pytest

from eksaddon.compat import CompatReport, Severity, check_compat
from eksaddon.errors import InputError, UnknownKubernetesVersionError
from eksaddon.matrix import AddonType, Matrix
from eksaddon.nodeside.detect import detect
from eksaddon.versions import AddonVersion, KubernetesVersion
from tests_support import daemonset

V = AddonVersion.parse
K = KubernetesVersion.parse


def codes(report: CompatReport) -> dict[str, Severity]:
    return {f.code: f.severity for f in report.findings}


def test_latest_build_on_a_covered_version_passes(bundled: Matrix) -> None:
    report = check_compat(bundled, kubernetes=K("1.30"), addon_version=V("v1.18.3-eksbuild.3"))
    assert codes(report) == {"offered": Severity.INFO, "up-to-date": Severity.INFO}
    assert not report.failed
    assert report.plan is None


def test_build_not_offered_for_the_cluster_is_an_error(bundled: Matrix) -> None:
    # 1.29's capture lists v1.15.4/v1.15.5 but not v1.15.0: a real "not offered", not a data gap.
    report = check_compat(bundled, kubernetes=K("1.29"), addon_version=V("v1.15.0-eksbuild.2"))
    found = codes(report)
    assert found["version-not-offered"] is Severity.ERROR
    assert found["behind-latest"] is Severity.WARNING
    assert found["upgrade-path"] is Severity.INFO
    assert report.failed
    assert report.plan is not None
    assert [str(s.target) for s in report.plan.steps] == [
        "v1.16.4-eksbuild.2",
        "v1.17.1-eksbuild.1",
        "v1.18.3-eksbuild.3",
    ]


def test_gap_in_an_incomplete_catalogue_is_a_warning_not_an_error(bundled: Matrix) -> None:
    # No source lists v1.17 builds for 1.30: the matrix cannot say EKS refuses it.
    report = check_compat(bundled, kubernetes=K("1.30"), addon_version=V("v1.17.1-eksbuild.1"))
    found = codes(report)
    assert found["version-not-recorded"] is Severity.WARNING
    assert "version-not-offered" not in found
    assert not report.failed
    failing = check_compat(
        bundled,
        kubernetes=K("1.30"),
        addon_version=V("v1.17.1-eksbuild.1"),
        fail_on=Severity.WARNING,
    )
    assert failing.failed


def test_stepping_stone_is_reported_for_old_self_managed_installs(bundled: Matrix) -> None:
    report = check_compat(bundled, kubernetes=K("1.23"), addon_version=V("v1.6.3"))
    found = codes(report)
    assert report.addon_type is AddonType.SELF_MANAGED
    assert found["stepping-stone"] is Severity.WARNING
    assert found["offered"] is Severity.INFO
    stone = next(f for f in report.findings if f.code == "stepping-stone")
    assert stone.message.startswith("v1.7.10: stepping stone")


def test_no_upgrade_path_is_an_error_with_the_missing_step(bundled: Matrix) -> None:
    report = check_compat(bundled, kubernetes=K("1.30"), addon_version=V("v1.16.4-eksbuild.2"))
    finding = next(f for f in report.findings if f.code == "no-upgrade-path")
    assert finding.severity is Severity.ERROR
    assert "the step to v1.17 is missing" in finding.message
    assert report.failed


def test_target_kubernetes_not_offered_says_upgrade_the_addon_first(bundled: Matrix) -> None:
    report = check_compat(
        bundled,
        kubernetes=K("1.26"),
        addon_version=V("v1.12.0-eksbuild.2"),
        target_kubernetes=K("1.29"),
    )
    target = [f for f in report.findings if f.check == "target-kubernetes"]
    assert {f.code for f in target} == {"version-not-offered", "upgrade-addon-first"}
    advice = next(f for f in target if f.code == "upgrade-addon-first")
    assert "upgrade vpc-cni to v1.18.3-eksbuild.3 on Kubernetes 1.26 before" in advice.message
    assert advice.severity is Severity.ERROR


def test_target_kubernetes_already_offered_passes(bundled: Matrix) -> None:
    report = check_compat(
        bundled,
        kubernetes=K("1.29"),
        addon_version=V("v1.18.3-eksbuild.3"),
        target_kubernetes=K("1.30"),
    )
    assert not report.failed
    assert [f.code for f in report.findings if f.check == "target-kubernetes"] == ["offered"]


def test_network_policy_on_kubernetes_below_1_25_is_an_error(bundled: Matrix) -> None:
    report = check_compat(
        bundled,
        kubernetes=K("1.24"),
        addon_version=V("v1.18.3-eksbuild.3"),
        features=["network-policy"],
    )
    finding = next(f for f in report.findings if f.code == "feature-unsupported")
    assert "needs Kubernetes 1.25 or later (not 1.24)" in finding.message
    assert report.failed


def test_feature_on_a_version_too_old_for_it(bundled: Matrix) -> None:
    report = check_compat(
        bundled, kubernetes=K("1.23"), addon_version=V("v1.8.0"), features=["prefix-delegation"]
    )
    messages = [f.message for f in report.findings if f.code == "feature-unsupported"]
    assert any("needs vpc-cni v1.9.0 or later (not v1.8.0)" in m for m in messages)


def test_detected_daemonset_feeds_type_features_and_customizations(bundled: Matrix) -> None:
    detected = detect(
        daemonset(
            "v1.18.3-eksbuild.3",
            env={"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"},
            managers=["eks"],
        ),
        bundled,
        label="backup",
    )
    report = check_compat(bundled, kubernetes=K("1.30"), detected=detected)
    assert report.addon_version == V("v1.18.3-eksbuild.3")
    assert report.addon_type is AddonType.MANAGED
    found = codes(report)
    assert found["feature-in-use"] is Severity.INFO
    assert found["customizations"] is Severity.INFO
    custom = next(f for f in report.findings if f.code == "customizations")
    assert "ENABLE_PREFIX_DELEGATION, WARM_IP_TARGET" in custom.message


def test_unknown_inputs_are_input_errors(bundled: Matrix) -> None:
    with pytest.raises(UnknownKubernetesVersionError):
        check_compat(bundled, kubernetes=K("1.22"), addon_version=V("v1.18.3-eksbuild.3"))
    with pytest.raises(UnknownKubernetesVersionError):
        check_compat(
            bundled,
            kubernetes=K("1.30"),
            addon_version=V("v1.18.3-eksbuild.3"),
            target_kubernetes=K("1.31"),
        )
    with pytest.raises(InputError, match="unknown feature 'ipv7'"):
        check_compat(
            bundled, kubernetes=K("1.30"), addon_version=V("v1.18.3-eksbuild.3"), features=["ipv7"]
        )


def test_newer_than_the_matrix_is_information(bundled: Matrix) -> None:
    report = check_compat(
        bundled, kubernetes=K("1.30"), addon_version=V("v1.19.0"), addon_type=AddonType.SELF_MANAGED
    )
    assert codes(report)["newer-than-latest"] is Severity.INFO


def test_a_withdrawn_build_is_known_not_offered(bundled: Matrix) -> None:
    # v1.16.0 uses CNI spec 1.0.0, which Kubernetes <= 1.23 cannot run: a real error, not a gap.
    report = check_compat(bundled, kubernetes=K("1.23"), addon_version=V("v1.16.0-eksbuild.1"))
    assert codes(report)["version-not-offered"] is Severity.ERROR


def test_target_kubernetes_below_the_cluster_is_refused(bundled: Matrix) -> None:
    with pytest.raises(InputError, match="EKS clusters cannot be downgraded"):
        check_compat(
            bundled,
            kubernetes=K("1.29"),
            addon_version=V("v1.18.3-eksbuild.3"),
            target_kubernetes=K("1.23"),
        )


def test_one_minor_behind_is_singular(bundled: Matrix) -> None:
    report = check_compat(bundled, kubernetes=K("1.29"), addon_version=V("v1.17.1-eksbuild.1"))
    behind = next(f for f in report.findings if f.code == "behind-latest")
    assert behind.message.endswith("(1 minor version)")


def test_self_managed_release_wording(bundled: Matrix) -> None:
    report = check_compat(bundled, kubernetes=K("1.23"), addon_version=V("v1.6.3"))
    offered = next(f for f in report.findings if f.code == "offered")
    assert offered.message == "vpc-cni v1.6.3 has no known incompatibility with Kubernetes 1.23"
