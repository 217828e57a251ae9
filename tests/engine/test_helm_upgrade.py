"""A self-managed aws-node that is a Helm release: the upgrade refuses to apply manifests over
it (exit 2, nothing changed) unless taken over; a migration says what stays in Helm's record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eksaddon.engine.events import Notice
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.selfmanaged import upgrade_self_managed
from eksaddon.engine.upgrade import UpgradeOptions
from eksaddon.errors import InputError
from eksaddon.matrix import Matrix
from fakes import FakeClock, FakeEks, FakeKube, run_migration, self_managed_cluster

HELM = {
    "labels": {
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": "aws-vpc-cni-1.2.8",
        "app.kubernetes.io/version": "v1.12.6",
    },
    "annotations": {
        "meta.helm.sh/release-name": "aws-vpc-cni",
        "meta.helm.sh/release-namespace": "kube-system",
    },
}


class ApplyingWriter:
    """Kubernetes for a self-managed upgrade: records each apply; a DaemonSet apply moves the
    fake's template to the manifest's image tag, as the API server and controller would."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube
        self.applied: list[str] = []

    def read(self, document: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def apply(self, document: dict[str, Any], *, force: bool = True) -> dict[str, Any]:
        self.applied.append(f"{document['kind']}/{document['metadata']['name']}")
        if document["kind"] == "DaemonSet":
            image = document["spec"]["template"]["spec"]["containers"][0]["image"]
            self.kube.tag = image.rpartition(":")[2]
            self.kube.generation += 1
        return document


def upgrade(
    matrix: Matrix, state: Path, kube: FakeKube, *, take_over: bool
) -> tuple[ApplyingWriter, list[str]]:
    writer = ApplyingWriter(kube)
    notices: list[str] = []
    upgrade_self_managed(
        gateway=FakeEks(version=None),
        writer=writer,
        nodes=RolloutCheck(kube),
        matrix=matrix,
        options=UpgradeOptions(
            cluster="prod", addon="vpc-cni", target="v1.14.1", poll_interval=5, timeout=120
        ),
        state_directory=state,
        progress=lambda e: notices.append(e.text) if isinstance(e, Notice) else None,
        confirm=lambda plan: True,
        clock=FakeClock(),
        take_over_from_helm=take_over,
    )
    return writer, notices


def helm_kube() -> FakeKube:
    kube = FakeKube(["node-a", "node-b"], tag="v1.12.6")
    kube.metadata = HELM
    return kube


def test_a_helm_release_is_not_upgraded_with_manifests(bundled: Matrix, tmp_path: Path) -> None:
    kube = helm_kube()
    notices: list[str] = []
    writer = ApplyingWriter(kube)
    with pytest.raises(InputError) as raised:
        upgrade_self_managed(
            gateway=FakeEks(version=None),
            writer=writer,
            nodes=RolloutCheck(kube),
            matrix=bundled,
            options=UpgradeOptions(cluster="prod", addon="vpc-cni", target="v1.14.1"),
            state_directory=tmp_path,
            progress=lambda e: notices.append(e.text) if isinstance(e, Notice) else None,
            confirm=lambda plan: True,
            clock=FakeClock(),
        )
    assert raised.value.exit_code == 2
    line = raised.value.one_line()
    assert "Helm release aws-vpc-cni" in line and "nothing was changed" in line
    assert "--take-over-from-helm" in line
    assert writer.applied == [] and kube.generation == 1
    assert not list(tmp_path.rglob("*.json")), "no journal, no backup: nothing started"
    text = "\n".join(notices)
    # One values file and one helm upgrade per step, the chart version where it is known.
    assert "eksaddon render --helm-values --version v1.13.4 --preserve-from aws-node.yaml" in text
    assert "eksaddon render --helm-values --version v1.14.1 --preserve-from aws-node.yaml" in text
    assert text.count("helm upgrade aws-vpc-cni eks/aws-vpc-cni --namespace kube-system") == 2
    assert "<chart version of v1.13.4: unknown to eksaddon" in text


def test_take_over_from_helm_applies_and_says_what_helm_keeps(
    bundled: Matrix, tmp_path: Path
) -> None:
    kube = helm_kube()
    writer, notices = upgrade(bundled, tmp_path, kube, take_over=True)
    assert kube.tag == "v1.14.1"
    assert writer.applied.count("DaemonSet/aws-node") == 2
    text = "\n".join(notices)
    assert "--take-over-from-helm" in text
    assert "kubectl delete secret -n kube-system -l owner=helm,name=aws-vpc-cni" in text
    assert "helm uninstall aws-vpc-cni" in text


def test_an_install_without_helm_marks_is_upgraded_as_before(
    bundled: Matrix, tmp_path: Path
) -> None:
    kube = FakeKube(["node-a"], tag="v1.12.6")
    writer, notices = upgrade(bundled, tmp_path, kube, take_over=False)
    assert kube.tag == "v1.14.1"
    assert writer.applied.count("DaemonSet/aws-node") == 2
    assert not any("Helm" in n for n in notices)


def test_migrating_a_helm_release_states_what_helm_keeps(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = self_managed_cluster({"WARM_IP_TARGET": "5"})
    kube.metadata = HELM
    notices: list[str] = []
    from eksaddon.engine.migrate import MigrateOptions, migrate

    result = migrate(
        gateway=eks,
        matrix=bundled,
        nodes=RolloutCheck(kube),
        options=MigrateOptions(
            cluster="prod",
            addon="vpc-cni",
            poll_interval=5,
            timeout=120,
            resolve_conflicts="OVERWRITE",
        ),
        state_directory=tmp_path,
        progress=lambda e: notices.append(e.text) if isinstance(e, Notice) else None,
        confirm=lambda what: True,
        clock=FakeClock(),
    )
    assert result.configuration_values == '{"env": {"WARM_IP_TARGET": "5"}}'  # as today
    text = "\n".join(notices)
    assert "aws-node is Helm release aws-vpc-cni" in text
    assert "`helm uninstall aws-vpc-cni` deletes them" in text
    assert "kubectl delete secret -n kube-system -l owner=helm,name=aws-vpc-cni" in text


def test_migrating_without_helm_says_nothing_of_it(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = self_managed_cluster({})
    result = run_migration(bundled, tmp_path, eks, kube, dry_run=True)
    assert result.dry_run


def test_live_check_compat_says_the_eks_addon_still_carries_helms_marks(bundled: Matrix) -> None:
    from eksaddon.compat import Severity
    from eksaddon.engine.status import live_check_compat

    kube = FakeKube(["node-a"], tag="v1.16.4-eksbuild.2")
    kube.metadata = HELM
    report = live_check_compat(
        FakeEks(version="v1.16.4-eksbuild.2"),
        bundled,
        cluster="prod",
        addon="vpc-cni",
        target_kubernetes=None,
        features=(),
        fail_on=Severity.ERROR,
        kube=lambda cluster: kube,
    )
    (left,) = [f for f in report.findings if f.code == "helm-release-left"]
    assert left.severity is Severity.WARNING
    assert "Helm release aws-vpc-cni" in left.message and "helm uninstall" in left.message


def test_names_from_the_cluster_are_quoted_in_printed_commands() -> None:
    from eksaddon.nodeside.helm import read_release, upgrade_commands
    from eksaddon.versions import AddonVersion

    release = read_release(
        {"annotations": {"meta.helm.sh/release-name": "cni; rm -rf /", "x": "y"}}
    )
    assert release is not None
    (helm,) = [
        line
        for line in upgrade_commands(release, [AddonVersion.parse("v1.18.3")])
        if line.startswith("helm upgrade")
    ]
    assert helm.startswith("helm upgrade 'cni; rm -rf /' eks/aws-vpc-cni")
