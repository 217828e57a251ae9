"""An add-on eksaddon bundles no matrix for, upgraded from EKS's live catalogue alone.

``snapshot-controller`` has no file in version_matrix/: the generic profile plans from what the
EKS stand-in offers the cluster's Kubernetes version (any offered build, in one update; its
major 6 -> 8 crossing is the catalogue's to allow), checks nothing on the nodes, and says so in
the plan. No kubeconfig exists here, and none is needed: nothing is read from Kubernetes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import warm_cli
from standins.server import StandInServer

pytestmark = pytest.mark.slow

ADDON = "snapshot-controller"
CLUSTER = "prod"


@pytest.fixture
def live_only(eks_standin: StandInServer) -> StandInServer:
    eks_standin.create_cluster(CLUSTER, "1.29")
    catalogue = eks_standin.standin.catalogue
    catalogue.describe_addon(ADDON, type="storage")
    catalogue.add(ADDON, "v6.3.2-eksbuild.1", ["1.28", "1.29"])
    catalogue.add(ADDON, "v8.0.0-eksbuild.1", ["1.29", "1.30"], default_for=["1.29"])
    # Offered only for a newer Kubernetes version: never a step on this 1.29 cluster.
    catalogue.add(ADDON, "v8.1.0-eksbuild.1", ["1.30"])
    eks_standin.put_addon(CLUSTER, "v6.3.2-eksbuild.1", addon_name=ADDON)
    return eks_standin


def run(server: StandInServer, base: Path, *args: str) -> tuple[int, str, str]:
    env = server.env()
    env.update(
        {
            "EKSADDON_STATE_DIR": str(base / "state"),
            "EKSADDON_CACHE_DIR": str(base / "cache"),
            "KUBECONFIG": str(base / "no-kubeconfig"),
        }
    )
    done = warm_cli.run(args, env=env, timeout=120)  # a process of its own, forked warm
    return done.returncode, done.stdout, done.stderr


def test_an_addon_with_no_bundled_matrix_is_upgraded_from_the_live_catalogue(
    live_only: StandInServer, tmp_path: Path
) -> None:
    code, out, err = run(
        live_only,
        tmp_path,
        "upgrade",
        "--cluster",
        CLUSTER,
        "--addon",
        ADDON,
        "--yes",
        "--poll-interval",
        "0.05",
        "--timeout",
        "20",
        "-o",
        "json",
    )
    assert code == 0, err
    document = json.loads(out)
    assert [(s["from"], s["to"]) for s in document["plan"]["steps"]] == [
        ("v6.3.2-eksbuild.1", "v8.0.0-eksbuild.1")
    ]
    assert document["final"]["version"] == "v8.0.0-eksbuild.1"
    notes = " ".join(document["plan"]["notes"])
    assert f"no profile for {ADDON}" in notes and "nothing is checked on the nodes" in notes
    standin = live_only.standin
    assert standin.count("UpdateAddon") == 1
    record = standin.addon(CLUSTER, ADDON)
    assert record is not None and record.addon_version == "v8.0.0-eksbuild.1"


def test_status_of_a_live_only_addon_says_what_it_cannot_check(
    live_only: StandInServer, tmp_path: Path
) -> None:
    code, out, err = run(
        live_only, tmp_path, "status", "--cluster", CLUSTER, "--addon", ADDON, "-o", "json"
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["latest"] == "v8.0.0-eksbuild.1"
    assert "nothing is checked on the nodes" in document["node_side_note"]
    assert live_only.standin.count("UpdateAddon") == 0


def test_live_check_compat_of_a_live_only_addon_uses_the_live_catalogue(
    live_only: StandInServer, tmp_path: Path
) -> None:
    code, out, err = run(
        live_only, tmp_path, "check-compat", "--cluster", CLUSTER, "--addon", ADDON,
        "--skip-node-side", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert document["addon"] == ADDON and document["addon_version"] == "v6.3.2-eksbuild.1"
    messages = " ".join(f["message"] for f in document["findings"])
    assert "version catalogue from eks:DescribeAddonVersions" in messages


def test_a_fleet_check_of_a_live_only_addon_uses_the_live_catalogue(
    live_only: StandInServer, tmp_path: Path
) -> None:
    clusters = tmp_path / "clusters.json"  # JSON is YAML: a clusters file
    clusters.write_text(json.dumps({"clusters": [{"name": CLUSTER, "region": live_only.region}]}))
    code, out, err = run(
        live_only, tmp_path, "check-compat", "--clusters", str(clusters), "--addon", ADDON,
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    (result,) = document["clusters"]
    assert result["report"]["addon_version"] == "v6.3.2-eksbuild.1", result
    messages = " ".join(f["message"] for f in result["report"]["findings"])
    assert "version catalogue from eks:DescribeAddonVersions" in messages


def test_a_name_that_cannot_be_an_addon_is_refused_before_any_call(
    live_only: StandInServer, tmp_path: Path
) -> None:
    code, _, err = run(
        live_only, tmp_path, "upgrade", "--cluster", CLUSTER, "--addon", "../../etc/x", "--yes"
    )
    assert code == 2, err
    assert "is not an EKS add-on name" in err
    assert live_only.standin.count("DescribeCluster") == 0


def test_a_self_managed_addon_without_bundled_manifests_is_refused(
    live_only: StandInServer, tmp_path: Path
) -> None:
    # No EKS add-on coredns on the cluster: eksaddon has no CoreDNS manifests to apply, so it
    # says so (not "drop --skip-rollout-check") and changes nothing. (Without the flag, the
    # CoreDNS Deployment's rollout check wants the Kubernetes API first, as vpc-cni's does.)
    code, _, err = run(
        live_only,
        tmp_path,
        "upgrade",
        "--cluster",
        CLUSTER,
        "--addon",
        "coredns",
        "--yes",
        "--skip-rollout-check",
    )
    assert code == 3, err  # as for any add-on EKS does not have: nothing was changed
    assert "no manifests to upgrade a self-managed coredns with; nothing was changed" in err
    assert live_only.standin.count("UpdateAddon") == 0


def test_the_live_only_line_is_shown_with_skip_rollout_check_too(
    live_only: StandInServer, tmp_path: Path
) -> None:
    code, out, err = run(
        live_only, tmp_path, "upgrade", "--cluster", CLUSTER, "--addon", ADDON,
        "--dry-run", "--skip-rollout-check", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert [s["to"] for s in document["plan"]["steps"]] == ["v8.0.0-eksbuild.1"]
    assert any("nothing is checked on the nodes" in n for n in document["plan"]["notes"])
    assert live_only.standin.count("UpdateAddon") == 0
