"""``check-compat --cluster NAME --target-kubernetes-version K``: the gate through the CLI, in
every format, with the exit-code contract (1 on an error finding, or one at --fail-on).

The EKS side is the contract-honouring fake (tests/gate_fakes.py) put where make_gateway would
build the AWS gateway; tests/e2e/test_cluster_gate.py runs the installed CLI against the stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from gate_fakes import FakeUpgradeEks, deprecated_api_insight, insight

from eksaddon.gateways.protocols import NodegroupInfo
from tests_support import Result

GATE = [
    "check-compat",
    "--cluster",
    "prod",
    "--target-kubernetes-version",
    "1.30",
    "--skip-node-side",
]
Run = Callable[..., Result]


def cluster_fake(*, blocking: bool = True) -> FakeUpgradeEks:
    fake = FakeUpgradeEks()
    fake.add(
        "prod",
        "1.29",
        {
            "vpc-cni": "v1.16.4-eksbuild.2",
            "kube-proxy": "v1.26.15-eksbuild.10",
            "coredns": "v1.10.1-eksbuild.13",
            "aws-ebs-csi-driver": "v1.29.1-eksbuild.1",
        },
        insights=((deprecated_api_insight(),) if blocking else ())
        + (insight("Kubelet version skew", "PASSING"),),
        nodegroups=(NodegroupInfo("old", "1.26" if blocking else "1.29", "r", "ACTIVE"),),
    )
    return fake


@pytest.fixture
def eks(monkeypatch: pytest.MonkeyPatch) -> FakeUpgradeEks:
    fake = cluster_fake()
    monkeypatch.setattr("eksaddon.cli.check_compat_cmd.make_gateway", lambda profile, region: fake)
    return fake


def test_json_schema_2_carries_every_addon_insight_node_and_finding(
    run: Run, eks: FakeUpgradeEks
) -> None:
    result = run(*GATE, "-o", "json")
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["schema_version"] == 2
    assert (document["cluster"], document["region"]) == ("prod", "us-west-2")
    assert (document["kubernetes_version"], document["target_kubernetes_version"]) == (
        "1.29",
        "1.30",
    )
    addons = {a["addon"]: a for a in document["addons"]}
    assert {a: addons[a]["phase"] for a in addons} == {
        "aws-ebs-csi-driver": "after",
        "coredns": "before",
        "kube-proxy": "before",
        "vpc-cni": "after",
    }
    assert addons["coredns"]["steps"] == [
        {"from": "v1.10.1-eksbuild.13", "to": "v1.11.3-eksbuild.1", "notes": []}
    ]
    assert addons["kube-proxy"]["after_steps"][0]["to"] == "v1.30.3-eksbuild.5"
    assert set(addons["vpc-cni"]) >= {"addon", "type", "version", "phase", "steps", "findings"}
    (error,) = [i for i in document["insights"] if i["status"] == "ERROR"]
    assert set(error) >= {
        "id",
        "name",
        "category",
        "status",
        "severity",
        "kubernetes_version",
        "recommendation",
        "last_refresh",
    }
    assert error["id"] == "a1b2c3d4-deprecated" and error["deprecations"][0]["clients"]
    assert document["nodes"]["groups"][0]["kubernetes_version"] == "1.26"
    assert document["nodes"]["kubelet_versions"] == {} and not document["nodes"]["kubelets_read"]
    findings = document["findings"]
    assert all(set(f) >= {"code", "severity", "message", "addon", "source"} for f in findings)
    blocking = {(f["code"], f["addon"]) for f in findings if f["severity"] == "error"}
    assert blocking == {("insight-error", None), ("node-group-behind", None)}
    sources = {f["source"] for f in findings}
    assert "EKS API (eks:ListInsights, eks:DescribeInsight)" in sources
    assert "EKS API (eks:DescribeAddonVersions)" in sources


def test_the_gate_passes_without_blockers_and_fails_on_warning_when_asked(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = cluster_fake(blocking=False)
    monkeypatch.setattr("eksaddon.cli.check_compat_cmd.make_gateway", lambda profile, region: fake)
    assert run(*GATE, "-o", "json").code == 0
    assert run(*GATE, "-o", "json", "--fail-on", "warning").code == 1


def test_junit_has_a_case_per_addon_and_per_insight(run: Run, eks: FakeUpgradeEks) -> None:
    result = run(*GATE, "-o", "junit")
    assert result.code == 1
    suite = ElementTree.fromstring(result.out).find("testsuite")
    assert suite is not None
    cases = {(c.get("classname", "").rsplit(".", 1)[-1], c.get("name")): c for c in suite}
    for addon in ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"):
        assert ("addons", addon) in cases
    deprecated = cases[("insights", "Deprecated APIs removed in Kubernetes v1.30")]
    assert deprecated.find("failure") is not None
    assert cases[("insights", "Kubelet version skew")].find("failure") is None
    assert cases[("cluster", "node-groups")].find("failure") is not None
    assert suite.get("failures") == "2"


def test_markdown_table_and_annotations(run: Run, eks: FakeUpgradeEks, tmp_path: Path) -> None:
    markdown = run(*GATE, "-o", "markdown")
    assert "| coredns | managed | v1.10.1-eksbuild.13 | before |" in markdown.out
    assert "**Result:** failed" in markdown.out
    table = run(*GATE)
    assert "coredns" in table.out and "before" in table.out and "Result: failed" in table.out
    report = tmp_path / "gate.json"
    annotated = run(*GATE, "-o", "json", "--report-file", str(report), "--annotations", "github")
    lines = annotated.out.splitlines()
    assert any(
        line.startswith("::error title=eksaddon gate prod::node group old") for line in lines
    )
    assert any(line.startswith("::warning title=eksaddon gate prod coredns::") for line in lines)
    assert json.loads(report.read_text())["schema_version"] == 2
    assert yaml.safe_load(run(*GATE, "-o", "yaml").out)["schema_version"] == 2


def test_addon_narrows_the_gate(run: Run, eks: FakeUpgradeEks) -> None:
    document = json.loads(run(*GATE, "--addon", "coredns", "--addon", "vpc-cni", "-o", "json").out)
    assert [a["addon"] for a in document["addons"]] == ["coredns", "vpc-cni"]


def test_bad_gate_input_is_refused_before_any_call(run: Run, eks: FakeUpgradeEks) -> None:
    result = run(*GATE, "-k", "1.29")
    assert result.code == 2 and "drop -k" in result.err
    assert sum(eks.calls.values()) == 0
    below = run("check-compat", "--cluster", "prod", "--target-kubernetes-version", "1.28")
    assert below.code == 2 and "below the cluster's 1.29" in below.err
    two = run(*GATE, "-o", "json")
    assert two.code == 1
    far = json.loads(
        run(
            "check-compat",
            "--cluster",
            "prod",
            "--target-kubernetes-version",
            "1.31",
            "--skip-node-side",
            "-o",
            "json",
        ).out
    )
    (refusal,) = [f for f in far["findings"] if f["code"] == "one-minor-at-a-time"]
    assert "1.29 → 1.30 → 1.31" in refusal["message"]
    repeated = run(
        "check-compat", "-k", "1.29", "--addon-version", "v1.18.3", "--addon", "a", "--addon", "b"
    )
    assert repeated.code == 2 and "repeatable only for the cluster-upgrade gate" in repeated.err
