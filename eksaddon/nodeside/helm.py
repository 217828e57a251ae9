"""aws-node installed as a Helm release of the ``aws-vpc-cni`` chart: how to see it, what it means.

Pure: it reads a DaemonSet's metadata and the bundled chart facts (``helm_chart.yaml``), never the
cluster. Helm marks what it installed with the ``meta.helm.sh/release-name`` and
``meta.helm.sh/release-namespace`` annotations and the chart's labels (``helm.sh/chart:
aws-vpc-cni-<chart version>``, ``app.kubernetes.io/managed-by: Helm``). The CNI EKS pre-installs
on a new cluster carries the chart's labels without Helm's annotations
(aws/amazon-vpc-cni-k8s#2763): there is no Helm release behind it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

import yaml

from eksaddon.errors import InputError
from eksaddon.versions import AddonVersion

RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
CHART_LABEL = "helm.sh/chart"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "app.kubernetes.io/version"
VALUES_FILE = "aws-vpc-cni-values-{version}.yaml"

# Where the recommendation after a take-over comes from (docs/helm.md cites them too).
HELM_STORAGE_SOURCE = (
    "Helm keeps each release revision in a Secret sh.helm.release.v1.<release>.v<revision> "
    "labelled owner=helm,name=<release> in the release's namespace (helm/helm "
    "pkg/storage/driver/secrets.go)"
)
HELM_UNINSTALL_SOURCE = (
    "`helm uninstall` removes every resource of the release's last revision "
    "(https://helm.sh/docs/helm/helm_uninstall/)"
)


class HelmRelease(NamedTuple):
    """What Helm's annotations and labels say about the release that installed aws-node."""

    name: str
    namespace: str | None
    chart: str | None  # the helm.sh/chart label, e.g. "aws-vpc-cni-1.18.3"
    chart_version: str | None
    app_version: str | None

    def describe(self) -> str:
        chart = (
            f"chart {self.chart}"
            if self.chart
            else "chart version unknown (no helm.sh/chart label)"
        )
        return f"Helm release {self.name} in namespace {self.namespace or 'unknown'} ({chart})"


class ChartVersion(NamedTuple):
    release: AddonVersion
    chart_version: str | None  # None: unknown
    source: str


def _shown(value: object, limit: int = 80) -> str:
    """A name from outside as it goes into a message: printable and short."""
    text = str(value)
    if not text.isprintable():
        text = repr(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _strings(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}


def annotations_of(metadata: Any) -> dict[str, str]:
    return _strings(metadata.get("annotations") if isinstance(metadata, dict) else None)


def labels_of(metadata: Any) -> dict[str, str]:
    return _strings(metadata.get("labels") if isinstance(metadata, dict) else None)


def read_release(metadata: Any) -> HelmRelease | None:
    """The Helm release behind a DaemonSet's metadata; None without Helm's release annotation."""
    notes = annotations_of(metadata)
    name = notes.get(RELEASE_NAME)
    if not name:
        return None
    marks = labels_of(metadata)
    chart = marks.get(CHART_LABEL)
    chart_version = None
    if chart and "-" in chart:
        chart_version = chart.rpartition("-")[2] or None
    return HelmRelease(
        name=_shown(name),
        namespace=_shown(notes[RELEASE_NAMESPACE]) if notes.get(RELEASE_NAMESPACE) else None,
        chart=_shown(chart) if chart else None,
        chart_version=_shown(chart_version) if chart_version else None,
        app_version=_shown(marks[VERSION_LABEL]) if marks.get(VERSION_LABEL) else None,
    )


def chart_labels(metadata: Any) -> dict[str, str]:
    """The chart's labels present on an object (Helm's own, or the pre-installed CNI's)."""
    marks = labels_of(metadata)
    found = {k: _shown(marks[k]) for k in (MANAGED_BY_LABEL, CHART_LABEL) if k in marks}
    if found.get(MANAGED_BY_LABEL, "Helm") != "Helm":
        found.pop(MANAGED_BY_LABEL)
    return found


def describe(release: HelmRelease) -> str:
    return release.describe()


@lru_cache(maxsize=1)
def chart_facts() -> Mapping[str, Any]:
    text = resources.files("eksaddon.nodeside").joinpath("helm_chart.yaml").read_text("utf-8")
    facts: Mapping[str, Any] = yaml.safe_load(text)
    return facts


def chart_version(release: AddonVersion, *, installed: HelmRelease | None = None) -> ChartVersion:
    """The chart version that packages ``release``: from the bundled facts, or from the installed
    release's own labels when they name this very release; otherwise unknown."""
    plain = release.release
    entry = chart_facts()["chart_versions"].get(str(plain))
    if entry is not None:
        return ChartVersion(plain, str(entry["chart_version"]), str(entry["source"]))
    if (
        installed is not None
        and installed.chart_version
        and installed.app_version
        and installed.app_version == str(plain)
    ):
        return ChartVersion(
            plain, installed.chart_version, "the installed release's helm.sh/chart label"
        )
    return ChartVersion(plain, None, "not recorded")


def upgrade_commands(
    release: HelmRelease, targets: Sequence[AddonVersion], *, backup: str = "aws-node.yaml"
) -> list[str]:
    """For each step, the values file to write and the ``helm upgrade`` that applies it."""
    facts = chart_facts()
    chart = f"{facts['repository_alias']}/{facts['chart']}"
    # Names from the cluster go into commands people paste into a shell: quoted.
    name, namespace = shlex.quote(release.name), shlex.quote(release.namespace or "kube-system")
    lines = [
        f"kubectl get daemonset aws-node -n kube-system -o yaml > {backup}",
        f"helm repo add {facts['repository_alias']} {facts['repository']}",
    ]
    for target in targets:
        found = chart_version(target, installed=release)
        values = VALUES_FILE.format(version=target.release)
        version = (
            found.chart_version
            if found.chart_version
            else f"<chart version of {target.release}: unknown to eksaddon; the APP VERSION "
            f"column of `helm search repo {chart} --versions`>"
        )
        lines += [
            f"eksaddon render --helm-values --version {target.release} --preserve-from {backup} "
            f"> {values}",
            f"helm upgrade {name} {chart} --namespace {namespace} --version {version} "
            f"--values {values}",
        ]
    return lines


def left_behind(release: HelmRelease) -> list[str]:
    """What stays in Helm's record once another manager owns aws-node, the risk, what to do."""
    namespace = shlex.quote(release.namespace or "kube-system")
    selector = shlex.quote(f"owner=helm,name={release.name}")
    return [
        f"Helm's record of release {release.name} (namespace {namespace}) still lists aws-node, "
        "its RBAC, ServiceAccount, ConfigMap and CRDs; the objects keep Helm's "
        "meta.helm.sh annotations and labels",
        f"risk: a later `helm upgrade {release.name}` re-applies the chart's old manifest and "
        f"settings over them, and `helm uninstall {release.name}` deletes them, taking pod "
        f"networking down ({HELM_UNINSTALL_SOURCE})",
        f"recommended: remove the release's record without deleting any object — "
        f"`kubectl delete secret -n {namespace} -l {selector}` "
        f"({HELM_STORAGE_SOURCE}) — and drop the release from any automation (CI, GitOps) "
        "that runs helm against it; never `helm uninstall` it",
    ]


def before_applying(
    release: HelmRelease,
    targets: Sequence[AddonVersion],
    *,
    cluster: str,
    take_over: bool,
) -> tuple[list[str], InputError | None]:
    """What to say before a self-managed upgrade applies manifests over a Helm release, and the
    refusal (exit 2, nothing changed) unless the operator chose to take the objects over."""
    if take_over:
        return [
            f"taking aws-node on cluster {cluster} over from {describe(release)} "
            "(--take-over-from-helm)",
            *left_behind(release),
        ], None
    lines = [
        f"aws-node on cluster {cluster} is {describe(release)}; upgrade it with Helm, one "
        "step at a time:",
        *(f"  {line}" for line in upgrade_commands(release, targets)),
    ]
    return lines, InputError(
        f"aws-node on cluster {cluster} is {describe(release)}: applying manifests over it "
        "leaves Helm's record stale, and the next `helm upgrade` would undo the upgrade or its "
        "settings; nothing was changed",
        hint="run the `helm upgrade` steps printed above, or pass --take-over-from-helm to "
        "apply the manifests anyway",
    )


def migration_notices(daemonset: Any) -> list[str]:
    """What a migration to the EKS add-on leaves in Helm's record, when aws-node is a release."""
    metadata = daemonset.get("metadata") if isinstance(daemonset, dict) else None
    release = read_release(metadata)
    if release is None:
        return []
    return [
        f"aws-node is {describe(release)}; the EKS add-on takes its objects over and the "
        "settings are carried as configuration values, but:",
        *(f"  {line}" for line in left_behind(release)),
    ]
