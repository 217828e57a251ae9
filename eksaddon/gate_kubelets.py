"""The kubelet half of the version-skew policy, for add-ons whose minor is a Kubernetes minor.

kube-proxy must be within three minors of the kubelet on the same node, older or newer (two for
kube-proxy older than 1.25; S-K8S-SKEW, upgrade-rules.yaml); the limit is the matrix's skew
policy. The gate checks the version the add-on runs now and the one it will run once its phases
are done against every kubelet it read, so a node group left far behind is named before the
after phase moves kube-proxy past it. Without the nodes' versions the check says it was not made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from eksaddon.compat import Finding, Severity
from eksaddon.gate import AddonVerdict, KubeletFacts
from eksaddon.gate_cluster import kubelet_minor
from eksaddon.matrix.model import Matrix, SkewPolicy
from eksaddon.versions import AddonVersion, KubernetesVersion

CHECK = "kubelet-skew"


def final_version(verdict: AddonVerdict) -> AddonVersion | None:
    """The version the add-on runs once the gate's phases are carried out."""
    steps = verdict.after_steps or verdict.steps
    return steps[-1].target if steps else verdict.version


def kubelet_skew_findings(
    verdict: AddonVerdict,
    matrix: Matrix,
    kubelets: Iterable[KubeletFacts],
    *,
    kubelets_read: bool,
) -> tuple[Finding, ...]:
    """The add-on's findings against the nodes' kubelets (none for an add-on without skew)."""
    skew = matrix.policy.skew
    if skew is None or verdict.version is None:
        return ()
    if not kubelets_read:
        return (
            Finding(
                CHECK,
                "kubelet-skew-unchecked",
                # Info: the cluster-level "kubelets-unread" warning already says the nodes
                # were not read; a second warning per add-on would only double it.
                Severity.INFO,
                f"{verdict.addon} must be within the version-skew policy of the kubelet on each "
                "node; the nodes' kubelet versions were not read, so this was not checked",
            ),
        )
    nodes = [(k.node, kubelet_minor(k.kubelet_version)) for k in kubelets]
    known = [(name, minor) for name, minor in nodes if minor is not None]
    findings = list(_outside(verdict.addon, verdict.version, known, skew, after=False))
    final = final_version(verdict)
    if final is not None and final != verdict.version:
        findings += _outside(verdict.addon, final, known, skew, after=True)
    return tuple(findings)


def _outside(
    addon: str,
    version: AddonVersion,
    kubelets: list[tuple[str, KubernetesVersion]],
    skew: SkewPolicy,
    *,
    after: bool,
) -> Iterator[Finding]:
    minor = KubernetesVersion(version.major, version.minor)
    limit = skew.max_older_for(minor)
    behind = sorted(
        name
        for name, kubelet in kubelets
        if kubelet.major != minor.major or abs(kubelet.minor - minor.minor) > limit
    )
    if not behind:
        return
    shown = ", ".join(behind[:5]) + (f" and {len(behind) - 5} more" if len(behind) > 5 else "")
    when = f"once it is moved to {version}" if after else f"at {version} now"
    yield Finding(
        CHECK,
        "kubelet-skew-after" if after else "kubelet-skew",
        Severity.ERROR,
        f"{addon} {when} is more than {limit} minor versions from the kubelet on "
        f"{len(behind)} node(s) ({shown}): upgrade those nodes first (version-skew policy)",
    )
