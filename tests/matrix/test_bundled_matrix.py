"""Facts the bundled vpc-cni matrix must hold (sources in the file and ../shared/domain)."""

from __future__ import annotations

import pytest

from eksaddon.matrix import Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion

K8S = [f"1.{minor}" for minor in range(23, 31)]
LATEST = AddonVersion.parse("v1.18.3-eksbuild.3")


def test_covers_kubernetes_1_23_to_1_30(bundled: Matrix) -> None:
    assert [str(k) for k in sorted(bundled.kubernetes)] == K8S


@pytest.mark.parametrize("kubernetes", K8S)
def test_latest_is_v1_18_3_eksbuild_3_as_the_user_guide_states(
    bundled: Matrix, kubernetes: str
) -> None:
    entry = bundled.entry(KubernetesVersion.parse(kubernetes))
    assert entry.latest == LATEST
    assert bundled.builds_for(entry.version)[0] == LATEST


def test_default_is_only_recorded_where_a_source_states_it(bundled: Matrix) -> None:
    defaults = {str(k): e.default for k, e in bundled.kubernetes.items() if e.default is not None}
    assert defaults == {"1.29": AddonVersion.parse("v1.16.0-eksbuild.1")}


def test_catalogue_spans_v1_7_to_v1_18_and_stops_at_the_snapshot(bundled: Matrix) -> None:
    minors = {b.version.minor for b in bundled.builds}
    assert minors == set(range(7, 19))
    assert max(b.version for b in bundled.builds) == LATEST
    assert all(b.version.is_eksbuild for b in bundled.builds)


def test_v1_16_0_is_not_offered_for_1_23(bundled: Matrix) -> None:
    # CNI spec 1.0.0 in v1.16.0/1 broke Kubernetes <= 1.23; EKS held 1.23 back (upgrade-guidance.md).
    build = AddonVersion.parse("v1.16.0-eksbuild.1")
    assert build not in bundled.builds_for(KubernetesVersion.parse("1.23"))
    assert build in bundled.builds_for(KubernetesVersion.parse("1.24"))
    release = bundled.find_release(AddonVersion.parse("v1.16.0"))
    assert release is not None and not release.runs_on(KubernetesVersion.parse("1.23"))


def test_self_managed_releases_cover_v1_6_to_v1_23(bundled: Matrix) -> None:
    releases = [r.version for r in bundled.releases]
    assert AddonVersion.parse("v1.6.3") in releases
    assert AddonVersion.parse("v1.18.3") in releases
    assert releases == sorted(releases, reverse=True)
    assert not any(r.is_eksbuild for r in releases)


def test_upgrade_policy_is_one_minor_with_the_v1_7_gate(bundled: Matrix) -> None:
    policy = bundled.policy
    assert policy.max_minor_step == 1
    gate = next(g for g in policy.gates if g.id == "v1.7.0-stepping-stone")
    assert gate.target_at_least == AddonVersion.parse("v1.12.0")
    assert gate.requires_current_at_least == AddonVersion.parse("v1.7.0")


@pytest.mark.parametrize(
    ("feature", "addon", "kubernetes", "floor"),
    [
        ("network-policy", "v1.14.0-eksbuild.3", "1.25", None),
        ("prefix-delegation", "v1.9.0", None, "v1.9.0"),
        ("ipv6", "v1.10.1", "1.21", "v1.10.1"),
        ("security-groups-for-pods", "v1.7.7", None, None),
    ],
)
def test_feature_requirements(
    bundled: Matrix, feature: str, addon: str, kubernetes: str | None, floor: str | None
) -> None:
    spec = bundled.features[feature]
    assert spec.requires_addon == AddonVersion.parse(addon)
    assert (
        str(spec.requires_kubernetes) == str(kubernetes)
        if kubernetes
        else not spec.requires_kubernetes
    )
    assert spec.downgrade_floor == (AddonVersion.parse(floor) if floor else None)


def test_every_offered_kubernetes_version_is_covered(bundled: Matrix) -> None:
    for build in bundled.builds:
        assert build.kubernetes_versions <= set(bundled.kubernetes)
