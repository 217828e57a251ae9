"""The gate over a fleet (``check-compat --all-clusters|--clusters FILE --target-kubernetes-version
K``): every cluster gated concurrently, one catalogue read per region × version × add-on.

Each cluster's report has the same content as a single-cluster gate, without Kubernetes (a fleet
run has no kubeconfig per cluster: every report says the kubelets and self-managed add-ons were not
read). One unreachable or forbidden cluster is an outcome, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from eksaddon.compat import Severity
from eksaddon.engine.events import FleetProgress
from eksaddon.engine.fleet import FleetTarget, GatewayPool, over_fleet
from eksaddon.engine.gate import READS_PER_CLUSTER, GateRequest, MatrixFor, gate_cluster
from eksaddon.errors import EksAddonError, ExitCode
from eksaddon.gate import GateReport

FLEET_KUBERNETES_NOTE = "a fleet run does not read Kubernetes"


class GateOutcome(NamedTuple):
    target: FleetTarget
    report: GateReport | None
    error: str | None
    exit_code: ExitCode


class GateFleetReport(NamedTuple):
    target_kubernetes: str
    outcomes: tuple[GateOutcome, ...]
    fail_on: Severity
    shard: str | None

    @property
    def exit_code(self) -> ExitCode:
        """The worst result: 3 (could not be checked) > 1 (a gate failed) > 0."""
        return max((o.exit_code for o in self.outcomes), default=ExitCode.OK)


def requests_in_flight(concurrency: int) -> int:
    return max(1, concurrency) * READS_PER_CLUSTER


def gate_fleet(
    targets: list[FleetTarget],
    request: GateRequest,
    *,
    pool: GatewayPool,
    matrix_for: MatrixFor,
    concurrency: int,
    shard: str | None = None,
    progress: Callable[[FleetProgress], None] | None = None,
) -> GateFleetReport:
    def gate(target: FleetTarget, reads: ThreadPoolExecutor) -> GateOutcome:
        try:
            report = gate_cluster(
                pool.get(target),
                target.name,
                request,
                matrix_for=matrix_for,
                kube=None,
                reads=reads,
                # The pool's gateways already read each catalogue once (pool.catalogue), and
                # each add-on's catalogue is laid over its matrix once (pool.overlays).
                kube_note=FLEET_KUBERNETES_NOTE,
                overlays=pool.overlays,
            )
        except EksAddonError as error:
            return GateOutcome(target, None, error.one_line(), error.exit_code)
        code = ExitCode.CHECK_FAILED if report.failed else ExitCode.OK
        return GateOutcome(target, report, None, code)

    outcomes = over_fleet(
        targets,
        gate,
        concurrency=concurrency,
        requests_per_cluster=READS_PER_CLUSTER,
        progress=progress,
    )
    return GateFleetReport(str(request.target), outcomes, request.fail_on, shard)
