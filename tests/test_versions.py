from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from eksaddon.errors import InvalidVersionError
from eksaddon.versions import AddonVersion, KubernetesVersion


def test_packaging_cannot_parse_eks_builds() -> None:
    # The reason this module exists: if packaging ever learns these, revisit the custom type.
    with pytest.raises(InvalidVersion):
        Version("v1.18.3-eksbuild.3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.18.3-eksbuild.3", (1, 18, 3, 3)),
        ("1.18.3-eksbuild.3", (1, 18, 3, 3)),
        ("v1.18.3", (1, 18, 3, None)),
        ("1.7.10", (1, 7, 10, None)),
        ("v1.10.1-eksbuild.10", (1, 10, 1, 10)),
        (" v1.2.3 ", (1, 2, 3, None)),
    ],
)
def test_addon_version_parses(text: str, expected: tuple[int, int, int, int | None]) -> None:
    version = AddonVersion.parse(text)
    assert (version.major, version.minor, version.patch, version.build) == expected


def test_addon_version_prints_canonically_with_v() -> None:
    assert str(AddonVersion.parse("1.18.3-eksbuild.3")) == "v1.18.3-eksbuild.3"
    assert str(AddonVersion.parse("1.18.3")) == "v1.18.3"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v",
        "v1",
        "v1.18",
        "1.18.x",
        "v1.18.3-eksbuild",
        "v1.18.3-eksbuild.",
        "v1.18.3-build.3",
        "v1.18.3-eksbuild.3.4",
        "V1.18.3",
        "v01.18.3",
        "v1.18.3-eksbuild.03",
        "latest",
        "v1.18.3\n4",
        "v-1.2.3",
        "v1.2.3 -eksbuild.1",
        "1" * 200,
        "v1.18.3-eksbuild.3; rm -rf /",
        "\x00",
    ],
)
def test_invalid_addon_versions_name_value_and_form(text: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        AddonVersion.parse(text)
    message = caught.value.message
    assert "expected vX.Y.Z or vX.Y.Z-eksbuild.N" in message
    assert "\n" not in message and len(message) < 200


@pytest.mark.parametrize("value", [None, 1.18, 3, ["v1.2.3"]])
def test_non_strings_are_invalid_versions(value: object) -> None:
    with pytest.raises(InvalidVersionError):
        AddonVersion.parse(value)
    with pytest.raises(InvalidVersionError):
        KubernetesVersion.parse(value)


def test_build_numbers_compare_as_integers() -> None:
    assert AddonVersion.parse("v1.10.1-eksbuild.10") > AddonVersion.parse("v1.10.1-eksbuild.9")


def test_plain_release_sorts_before_its_builds_and_after_older_patches() -> None:
    ordered = [
        "v1.18.2-eksbuild.9",
        "v1.18.3",
        "v1.18.3-eksbuild.1",
        "v1.18.3-eksbuild.3",
        "v1.18.4",
    ]
    versions = [AddonVersion.parse(v) for v in ordered]
    shuffled = [versions[i] for i in (3, 0, 4, 2, 1)]
    assert sorted(shuffled) == versions


def test_release_and_minor_line() -> None:
    version = AddonVersion.parse("v1.18.3-eksbuild.3")
    assert version.release == AddonVersion.parse("v1.18.3")
    assert version.minor_line == (1, 18)
    assert version.is_eksbuild and not version.release.is_eksbuild


def test_plain_release_meets_a_requirement_stated_for_a_build() -> None:
    requirement = AddonVersion.parse("v1.14.0-eksbuild.3")
    assert AddonVersion.parse("v1.14.0").at_least(requirement)
    assert not AddonVersion.parse("v1.14.0-eksbuild.2").at_least(requirement)
    assert not AddonVersion.parse("v1.13.4").at_least(requirement)


def test_minor_distance_refuses_major_changes() -> None:
    assert AddonVersion.parse("v1.6.3").minor_distance(AddonVersion.parse("v1.18.3")) == 12
    with pytest.raises(InvalidVersionError):
        AddonVersion.parse("v1.6.3").minor_distance(AddonVersion.parse("v2.0.0"))


@pytest.mark.parametrize(
    ("text", "expected"), [("1.30", "1.30"), ("v1.30", "1.30"), ("1.30.4", "1.30")]
)
def test_kubernetes_version_parses(text: str, expected: str) -> None:
    assert str(KubernetesVersion.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "1", "1.30.4.5", "one.thirty", "1.30-eks", "1.3O", "v"])
def test_invalid_kubernetes_versions(text: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        KubernetesVersion.parse(text)
    assert "expected X.Y" in caught.value.message


def test_kubernetes_versions_order_numerically() -> None:
    assert KubernetesVersion.parse("1.9") < KubernetesVersion.parse("1.10")


numbers = st.integers(min_value=0, max_value=10**6)
versions = st.builds(AddonVersion, numbers, numbers, numbers, st.none() | numbers)


@given(versions)
def test_printing_and_parsing_round_trip(version: AddonVersion) -> None:
    assert AddonVersion.parse(str(version)) == version


def _expected_key(v: AddonVersion) -> tuple[int, int, int, int]:
    """The documented order, written independently: a plain release ranks below eksbuild.0."""
    return (v.major, v.minor, v.patch, -1 if v.build is None else v.build)


@given(versions, versions)
def test_ordering_is_total_and_consistent(a: AddonVersion, b: AddonVersion) -> None:
    assert (a < b) + (a == b) + (a > b) == 1
    assert (a <= b) == (a < b or a == b)
    assert (a < b) == (_expected_key(a) < _expected_key(b))


@given(versions, versions, versions)
def test_ordering_is_transitive(a: AddonVersion, b: AddonVersion, c: AddonVersion) -> None:
    low, mid, high = sorted([a, b, c])
    assert low <= mid <= high and low <= high


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_our_error(text: str) -> None:
    try:
        AddonVersion.parse(text)
    except InvalidVersionError:
        pass
