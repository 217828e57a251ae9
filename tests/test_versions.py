from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from eksaddon.errors import InvalidVersionError
from eksaddon.versions import (
    AddonVersion,
    ImageTagRule,
    KubernetesVersion,
    parse_image_tag,
)
from tests_support import SHARED


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


# --- every add-on's formats (../shared/domain/addons/README.md "Facts that shape the design") ---


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("v1.4.0-eksbuild.preview", (1, 4, 0, None, True)),  # EBS CSI, S-EKSADDONS-TS
        ("v1.8.0-eksbuild.0", (1, 8, 0, 0, False)),  # EBS CSI
        ("v0.109.0-eksbuild.2", (0, 109, 0, 2, False)),  # ADOT, major 0
        ("v2.0.5-eksbuild.1", (2, 0, 5, 1, False)),  # EFS, major 2
        ("v8.0.0-eksbuild.1", (8, 0, 0, 1, False)),  # snapshot-controller, major 8
        ("v1.30.3-eksbuild.5", (1, 30, 3, 5, False)),  # kube-proxy
        ("v1.8.7-eksbuild.16", (1, 8, 7, 16, False)),  # CoreDNS
    ],
)
def test_parses_the_forms_of_every_addon(
    text: str, fields: tuple[int, int, int, int | None, bool]
) -> None:
    version = AddonVersion.parse(text)
    assert (version.major, version.minor, version.patch, version.build, version.preview) == fields
    assert str(version) == text
    assert version.is_eksbuild


@pytest.mark.parametrize(
    "text",
    [
        "v1.4.0-eksbuild.Preview",
        "v1.4.0-eksbuild.beta",
        "v1.4.0-eksbuild.preview.1",
        "v1.4.0-preview",
        "v1.29.0-minimal-eksbuild.1",  # an image tag, not an add-on version
        "v8.0.1-eks-1-30-8",  # a sidecar image tag (aws-ebs-csi-driver.yaml)
        "v1.27-minimal-eksbuild.1",
    ],
)
def test_other_shapes_are_still_refused_with_the_same_message(text: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        AddonVersion.parse(text)
    assert "expected vX.Y.Z or vX.Y.Z-eksbuild.N" in caught.value.message


def test_a_preview_sorts_after_its_release_and_before_its_numbered_builds() -> None:
    ordered = [
        "v1.3.9-eksbuild.1",
        "v1.4.0",
        "v1.4.0-eksbuild.preview",
        "v1.4.0-eksbuild.0",
        "v1.4.0-eksbuild.1",
        "v1.4.1",
    ]
    versions = [AddonVersion.parse(v) for v in ordered]
    shuffled = [versions[i] for i in (4, 1, 5, 0, 3, 2)]
    assert sorted(shuffled) == versions


def test_majors_compare_before_minors() -> None:
    assert AddonVersion.parse("v2.0.0-eksbuild.1") > AddonVersion.parse("v1.99.9-eksbuild.99")
    assert AddonVersion.parse("v0.109.0-eksbuild.2") < AddonVersion.parse("v1.0.0")


def test_a_preview_with_a_build_number_cannot_be_built() -> None:
    with pytest.raises(InvalidVersionError):
        AddonVersion(1, 4, 0, 3, preview=True)


def test_a_plain_release_meets_a_preview_floor_of_the_same_release() -> None:
    floor = AddonVersion.parse("v1.4.0-eksbuild.preview")
    assert AddonVersion.parse("v1.4.0").at_least(floor)
    assert AddonVersion.parse("v1.4.0-eksbuild.0").at_least(floor)
    assert not AddonVersion.parse("v1.3.9-eksbuild.9").at_least(floor)


any_version = st.one_of(
    st.builds(AddonVersion, numbers, numbers, numbers, st.none() | numbers),
    st.builds(AddonVersion, numbers, numbers, numbers, st.none(), st.just(True)),
)


def _documented_key(v: AddonVersion) -> tuple[int, int, int, int, int]:
    """The documented order, written independently: release < preview < eksbuild.0 < ..."""
    kind = 0 if not v.is_eksbuild else (1 if v.preview else 2)
    return (v.major, v.minor, v.patch, kind, v.build or 0)


@given(any_version)
def test_every_form_round_trips(version: AddonVersion) -> None:
    assert AddonVersion.parse(str(version)) == version


@given(any_version, any_version)
def test_order_is_antisymmetric_and_matches_the_documented_key(
    a: AddonVersion, b: AddonVersion
) -> None:
    assert (a < b) + (a == b) + (a > b) == 1
    assert not (a <= b and b <= a) or a == b
    assert (a < b) == (_documented_key(a) < _documented_key(b))


@given(any_version, any_version)
def test_equal_versions_hash_equal_and_print_equal(a: AddonVersion, b: AddonVersion) -> None:
    assert (a == b) == (str(a) == str(b))
    if a == b:
        assert hash(a) == hash(b)
    assert len({a, b}) == (1 if a == b else 2)


@given(any_version, any_version, any_version)
def test_order_is_transitive_across_forms(
    a: AddonVersion, b: AddonVersion, c: AddonVersion
) -> None:
    if a <= b and b <= c:
        assert a <= c
    if a < b and b < c:
        assert a < c


# --- image tags are not add-on versions ---


@pytest.mark.parametrize(
    ("tag", "addon_version", "variant"),
    [
        ("v1.29.7-minimal-eksbuild.5", "v1.29.7-eksbuild.5", "minimal"),
        ("v1.25.15-minimal-eksbuild.2", "v1.25.15-eksbuild.2", "minimal"),
        ("1.23.7-minimal-eksbuild.1", "v1.23.7-eksbuild.1", "minimal"),  # 2022 doc form
        ("v1.24.10-eksbuild.2", "v1.24.10-eksbuild.2", None),  # default image, before 1.25
        ("v1.33.3-eksbuild.4", "v1.33.3-eksbuild.4", None),  # 1.33+ drops "-minimal"
    ],
)
def test_kube_proxy_tags_map_to_addon_builds(
    tag: str, addon_version: str, variant: str | None
) -> None:
    parsed = parse_image_tag(tag, ImageTagRule.MINIMAL_VARIANT)
    assert parsed.addon_version == AddonVersion.parse(addon_version)
    assert parsed.variant == variant and parsed.why_unknown is None


@pytest.mark.parametrize(
    "tag", ["v1.27-minimal-eksbuild.1", "v1.29.0", "v1.29.0-minimal", "latest", "v1.29.0-eksbuild"]
)
def test_kube_proxy_tags_that_fit_no_form_are_refused(tag: str) -> None:
    with pytest.raises(InvalidVersionError, match="expected vX.Y.Z-minimal-eksbuild.N"):
        parse_image_tag(tag, ImageTagRule.MINIMAL_VARIANT)


@pytest.mark.parametrize("tag", ["v0.1.37", "0.1.10", "0.0.25"])
def test_pod_identity_agent_tags_say_the_addon_version_is_unknown(tag: str) -> None:
    parsed = parse_image_tag(tag, ImageTagRule.UNRELATED)
    assert parsed.addon_version is None
    assert parsed.why_unknown is not None and tag in parsed.why_unknown


def test_tags_equal_to_the_addon_version() -> None:
    parsed = parse_image_tag("v1.11.1-eksbuild.8", ImageTagRule.ADDON_VERSION)
    assert parsed.addon_version == AddonVersion.parse("v1.11.1-eksbuild.8")
    with pytest.raises(InvalidVersionError, match="invalid image tag"):
        parse_image_tag("v1.29.0-minimal-eksbuild.1", ImageTagRule.ADDON_VERSION)


@pytest.mark.parametrize("rule", list(ImageTagRule))
@pytest.mark.parametrize("tag", ["", "-x", "a b", "v1\n", "x" * 200, None, 3])
def test_malformed_tags_are_refused_under_every_rule(rule: ImageTagRule, tag: object) -> None:
    with pytest.raises(InvalidVersionError, match="invalid image tag"):
        parse_image_tag(tag, rule)


_VERSION_LIKE = re.compile(r"(?<![\w.\-/])v?\d+\.\d+\.\d+(?:-[A-Za-z0-9]+(?:[.\-][A-Za-z0-9]+)*)?")
# Version-like strings in ../shared that are neither add-on versions nor kube-proxy tags.
_NOT_ADDON_VERSIONS = {"v8.0.1-eks-1-30-8"}  # an EBS CSI sidecar image tag


def test_every_version_in_the_shared_addon_facts_parses() -> None:
    folder = SHARED / "domain" / "addons"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the reference data lives in ../shared, beside the repo")
    seen = 0
    for path in sorted(folder.glob("*.yaml")):
        for token in _VERSION_LIKE.findall(path.read_text(encoding="utf-8")):
            seen += 1
            if token in _NOT_ADDON_VERSIONS:
                with pytest.raises(InvalidVersionError):
                    AddonVersion.parse(token)
                assert parse_image_tag(token, ImageTagRule.UNRELATED).addon_version is None
            elif "-minimal-" in token:
                assert parse_image_tag(token, ImageTagRule.MINIMAL_VARIANT).variant == "minimal"
            else:
                AddonVersion.parse(token)
    assert seen > 500
