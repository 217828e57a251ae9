"""Version types for EKS add-ons and Kubernetes.

``packaging.version.Version("v1.18.3-eksbuild.3")`` raises ``InvalidVersion``: EKS add-on builds
are not PEP 440 versions, so eksaddon parses them itself, strictly, and orders them as EKS does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from eksaddon.errors import InvalidVersionError

ADDON_VERSION_FORM = "vX.Y.Z or vX.Y.Z-eksbuild.N (for example v1.18.3-eksbuild.3)"
KUBERNETES_VERSION_FORM = "X.Y (for example 1.30; v1.30 and 1.30.4 are accepted too)"

# Leading "v" optional; no leading zeros beyond a lone 0 (EKS never emits them, and "01" would
# silently alias "1"). Bounded digit runs keep a hostile 10 000-digit string cheap to reject.
_NUMBER = r"(0|[1-9][0-9]{0,8})"
_ADDON_RE = re.compile(rf"v?{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-eksbuild\.{_NUMBER})?")
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

    Ordering is by major, minor, patch, then build as an integer (eksbuild.10 > eksbuild.9). A plain
    release (a self-managed build from GitHub) sorts before every eksbuild of the same release.
    """

    major: int
    minor: int
    patch: int
    build: int | None = None

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
        major, minor, patch, build = match.groups()
        return cls(int(major), int(minor), int(patch), None if build is None else int(build))

    @property
    def is_eksbuild(self) -> bool:
        """True for an EKS add-on build (``-eksbuild.N``), False for a plain upstream release."""
        return self.build is not None

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
        return (self.major, self.minor, self.patch, -1 if self.build is None else self.build)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AddonVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"v{self.major}.{self.minor}.{self.patch}"
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
