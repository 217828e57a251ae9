"""The planner's policy kinds: catalogue (one update to any offered build) and kubernetes-skew.

vpc-cni's minor-steps kind is covered by test_planner.py and test_planner_properties.py, unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eksaddon.compat import check_compat
from eksaddon.errors import (
    InvalidVersionError,
    MatrixError,
    NoLegalPathError,
    TargetNotOfferedError,
)
from eksaddon.matrix import Matrix, load_matrix
from eksaddon.matrix.loader import build_matrix, load_bundled
from eksaddon.matrix.model import PolicyKind, SkewLimit, SkewPolicy
from eksaddon.planner import Direction, plan
from eksaddon.skew import allowed_minors, skew_problem
from eksaddon.versions import AddonVersion, KubernetesVersion

V = AddonVersion.parse
K = KubernetesVersion.parse


@cache
def _bundled(addon: str) -> Matrix:
    """A bundled matrix, loaded inside a test (after conftest isolates the environment)."""
    return load_bundled(addon)


def document(
    builds: dict[str, list[str]], policy: dict[str, Any], *, addon: str = "example"
) -> dict[str, Any]:
    """A matrix document: ``builds`` maps a build to the Kubernetes versions it is offered for."""
    kubernetes = sorted({k for ks in builds.values() for k in ks}, key=K)
    latest = {k: str(max(V(b) for b, ks in builds.items() if k in ks)) for k in kubernetes}
    return {
        "format_version": 1,
        "addon": addon,
        "kubernetes_versions": {
            k: {"latest": latest[k], "catalogue_complete": True} for k in kubernetes
        },
        "builds": [{"version": b, "kubernetes_versions": ks} for b, ks in builds.items()],
        "upgrade_policy": policy,
    }


def matrix(builds: dict[str, list[str]], policy: dict[str, Any]) -> Matrix:
    return build_matrix(document(builds, policy), label="test matrix")


CATALOGUE = {"kind": "catalogue"}
SKEW = {
    "kind": "kubernetes-skew",
    "skew": {
        "max_newer_minors": 0,
        "max_older_minors": 3,
        "older_limits": [{"below": "1.25", "max_older_minors": 2}],
    },
}
EFS_LIKE = {  # EFS changed major 1 -> 2 in 2024 (aws-efs-csi-driver.yaml)
    "v2.0.5-eksbuild.1": ["1.29"],
    "v2.0.4-eksbuild.1": ["1.29"],
    "v1.7.6-eksbuild.2": ["1.29"],
    "v1.5.9-eksbuild.1": ["1.29"],
}


def test_catalogue_crosses_a_major_version_in_one_update() -> None:
    result = plan(
        matrix(EFS_LIKE, CATALOGUE),
        kubernetes=K("1.29"),
        current=V("v1.5.9-eksbuild.1"),
        target="latest",
    )
    assert [(str(s.source), str(s.target)) for s in result.steps] == [
        ("v1.5.9-eksbuild.1", "v2.0.5-eksbuild.1")
    ]
    assert result.rule == "each a build offered for Kubernetes 1.29"


def test_catalogue_downgrades_across_majors_in_one_update() -> None:
    result = plan(
        matrix(EFS_LIKE, CATALOGUE),
        kubernetes=K("1.29"),
        current=V("v2.0.5-eksbuild.1"),
        target="v1.7.6-eksbuild.2",
    )
    assert result.direction is Direction.DOWNGRADE and len(result.steps) == 1


def test_minor_steps_still_refuse_a_major_change() -> None:
    policy = {"max_minor_step": 1}
    with pytest.raises(InvalidVersionError, match="cannot step between major versions"):
        plan(
            matrix(EFS_LIKE, policy),
            kubernetes=K("1.29"),
            current=V("v1.7.6-eksbuild.2"),
            target="latest",
        )


def test_catalogue_target_must_still_be_offered() -> None:
    with pytest.raises(TargetNotOfferedError, match="not offered for Kubernetes 1.29"):
        plan(
            matrix(EFS_LIKE, CATALOGUE),
            kubernetes=K("1.29"),
            current=V("v1.5.9-eksbuild.1"),
            target="v2.0.0-eksbuild.1",
        )


def test_catalogue_honours_a_gate_with_one_stepping_stone() -> None:
    policy = {
        **CATALOGUE,
        "gates": [
            {
                "id": "via-1.7",
                "target_at_least": "v2.0.0-eksbuild.1",
                "requires_current_at_least": "v1.7.0",
                "reason": "example",
            }
        ],
    }
    result = plan(
        matrix(EFS_LIKE, policy),
        kubernetes=K("1.29"),
        current=V("v1.5.9-eksbuild.1"),
        target="latest",
    )
    assert [str(s.target) for s in result.steps] == ["v1.7.6-eksbuild.2", "v2.0.5-eksbuild.1"]
    assert "stepping stone" in result.steps[0].notes[0]
    builds = {b: ks for b, ks in EFS_LIKE.items() if not b.startswith("v1.7")}
    with pytest.raises(NoLegalPathError, match="no build between them is offered"):
        plan(
            matrix(builds, policy),
            kubernetes=K("1.29"),
            current=V("v1.5.9-eksbuild.1"),
            target="latest",
        )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"kind": "catalogue", "max_minor_step": 1}, "max_minor_step applies to kind minor-steps"),
        ({}, "max_minor_step is required for kind minor-steps"),
        ({"kind": "kubernetes-skew"}, "skew is required for kind kubernetes-skew"),
        ({**CATALOGUE, "skew": SKEW["skew"]}, "skew is required for kind kubernetes-skew"),
        ({"kind": "one-at-a-time"}, "upgrade_policy.kind"),
    ],
)
def test_policy_kinds_are_validated(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(MatrixError, match=message):
        matrix(EFS_LIKE, policy)


def test_a_skew_matrix_may_not_offer_a_build_newer_than_the_control_plane() -> None:
    with pytest.raises(MatrixError, match="at most 0 minor"):
        matrix({"v1.30.0-eksbuild.1": ["1.29"]}, SKEW)


# --- kubernetes-skew ---


@pytest.fixture
def kube_proxy() -> Matrix:
    return _bundled("kube-proxy")


def test_kube_proxy_moves_minors_in_one_update(kube_proxy: Matrix) -> None:
    result = plan(
        kube_proxy, kubernetes=K("1.29"), current=V("v1.26.11-eksbuild.1"), target="latest"
    )
    assert [(str(s.source), str(s.target)) for s in result.steps] == [
        ("v1.26.11-eksbuild.1", "v1.29.7-eksbuild.5")
    ]
    assert "version-skew policy" in result.rule
    assert any("kubelet" in note and "not checked" in note for note in result.notes)


def test_kube_proxy_plan_notes_a_current_version_outside_the_skew(kube_proxy: Matrix) -> None:
    result = plan(
        kube_proxy, kubernetes=K("1.28"), current=V("v1.24.17-eksbuild.8"), target="latest"
    )
    assert any("breaks the version-skew policy" in n and "allows 2" in n for n in result.notes)
    fine = plan(
        kube_proxy, kubernetes=K("1.28"), current=V("v1.25.16-eksbuild.13"), target="latest"
    )
    assert not any("breaks" in n for n in fine.notes)


def test_a_target_too_far_behind_the_control_plane_is_refused() -> None:
    # An offered build four minors behind (a matrix may record one; the skew still forbids it).
    builds = {"v1.29.7-eksbuild.5": ["1.29"], "v1.25.16-eksbuild.13": ["1.29"]}
    with pytest.raises(NoLegalPathError, match="4 minor versions older") as caught:
        plan(
            matrix(builds, SKEW),
            kubernetes=K("1.29"),
            current=V("v1.29.7-eksbuild.5"),
            target="v1.25.16-eksbuild.13",
        )
    assert caught.value.hint == "choose a build of example from v1.26 to v1.29"


def test_before_1_25_kube_proxy_may_lag_two_minors_only() -> None:
    builds = {
        "v1.26.15-eksbuild.10": ["1.26"],
        "v1.24.17-eksbuild.19": ["1.26"],
        "v1.23.17-eksbuild.16": ["1.26"],
    }
    skew_matrix = matrix(builds, SKEW)
    ok = plan(
        skew_matrix,
        kubernetes=K("1.26"),
        current=V("v1.26.15-eksbuild.10"),
        target="v1.24.17-eksbuild.19",
    )
    assert len(ok.steps) == 1
    with pytest.raises(NoLegalPathError, match="allows 2 for 1.23"):
        plan(
            skew_matrix,
            kubernetes=K("1.26"),
            current=V("v1.26.15-eksbuild.10"),
            target="v1.23.17-eksbuild.16",
        )


KUBE_PROXY_SKEW = SkewPolicy(max_newer=0, max_older=3, older_limits=(SkewLimit(K("1.25"), 2),))


@pytest.mark.parametrize(
    ("control_plane", "allowed"),
    [
        ("1.30", ["1.27", "1.28", "1.29", "1.30"]),
        ("1.28", ["1.25", "1.26", "1.27", "1.28"]),
        ("1.27", ["1.25", "1.26", "1.27"]),  # 1.24 would be three behind: two allowed before 1.25
        ("1.26", ["1.24", "1.25", "1.26"]),
        ("1.24", ["1.22", "1.23", "1.24"]),
    ],
)
def test_allowed_minors_follow_the_skew_policy(control_plane: str, allowed: list[str]) -> None:
    assert [str(m) for m in allowed_minors(K(control_plane), KUBE_PROXY_SKEW)] == allowed


minors = st.integers(min_value=10, max_value=40)


@given(minors, minors, st.integers(min_value=0, max_value=30))
def test_skew_rule_matches_the_policy_text(addon_minor: int, plane_minor: int, patch: int) -> None:
    version = AddonVersion(1, addon_minor, patch, 1)
    problem = skew_problem(version, KubernetesVersion(1, plane_minor), KUBE_PROXY_SKEW)
    # Never newer than the control plane; at most three minors older, two before 1.25.
    limit = 2 if addon_minor < 25 else 3
    expected_ok = addon_minor <= plane_minor and plane_minor - addon_minor <= limit
    assert (problem is None) == expected_ok
    assert (
        KubernetesVersion(1, addon_minor)
        in allowed_minors(KubernetesVersion(1, plane_minor), KUBE_PROXY_SKEW)
    ) == expected_ok


def test_skew_refuses_another_major() -> None:
    assert skew_problem(V("v2.0.0-eksbuild.1"), K("1.30"), KUBE_PROXY_SKEW) is not None


# --- bundled add-ons through the planner and the offline check ---


@pytest.mark.parametrize(
    ("addon", "kubernetes", "current", "target"),
    [
        ("coredns", "1.29", "v1.10.1-eksbuild.13", "v1.11.3-eksbuild.1"),
        ("coredns", "1.23", "v1.8.7-eksbuild.4", "v1.8.7-eksbuild.16"),
        ("kube-proxy", "1.29", "v1.28.12-eksbuild.5", "v1.29.7-eksbuild.5"),
        ("aws-ebs-csi-driver", "1.29", "v1.20.0-eksbuild.1", "v1.29.1-eksbuild.1"),
        ("eks-pod-identity-agent", "1.29", "v1.0.0-eksbuild.1", "v1.2.0-eksbuild.1"),
    ],
)
def test_bundled_addons_plan_to_their_latest_in_one_update(
    addon: str, kubernetes: str, current: str, target: str
) -> None:
    bundled = load_matrix(addon)
    assert bundled.policy.kind is not PolicyKind.MINOR_STEPS
    result = plan(bundled, kubernetes=K(kubernetes), current=V(current), target="latest")
    assert result.target == V(target)
    assert [(s.source, s.target) for s in result.steps] == [(V(current), V(target))]


def test_offline_check_describes_the_coredns_path_by_its_rule() -> None:
    report = check_compat(
        load_matrix("coredns"), kubernetes=K("1.29"), addon_version=V("v1.10.1-eksbuild.13")
    )
    (path,) = [f for f in report.findings if f.code == "upgrade-path"]
    assert path.message == (
        "1 step(s), each a build offered for Kubernetes 1.29: "
        "v1.10.1-eksbuild.13 → v1.11.3-eksbuild.1"
    )
    assert "one minor version at a time" not in path.message


def test_vpc_cni_plans_keep_their_rule(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.26"), current=V("v1.16.4-eksbuild.2"), target="latest")
    assert result.rule == "one minor version at a time"
    assert [str(s.target) for s in result.steps] == ["v1.17.1-eksbuild.1", "v1.18.3-eksbuild.3"]


CATALOGUE_ADDONS = ("coredns", "aws-ebs-csi-driver", "kube-proxy")


@st.composite
def catalogue_moves(
    draw: st.DrawFn,
) -> tuple[Matrix, KubernetesVersion, AddonVersion, AddonVersion]:
    bundled = _bundled(draw(st.sampled_from(CATALOGUE_ADDONS)))
    kubernetes = draw(st.sampled_from(bundled.kubernetes_versions))
    offered = bundled.builds_for(kubernetes)
    current = draw(st.sampled_from([b.version for b in bundled.builds]))
    return bundled, kubernetes, current, draw(st.sampled_from(offered))


@given(catalogue_moves())
def test_without_gates_any_offered_target_is_one_update_or_a_skew_refusal(
    move: tuple[Matrix, KubernetesVersion, AddonVersion, AddonVersion],
) -> None:
    bundled, kubernetes, current, target = move
    skew = bundled.policy.skew
    if skew is not None and skew_problem(target, kubernetes, skew) is not None:
        # Only kube-proxy's skew may refuse an offered target, and only for its reason.
        with pytest.raises(NoLegalPathError, match="version-skew policy"):
            plan(bundled, kubernetes=kubernetes, current=current, target=str(target))
        return
    result = plan(bundled, kubernetes=kubernetes, current=current, target=str(target))
    expected = [] if current == target else [(current, target)]
    assert [(s.source, s.target) for s in result.steps] == expected
