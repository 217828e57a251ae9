"""``upgrade --all-addons`` and ``cluster-upgrade`` through the real entry point, on the in-memory
cluster (tests/journey_fakes.py): flags, consent, outputs, progress lines and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from journey_fakes import FakeCluster, fake_gate

from tests_support import Result

Run = Callable[..., Result]
FAST = ("--poll-interval", "0.05", "--skip-rollout-check", "--progress", "plain")


@pytest.fixture
def eks(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    cluster = FakeCluster(polls_per_update=1, polls_per_cluster_update=1)
    # Patched where the new runs look it up, at call time: patching aws_options.make_gateway
    # would leave the fake bound in any command module first imported meanwhile.
    monkeypatch.setattr("eksaddon.cli.all_addons.upgrade_gateway", lambda profile, region: cluster)
    monkeypatch.setattr(
        "eksaddon.cli.all_addons.gate_runner", lambda gateway, **_: fake_gate(cluster)
    )
    return cluster


def test_all_addons_dry_run_shows_the_plan_of_every_addon(run: Run, eks: FakeCluster) -> None:
    result = run("upgrade", "--cluster", "prod", "--all-addons", "--dry-run", "-o", "json", *FAST)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert [(a["addon"], a["state"]) for a in document["addons"]] == [
        ("vpc-cni", "planned"),
        ("kube-proxy", "planned"),
        ("coredns", "up to date"),
    ]
    assert document["addons"][0]["steps"][0] == {
        "from": "v1.15.5-eksbuild.1",
        "to": "v1.16.4-eksbuild.2",
    }
    assert eks.updates == {}


def test_all_addons_carries_every_addon_and_names_each_in_the_progress(
    run: Run, eks: FakeCluster
) -> None:
    result = run("upgrade", "--cluster", "prod", "--all-addons", "--yes", *FAST)
    assert result.code == 0, result.err
    assert eks.version_of("vpc-cni") == "v1.18.3-eksbuild.3"
    assert eks.version_of("kube-proxy") == "v1.29.7-eksbuild.5"
    assert "add-on 1/3: starting vpc-cni (after phase)" in result.err
    assert "add-on 2/3: kube-proxy upgraded at v1.29.7-eksbuild.5" in result.err
    assert "add-on 3/3: coredns up to date" in result.err
    assert "vpc-cni" in result.out and "upgraded" in result.out


def test_all_addons_for_a_version_moves_only_the_before_phase(run: Run, eks: FakeCluster) -> None:
    result = run(
        "upgrade", "--cluster", "prod", "--all-addons", "--for-kubernetes-version", "1.30",
        "--yes", "-o", "json", *FAST,
    )  # fmt: skip
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["phase"] == "before" and document["for_kubernetes_version"] == "1.30"
    assert eks.version_of("vpc-cni") == "v1.16.4-eksbuild.2"
    assert eks.version_of("coredns") == "v1.11.1-eksbuild.9"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--to", "v1.18.3-eksbuild.3"), "--target"),
        (("--addon", "coredns"), "--addon"),
        (("--configuration-values", "{}"), "--configuration-values"),
    ],
)
def test_single_addon_flags_are_refused_with_all_addons(
    run: Run, eks: FakeCluster, flags: tuple[str, ...], named: str
) -> None:
    result = run("upgrade", "--cluster", "prod", "--all-addons", "--yes", *flags, *FAST)
    assert result.code == 2
    assert named in result.err and "nothing was changed" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert eks.updates == {}


def test_for_kubernetes_version_needs_all_addons(run: Run, eks: FakeCluster) -> None:
    result = run("upgrade", "--cluster", "prod", "--for-kubernetes-version", "1.30", *FAST)
    assert result.code == 2 and "needs --all-addons" in result.err


def test_cluster_upgrade_needs_consent_without_a_terminal(run: Run, eks: FakeCluster) -> None:
    result = run("cluster-upgrade", "--cluster", "prod", "--to", "1.30", *FAST, stdin="")
    assert result.code == 2
    assert "without confirmation" in result.err and "--yes" in result.err
    assert eks.updates == {}


def test_cluster_upgrade_end_to_end_with_force(run: Run, eks: FakeCluster) -> None:
    eks.insights_blocking = True
    args = ("cluster-upgrade", "--cluster", "prod", "--to", "1.30", "--yes", "-o", "json", *FAST)
    refused = run(*args)
    assert refused.code == 4, refused.err
    assert "--force-upgrade-insights" in refused.err
    result = run(*args, "--force-upgrade-insights")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["control_plane"]["force"] is True
    assert [s["state"] for s in document["stages"]] == ["succeeded"] * 5
    assert document["nodes"][0]["command"].startswith("aws eks update-nodegroup-version")
    assert "control plane of prod: 1.29 → 1.30: started update" in result.err
    assert "with force (upgrade insights overridden)" in result.err


def test_cluster_upgrade_dry_run_prints_the_journey(run: Run, eks: FakeCluster) -> None:
    result = run("cluster-upgrade", "--cluster", "prod", "--to", "1.30", "--dry-run", *FAST)
    assert result.code == 0, result.err
    for line in (
        "1. gate: passed",
        "2. before the control plane:",
        "3. control plane: UpdateClusterVersion to 1.30",
        "4. after the control plane",
        "5. nodes still to upgrade",
        "managed node group workers at 1.29",
    ):
        assert line in result.out
    assert eks.updates == {}


def test_cluster_upgrade_refuses_two_minors_with_the_chain(run: Run, eks: FakeCluster) -> None:
    result = run("cluster-upgrade", "--cluster", "prod", "--to", "1.31", "--yes", *FAST)
    assert result.code == 2
    assert "1.29 → 1.30 → 1.31" in result.err
