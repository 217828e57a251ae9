"""migrate: a self-managed VPC CNI becomes the EKS add-on at the same release, settings intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from eksaddon.errors import InputError, UpgradeStoppedError
from eksaddon.matrix import Matrix
from fakes import FakeEks, FakeKube, run_migration, self_managed_cluster

NODES = ["node-a", "node-b"]


def setup(env: dict[str, str], *, keep_settings: bool = True) -> tuple[FakeEks, FakeKube]:
    return self_managed_cluster(env, nodes=tuple(NODES), keep_settings=keep_settings)


def test_migration_keeps_every_setting(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = setup({"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"})
    result = run_migration(bundled, tmp_path, eks, kube)
    assert str(result.version) == "v1.16.4-eksbuild.2"  # the EKS build of the running release
    (request,) = eks.requests
    assert request.resolve_conflicts == "OVERWRITE"
    assert request.configuration_values == (
        '{"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_IP_TARGET": "5"}}'
    )
    assert result.backup is not None and result.backup.exists()
    assert kube.env == {"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"}


def test_dry_run_shows_the_configuration_and_changes_nothing(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks, kube = setup({"WARM_IP_TARGET": "5"})
    result = run_migration(bundled, tmp_path, eks, kube, dry_run=True)
    assert result.configuration_values == '{"env": {"WARM_IP_TARGET": "5"}}'
    assert eks.calls["CreateAddon"] == 0


def test_a_changed_setting_after_the_migration_stops_it(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = setup({"WARM_IP_TARGET": "5"}, keep_settings=False)
    with pytest.raises(UpgradeStoppedError, match="WARM_IP_TARGET: expected '5'"):
        run_migration(bundled, tmp_path, eks, kube)


def test_a_release_eks_does_not_offer_is_refused(bundled: Matrix, tmp_path: Path) -> None:
    eks, kube = setup({})
    kube.tag = "v1.16.2"
    kube.pod_tags = dict.fromkeys(NODES, "v1.16.2")
    with pytest.raises(InputError, match="EKS offers no vpc-cni build of v1.16.2"):
        run_migration(bundled, tmp_path, eks, kube)


def test_an_eks_addon_is_not_migrated(bundled: Matrix, tmp_path: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    with pytest.raises(InputError, match="is already the EKS add-on"):
        run_migration(bundled, tmp_path, eks, FakeKube(NODES))


def test_migration_without_an_explicit_conflict_mode_is_refused_before_any_change(
    bundled: Matrix, tmp_path: Path
) -> None:
    eks, kube = setup({"WARM_IP_TARGET": "5"})
    with pytest.raises(InputError, match="lets EKS take over") as raised:
        run_migration(bundled, tmp_path, eks, kube, resolve_conflicts=None)
    assert raised.value.exit_code == 2
    assert "pass --resolve-conflicts overwrite" in raised.value.one_line()
    assert eks.calls["CreateAddon"] == 0
    assert not list(tmp_path.rglob("*.json")), "no backup before the refusal"
