from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eksaddon.compat import Severity
from eksaddon.engine import catalogue
from eksaddon.engine.events import FleetProgress
from eksaddon.engine.fleet import (
    FleetReport,
    FleetTarget,
    GatewayPool,
    check_fleet,
    discover,
    in_shard,
    load_fleet_file,
    parse_shard,
    requests_in_flight,
)
from eksaddon.errors import AccessDeniedError, ExitCode, InputError, InputFileError
from eksaddon.gateways.protocols import AddonState, ClusterInfo, EksGateway
from eksaddon.matrix import Matrix
from eksaddon.versions import KubernetesVersion
from fakes import FakeEks, FakeRegion


def fleet(regions: dict[str, dict[str, str | None]]) -> dict[str, FakeRegion]:
    """{region: {cluster: add-on version or None}} → fake regions (Kubernetes 1.29)."""
    return {
        region: FakeRegion(
            region,
            {name: FakeEks(cluster=name, version=version) for name, version in clusters.items()},
        )
        for region, clusters in regions.items()
    }


def pool_for(regions: dict[str, FakeRegion]) -> GatewayPool:
    def factory(region: str | None, profile: str | None, role: str | None) -> EksGateway:
        if role == "arn:aws:iam::1:role/denied":
            raise AccessDeniedError(
                "access denied to sts:AssumeRole on role arn:aws:iam::1:role/denied"
            )
        return regions[region or "us-west-2"]

    return GatewayPool(factory)


def check_vpc_cni(
    bundled: Matrix,
    targets: list[FleetTarget],
    pool: GatewayPool,
    *,
    concurrency: int,
    target_kubernetes: KubernetesVersion | None = None,
    progress: Callable[[FleetProgress], None] | None = None,
) -> FleetReport:
    """check-compat of vpc-cni over ``targets``, failing on errors, with no features."""
    return check_fleet(
        targets,
        pool=pool,
        matrix=bundled,
        addon="vpc-cni",
        target_kubernetes=target_kubernetes,
        features=(),
        fail_on=Severity.ERROR,
        concurrency=concurrency,
        progress=progress,
    )


def run(
    bundled: Matrix,
    regions: dict[str, FakeRegion],
    targets: list[FleetTarget],
    progress: Callable[[FleetProgress], None] | None = None,
) -> FleetReport:
    return check_vpc_cni(bundled, targets, pool_for(regions), concurrency=4, progress=progress)


def test_fleet_results_and_worst_exit_code(bundled: Matrix) -> None:
    regions = fleet(
        {
            "us-west-2": {"a": "v1.18.3-eksbuild.3", "b": "v1.15.0-eksbuild.2"},
            "eu-west-1": {"c": "v1.18.3-eksbuild.3"},
        }
    )
    targets = discover(pool_for(regions), ["us-west-2", "eu-west-1"])
    report = check_vpc_cni(
        bundled,
        targets,
        pool_for(regions),
        concurrency=2,
        target_kubernetes=KubernetesVersion.parse("1.30"),
    )
    results = {o.target.key: o.exit_code for o in report.outcomes}
    assert results == {
        "eu-west-1/c": ExitCode.OK,
        "us-west-2/a": ExitCode.OK,
        "us-west-2/b": ExitCode.CHECK_FAILED,
    }
    assert report.exit_code is ExitCode.CHECK_FAILED


def test_an_unreachable_cluster_is_an_outcome_not_a_crash(bundled: Matrix) -> None:
    regions = fleet({"us-west-2": {"a": "v1.18.3-eksbuild.3"}})
    targets = [
        FleetTarget("a", "us-west-2"),
        FleetTarget("gone", "us-west-2"),
        FleetTarget("x", "us-west-2", role_arn="arn:aws:iam::1:role/denied"),
    ]
    report = run(bundled, regions, targets)
    by_key = {o.target.key: o for o in report.outcomes}
    assert by_key["us-west-2/a"].exit_code is ExitCode.OK
    assert by_key["us-west-2/gone"].exit_code is ExitCode.ENVIRONMENT
    assert "No cluster found for name: gone" in str(by_key["us-west-2/gone"].error)
    assert "sts:AssumeRole" in str(by_key["us-west-2/x"].error)
    assert report.exit_code is ExitCode.ENVIRONMENT


def test_the_catalogue_is_read_once_per_region_and_kubernetes_version(bundled: Matrix) -> None:
    regions = fleet(
        {
            "us-west-2": {f"c{i}": "v1.17.1-eksbuild.1" for i in range(30)},
            "eu-west-1": {f"d{i}": "v1.17.1-eksbuild.1" for i in range(10)},
        }
    )
    pool = pool_for(regions)
    targets = discover(pool, ["us-west-2", "eu-west-1"])
    check_vpc_cni(bundled, targets, pool, concurrency=16)
    assert regions["us-west-2"].calls["DescribeAddonVersions"] == 1
    assert regions["eu-west-1"].calls["DescribeAddonVersions"] == 1
    assert regions["us-west-2"].calls["DescribeCluster"] == 30


def test_the_catalogue_is_laid_over_the_matrix_once_per_region_and_version(
    bundled: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 clusters, two regions, one Kubernetes version: two overlaid matrices, not 40, and
    every report the same as if each cluster had had its own."""
    made: list[str] = []
    real = catalogue.with_live_catalogue

    def counting(matrix: Matrix, kubernetes: KubernetesVersion, *args: Any, **kw: Any) -> Matrix:
        made.append(str(kubernetes))
        return real(matrix, kubernetes, *args, **kw)

    regions = fleet(
        {
            "us-west-2": {f"c{i}": "v1.17.1-eksbuild.1" for i in range(30)},
            "eu-west-1": {f"d{i}": "v1.15.0-eksbuild.2" for i in range(10)},
        }
    )
    alone = run(bundled, regions, [FleetTarget("c0", "us-west-2"), FleetTarget("d0", "eu-west-1")])
    monkeypatch.setattr(catalogue, "with_live_catalogue", counting)
    pool = pool_for(regions)
    report = check_vpc_cni(
        bundled, discover(pool, ["us-west-2", "eu-west-1"]), pool, concurrency=16
    )
    assert made == ["1.29", "1.29"]
    by_key = {o.target.key: o.report for o in report.outcomes}
    assert by_key["us-west-2/c0"] == alone.outcomes[1].report
    assert by_key["eu-west-1/d0"] == alone.outcomes[0].report


def test_progress_counts_every_cluster(bundled: Matrix) -> None:
    regions = fleet({"us-west-2": {f"c{i}": "v1.18.3-eksbuild.3" for i in range(5)}})
    seen: list[FleetProgress] = []
    run(bundled, regions, discover(pool_for(regions), ["us-west-2"]), progress=seen.append)
    assert seen == [FleetProgress(n, 5, 0, 0) for n in range(1, 6)]


def test_progress_counts_failures_and_errors_so_far(bundled: Matrix) -> None:
    regions = fleet({"us-west-2": {"good": "v1.18.3-eksbuild.3", "old": "v1.15.0-eksbuild.2"}})
    targets = [*discover(pool_for(regions), ["us-west-2"]), FleetTarget("missing", "us-west-2")]
    seen: list[FleetProgress] = []
    report = run(bundled, regions, targets, progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3]
    last = seen[-1]
    assert (last.total, last.failed, last.errors) == (3, 1, 1)
    summary = {o.target.name: o.exit_code for o in report.outcomes}
    assert summary["old"] == ExitCode.CHECK_FAILED
    assert summary["missing"] == ExitCode.ENVIRONMENT
    # the counts only grow, one cluster at a time
    grew = [b.failed + b.errors - a.failed - a.errors for a, b in itertools.pairwise(seen)]
    assert set(grew) <= {0, 1}


@given(
    st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True),
    st.integers(1, 12),
)
def test_shards_cover_every_cluster_exactly_once(names: list[str], count: int) -> None:
    targets = [FleetTarget(name, "us-west-2") for name in names]
    placed = [[t for t in targets if in_shard(t, index, count)] for index in range(1, count + 1)]
    flat = [t for shard in placed for t in shard]
    assert sorted(flat) == sorted(targets)


def test_a_clusters_shard_does_not_move_when_the_fleet_grows() -> None:
    target = FleetTarget("payments", "eu-west-1")
    before = [i for i in range(1, 9) if in_shard(target, i, 8)]
    assert len(before) == 1
    assert before == [i for i in range(1, 9) if in_shard(target, i, 8)]


@pytest.mark.parametrize("text", ["0/4", "5/4", "1", "a/b", "1/0", "-1/3", "2/3/4", ""])
def test_bad_shards(text: str) -> None:
    with pytest.raises(InputError, match="is not I/N"):
        parse_shard(text)


def test_fleet_file(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(
        "clusters:\n  - name: a\n    region: us-west-2\n  - b\n"
        "  - {name: c, region: eu-west-1, role_arn: arn:aws:iam::1:role/r}\n"
    )
    assert load_fleet_file(path) == [
        FleetTarget("a", "us-west-2"),
        FleetTarget("b"),
        FleetTarget("c", "eu-west-1", role_arn="arn:aws:iam::1:role/r"),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "non-empty list"),
        ("clusters: {a: 1}", "non-empty list"),
        ("- {region: us-west-2}", "entry 0 has no name"),
        ("- {name: a, zone: x}", "entry 0 has unknown key 'zone'"),
        ("- {name: a, region: 5}", "entry 0: region must be a string"),
        ("- a\n- a", "-/a is listed twice"),
        ("- [a]", "entry 0 is not a mapping"),
    ],
)
def test_bad_fleet_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(content)
    with pytest.raises(InputFileError, match=expected):
        load_fleet_file(path)


class MeetingRegion(FakeRegion):
    """A region whose chosen reads return only once ``parties`` of them are in flight together:
    issued one after the other, they would wait out the barrier and fail the check."""

    def __init__(self, region: str, clusters: dict[str, FakeEks], barrier: threading.Barrier):
        super().__init__(region, clusters)
        self.barrier = barrier
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def _meet(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.barrier.wait()
        finally:
            with self._lock:
                self.in_flight -= 1

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        self._meet()
        return super().describe_cluster(cluster)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        self._meet()
        return super().describe_addon(cluster, addon)


def test_a_clusters_first_reads_are_issued_together(bundled: Matrix) -> None:
    # One cluster at a time: its DescribeCluster and DescribeAddon can only meet each other.
    barrier = threading.Barrier(2, timeout=10)
    region = MeetingRegion(
        "us-west-2",
        {name: FakeEks(cluster=name, version="v1.18.3-eksbuild.3") for name in ("a", "b")},
        barrier,
    )
    report = check_vpc_cni(
        bundled,
        [FleetTarget("a", "us-west-2"), FleetTarget("b", "us-west-2")],
        GatewayPool(lambda region_name, profile, role: region),
        concurrency=1,
    )
    assert [o.exit_code for o in report.outcomes] == [ExitCode.OK, ExitCode.OK]
    assert not barrier.broken
    assert region.calls["DescribeCluster"] == region.calls["DescribeAddon"] == 2


def test_requests_in_flight_stay_within_the_bound(bundled: Matrix) -> None:
    # Four reads must meet: two clusters' pairs, which needs concurrency 2 and both reads each.
    barrier = threading.Barrier(4, timeout=10)
    names = [f"c{i}" for i in range(8)]
    region = MeetingRegion(
        "us-west-2",
        {name: FakeEks(cluster=name, version="v1.18.3-eksbuild.3") for name in names},
        barrier,
    )
    report = check_vpc_cni(
        bundled,
        [FleetTarget(name, "us-west-2") for name in names],
        GatewayPool(lambda region_name, profile, role: region),
        concurrency=2,
    )
    assert {o.exit_code for o in report.outcomes} == {ExitCode.OK}
    assert region.most_in_flight == requests_in_flight(2) == 4


def test_a_check_that_stops_early_leaves_no_read_running(bundled: Matrix) -> None:
    regions = fleet({"us-west-2": {"a": "v1.18.3-eksbuild.3"}})
    report = run(bundled, regions, [FleetTarget("gone", "us-west-2")])
    (outcome,) = report.outcomes
    assert outcome.exit_code is ExitCode.ENVIRONMENT
    assert "No cluster found for name: gone" in str(outcome.error)
    # Both reads went out together and both finished before the fleet check returned.
    assert regions["us-west-2"].calls["DescribeCluster"] == 1
    assert regions["us-west-2"].calls["DescribeAddon"] == 1


def test_regions_are_listed_at_the_same_time() -> None:
    barrier = threading.Barrier(3, timeout=10)

    class Listing(FakeRegion):
        def list_clusters(self) -> list[str]:
            barrier.wait()
            return super().list_clusters()

    regions = {
        name: Listing(name, {f"{name}-{i}": FakeEks(cluster=f"{name}-{i}") for i in range(2)})
        for name in ("us-west-2", "eu-west-1", "ap-south-1")
    }
    targets = discover(
        GatewayPool(lambda region, profile, role: regions[region or "us-west-2"]),
        ["us-west-2", "eu-west-1", "ap-south-1"],
    )
    # In the order the regions were given, as when they were listed one after the other.
    assert [t.key for t in targets] == [
        "us-west-2/us-west-2-0",
        "us-west-2/us-west-2-1",
        "eu-west-1/eu-west-1-0",
        "eu-west-1/eu-west-1-1",
        "ap-south-1/ap-south-1-0",
        "ap-south-1/ap-south-1-1",
    ]
