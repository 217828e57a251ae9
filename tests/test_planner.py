"""The planner on the bundled matrix: the paths operators will actually be shown."""

from __future__ import annotations

import pytest

from eksaddon.errors import (
    InputError,
    NoLegalPathError,
    TargetNotOfferedError,
    UnknownKubernetesVersionError,
)
from eksaddon.matrix import AddonType, Matrix
from eksaddon.planner import Direction, plan
from eksaddon.versions import AddonVersion, KubernetesVersion

V = AddonVersion.parse
K = KubernetesVersion.parse


def path(result_steps: object) -> list[str]:
    steps = list(result_steps)  # type: ignore[call-overload]
    return [str(steps[0].source), *(str(s.target) for s in steps)]


def test_self_managed_v1_6_to_latest_walks_every_minor_through_v1_7(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.23"), current=V("v1.6.3"), target="latest")
    assert result.addon_type is AddonType.SELF_MANAGED
    assert result.target == V("v1.18.3")  # the release of the EKS latest build, as AWS advises
    assert [s.target.minor for s in result.steps] == list(range(7, 19))
    assert result.steps[0].target == V("v1.7.10")
    assert any("stepping stone" in note for note in result.steps[0].notes)
    assert all(not s.notes for s in result.steps[1:])


def test_managed_upgrade_takes_newest_build_of_each_intermediate_minor(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.26"), current=V("v1.12.0-eksbuild.2"), target="latest")
    assert path(result.steps) == [
        "v1.12.0-eksbuild.2",
        "v1.13.4-eksbuild.1",
        "v1.14.1-eksbuild.1",
        "v1.15.5-eksbuild.1",
        "v1.16.4-eksbuild.2",
        "v1.17.1-eksbuild.1",
        "v1.18.3-eksbuild.3",
    ]
    assert result.direction is Direction.UPGRADE


def test_same_minor_update_is_one_step(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.30"), current=V("v1.18.1-eksbuild.3"), target="latest")
    assert path(result.steps) == ["v1.18.1-eksbuild.3", "v1.18.3-eksbuild.3"]


def test_already_at_target_is_an_empty_plan(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.30"), current=V("v1.18.3-eksbuild.3"), target="latest")
    assert result.steps == () and result.direction is Direction.NONE


def test_default_target_resolves_where_recorded(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.29"), current=V("v1.14.1-eksbuild.1"), target="default")
    assert result.target == V("v1.16.0-eksbuild.1")
    assert len(result.steps) == 2


def test_default_target_unknown_says_what_to_do(bundled: Matrix) -> None:
    with pytest.raises(TargetNotOfferedError) as caught:
        plan(bundled, kubernetes=K("1.30"), current=V("v1.18.1-eksbuild.3"), target="default")
    assert "records no default build for Kubernetes 1.30" in caught.value.message
    assert caught.value.hint and "--to latest" in caught.value.hint


def test_plain_target_for_managed_resolves_to_its_newest_build(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.28"), current=V("v1.17.1-eksbuild.1"), target="v1.18.3")
    assert result.target == V("v1.18.3-eksbuild.3")
    assert result.notes


def test_target_not_offered_names_alternatives(bundled: Matrix) -> None:
    with pytest.raises(TargetNotOfferedError) as caught:
        plan(
            bundled,
            kubernetes=K("1.29"),
            current=V("v1.13.4-eksbuild.1"),
            target="v1.15.0-eksbuild.2",
        )
    message = caught.value.one_line()
    assert "v1.15.0-eksbuild.2 is not offered for Kubernetes 1.29" in message
    assert "v1.15.5-eksbuild.1" in message
    assert "describe-addon-versions" in message


def test_missing_intermediate_minor_names_the_step_and_next_action(bundled: Matrix) -> None:
    # The bundled catalogue knows only v1.18 builds for 1.30: a v1.16 add-on there has no known v1.17.
    with pytest.raises(NoLegalPathError) as caught:
        plan(bundled, kubernetes=K("1.30"), current=V("v1.16.4-eksbuild.2"), target="latest")
    message = caught.value.one_line()
    assert "the step to v1.17 is missing" in message
    assert "Kubernetes 1.30" in message and "--matrix FILE" in message


def test_downgrade_steps_down_one_minor_at_a_time(bundled: Matrix) -> None:
    result = plan(
        bundled, kubernetes=K("1.26"), current=V("v1.18.3-eksbuild.3"), target="v1.15.5-eksbuild.1"
    )
    assert path(result.steps) == [
        "v1.18.3-eksbuild.3",
        "v1.17.1-eksbuild.1",
        "v1.16.4-eksbuild.2",
        "v1.15.5-eksbuild.1",
    ]
    assert result.direction is Direction.DOWNGRADE


def test_downgrade_below_v1_12_1_carries_the_documented_warning(bundled: Matrix) -> None:
    result = plan(bundled, kubernetes=K("1.23"), current=V("v1.12.6"), target="v1.11.4")
    assert any("pod deletion" in w for w in result.warnings)


def test_prefix_delegation_floor_refuses_downgrade_below_v1_9(bundled: Matrix) -> None:
    with pytest.raises(NoLegalPathError) as caught:
        plan(
            bundled,
            kubernetes=K("1.23"),
            current=V("v1.10.4"),
            target="v1.8.0",
            features=["prefix-delegation"],
        )
    assert "prefix-delegation is in use" in caught.value.message
    assert "removing all nodes" in caught.value.message  # the floor's reason, not just a number
    assert "floor v1.9.0" in caught.value.one_line()
    # Without the feature in use the same downgrade is legal.
    plan(bundled, kubernetes=K("1.23"), current=V("v1.10.4"), target="v1.8.0")


def test_network_policy_in_use_refuses_a_downgrade_below_its_requirement(bundled: Matrix) -> None:
    with pytest.raises(NoLegalPathError, match="network-policy needs v1.14.0-eksbuild.3"):
        plan(
            bundled,
            kubernetes=K("1.26"),
            current=V("v1.15.5-eksbuild.1"),
            target="v1.13.4-eksbuild.1",
            features=["network-policy"],
        )


def test_unknown_feature_and_kubernetes_version_are_input_errors(bundled: Matrix) -> None:
    with pytest.raises(InputError, match="unknown feature 'warp-drive'"):
        plan(
            bundled,
            kubernetes=K("1.26"),
            current=V("v1.15.5-eksbuild.1"),
            target="latest",
            features=["warp-drive"],
        )
    with pytest.raises(UnknownKubernetesVersionError, match=r"covers 1.23–1.30"):
        plan(bundled, kubernetes=K("1.31"), current=V("v1.18.3-eksbuild.3"), target="latest")


def test_self_managed_release_that_does_not_run_on_the_cluster(bundled: Matrix) -> None:
    with pytest.raises(TargetNotOfferedError, match="v1.16.0 does not run on Kubernetes 1.23"):
        plan(bundled, kubernetes=K("1.23"), current=V("v1.15.5"), target="v1.16.0")


def test_explicit_type_overrides_inference(bundled: Matrix) -> None:
    result = plan(
        bundled,
        kubernetes=K("1.23"),
        current=V("v1.17.1-eksbuild.1"),
        target="latest",
        addon_type=AddonType.SELF_MANAGED,
    )
    assert result.target == V("v1.18.3")
