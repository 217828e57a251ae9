"""Version types for EKS add-ons and Kubernetes, and how a container image tag maps to an add-on.

``packaging.version.Version("v1.18.3-eksbuild.3")`` raises ``InvalidVersion``: EKS add-on builds
are not PEP 440 versions, so eksaddon parses them itself, strictly, and orders them as EKS does.

Forms seen across the EKS add-ons (../shared/domain/addons/README.md): ``vX.Y.Z-eksbuild.N``
(N from 0, EBS CSI has ``-eksbuild.0``), ``vX.Y.Z-eksbuild.preview`` (EBS CSI v1.4.0), plain
``vX.Y.Z`` (self-managed releases), majors 0 (ADOT) and changing majors (EFS 1->2,
snapshot-controller 6->8). An image tag is not an add-on version: kube-proxy add-on builds run
``vX.Y.Z-minimal-eksbuild.N`` images and the pod identity agent's images follow the agent's own
numbering, so tags are parsed by :func:`parse_image_tag` under the add-on's :class:`ImageTagRule`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import total_ordering
from typing import NamedTuple

from eksaddon.errors import InvalidVersionError

ADDON_VERSION_FORM = "vX.Y.Z or vX.Y.Z-eksbuild.N (for example v1.18.3-eksbuild.3)"
KUBERNETES_VERSION_FORM = "X.Y (for example 1.30; v1.30 and 1.30.4 are accepted too)"

# Leading "v" optional; no leading zeros beyond a lone 0 (EKS never emits them, and "01" would
# silently alias "1"). Bounded digit runs keep a hostile 10 000-digit string cheap to reject.
_NUMBER = r"(0|[1-9][0-9]{0,8})"
# "preview" is the only named build EKS is known to have published (EBS CSI v1.4.0-eksbuild.preview,
# S-EKSADDONS-TS); any other word is refused rather than guessed at.
PREVIEW = "preview"
_ADDON_RE = re.compile(
    rf"v?{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-eksbuild\.(?:{_NUMBER}|({PREVIEW})))?"
)
_KUBERNETES_RE = re.compile(rf"v?{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
_MAX_INPUT = 64


def _shown(value: object) -> str:
    """The bad value as it goes into a one-line message: quoted, escaped and shortened."""
    text = repr(value)
    return text if len(text) <= _MAX_INPUT + 2 else text[:_MAX_INPUT] + "…"


@total_ordering
@dataclass(frozen=True, eq=True)
class AddonVersion:
    """An add-on version: ``vMAJOR.MINOR.PATCH`` with an optional ``-eksbuild.BUILD``.

    ``BUILD`` is a number or the word ``preview`` (``preview`` is True, ``build`` None). Ordering is
    by major, minor, patch, then build: a plain release (a self-managed build from GitHub) first,
    then the preview build, then numbered builds as integers (eksbuild.0 < eksbuild.9 <
    eksbuild.10). The preview ranks below eksbuild.0 because a preview precedes the builds that
    follow it; EKS has never offered both for one release, so no source contradicts this order.
    """

    major: int
    minor: int
    patch: int
    build: int | None = None
    preview: bool = False

    def __post_init__(self) -> None:
        if self.preview and self.build is not None:
            raise InvalidVersionError(
                f"an add-on version has a build number or is a preview, not both "
                f"(v{self.major}.{self.minor}.{self.patch}, build {self.build})"
            )

    @classmethod
    def parse(cls, text: object) -> AddonVersion:
        if not isinstance(text, str):
            raise InvalidVersionError(
                f"invalid add-on version {_shown(text)}: expected {ADDON_VERSION_FORM}"
            )
        match = _ADDON_RE.fullmatch(text.strip()) if len(text) <= _MAX_INPUT else None
        if match is None:
            raise InvalidVersionError(
                f"invalid add-on version {_shown(text)}: expected {ADDON_VERSION_FORM}"
            )
        major, minor, patch, build, preview = match.groups()
        number = None if build is None else int(build)
        return cls(int(major), int(minor), int(patch), number, preview is not None)

    @property
    def is_eksbuild(self) -> bool:
        """True for an EKS add-on build (``-eksbuild.N`` or ``.preview``), False for a release."""
        return self.build is not None or self.preview

    @property
    def release(self) -> AddonVersion:
        """The upstream release this build packages: ``v1.18.3-eksbuild.3`` -> ``v1.18.3``."""
        return AddonVersion(self.major, self.minor, self.patch)

    @property
    def minor_line(self) -> tuple[int, int]:
        """``(major, minor)``: the unit EKS counts when it allows one minor version per update."""
        return (self.major, self.minor)

    def minor_distance(self, other: AddonVersion) -> int:
        """How many minor versions lie between ``self`` and ``other`` (always >= 0)."""
        if self.major != other.major:
            # Every VPC CNI release so far is 1.x; a major bump has no documented upgrade rule.
            raise InvalidVersionError(
                f"cannot step between major versions {self} and {other}: no upgrade rule is known"
            )
        return abs(self.minor - other.minor)

    def at_least(self, floor: AddonVersion) -> bool:
        """Whether this version meets a requirement stated as ``floor``.

        A plain release meets a requirement stated for an EKS build of the same release
        (self-managed v1.14.0 has what v1.14.0-eksbuild.3 has: the build number only counts
        between EKS builds).
        """
        if not self.is_eksbuild:
            return self >= floor.release
        return self >= floor

    def _key(self) -> tuple[int, int, int, int]:
        rank = self.build if self.build is not None else (-1 if self.preview else -2)
        return (self.major, self.minor, self.patch, rank)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AddonVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"v{self.major}.{self.minor}.{self.patch}"
        if self.preview:
            return f"{base}-eksbuild.{PREVIEW}"
        return base if self.build is None else f"{base}-eksbuild.{self.build}"


@total_ordering
@dataclass(frozen=True, eq=True)
class KubernetesVersion:
    """A Kubernetes minor version such as ``1.30``; a patch given on input is dropped."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: object) -> KubernetesVersion:
        if not isinstance(text, str):
            raise InvalidVersionError(
                f"invalid Kubernetes version {_shown(text)}: expected {KUBERNETES_VERSION_FORM}"
            )
        match = _KUBERNETES_RE.fullmatch(text.strip()) if len(text) <= _MAX_INPUT else None
        if match is None:
            raise InvalidVersionError(
                f"invalid Kubernetes version {_shown(text)}: expected {KUBERNETES_VERSION_FORM}"
            )
        major, minor, _patch = match.groups()
        return cls(int(major), int(minor))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KubernetesVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class ImageTagRule(str, Enum):
    """How the tag of the image that shows an add-on's running version relates to the add-on."""

    # The tag is the add-on version (vpc-cni's amazon-k8s-cni, CoreDNS's eks/coredns).
    ADDON_VERSION = "addon-version"
    # kube-proxy: EKS add-on build vX.Y.Z-eksbuild.N runs image vX.Y.Z-minimal-eksbuild.N
    # (observed for 1.25-1.30, ministryofjustice/cloud-platform#5132); the plain-variant tag
    # vX.Y.Z-eksbuild.N (default image before 1.25, and from 1.33 on) maps to itself.
    MINIMAL_VARIANT = "minimal-variant"
    # The image follows its own numbering (pod identity agent: add-on v1.3.10-eksbuild.3 ran image
    # v0.1.37): the tag says nothing about the add-on version.
    UNRELATED = "unrelated"

    def __str__(self) -> str:
        return self.value


IMAGE_TAG_FORMS = {
    ImageTagRule.ADDON_VERSION: ADDON_VERSION_FORM,
    ImageTagRule.MINIMAL_VARIANT: (
        "vX.Y.Z-minimal-eksbuild.N or vX.Y.Z-eksbuild.N (for example v1.29.7-minimal-eksbuild.5)"
    ),
    ImageTagRule.UNRELATED: "a container image tag (letters, digits, '_', '.', '-')",
}
_MINIMAL_RE = re.compile(rf"v?{_NUMBER}\.{_NUMBER}\.{_NUMBER}-(minimal-)?eksbuild\.{_NUMBER}")
# The OCI distribution spec's tag grammar.
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")


class ImageTag(NamedTuple):
    """A container image tag read under an add-on's rule, and the add-on version it shows.

    ``addon_version`` is None exactly when the rule is :attr:`ImageTagRule.UNRELATED`: the tag
    cannot tell the add-on version, and callers must say so rather than guess.
    """

    text: str
    rule: ImageTagRule
    addon_version: AddonVersion | None
    variant: str | None = None

    @property
    def why_unknown(self) -> str | None:
        if self.addon_version is not None:
            return None
        return f"image tag {self.text} follows the image's own numbering, not the add-on version"


def parse_image_tag(text: object, rule: ImageTagRule) -> ImageTag:
    """Read ``text`` (an image tag, without the repository) as ``rule`` says its add-on tags it.

    Raises :class:`InvalidVersionError` naming the tag and the expected form when it does not fit.
    """
    form = IMAGE_TAG_FORMS[rule]
    refused = InvalidVersionError(f"invalid image tag {_shown(text)}: expected {form}")
    # Tags come from pod specs, never typed by hand: unlike versions, no whitespace is forgiven.
    if not isinstance(text, str) or _TAG_RE.fullmatch(text) is None:
        raise refused
    tag = text
    if rule is ImageTagRule.ADDON_VERSION:
        try:
            return ImageTag(tag, rule, AddonVersion.parse(tag))
        except InvalidVersionError:
            raise InvalidVersionError(
                f"invalid image tag {_shown(text)}: expected {form}"
            ) from None
    if rule is ImageTagRule.MINIMAL_VARIANT:
        match = _MINIMAL_RE.fullmatch(tag)
        if match is None:
            raise refused
        major, minor, patch, minimal, build = match.groups()
        version = AddonVersion(int(major), int(minor), int(patch), int(build))
        return ImageTag(tag, rule, version, "minimal" if minimal else None)
    return ImageTag(tag, rule, None)
