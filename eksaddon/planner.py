"""The stepwise upgrade planner: pure functions of the matrix, no I/O.

Rules (all read from the matrix's ``upgrade_policy`` and ``features``), by policy kind:
- ``minor-steps`` (vpc-cni): never move more than ``max_minor_step`` minor versions per step, up or
  down (EKS rejects more with "Updating VPC-CNI can only go up or down 1 minor version at a time");
  at each intermediate minor take the newest build offered for the cluster's Kubernetes version;
  a change of major version has no known rule and is refused;
- ``catalogue`` (CoreDNS, EBS CSI, pod identity agent): any build offered for the cluster's
  Kubernetes version is one update away, across minors and majors;
- ``kubernetes-skew`` (kube-proxy): as ``catalogue``, and the target must keep the Kubernetes
  version-skew policy against the control plane (:func:`skew_problem`);
- gates, for every kind: reaching ``target_at_least`` (v1.12.0) needs ``requires_current_at_least``
  (v1.7.0) first;
- a feature in use puts a floor under every step: its downgrade floor and the version it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import NamedTuple

from eksaddon.errors import InputError, NoLegalPathError, TargetNotOfferedError
from eksaddon.matrix.model import AddonType, Feature, Gate, Matrix, PolicyKind
from eksaddon.skew import check_skew, skew_notes
from eksaddon.versions import AddonVersion, KubernetesVersion

LATEST = "latest"
DEFAULT = "default"


class Direction(str, Enum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


class Step(NamedTuple):
    """One update EKS (or a manifest apply) performs: ``source`` -> ``target``."""

    source: AddonVersion
    target: AddonVersion
    notes: tuple[str, ...] = ()


class Plan(NamedTuple):
    addon: str
    addon_type: AddonType
    kubernetes: KubernetesVersion
    current: AddonVersion
    target: AddonVersion
    requested: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # How far each step may go, in words, for reports ("one minor version at a time").
    rule: str = "one minor version at a time"

    @property
    def direction(self) -> Direction:
        if self.target == self.current:
            return Direction.NONE
        return Direction.UPGRADE if self.target > self.current else Direction.DOWNGRADE


def infer_addon_type(version: AddonVersion) -> AddonType:
    """An eksbuild version is taken as the EKS add-on, a plain vX.Y.Z as a self-managed install."""
    return AddonType.MANAGED if version.is_eksbuild else AddonType.SELF_MANAGED


def plan(
    matrix: Matrix,
    *,
    kubernetes: KubernetesVersion,
    current: AddonVersion,
    target: str,
    addon_type: AddonType | None = None,
    features: Iterable[str] = (),
) -> Plan:
    """The ordered steps from ``current`` to ``target`` (a version, ``latest`` or ``default``).

    Raises :class:`NoLegalPathError` naming the missing step and what the operator can do.
    """
    kind = addon_type or infer_addon_type(current)
    matrix.entry(kubernetes)  # an unknown Kubernetes version is an error before anything else
    resolved, notes = resolve_target(matrix, kubernetes=kubernetes, addon_type=kind, target=target)
    in_use = _features(matrix, features)
    _check_floors(current, resolved, in_use)
    policy = matrix.policy
    if policy.kind is PolicyKind.MINOR_STEPS:
        walk = _walk
    else:
        walk = _direct
        if policy.skew is not None:
            check_skew(matrix.addon, resolved, kubernetes, policy.skew)
    steps = walk(matrix, kubernetes=kubernetes, addon_type=kind, current=current, target=resolved)
    return Plan(
        addon=matrix.addon,
        addon_type=kind,
        kubernetes=kubernetes,
        current=current,
        target=resolved,
        requested=target,
        steps=tuple(steps),
        notes=(*notes, *skew_notes(matrix, current, resolved, kubernetes)),
        warnings=tuple(_downgrade_warnings(matrix, current, resolved)),
        rule=_rule(matrix, kubernetes),
    )


def _rule(matrix: Matrix, kubernetes: KubernetesVersion) -> str:
    policy = matrix.policy
    if policy.kind is PolicyKind.CATALOGUE:
        return f"each a build offered for Kubernetes {kubernetes}"
    if policy.kind is PolicyKind.KUBERNETES_SKEW:
        return f"each a build offered for Kubernetes {kubernetes}, within the version-skew policy"
    step = policy.max_minor_step or 1
    return "one minor version at a time" if step == 1 else f"at most {step} minor versions each"


def resolve_target(
    matrix: Matrix, *, kubernetes: KubernetesVersion, addon_type: AddonType, target: str
) -> tuple[AddonVersion, list[str]]:
    """Turn ``latest``, ``default`` or a version string into one offered for ``kubernetes``."""
    entry = matrix.entry(kubernetes)
    if target in (LATEST, DEFAULT):
        chosen = entry.latest if target == LATEST else entry.default
        if chosen is None:
            raise TargetNotOfferedError(
                f"the {matrix.addon} matrix ({matrix.origin}) records no default build for "
                f"Kubernetes {kubernetes}",
                hint="use --to latest or a version, or a refreshed matrix with --matrix FILE",
            )
        if addon_type is AddonType.MANAGED:
            return chosen, []
        return _self_managed_counterpart(matrix, kubernetes, chosen, target)
    version = AddonVersion.parse(target)
    if addon_type is AddonType.MANAGED:
        return _managed_target(matrix, kubernetes, version)
    return _self_managed_target(matrix, kubernetes, version)


def _self_managed_counterpart(
    matrix: Matrix, kubernetes: KubernetesVersion, build: AddonVersion, target: str
) -> tuple[AddonVersion, list[str]]:
    # AWS recommends self-managed installs run the same major.minor.patch as the EKS table, even
    # when GitHub has newer releases (EKS user guide, "Updating the self-managed add-on").
    release = build.release
    if release in matrix.releases_for(kubernetes):
        return release, [f"{target}: {release}, the release of EKS build {build}"]
    raise TargetNotOfferedError(
        f"no self-managed release {release} (of EKS build {build}) runs on Kubernetes {kubernetes} "
        f"in the {matrix.addon} matrix ({matrix.origin})",
        hint="name a release with --to",
    )


def _managed_target(
    matrix: Matrix, kubernetes: KubernetesVersion, version: AddonVersion
) -> tuple[AddonVersion, list[str]]:
    offered = matrix.builds_for(kubernetes)
    if version in offered:
        return version, []
    if not version.is_eksbuild:
        builds = [b for b in offered if b.release == version]
        if builds:
            return builds[0], [f"{version}: {builds[0]}, its newest EKS build for {kubernetes}"]
    same_minor = [str(b) for b in offered if b.minor_line == version.minor_line][:3]
    alternatives = f"; offered in v{version.major}.{version.minor}: {', '.join(same_minor)}"
    raise TargetNotOfferedError(
        f"{matrix.addon} {version} is not offered for Kubernetes {kubernetes} in the matrix "
        f"({matrix.origin}){alternatives if same_minor else ''}",
        hint=_catalogue_hint(matrix, kubernetes),
    )


def _self_managed_target(
    matrix: Matrix, kubernetes: KubernetesVersion, version: AddonVersion
) -> tuple[AddonVersion, list[str]]:
    release = matrix.find_release(version.release)
    if release is None:
        raise TargetNotOfferedError(
            f"{matrix.addon} {version.release} is not a known self-managed release "
            f"in the matrix ({matrix.origin})",
            hint="name a release listed under self_managed.releases in the matrix file",
        )
    if not release.runs_on(kubernetes):
        raise TargetNotOfferedError(
            f"{matrix.addon} {release.version} does not run on Kubernetes {kubernetes} "
            f"(it needs {release.kubernetes_min} or later)",
            hint="pick another release of that minor version",
        )
    notes = [] if version == release.version else [f"{version}: release {release.version}"]
    return release.version, notes


def _features(matrix: Matrix, names: Iterable[str]) -> list[Feature]:
    unknown = sorted(set(names) - set(matrix.features))
    if unknown:
        known = ", ".join(sorted(matrix.features)) or "none"
        raise InputError(f"unknown feature {unknown[0]!r} for {matrix.addon} (known: {known})")
    return [matrix.features[name] for name in sorted(set(names))]


def _check_floors(current: AddonVersion, target: AddonVersion, features: list[Feature]) -> None:
    for feature in features:
        for floor, why in _floors(feature):
            if target.at_least(floor) or not current.at_least(floor):
                continue
            raise NoLegalPathError(
                f"cannot move to {target}: {feature.name} is in use; {why}",
                hint=f"choose a target at or above {floor}",
            )


def _floors(feature: Feature) -> list[tuple[AddonVersion, str]]:
    # The downgrade floor comes first: where both are the same version its reason says more
    # (what breaks, and what the operator must do to go lower).
    floors = []
    if feature.downgrade_floor is not None:
        reason = (feature.floor_reason or "it cannot be downgraded").rstrip(".")
        reason = reason[:1].lower() + reason[1:]  # it follows a semicolon in the message
        floors.append((feature.downgrade_floor, f"{reason} (floor {feature.downgrade_floor})"))
    if feature.requires_addon is not None:
        floors.append((feature.requires_addon, f"{feature.name} needs {feature.requires_addon}"))
    return floors


def _walk(
    matrix: Matrix,
    *,
    kubernetes: KubernetesVersion,
    addon_type: AddonType,
    current: AddonVersion,
    target: AddonVersion,
) -> list[Step]:
    candidates = matrix.candidates(addon_type, kubernetes)
    steps: list[Step] = []
    position = current
    while position.minor_line != target.minor_line:
        minor = _next_minor(matrix, position, target)
        chosen = target if minor == target.minor else _newest_in(candidates, target.major, minor)
        if chosen is None:
            raise _missing_step(matrix, kubernetes, addon_type, position, target, minor)
        steps.append(
            Step(position, chosen, _gate_notes(matrix.policy.gates, position, chosen, target))
        )
        position = chosen
    if position != target:
        steps.append(
            Step(position, target, _gate_notes(matrix.policy.gates, position, target, target))
        )
    return steps


def _direct(
    matrix: Matrix,
    *,
    kubernetes: KubernetesVersion,
    addon_type: AddonType,
    current: AddonVersion,
    target: AddonVersion,
) -> list[Step]:
    """One update to the target, through a stepping stone first where a gate demands one."""
    candidates = matrix.candidates(addon_type, kubernetes)
    gates = matrix.policy.gates
    steps: list[Step] = []
    position = current
    for gate in sorted(gates, key=lambda g: g.requires_current_at_least):
        if position >= gate.requires_current_at_least or target < gate.target_at_least:
            continue
        stone = next(
            (c for c in candidates if gate.requires_current_at_least <= c < gate.target_at_least),
            None,
        )
        if stone is None:
            raise NoLegalPathError(
                f"no legal path from {position} to {target} for {matrix.addon} on Kubernetes "
                f"{kubernetes}: {gate.target_at_least} or later needs "
                f"{gate.requires_current_at_least} or later first, and no build between them is "
                f"offered for Kubernetes {kubernetes}",
                hint=_catalogue_hint(matrix, kubernetes),
            )
        steps.append(Step(position, stone, _gate_notes(gates, position, stone, target)))
        position = stone
    if position != target:
        steps.append(Step(position, target, _gate_notes(gates, position, target, target)))
    return steps


def _next_minor(matrix: Matrix, position: AddonVersion, target: AddonVersion) -> int:
    """The minor version the next step lands on: as far as the policy allows, gates respected."""
    distance = position.minor_distance(target)
    stride = min(matrix.policy.max_minor_step or 1, distance)
    if target < position:
        return position.minor - stride
    minor = position.minor + stride
    for gate in matrix.policy.gates:
        required = gate.requires_current_at_least
        if position < required and target >= gate.target_at_least:
            minor = min(minor, max(required.minor, position.minor + 1))
    return minor


def _newest_in(candidates: list[AddonVersion], major: int, minor: int) -> AddonVersion | None:
    return next((c for c in candidates if c.minor_line == (major, minor)), None)


def _gate_notes(
    gates: tuple[Gate, ...], source: AddonVersion, step_target: AddonVersion, final: AddonVersion
) -> tuple[str, ...]:
    return tuple(
        f"stepping stone: {gate.target_at_least} or later needs {gate.requires_current_at_least} "
        "or later first"
        for gate in gates
        if source < gate.requires_current_at_least <= step_target and final >= gate.target_at_least
    )


def _downgrade_warnings(matrix: Matrix, current: AddonVersion, target: AddonVersion) -> list[str]:
    return [
        w.message
        for w in matrix.policy.downgrade_warnings
        if current >= w.from_at_least and target < w.to_below
    ]


def _catalogue_hint(matrix: Matrix, kubernetes: KubernetesVersion) -> str:
    if matrix.entry(kubernetes).catalogue_complete:
        return (
            f"pick a build offered for Kubernetes {kubernetes} (`aws eks describe-addon-versions "
            f"--addon-name {matrix.addon} --kubernetes-version {kubernetes}`)"
        )
    return (
        f"the matrix's catalogue for Kubernetes {kubernetes} is incomplete: check "
        f"`aws eks describe-addon-versions --addon-name {matrix.addon} --kubernetes-version "
        f"{kubernetes}` and pass an updated matrix with --matrix FILE"
    )


def _missing_step(
    matrix: Matrix,
    kubernetes: KubernetesVersion,
    addon_type: AddonType,
    position: AddonVersion,
    target: AddonVersion,
    minor: int,
) -> NoLegalPathError:
    kind = "EKS add-on build" if addon_type is AddonType.MANAGED else "self-managed release"
    if addon_type is AddonType.MANAGED:
        hint = _catalogue_hint(matrix, kubernetes)
    else:
        hint = "pass a matrix that lists the missing release with --matrix FILE"
    return NoLegalPathError(
        f"no legal path from {position} to {target} for {matrix.addon} on Kubernetes "
        f"{kubernetes}: the step to v{target.major}.{minor} is missing (no {kind} of "
        f"v{target.major}.{minor} is offered for Kubernetes {kubernetes}, and each update may move "
        f"at most {matrix.policy.max_minor_step or 1} minor version)",
        hint=hint,
    )
