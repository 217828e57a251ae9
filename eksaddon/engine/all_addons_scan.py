"""How ``upgrade --all-addons`` (without a target version) and the journey's ``after`` phase find
the self-managed core add-ons: through Kubernetes, exactly as the cluster-upgrade gate does
(:func:`eksaddon.engine.gate.find_self_managed`), never by a detector of their own.

A Kubernetes API that cannot be reached, or a workload that cannot be read, is said (the run's
plan shows "self-managed add-ons unknown: <why>"), never taken for "none".
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from eksaddon.engine.all_addons_records import ScanSelfManaged, SelfManagedScan
from eksaddon.engine.gate import GateKube, MatrixFor, find_self_managed
from eksaddon.errors import EksAddonError
from eksaddon.gateways.protocols import ClusterInfo

# The workloads are read side by side (one per bundled add-on's workload: a handful).
SCAN_READS = 4


def kubernetes_scan(
    connect: Callable[[ClusterInfo], GateKube] | None,
    matrix_for: MatrixFor,
    *,
    not_read: str,
) -> ScanSelfManaged:
    """The scan of a run: through ``connect``'s Kubernetes API, or, when the run reads no
    Kubernetes (``connect`` None), a scan that says so (``not_read`` names the flag)."""

    def scan(cluster: ClusterInfo, eks_addons: frozenset[str]) -> SelfManagedScan:
        if connect is None:
            return SelfManagedScan((), f"Kubernetes not read ({not_read})")
        try:
            reader = connect(cluster)
        except EksAddonError as error:
            return SelfManagedScan((), f"Kubernetes could not be read: {error.one_line()}")
        with ThreadPoolExecutor(max_workers=SCAN_READS) as reads:
            found, problems = find_self_managed(reader, eks_addons, matrix_for, reads.submit)
        return SelfManagedScan(tuple(found), "; ".join(problems) or None)

    return scan
