"""The gate's add-on part: per add-on, offered now and at the target, how far behind, the skew
after the control-plane update, and the phase and steps it needs. Pure; names no add-on.
"""

from __future__ import annotations

from collections.abc import Iterator

from eksaddon import planner
from eksaddon.compat import Finding, Severity
from eksaddon.errors import EksAddonError
from eksaddon.gate import AddonFacts, AddonVerdict, Phase
from eksaddon.matrix.model import AddonType, Matrix, PolicyKind, UpgradePolicy
from eksaddon.planner import Step
from eksaddon.skew import skew_problem
from eksaddon.textsafety import for_terminal
from eksaddon.versions import AddonVersion, KubernetesVersion

LIVE_ONLY = "no bundled data: EKS's live catalogue only"

# EKS add-on statuses that mean the add-on is not working (a gate cannot pass over them) and
# those that mean a change is under way (wait for it, then gate again).
_BROKEN = ("DEGRADED", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED")
_BUSY = ("CREATING", "UPDATING", "DELETING")


def empty_matrix(addon: str) -> Matrix:
    """A matrix with no data, for an add-on known only to EKS's live catalogue: any offered build
    is one update away (policy ``catalogue``), nothing is known offline."""
    return Matrix(
        addon=addon,
        display_name=addon,
        as_of=None,
        origin=LIVE_ONLY,
        kubernetes={},
        builds=(),
        releases=(),
        policy=UpgradePolicy(max_minor_step=None, kind=PolicyKind.CATALOGUE),
        features={},
        daemonset=None,
    )


def offered(
    matrix: Matrix, version: AddonVersion, kubernetes: KubernetesVersion, kind: AddonType
) -> bool | None:
    """Whether ``version`` is offered for (runs on) ``kubernetes``: None when nothing tells."""
    if kubernetes not in matrix.kubernetes:
        return None
    if version in matrix.candidates(kind, kubernetes):
        return True
    if kind is AddonType.MANAGED:
        return False if matrix.known_not_offered(version, kubernetes) else None
    release = matrix.find_release(version.release)
    return None if release is None else release.runs_on(kubernetes)


def _skew(matrix: Matrix, version: AddonVersion, control_plane: KubernetesVersion) -> str | None:
    skew = matrix.policy.skew
    return None if skew is None else skew_problem(version, control_plane, skew)


def _latest(matrix: Matrix, kubernetes: KubernetesVersion) -> AddonVersion | None:
    entry = matrix.kubernetes.get(kubernetes)
    return None if entry is None else entry.latest


def addon_verdict(
    facts: AddonFacts, *, kubernetes: KubernetesVersion, target: KubernetesVersion
) -> AddonVerdict:
    base = AddonVerdict(
        addon=facts.name,
        type=facts.type,
        version=facts.version,
        phase=Phase.NONE,
        steps=(),
        findings=(),
        source=facts.source,
        reported_version=facts.reported_version,
        latest=_latest(facts.matrix, kubernetes),
        target_latest=_latest(facts.matrix, target),
        catalogue_source=facts.catalogue_source(kubernetes),
        target_catalogue_source=facts.catalogue_source(target),
    )
    findings = [*_installed(facts), *_health(facts)]
    findings += [
        Finding("offered", "catalogue-unread", Severity.WARNING, p)
        for p in facts.catalogue_problems
    ]
    version = facts.version
    if version is None:
        return base._replace(findings=tuple(findings))
    matrix, kind = facts.matrix, facts.type
    now, then = offered(matrix, version, kubernetes, kind), offered(matrix, version, target, kind)
    findings += _offered(facts, version, kubernetes, now, check="offered", role="current")
    if target != kubernetes:
        findings += _offered(facts, version, target, then, check="target", role="target")
    findings += _behind(facts, version, kubernetes)
    current_skew = _skew(matrix, version, kubernetes)
    if current_skew is not None:
        findings.append(
            Finding(
                "skew",
                "version-skew",
                Severity.ERROR,
                f"{facts.name} {current_skew}: already outside the Kubernetes version-skew policy",
            )
        )
    target_skew = _skew(matrix, version, target) if target != kubernetes else None
    verdict = base._replace(offered_current=now, offered_target=then)
    if then is False or target_skew is not None:
        why = (
            f"would be outside the version-skew policy at {target} ({target_skew})"
            if target_skew is not None
            else f"is not offered for Kubernetes {target}"
        )
        return _before(verdict, facts, version, kubernetes, target, why, findings)
    return _after(verdict, facts, version, target, findings)


def _installed(facts: AddonFacts) -> Iterator[Finding]:
    shown = for_terminal(facts.reported_version or "unknown")
    if facts.version is None:
        why = facts.version_problem or "its version cannot be read"
        # An EKS add-on whose build eksaddon cannot read cannot pass a gate; a self-managed one
        # whose image does not show the version is said, and the rest of the gate still stands.
        severity = Severity.ERROR if facts.type is AddonType.MANAGED else Severity.WARNING
        yield Finding(
            "installed",
            "version-unreadable",
            severity,
            f"{facts.name} ({facts.type}) at {shown}: {why}; its compatibility is unknown",
        )
        return
    yield Finding(
        "installed",
        "installed",
        Severity.INFO,
        f"{facts.name} {facts.version} ({facts.type}) from {facts.source}",
    )
    if facts.type is AddonType.SELF_MANAGED:
        yield Finding(
            "installed",
            "self-managed",
            Severity.INFO,
            f"{facts.name} is self-managed: EKS's add-on API does not update it; "
            f"`eksaddon migrate --addon {facts.name}` makes it an EKS add-on",
        )


def _health(facts: AddonFacts) -> Iterator[Finding]:
    state = facts.state
    if state is None:
        return
    status = for_terminal(state.status)
    if state.status in _BROKEN:
        yield Finding(
            "health",
            "addon-status",
            Severity.ERROR,
            f"{facts.name} is {status} (eks:DescribeAddon)",
        )
    elif state.status in _BUSY:
        yield Finding(
            "health",
            "addon-status",
            Severity.WARNING,
            f"{facts.name} is {status}: a change is under way; gate again when it is ACTIVE",
        )
    elif not state.known_status:
        yield Finding(
            "health",
            "addon-status",
            Severity.WARNING,
            f"{facts.name} reports status {status}, which eksaddon does not know",
        )
    for issue in state.issues:
        yield Finding(
            "health",
            "health-issue",
            Severity.ERROR,
            f"{facts.name}: {for_terminal(issue.code)}: {for_terminal(issue.message)}",
        )


def _offered(
    facts: AddonFacts,
    version: AddonVersion,
    kubernetes: KubernetesVersion,
    answer: bool | None,
    *,
    check: str,
    role: str,
) -> Iterator[Finding]:
    source = facts.catalogue_source(kubernetes)
    subject = f"{facts.name} {version}"
    if answer is True:
        yield Finding(
            check,
            "offered",
            Severity.INFO,
            f"{subject} is offered for Kubernetes {kubernetes} ({role} version; {source})",
        )
    elif answer is False:
        # Not offered where the cluster runs now: EKS does not support it there (eksup EKS005).
        # Not offered at the target: the add-on moves before the control plane (a warning with
        # its phase), or there is no path (an error, from the phase decision).
        yield Finding(
            check,
            "version-not-offered",
            Severity.ERROR if role == "current" else Severity.WARNING,
            f"{subject} is not offered for Kubernetes {kubernetes} ({role} version; {source})",
        )
    else:
        yield Finding(
            check,
            "version-not-recorded",
            Severity.WARNING,
            f"whether {subject} is offered for Kubernetes {kubernetes} is not known ({source}): "
            f"confirm with `aws eks describe-addon-versions --addon-name {facts.name} "
            f"--kubernetes-version {kubernetes}`",
        )


def _behind(
    facts: AddonFacts, version: AddonVersion, kubernetes: KubernetesVersion
) -> Iterator[Finding]:
    latest = _latest(facts.matrix, kubernetes)
    if latest is None:
        return
    if facts.type is AddonType.SELF_MANAGED:
        # A self-managed install runs a release: compared with the release of the latest build.
        latest, version = latest.release, version.release
    if version < latest:
        minors = latest.minor - version.minor if latest.major == version.major else None
        distance = f", {minors} minor version(s) behind" if minors else ""
        yield Finding(
            "latest",
            "behind-latest",
            Severity.WARNING,
            f"{facts.name} {version} is behind the latest {latest} for Kubernetes "
            f"{kubernetes}{distance}",
        )
    else:
        yield Finding(
            "latest",
            "up-to-date",
            Severity.INFO,
            f"{facts.name} {version} is at or above the latest {latest} for Kubernetes "
            f"{kubernetes}",
        )


def _plan(
    matrix: Matrix,
    kubernetes: KubernetesVersion,
    current: AddonVersion,
    goal: str,
    kind: AddonType,
) -> tuple[tuple[Step, ...], str | None]:
    try:
        upgrade = planner.plan(
            matrix, kubernetes=kubernetes, current=current, target=goal, addon_type=kind
        )
    except EksAddonError as error:
        return (), error.one_line()
    return upgrade.steps, None


def _path(steps: tuple[Step, ...]) -> str:
    return " → ".join([str(steps[0].source), *(str(s.target) for s in steps)]) if steps else ""


def _bridge(
    matrix: Matrix,
    kind: AddonType,
    kubernetes: KubernetesVersion,
    target: KubernetesVersion,
) -> tuple[AddonVersion | None, bool]:
    """The newest build offered for both versions and within the skew policy at both; else
    (second) the newest the data does not rule out at the target, which must be confirmed."""
    fits = [
        v
        for v in matrix.candidates(kind, kubernetes)
        if _skew(matrix, v, kubernetes) is None and _skew(matrix, v, target) is None
    ]
    confirmed = [v for v in fits if offered(matrix, v, target, kind) is True]
    if confirmed:
        return max(confirmed), True
    possible = [v for v in fits if offered(matrix, v, target, kind) is None]
    return max(possible, default=None), False


def _migrate_hint(kind: AddonType | None, name: str) -> str:
    """What gives a self-managed add-on the gate has no path for one: EKS's own builds."""
    if kind is not AddonType.SELF_MANAGED:
        return ""
    return (
        f"; `eksaddon migrate --addon {name}` makes it an EKS add-on, with EKS's builds to move to"
    )


def _before(
    verdict: AddonVerdict,
    facts: AddonFacts,
    version: AddonVersion,
    kubernetes: KubernetesVersion,
    target: KubernetesVersion,
    why: str,
    findings: list[Finding],
) -> AddonVerdict:
    matrix, kind, name = facts.matrix, facts.type, facts.name
    goal, confirmed = _bridge(matrix, kind, kubernetes, target)
    if goal is None:
        findings.append(
            Finding(
                "steps",
                "no-path-before",
                Severity.ERROR,
                f"{name} {version} {why}, and no {kind} build offered for Kubernetes {kubernetes} "
                f"is known to be offered for {target} as well "
                f"({facts.catalogue_source(kubernetes)}; {facts.catalogue_source(target)})"
                + _migrate_hint(kind, name),
            )
        )
        return verdict._replace(findings=tuple(findings))
    steps, problem = _plan(matrix, kubernetes, version, str(goal), kind)
    if problem is not None:
        findings.append(Finding("steps", "no-path-before", Severity.ERROR, f"{name}: {problem}"))
        return verdict._replace(findings=tuple(findings))
    after, _ = _after_steps(matrix, goal, target, kind)
    findings.append(
        Finding(
            "steps",
            "before-control-plane",
            Severity.WARNING,
            f"{name} {version} {why}: move it to {goal} on Kubernetes {kubernetes} before the "
            f"control plane goes to {target} ({len(steps)} step(s): {_path(steps)})"
            + (
                ""
                if confirmed
                else f"; whether {goal} is offered for {target} is not known: confirm with "
                f"`aws eks describe-addon-versions --addon-name {name} --kubernetes-version "
                f"{target}`"
            ),
        )
    )
    return verdict._replace(
        phase=Phase.BEFORE, steps=steps, after_steps=after, findings=tuple(findings)
    )


def _after_steps(
    matrix: Matrix, current: AddonVersion, target: KubernetesVersion, kind: AddonType
) -> tuple[tuple[Step, ...], str | None]:
    latest = _latest(matrix, target)
    if latest is None or current >= latest:
        return (), None
    return _plan(matrix, target, current, planner.LATEST, kind)


def _after(
    verdict: AddonVerdict,
    facts: AddonFacts,
    version: AddonVersion,
    target: KubernetesVersion,
    findings: list[Finding],
) -> AddonVerdict:
    steps, problem = _after_steps(facts.matrix, version, target, facts.type)
    if problem is not None:
        findings.append(
            Finding(
                "steps",
                "no-path-after",
                Severity.WARNING,
                f"{facts.name}: no plan after the control-plane update: {problem}",
            )
        )
        return verdict._replace(findings=tuple(findings))
    if not steps:
        return verdict._replace(findings=tuple(findings))
    findings.append(
        Finding(
            "steps",
            "after-control-plane",
            Severity.INFO,
            f"{facts.name}: after the control plane reaches {target}, move it to "
            f"{steps[-1].target} ({len(steps)} step(s): {_path(steps)})",
        )
    )
    return verdict._replace(phase=Phase.AFTER, steps=steps, findings=tuple(findings))
