"""The cluster-upgrade gate branch of ``check-compat`` (imported only when a gate runs):
``--target-kubernetes-version K`` with ``--cluster`` or a fleet."""

from __future__ import annotations

import io
from pathlib import Path

from eksaddon.compat import Severity
from eksaddon.engine.gate import GateKube, GateRequest, KubeFor, gate_cluster, matrices
from eksaddon.errors import ExitCode
from eksaddon.gateways.protocols import ClusterInfo, EksGateway
from eksaddon.versions import KubernetesVersion


def kube_connector(kubeconfig: str | None, context: str | None) -> KubeFor:
    """Kubernetes for the gate, checked to be the cluster EKS described (like status)."""

    def connect(cluster: ClusterInfo) -> GateKube:
        from eksaddon.engine.rollout_check import ensure_same_cluster
        from eksaddon.gateways.kube import KubeGateway

        kube = KubeGateway(kubeconfig=kubeconfig, context=context)
        ensure_same_cluster(kube.host, cluster)
        return kube

    return connect


def run_gate(
    *,
    gateway: EksGateway,
    cluster: str,
    target: KubernetesVersion,
    addons: tuple[str, ...],
    matrix: Path | None,
    kube: KubeFor | None,
    threshold: Severity,
    output: str,
    report_file: Path | None,
    annotations: str | None,
) -> int:
    from eksaddon.cli.shared import emit
    from eksaddon.reports import OutputFormat, annotations_of, render

    report = gate_cluster(
        gateway,
        cluster,
        GateRequest(target, addons, threshold),
        matrix_for=matrices(matrix),
        kube=kube,
    )
    buffer = io.StringIO()
    render(report, OutputFormat(output), buffer)
    lines = annotations_of(report) if annotations else []
    emit(buffer.getvalue(), lines, output, report_file)
    return ExitCode.CHECK_FAILED if report.failed else ExitCode.OK


def run_gate_fleet(
    *,
    all_clusters: bool,
    clusters_file: str | None,
    regions: tuple[str, ...],
    profile: str | None,
    concurrency: int,
    shard: str | None,
    target: KubernetesVersion,
    addons: tuple[str, ...],
    matrix: Path | None,
    threshold: Severity,
    output: str,
    report_file: Path | None,
    annotations: str | None,
) -> int:
    from eksaddon.cli.fleet_run import _progress_bar, fleet_targets, gateway_factory
    from eksaddon.cli.shared import emit
    from eksaddon.engine.fleet import GatewayPool
    from eksaddon.engine.gate_fleet import gate_fleet, requests_in_flight
    from eksaddon.reports import OutputFormat, annotations_of, render

    pool = GatewayPool(gateway_factory(requests_in_flight(concurrency)))
    targets = fleet_targets(pool, all_clusters, clusters_file, regions, profile, shard)
    with _progress_bar() as progress:
        report = gate_fleet(
            targets,
            GateRequest(target, addons, threshold),
            pool=pool,
            matrix_for=matrices(matrix),
            concurrency=concurrency,
            shard=shard,
            progress=progress,
        )
    buffer = io.StringIO()
    render(report, OutputFormat(output), buffer)
    lines = annotations_of(report) if annotations else []
    emit(buffer.getvalue(), lines, output, report_file)
    return int(report.exit_code)
