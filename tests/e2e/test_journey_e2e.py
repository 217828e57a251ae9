"""``upgrade --all-addons`` and ``cluster-upgrade`` with the installed CLI against the EKS stand-in
(moto + the add-on, insights and control-plane extensions of tests/standins), as subprocesses.

The cluster: Kubernetes 1.29 with vpc-cni, kube-proxy and CoreDNS at older builds, a managed node
group. The rollout checks are skipped (``--skip-rollout-check``): this file is about the order,
the journals and the control-plane update; the node side has its own end-to-end tests.

``cluster-upgrade`` runs the cluster-upgrade gate (eksaddon/engine/gate.py). Its cluster has no
kube-proxy: the stand-in's 1.30 catalogue offers only v1.30 kube-proxy builds, so the gate
refuses any 1.29 kube-proxy for 1.30 (``no-path-before``), which is the gate's call to make.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from standins.catalogues import bundled_catalogue
from standins.eks_addons import StandIn
from standins.eks_upgrade import deprecated_api_insight
from standins.server import StandInServer
from tests_support import eksaddon_command

pytestmark = pytest.mark.slow

START = {"vpc-cni": "v1.16.4-eksbuild.2", "kube-proxy": "v1.29.0-eksbuild.1"}
START["coredns"] = "v1.10.1-eksbuild.7"
FAST = ("--poll-interval", "0.05", "--skip-rollout-check", "--progress", "plain")


@pytest.fixture
def eks(eks_standin: StandInServer) -> StandInServer:
    eks_standin.fresh(StandIn(bundled_catalogue()))
    eks_standin.create_cluster("prod", "1.29")
    for addon, version in START.items():
        eks_standin.put_addon("prod", version, addon_name=addon)
    eks_standin.create_nodegroup("prod", "workers", "1.29")
    return eks_standin


@pytest.fixture
def journey_eks(eks: StandInServer) -> StandInServer:
    """The cluster without kube-proxy (see the module's docstring)."""
    eks.client().delete_addon(clusterName="prod", addonName="kube-proxy")
    return eks


def environment(eks: StandInServer, tmp_path: Path) -> dict[str, str]:
    return {
        **eks.env(),
        "EKSADDON_STATE_DIR": str(tmp_path / "state"),
        "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
    }


def eksaddon(eks: StandInServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*eksaddon_command(), *args, "--cluster", "prod", *FAST],
        env=environment(eks, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def versions(eks: StandInServer) -> dict[str, str]:
    client = eks.client()
    return {
        addon: client.describe_addon(clusterName="prod", addonName=addon)["addon"]["addonVersion"]
        for addon in client.list_addons(clusterName="prod")["addons"]
    }


def kill_when(
    eks: StandInServer, tmp_path: Path, line: str, *args: str
) -> tuple[list[str], subprocess.Popen[str]]:
    """Start the CLI, SIGKILL it as soon as stderr shows ``line``; its stderr lines so far."""
    process = subprocess.Popen(
        [*eksaddon_command(), *args, "--cluster", "prod", *FAST],
        env=environment(eks, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    seen: list[str] = []
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for text in process.stderr:
        seen.append(text.rstrip("\n"))
        if line in text:
            os.kill(process.pid, signal.SIGKILL)
            break
        assert time.monotonic() < deadline, seen
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, seen
    return seen, process


def test_all_addons_carries_every_addon_to_its_latest_build(
    eks: StandInServer, tmp_path: Path
) -> None:
    result = eksaddon(eks, tmp_path, "upgrade", "--all-addons", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert versions(eks) == {
        "vpc-cni": "v1.18.3-eksbuild.3",
        "kube-proxy": "v1.29.7-eksbuild.5",
        "coredns": "v1.11.3-eksbuild.1",
    }
    document = json.loads(result.stdout)
    assert [(a["addon"], a["state"]) for a in document["addons"]] == [
        ("vpc-cni", "upgraded"),
        ("kube-proxy", "upgraded"),
        ("coredns", "upgraded"),
    ]
    assert all(Path(a["backup"]).is_file() for a in document["addons"])
    for line in (
        "add-on 1/3: starting vpc-cni (after phase)",
        "[1/2] v1.16.4-eksbuild.2 → v1.17.1-eksbuild.1: started update",
        "add-on 3/3: coredns upgraded at v1.11.3-eksbuild.1",
    ):
        assert line in result.stderr


def test_all_addons_killed_midway_resumes_and_skips_what_is_done(
    eks: StandInServer, tmp_path: Path
) -> None:
    kill_when(eks, tmp_path, "add-on 2/3: starting kube-proxy", "upgrade", "--all-addons", "--yes")
    assert versions(eks)["vpc-cni"] == "v1.18.3-eksbuild.3"
    result = eksaddon(eks, tmp_path, "upgrade", "--all-addons", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr
    states = {a["addon"]: a["state"] for a in json.loads(result.stdout)["addons"]}
    assert states == {"vpc-cni": "done earlier", "kube-proxy": "upgraded", "coredns": "upgraded"}
    assert "starting vpc-cni" not in result.stderr
    assert versions(eks)["coredns"] == "v1.11.3-eksbuild.1"


def test_all_addons_dry_run_changes_nothing(eks: StandInServer, tmp_path: Path) -> None:
    result = eksaddon(eks, tmp_path, "upgrade", "--all-addons", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "vpc-cni" in result.stdout and "planned" in result.stdout
    assert versions(eks) == START
    assert not (tmp_path / "state" / "journals").exists()


def test_cluster_upgrade_killed_during_the_control_plane_update_follows_the_same_update(
    journey_eks: StandInServer, tmp_path: Path
) -> None:
    eks = journey_eks
    eks.standin.cluster_update_polls = None  # the update runs until the test ends it
    seen, _killed = kill_when(
        eks, tmp_path, "control plane of prod: 1.29 → 1.30: started update",
        "cluster-upgrade", "--to", "1.30", "--yes",
    )  # fmt: skip
    assert any(line.startswith("== before:") for line in seen)  # the gate let it through
    (update,) = eks.standin.cluster_updates()
    assert update.status == "InProgress"
    with eks.standin.lock:  # the update in flight now ends two polls later
        update.polls_needed = update.polls + 2
    result = eksaddon(
        eks, tmp_path, "cluster-upgrade", "--to", "1.30", "--yes", "-o", "json",
        "--control-plane-timeout", "60",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"following update {update.id}" in result.stderr
    assert [u.id for u in eks.standin.cluster_updates()] == [update.id]  # never issued twice
    assert str(eks.cluster("prod").version) == "1.30"
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["control_plane"]["update_id"] == update.id
    assert versions(eks) == {"vpc-cni": "v1.18.3-eksbuild.3", "coredns": "v1.11.3-eksbuild.1"}
    assert any(n["name"] == "workers" for n in document["nodes"])


def test_cluster_upgrade_refused_for_insights_then_forced(
    journey_eks: StandInServer, tmp_path: Path
) -> None:
    eks = journey_eks
    eks.put_insight("prod", deprecated_api_insight("insight-1", "1.30"))
    refused = eksaddon(eks, tmp_path, "cluster-upgrade", "--to", "1.30", "--yes")
    # the gate reads the same insight EKS would refuse for: exit 1, nothing changed, named
    assert refused.returncode == 1, refused.stderr
    assert "the gate refuses" in refused.stderr and "insight-error" in refused.stderr
    assert eks.standin.cluster_updates() == []
    assert "--force-upgrade-insights" in refused.stderr
    forced = eksaddon(
        eks, tmp_path, "cluster-upgrade", "--to", "1.30", "--yes", "--force-upgrade-insights"
    )
    assert forced.returncode == 0, forced.stderr
    (update,) = eks.standin.cluster_updates()
    assert update.force is True
    assert "with force (upgrade insights overridden)" in forced.stderr
