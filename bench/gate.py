"""The cluster-upgrade gate over a fleet: 200 clusters, four add-ons each, 100 ms per EKS call.

In-process, on the gate's contract-honouring fake (tests/gate_fakes.py) with the latency added to
every call, so the figure is the orchestration's (the reads' waves and the shared catalogue), not
the SDK's start-up. The ideal concurrent critical path: each cluster's reads are two calls deep
(DescribeCluster and ListAddons side by side, then DescribeAddon, DescribeAddonVersions and
DescribeInsight side by side; ListNodegroups → DescribeNodegroup and ListInsights →
DescribeInsight run beside them), and at most ``concurrency`` clusters are in flight, so
ceil(clusters / concurrency) waves of two latencies.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gate_fakes import FakeUpgradeEks, K, deprecated_api_insight, insight

from eksaddon.engine.fleet import FleetTarget, GatewayPool
from eksaddon.engine.gate import GateRequest, matrices
from eksaddon.engine.gate_fleet import gate_fleet
from eksaddon.gateways.protocols import NodegroupInfo

CLUSTERS = 200
LATENCY = 0.1
CONCURRENCY = 16
GOAL_GATE = 1.3
ADDONS = {
    "vpc-cni": "v1.16.4-eksbuild.2",
    "kube-proxy": "v1.28.12-eksbuild.5",
    "coredns": "v1.10.1-eksbuild.13",
    "aws-ebs-csi-driver": "v1.29.1-eksbuild.1",
}

Row = tuple[str, float, str]


def gate_bench() -> list[Row]:
    fake = FakeUpgradeEks()
    for number in range(CLUSTERS):
        fake.add(
            f"cluster-{number:04d}",
            "1.29",
            ADDONS,
            insights=(deprecated_api_insight(), insight("Kubelet version skew", "PASSING")),
            nodegroups=(NodegroupInfo("ng", "1.29", "1.29.3-20240910", "ACTIVE"),),
        )
    fake.latency = LATENCY
    pool = GatewayPool(lambda region, profile, role: fake)
    targets = [FleetTarget(name, fake.region) for name in sorted(fake.clusters)]
    start, cpu = time.perf_counter(), time.process_time()
    report = gate_fleet(
        targets,
        GateRequest(K("1.30")),
        pool=pool,
        matrix_for=matrices(),
        concurrency=CONCURRENCY,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu  # the gate's and the fake's (a lock and a count per call)
    if any(o.report is None for o in report.outcomes):
        sys.exit("the gate benchmark could not gate every cluster")
    ideal = LATENCY * 2 * math.ceil(CLUSTERS / CONCURRENCY)
    ratio = wall / ideal
    verdict = "met" if ratio <= GOAL_GATE else "NOT met"
    calls = sum(fake.calls.values())
    return [
        (
            f"{CLUSTERS}-cluster gate, {len(ADDONS)} add-ons, {int(LATENCY * 1000)} ms per call",
            wall * 1000,
            f"{ratio:.2f} (goal <= {GOAL_GATE}: {verdict}) x ideal ({ideal * 1000:.0f} ms); "
            f"{calls} API calls, DescribeAddonVersions {fake.calls['DescribeAddonVersions']}, "
            f"at most {fake.most_in_flight} in flight; {cpu:.2f} s CPU",
        )
    ]


if __name__ == "__main__":
    for name, value, note in gate_bench():
        print(f"{name:<58} {value:10.1f}  {note}")
