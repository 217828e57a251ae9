"""``check-compat``: is this add-on version fine for this Kubernetes version, and what is the path?

Pure: it reads the matrix and what the caller detected, and returns a report of findings. Each
named check yields findings; a check with no warning or error is a passing check (one JUnit test
case each), so CI sees exactly which question failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from eksaddon.errors import InputError, NoLegalPathError
from eksaddon.matrix.model import AddonType, Feature, Matrix
from eksaddon.planner import LATEST, Plan, infer_addon_type, plan, resolve_target
from eksaddon.skew import skew_problem
from eksaddon.versions import AddonVersion, KubernetesVersion

if TYPE_CHECKING:  # only --daemonset runs need the DaemonSet reader
    from eksaddon.nodeside.detect import DetectedAddon


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    def __str__(self) -> str:
        return self.value


class Finding(NamedTuple):
    check: str
    code: str
    severity: Severity
    message: str


class CompatReport(NamedTuple):
    addon: str
    matrix_origin: str
    kubernetes: KubernetesVersion
    target_kubernetes: KubernetesVersion | None
    # Text only when EKS reported a build eksaddon cannot read (live check-compat shows it as
    # it is, and no check that needs the version runs).
    addon_version: AddonVersion | str
    # None: who manages the add-on is unknown; ``plans`` then holds the plan of each path.
    addon_type: AddonType | None
    checks: tuple[str, ...]
    findings: tuple[Finding, ...]
    plan: Plan | None
    detected: DetectedAddon | None
    fail_on: Severity = Severity.ERROR
    plans: tuple[tuple[AddonType, Plan | None], ...] = ()

    @property
    def type_name(self) -> str:
        return "unknown" if self.addon_type is None else str(self.addon_type)

    @property
    def failed(self) -> bool:
        """Whether any finding is at or above the ``--fail-on`` level."""
        return any(self.fails(f) for f in self.findings)

    def fails(self, finding: Finding) -> bool:
        return finding.severity.rank >= self.fail_on.rank

    def findings_for(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]


class _Context(NamedTuple):
    matrix: Matrix
    kubernetes: KubernetesVersion
    target_kubernetes: KubernetesVersion | None
    version: AddonVersion
    addon_type: AddonType
    features: tuple[Feature, ...]


CHECKS = ("offered", "latest", "upgrade-path", "target-kubernetes", "features", "settings")


MANAGED_PATH = "if it is the EKS add-on"
SELF_MANAGED_PATH = "if it is self-managed"


def check_compat(
    matrix: Matrix,
    *,
    kubernetes: KubernetesVersion,
    addon_version: AddonVersion | None = None,
    detected: DetectedAddon | None = None,
    target_kubernetes: KubernetesVersion | None = None,
    addon_type: AddonType | None = None,
    features: Iterable[str] = (),
    fail_on: Severity = Severity.ERROR,
) -> CompatReport:
    """Check an add-on version (given, or detected from a DaemonSet) against the matrix.

    The type is ``addon_type`` (``--type``), else what the DaemonSet's evidence shows, else (a
    version alone) what the version's shape suggests. When the evidence does not tell, both
    paths are checked and every finding that differs between them says which path it is for.
    """
    version = detected.version if detected is not None else addon_version
    if version is None:
        raise ValueError("check_compat needs addon_version or detected")
    matrix.entry(kubernetes)
    if target_kubernetes is not None:
        matrix.entry(target_kubernetes)
        if target_kubernetes < kubernetes:
            raise InputError(
                f"--target-kubernetes-version {target_kubernetes} is below the cluster's "
                f"{kubernetes}: EKS clusters cannot be downgraded"
            )
    type_findings: list[Finding] = []
    if detected is not None and addon_type is not None:
        detected, type_findings = _settle_type(detected, addon_type)
    kind = (
        addon_type
        if addon_type is not None
        else (detected.addon_type if detected is not None else infer_addon_type(version))
    )
    names = set(features) | set(detected.features if detected else ())
    unknown = sorted(names - set(matrix.features))
    if unknown:
        raise InputError(
            f"unknown feature {unknown[0]!r} (known: {', '.join(sorted(matrix.features))})"
        )
    chosen = tuple(matrix.features[n] for n in sorted(names))

    def context(path: AddonType) -> _Context:
        # A self-managed install runs the release an EKS build packages (its images' tag may
        # carry -eksbuild.N all the same): checked as that release.
        checked = version.release if path is AddonType.SELF_MANAGED else version
        return _Context(matrix, kubernetes, target_kubernetes, checked, path, chosen)

    plans: tuple[tuple[AddonType, Plan | None], ...] = ()
    if kind is None:
        upgrade = None
        path_findings, plans = _both_paths(
            context(AddonType.MANAGED), context(AddonType.SELF_MANAGED)
        )
        checked_version = version
    else:
        ctx = context(kind)
        upgrade, path_findings = _path(ctx)
        checked_version = ctx.version
        if checked_version != version:
            type_findings.append(
                Finding(
                    "offered",
                    "release-of-build",
                    Severity.INFO,
                    f"{version} is an EKS build tag; as a self-managed install it runs release "
                    f"{checked_version}, which is what is checked",
                )
            )
    return CompatReport(
        addon=matrix.addon,
        matrix_origin=matrix.origin,
        kubernetes=kubernetes,
        target_kubernetes=target_kubernetes,
        addon_version=checked_version,
        addon_type=kind,
        checks=CHECKS,
        findings=(*type_findings, *path_findings, *_settings(detected, matrix)),
        plan=upgrade,
        detected=detected,
        fail_on=fail_on,
        plans=plans,
    )


def _settle_type(
    detected: DetectedAddon, addon_type: AddonType
) -> tuple[DetectedAddon, list[Finding]]:
    """``--type`` decides; a contradiction with the DaemonSet's evidence is said, not hidden."""
    from eksaddon.nodeside.detect import TypeEvidence

    findings = []
    against = [e for e in detected.type_evidence if e.points_to not in (None, addon_type)]
    if against:
        findings.append(
            Finding(
                "settings",
                "type-contradicts-evidence",
                Severity.WARNING,
                f"--type {addon_type} given, but the DaemonSet shows otherwise: "
                + "; ".join(e.detail for e in against),
            )
        )
    settled = detected.with_type(
        addon_type, TypeEvidence("type-option", addon_type, f"--type {addon_type} given")
    )
    return settled, findings


def _path(ctx: _Context) -> tuple[Plan | None, list[Finding]]:
    """The findings of one path (EKS add-on or self-managed release) and its upgrade plan."""
    upgrade, path_findings = _upgrade_path(ctx)
    return upgrade, [
        *_offered(ctx),
        *_skew(ctx),
        *_latest(ctx),
        *path_findings,
        *_target_kubernetes(ctx, upgrade),
        *_skew(ctx, target=True),
        *_features(ctx, upgrade),
    ]


def _both_paths(
    managed: _Context, self_managed: _Context
) -> tuple[list[Finding], tuple[tuple[AddonType, Plan | None], ...]]:
    """Both paths' findings: once where they agree, marked with their path where they differ."""
    managed_plan, on_managed = _path(managed)
    self_plan, on_self = _path(self_managed)
    findings = [f for f in on_managed if f in on_self]
    findings += [
        f._replace(message=f"{MANAGED_PATH}: {f.message}") for f in on_managed if f not in on_self
    ]
    findings += [
        f._replace(message=f"{SELF_MANAGED_PATH}: {f.message}")
        for f in on_self
        if f not in on_managed
    ]
    order = {check: index for index, check in enumerate(CHECKS)}
    findings.sort(key=lambda f: order.get(f.check, len(order)))
    return findings, ((AddonType.MANAGED, managed_plan), (AddonType.SELF_MANAGED, self_plan))


def _is_offered(ctx: _Context, kubernetes: KubernetesVersion) -> bool:
    return ctx.version in ctx.matrix.candidates(ctx.addon_type, kubernetes)


def _offered(ctx: _Context) -> Iterator[Finding]:
    yield from _offered_on(ctx, ctx.kubernetes, check="offered", role="the cluster's")


def _skew(ctx: _Context, *, target: bool = False) -> Iterator[Finding]:
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
    ctx: _Context, kubernetes: KubernetesVersion, *, check: str, role: str
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
    ctx: _Context, kubernetes: KubernetesVersion, check: str
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


def _latest_for(ctx: _Context) -> AddonVersion | None:
    try:
        return resolve_target(
            ctx.matrix, kubernetes=ctx.kubernetes, addon_type=ctx.addon_type, target=LATEST
        )[0]
    except NoLegalPathError:
        return None


def _latest(ctx: _Context) -> Iterator[Finding]:
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


def _upgrade_path(ctx: _Context) -> tuple[Plan | None, list[Finding]]:
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


def _target_kubernetes(ctx: _Context, upgrade: Plan | None) -> Iterator[Finding]:
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


def _features(ctx: _Context, upgrade: Plan | None) -> Iterator[Finding]:
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


def _settings(detected: DetectedAddon | None, matrix: Matrix) -> Iterator[Finding]:
    if detected is None:
        return
    yield from _type(detected, matrix)
    if detected.helm is not None:
        from eksaddon.nodeside.helm import describe

        yield Finding(
            "settings",
            "helm-release",
            Severity.INFO,
            f"installed as {describe(detected.helm)}: upgrade it with `helm upgrade` "
            "(`eksaddon render --helm-values` writes the values file); a manifest applied over "
            "it leaves Helm's record stale",
        )
    count = len(detected.customizations)
    if count:
        names = ", ".join(sorted({c.name for c in detected.customizations}))
        yield Finding(
            "settings",
            "customizations",
            Severity.INFO,
            f"{count} custom setting(s) to carry across every step: {names}",
        )
    release = detected.version.release
    for drift in detected.drift:
        yield Finding(
            "settings",
            "drift",
            Severity.WARNING,
            f"drift from the {release} manifest (not a custom setting): {drift.describe()}; "
            "an upgrade or `eksaddon render --preserve-from` restores it",
        )
    if detected.drift_note is not None:
        yield Finding(
            "settings",
            "drift-not-checked",
            Severity.INFO,
            f"drift not checked: {detected.drift_note}",
        )


def _type(detected: DetectedAddon, matrix: Matrix) -> Iterator[Finding]:
    from eksaddon.nodeside.detect import NO_MANAGED_FIELDS

    if detected.addon_type is None:
        yield Finding(
            "settings",
            "addon-type-unknown",
            Severity.WARNING,
            f"who manages {matrix.addon} is unknown ({detected.type_basis}); findings marked "
            f"'{MANAGED_PATH}' or '{SELF_MANAGED_PATH}' hold only on that path: pass --type "
            "managed or --type self-managed to settle it",
        )
        return
    yield Finding(
        "settings",
        "addon-type",
        Severity.INFO,
        f"{detected.addon_type} add-on ({detected.type_basis})",
    )
    if not detected.has_managed_fields:
        yield Finding(
            "settings",
            "no-managed-fields",
            Severity.INFO,
            next(e.detail for e in detected.type_evidence if e.signal == NO_MANAGED_FIELDS),
        )
