"""The fleet branch of ``check-compat`` (imported only when a fleet is checked)."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from eksaddon.cli.progress import AUTO, LIVE, choose_mode
from eksaddon.cli.shared import emit
from eksaddon.compat import Severity
from eksaddon.engine.events import FleetProgress
from eksaddon.engine.fleet import (
    FleetTarget,
    GatewayFactory,
    GatewayPool,
    check_fleet,
    discover,
    in_shard,
    load_fleet_file,
    parse_shard,
    requests_in_flight,
)
from eksaddon.errors import InputError
from eksaddon.gateways.protocols import EksGateway
from eksaddon.matrix import Matrix
from eksaddon.versions import KubernetesVersion


def gateway_factory(max_connections: int) -> GatewayFactory:
    """AWS gateways for a fleet's pool: each region's client has a connection for every request
    the fleet may have in flight, and the regions' clients share one boto3 session per profile
    (and per assumed role)."""
    from eksaddon.gateways.aws import AwsEksGateway, Sessions

    sessions = Sessions()

    def make(region: str | None, profile: str | None, role_arn: str | None) -> EksGateway:
        return AwsEksGateway(
            profile=profile,
            region=region,
            role_arn=role_arn,
            max_connections=max_connections,
            sessions=sessions,
        )

    return make


@contextmanager
def _progress_bar() -> Iterator[Callable[[FleetProgress], None] | None]:
    """A bar on a terminal (clusters done out of total, failures so far); a pipe or a CI log
    sees nothing but the report. The bar is stopped, cursor shown, however the check ends."""
    if choose_mode(AUTO, sys.stderr, os.environ) != LIVE:
        yield None
        return
    from eksaddon.cli.live import FleetBar

    bar = FleetBar(sys.stderr)
    try:
        yield bar
    finally:
        bar.close()


def fleet_targets(
    pool: GatewayPool,
    all_clusters: bool,
    clusters_file: str | None,
    regions: tuple[str, ...],
    profile: str | None,
    shard: str | None,
) -> list[FleetTarget]:
    """The clusters of ``--clusters FILE`` or ``--all-clusters``, narrowed to ``--shard``."""
    selected = parse_shard(shard) if shard is not None else None  # refuse a bad --shard first
    if clusters_file is not None:
        targets = load_fleet_file(clusters_file)
        if profile is not None:
            targets = [
                t if t.profile or t.role_arn else t._replace(profile=profile) for t in targets
            ]
    else:
        targets = discover(pool, regions or (None,), profile=profile)
    if selected is not None:
        targets = [t for t in targets if in_shard(t, *selected)]
    if not targets and shard is None:
        raise InputError("no clusters to check: the fleet is empty")
    return targets


def run_fleet(
    *,
    matrix: Matrix,
    addon: str,
    all_clusters: bool,
    clusters_file: str | None,
    regions: tuple[str, ...],
    profile: str | None,
    concurrency: int,
    shard: str | None,
    target: KubernetesVersion | None,
    features: tuple[str, ...],
    threshold: Severity,
    output: str,
    report_file: Path | None,
    annotations: str | None,
) -> int:
    pool = GatewayPool(gateway_factory(requests_in_flight(concurrency)))
    targets = fleet_targets(pool, all_clusters, clusters_file, regions, profile, shard)
    with _progress_bar() as progress:
        report = check_fleet(
            targets,
            pool=pool,
            matrix=matrix,
            addon=addon,
            target_kubernetes=target,
            features=features,
            fail_on=threshold,
            concurrency=concurrency,
            shard=shard,
            progress=progress,
        )
    from eksaddon.reports import OutputFormat, annotations_of, render

    buffer = io.StringIO()
    render(report, OutputFormat(output), buffer)
    lines = annotations_of(report) if annotations else []
    emit(buffer.getvalue(), lines, output, report_file)
    return int(report.exit_code)
