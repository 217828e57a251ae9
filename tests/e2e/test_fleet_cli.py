"""Fleet checks through the CLI against the EKS stand-in: 200 clusters, and shards. The CLI runs
as a process of its own, forked from the warm CLI server (tests/warm_cli.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import warm_cli
from standins.server import StandInServer
from tests_support import Result

FLEET = 200
# The 200 clusters live in the worker's moto server, which every other test empties: under
# pytest-xdist this module's tests run on one worker, one after the other.
pytestmark = pytest.mark.xdist_group("fleet-200-clusters")


@pytest.fixture(scope="module")
def fleet_server(eks_server: StandInServer) -> StandInServer:
    """200 clusters, made once for the module (moto takes ~50 ms a cluster)."""
    eks_server.fresh()
    for number in range(FLEET):
        name = f"cluster-{number:03d}"
        eks_server.create_cluster(name, "1.29" if number % 2 else "1.28")
        # Every tenth cluster runs a build the catalogue does not offer: a failing check.
        version = "v1.15.0-eksbuild.2" if number % 10 == 0 else "v1.18.3-eksbuild.3"
        eks_server.put_addon(name, version)
    return eks_server


@pytest.fixture
def fleet(fleet_server: StandInServer) -> StandInServer:
    fleet_server.standin.reset_counters()
    fleet_server.standin.clear_faults()
    return fleet_server


def run(server: StandInServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server.env()
    env["EKSADDON_CACHE_DIR"] = str(tmp_path / "cache")
    return warm_cli.run(["check-compat", *args], env=env, timeout=300)


@pytest.fixture
def run_cli(run: Callable[..., Result]) -> Callable[..., Result]:
    """The CLI's entry point in this process (tests/conftest.py's ``run``)."""
    return run


def clusters(document: dict[str, Any]) -> list[str]:
    return [c["cluster"] for c in document["clusters"]]


def test_a_200_cluster_fleet(fleet: StandInServer, tmp_path: Path) -> None:
    result = run(fleet, tmp_path, "--all-clusters", "-o", "json")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""  # a pipe gets the report and nothing else
    document = json.loads(result.stdout)
    assert document["summary"] == {"clusters": FLEET, "passed": 180, "failed": 20, "error": 0}
    assert len(set(clusters(document))) == FLEET
    standin = fleet.standin
    assert standin.count("ListClusters") == 2  # two pages of 100
    assert standin.count("DescribeAddonVersions") == 2  # once per Kubernetes version (1.28, 1.29)
    assert standin.count("DescribeCluster") == FLEET
    assert standin.count("DescribeAddon") == FLEET


def test_shards_cover_the_fleet_exactly_once(
    fleet: StandInServer, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process: the installed script is proven above; four more interpreters, each importing
    # boto3 and listing 200 clusters, would prove nothing more about shards.
    for name, value in fleet.env().items():
        monkeypatch.setenv(name, value)
    seen: list[str] = []
    for index in range(1, 5):
        result = run_cli("check-compat", "--all-clusters", "--shard", f"{index}/4", "-o", "json")
        assert result.code in (0, 1), result.err
        document = json.loads(result.out)
        assert document["shard"] == f"{index}/4"
        seen += clusters(document)
    assert sorted(seen) == [f"cluster-{n:03d}" for n in range(FLEET)]


def test_a_clusters_file_with_an_unreachable_cluster(fleet: StandInServer, tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {"name": "cluster-001", "region": fleet.region},
                    {"name": "does-not-exist", "region": fleet.region},
                ]
            }
        )
    )
    report = tmp_path / "report.xml"
    result = run(
        fleet,
        tmp_path,
        "--clusters",
        str(path),
        "-o",
        "junit",
        "--report-file",
        str(report),
        "--annotations",
        "github",
    )
    assert result.returncode == 3  # the worst result: a cluster that could not be checked
    assert result.stdout.startswith("::error title=eksaddon vpc-cni on us-west-2/does-not-exist::")
    assert "No cluster found for name%3A" not in result.stdout  # data is not property-escaped
    xml = report.read_text()
    assert '<testsuite name="us-west-2/cluster-001"' in xml
    assert '<testcase name="reachable"' in xml
