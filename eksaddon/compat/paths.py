"""The checks of one path (the EKS add-on, or a self-managed release): is the version offered,
within the skew policy, the latest; the upgrade path to the latest; the target Kubernetes
version; the features in use. Each yields :class:`~eksaddon.compat.report.Finding`s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from eksaddon.compat.report import Finding, Severity
from eksaddon.errors import NoLegalPathError
from eksaddon.matrix.model import AddonType, Feature, Matrix
from eksaddon.planner import LATEST, Plan, plan, resolve_target
from eksaddon.skew import skew_problem
from eksaddon.versions import AddonVersion, KubernetesVersion


class PathContext(NamedTuple):
    """One path's facts: the version as that path runs it, and who manages it."""

    matrix: Matrix
    kubernetes: KubernetesVersion
    target_kubernetes: KubernetesVersion | None
    version: AddonVersion
    addon_type: AddonType
    features: tuple[Feature, ...]


def path_findings(ctx: PathContext) -> tuple[Plan | None, list[Finding]]:
    """The findings of one path (EKS add-on or self-managed release) and its upgrade plan."""
    upgrade, upgrade_findings = _upgrade_path(ctx)
    return upgrade, [
        *_offered(ctx),
        *_skew(ctx),
        *_latest(ctx),
        *upgrade_findings,
        *_target_kubernetes(ctx, upgrade),
        *_skew(ctx, target=True),
        *_features(ctx, upgrade),
    ]


def _is_offered(ctx: PathContext, kubernetes: KubernetesVersion) -> bool:
    return ctx.version in ctx.matrix.candidates(ctx.addon_type, kubernetes)


def _offered(ctx: PathContext) -> Iterator[Finding]:
    yield from _offered_on(ctx, ctx.kubernetes, check="offered", role="the cluster's")


def _skew(ctx: PathContext, *, target: bool = False) -> Iterator[Finding]:
    """The version-skew policy, for add-ons whose matrix states one (kube-proxy): against the
    cluster's control plane, or (``target``) the one ``--target-kubernetes-version`` names."""
    skew = ctx.matrix.policy.skew
    control_plane = ctx.target_kubernetes if target else ctx.kubernetes
    if skew is None or control_plane is None:
        return
    problem = skew_problem(ctx.version, control_plane, skew)
    if problem is not None:
        advice = f"; upgrade {ctx.matrix.addon} before the cluster" if target else ""
        yield Finding(
            "target-kubernetes" if target else "offered",
            "version-skew",
            Severity.ERROR,
            f"{ctx.matrix.addon} {problem}: outside the Kubernetes version-skew policy{advice}",
        )


def _offered_on(
    ctx: PathContext, kubernetes: KubernetesVersion, *, check: str, role: str
) -> Iterator[Finding]:
    addon, version = ctx.matrix.addon, ctx.version
    if _is_offered(ctx, kubernetes):
        text = (
            f"{addon} {version} is offered for Kubernetes {kubernetes}"
            if ctx.addon_type is AddonType.MANAGED
            else f"{addon} {version} has no known incompatibility with Kubernetes {kubernetes}"
        )
        yield Finding(check, "offered", Severity.INFO, text)
        return
    if ctx.addon_type is AddonType.SELF_MANAGED:
        yield from _release_not_offered(ctx, kubernetes, check)
        return
    if ctx.matrix.known_not_offered(version, kubernetes):
        yield Finding(
            check,
            "version-not-offered",
            Severity.ERROR,
            f"{addon} {version} is not offered for Kubernetes {kubernetes} ({role} version): "
            "EKS does not support it there",
        )
    else:
        yield Finding(
            check,
            "version-not-recorded",
            Severity.WARNING,
            f"{addon} {version} is not recorded as offered for Kubernetes {kubernetes}; "
            f"the matrix's catalogue for {kubernetes} is incomplete, so confirm with "
            f"`aws eks describe-addon-versions --addon-name {addon} "
            f"--kubernetes-version {kubernetes}`",
        )


def _release_not_offered(
    ctx: PathContext, kubernetes: KubernetesVersion, check: str
) -> Iterator[Finding]:
    release = ctx.matrix.find_release(ctx.version.release)
    addon = ctx.matrix.addon
    if release is None:
        yield Finding(
            check,
            "unknown-release",
            Severity.WARNING,
            f"{addon} {ctx.version} is not a release the matrix knows",
        )
    else:
        yield Finding(
            check,
            "version-not-offered",
            Severity.ERROR,
            f"{addon} {release.version} does not run on Kubernetes {kubernetes} "
            f"(it needs {release.kubernetes_min} or later)",
        )


def _latest_for(ctx: PathContext) -> AddonVersion | None:
    try:
        return resolve_target(
            ctx.matrix, kubernetes=ctx.kubernetes, addon_type=ctx.addon_type, target=LATEST
        )[0]
    except NoLegalPathError:
        return None


def _latest(ctx: PathContext) -> Iterator[Finding]:
    latest = _latest_for(ctx)
    addon, version, k8s = ctx.matrix.addon, ctx.version, ctx.kubernetes
    if latest is None:
        yield Finding(
            "latest",
            "latest-unknown",
            Severity.WARNING,
            f"the matrix has no latest {ctx.addon_type} version for Kubernetes {k8s}",
        )
    elif version < latest:
        behind = latest.minor - version.minor if latest.major == version.major else None
        distance = f" ({behind} minor version{'s' if behind > 1 else ''})" if behind else ""
        yield Finding(
            "latest",
            "behind-latest",
            Severity.WARNING,
            f"{addon} {version} is behind the latest {latest} for Kubernetes {k8s}{distance}",
        )
    elif version == latest:
        yield Finding(
            "latest",
            "up-to-date",
            Severity.INFO,
            f"{addon} {version} is the latest for Kubernetes {k8s}",
        )
    else:
        yield Finding(
            "latest",
            "newer-than-latest",
            Severity.INFO,
            f"{addon} {version} is newer than the matrix's latest {latest} for "
            f"Kubernetes {k8s} (matrix as of {ctx.matrix.as_of or 'unknown'})",
        )


def _upgrade_path(ctx: PathContext) -> tuple[Plan | None, list[Finding]]:
    latest = _latest_for(ctx)
    if latest is None or ctx.version >= latest:
        return None, []
    try:
        upgrade = plan(
            ctx.matrix,
            kubernetes=ctx.kubernetes,
            current=ctx.version,
            target=LATEST,
            addon_type=ctx.addon_type,
            features=[f.name for f in ctx.features],
        )
    except NoLegalPathError as error:
        return None, [Finding("upgrade-path", "no-upgrade-path", Severity.ERROR, error.one_line())]
    path = " → ".join([str(upgrade.current), *(str(s.target) for s in upgrade.steps)])
    findings = [
        Finding(
            "upgrade-path",
            "upgrade-path",
            Severity.INFO,
            f"{len(upgrade.steps)} step(s), {upgrade.rule}: {path}",
        )
    ]
    findings += [
        Finding("upgrade-path", "stepping-stone", Severity.WARNING, f"{step.target}: {note}")
        for step in upgrade.steps
        for note in step.notes
    ]
    return upgrade, findings


def _target_kubernetes(ctx: PathContext, upgrade: Plan | None) -> Iterator[Finding]:
    target = ctx.target_kubernetes
    if target is None:
        return
    if _is_offered(ctx, target):
        yield from _offered_on(ctx, target, check="target-kubernetes", role="the target")
        return
    findings = list(_offered_on(ctx, target, check="target-kubernetes", role="the target"))
    yield from findings
    end = upgrade.target if upgrade is not None else None
    if end is not None and end in ctx.matrix.candidates(ctx.addon_type, target):
        yield Finding(
            "target-kubernetes",
            "upgrade-addon-first",
            max((f.severity for f in findings), key=lambda s: s.rank),
            f"upgrade {ctx.matrix.addon} to {end} on Kubernetes {ctx.kubernetes} "
            f"before upgrading the cluster to {target} (plan below)",
        )


def _features(ctx: PathContext, upgrade: Plan | None) -> Iterator[Finding]:
    for feature in ctx.features:
        for kubernetes in filter(None, (ctx.kubernetes, ctx.target_kubernetes)):
            needed = feature.requires_kubernetes
            if needed is not None and kubernetes < needed:
                yield Finding(
                    "features",
                    "feature-unsupported",
                    Severity.ERROR,
                    f"{feature.name} is in use but needs Kubernetes {needed} or later "
                    f"(not {kubernetes})",
                )
        needed_addon = feature.requires_addon
        for version in filter(None, (ctx.version, upgrade.target if upgrade else None)):
            if needed_addon is not None and not version.at_least(needed_addon):
                yield Finding(
                    "features",
                    "feature-unsupported",
                    Severity.ERROR,
                    f"{feature.name} is in use but needs {ctx.matrix.addon} "
                    f"{needed_addon} or later (not {version})",
                )
        yield Finding(
            "features",
            "feature-in-use",
            Severity.INFO,
            f"{feature.name} is in use: {feature.description}",
        )
