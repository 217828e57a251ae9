"""Golden tests: every report in every format, byte for byte.

A change to a report's text is a change to a contract people and pipelines read: review the diff,
then regenerate with ``EKSADDON_UPDATE_GOLDEN=1 pytest tests/reports/test_golden.py``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from eksaddon.compat import Severity, check_compat
from eksaddon.engine.fleet import FleetTarget, GatewayPool, check_fleet
from eksaddon.engine.refresh import diff, read_catalogues
from eksaddon.engine.status import collect_status
from eksaddon.engine.upgrade import UpgradeResult
from eksaddon.gateways.protocols import EksGateway
from eksaddon.matrix import Matrix
from eksaddon.matrix.summary import summarize
from eksaddon.nodeside.detect import detect
from eksaddon.planner import plan
from eksaddon.reports import OutputFormat, annotations_of, render
from eksaddon.versions import AddonVersion, KubernetesVersion
from fakes import FakeEks, FakeRegion
from tests_support import release_daemonset

GOLDEN = Path(__file__).parent / "golden"
K = KubernetesVersion.parse
V = AddonVersion.parse
ALL = [str(f) for f in OutputFormat]
BASIC = ["table", "json", "yaml"]


def compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EKSADDON_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with EKSADDON_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


def rendered(report: object, output: str) -> str:
    stream = io.StringIO()
    render(report, OutputFormat(output), stream)
    return stream.getvalue()


def fleet_report(bundled: Matrix) -> object:
    regions = {
        "us-west-2": FakeRegion(
            "us-west-2",
            {
                "payments": FakeEks(cluster="payments", version="v1.18.3-eksbuild.3"),
                "search": FakeEks(cluster="search", version="v1.15.0-eksbuild.2"),
            },
        ),
        "eu-west-1": FakeRegion(
            "eu-west-1",
            {
                "ledger": FakeEks(cluster="ledger", version="v1.17.1-eksbuild.1"),
            },
        ),
    }

    def factory(region: str | None, profile: str | None, role: str | None) -> EksGateway:
        return regions[region or "us-west-2"]

    targets = [
        FleetTarget("payments", "us-west-2"),
        FleetTarget("search", "us-west-2"),
        FleetTarget("ledger", "eu-west-1"),
        FleetTarget("retired", "eu-west-1"),
    ]
    return check_fleet(
        targets,
        pool=GatewayPool(factory),
        matrix=bundled,
        addon="vpc-cni",
        target_kubernetes=K("1.30"),
        features=(),
        fail_on=Severity.WARNING,
        concurrency=2,
        shard="1/1",
    )


REPORTS: dict[str, tuple[Callable[[Matrix], object], list[str]]] = {
    "matrix": (lambda m: summarize(m, K("1.29")), BASIC),
    "plan": (lambda m: plan(m, kubernetes=K("1.23"), current=V("v1.6.3"), target="latest"), BASIC),
    "compat": (
        lambda m: check_compat(
            m,
            kubernetes=K("1.26"),
            target_kubernetes=K("1.29"),
            detected=detect(
                release_daemonset(
                    "v1.12.0-eksbuild.2",
                    env={"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"},
                    managers=["eks"],
                ),
                m,
                label="aws-k8s-cni-old.yaml",
            ),
        ),
        ALL,
    ),
    "status": (
        lambda m: collect_status(
            FakeEks(version="v1.16.4-eksbuild.2"), m, cluster="prod", addon="vpc-cni"
        ),
        BASIC,
    ),
    "diff": (
        lambda m: diff(
            m,
            read_catalogues(FakeEks(kubernetes="1.30"), "vpc-cni", [K("1.30")]),
            region="us-west-2",
        ),
        BASIC,
    ),
    "upgrade": (
        lambda m: UpgradeResult(
            "prod",
            "us-west-2",
            plan(m, kubernetes=K("1.29"), current=V("v1.16.4-eksbuild.2"), target="latest"),
            False,
            False,
            2,
            Path("/state/journals/us-west-2_prod_vpc-cni.json"),
            Path("/state/backups/us-west-2_prod_vpc-cni_20261128T000000Z.json"),
            None,
        ),
        BASIC,
    ),
}


@pytest.mark.parametrize(
    ("name", "output"),
    [(name, output) for name, (_, formats) in REPORTS.items() for output in formats],
)
def test_report(bundled: Matrix, name: str, output: str) -> None:
    build, _ = REPORTS[name]
    compare(f"{name}.{output}", rendered(build(bundled), output))


@pytest.mark.parametrize("output", ALL)
def test_fleet_report(bundled: Matrix, output: str) -> None:
    compare(f"fleet.{output}", rendered(fleet_report(bundled), output))


def test_fleet_annotations(bundled: Matrix) -> None:
    lines = annotations_of(fleet_report(bundled))
    compare("fleet.annotations", "\n".join(lines) + "\n")
