"""The Kubernetes version-skew policy as a pure rule, for add-ons whose minor is a Kubernetes minor.

kube-proxy (upgrade_policy kind ``kubernetes-skew``): its ``vX.Y.Z-eksbuild.N`` builds carry the
upstream kube-proxy release, so ``X.Y`` is a Kubernetes minor (kube-proxy.yaml
version_string_format). The limits are data (``upgrade_policy.skew`` in the matrix).
"""

from __future__ import annotations

from eksaddon.errors import NoLegalPathError
from eksaddon.matrix.model import Matrix, SkewPolicy
from eksaddon.versions import AddonVersion, KubernetesVersion


def skew_problem(
    version: AddonVersion, control_plane: KubernetesVersion, skew: SkewPolicy
) -> str | None:
    """Why ``version`` (whose major.minor is a Kubernetes minor) breaks ``skew``, or None.

    The Kubernetes version-skew policy for kube-proxy: never newer than kube-apiserver, at most
    three minors older, two for kube-proxy older than 1.25 (S-K8S-SKEW, upgrade-rules.yaml); the
    numbers come from the matrix.
    """
    addon_minor = KubernetesVersion(version.major, version.minor)
    if addon_minor.major != control_plane.major:
        return f"{version} is not a Kubernetes {control_plane.major}.x version"
    lag = control_plane.minor - addon_minor.minor
    if -lag > skew.max_newer:
        newer = (
            "newer than"
            if skew.max_newer == 0
            else f"more than {skew.max_newer} minor(s) newer than"
        )
        return f"{version} would be {newer} the control plane ({control_plane})"
    allowed = skew.max_older_for(addon_minor)
    if lag > allowed:
        return (
            f"{version} is {lag} minor versions older than the control plane ({control_plane}); "
            f"the version-skew policy allows {allowed} for {addon_minor}"
        )
    return None


def allowed_minors(control_plane: KubernetesVersion, skew: SkewPolicy) -> list[KubernetesVersion]:
    """The add-on minors the policy allows under ``control_plane``, oldest first."""
    newest = control_plane.minor + skew.max_newer
    oldest = max(0, control_plane.minor - skew.max_older)
    candidates = (KubernetesVersion(control_plane.major, m) for m in range(oldest, newest + 1))
    return [
        minor
        for minor in candidates
        if control_plane.minor - minor.minor <= skew.max_older_for(minor)
    ]


def check_skew(
    addon: str, target: AddonVersion, kubernetes: KubernetesVersion, skew: SkewPolicy
) -> None:
    problem = skew_problem(target, kubernetes, skew)
    if problem is not None:
        allowed = allowed_minors(kubernetes, skew)
        raise NoLegalPathError(
            f"cannot move {addon} to {problem} (Kubernetes version-skew policy)",
            hint=f"choose a build of {addon} from v{allowed[0]} to v{allowed[-1]}",
        )


def skew_notes(
    matrix: Matrix, current: AddonVersion, target: AddonVersion, kubernetes: KubernetesVersion
) -> list[str]:
    """What the plan should say about the skew: a current version already outside it, and the
    kubelet half of the policy, which needs the nodes' versions."""
    skew = matrix.policy.skew
    if skew is None:
        return []
    notes = []
    problem = skew_problem(current, kubernetes, skew)
    if problem is not None:
        notes.append(f"the current version breaks the version-skew policy: {problem}")
    # The policy also bounds kube-proxy against the kubelet on each node; offline, the nodes'
    # versions are not known, so say so rather than imply the plan checked them.
    limit = skew.max_older_for(KubernetesVersion(target.major, target.minor))
    notes.append(
        f"{matrix.addon} {target} must also be within {limit} minor versions of the kubelet on "
        "each node; node versions are not checked here"
    )
    return notes
