"""Every output format of every report, checked by parsing what was written."""

from __future__ import annotations

import io
import itertools
import json
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from eksaddon.compat import CompatReport, Severity, check_compat
from eksaddon.matrix import Matrix
from eksaddon.matrix.summary import summarize
from eksaddon.nodeside.detect import detect
from eksaddon.planner import Plan, plan
from eksaddon.reports import OutputFormat, render
from eksaddon.versions import AddonVersion, KubernetesVersion
from tests_support import release_daemonset

V = AddonVersion.parse
K = KubernetesVersion.parse


def rendered(report: object, output: OutputFormat) -> str:
    stream = io.StringIO()
    render(report, output, stream)
    return stream.getvalue()


@pytest.fixture
def upgrade_plan(bundled: Matrix) -> Plan:
    return plan(bundled, kubernetes=K("1.23"), current=V("v1.6.3"), target="latest")


@pytest.fixture
def failing_report(bundled: Matrix) -> CompatReport:
    detected = detect(
        release_daemonset("v1.15.0-eksbuild.2", env={"WARM_IP_TARGET": "5|7"}, managers=["eks"]),
        bundled,
        label="backup",
    )
    return check_compat(
        bundled, kubernetes=K("1.29"), detected=detected, target_kubernetes=K("1.30")
    )


def test_matrix_json_document(bundled: Matrix) -> None:
    document = json.loads(rendered(summarize(bundled), OutputFormat.JSON))
    assert document["schema_version"] == 1
    assert document["addon"] == "vpc-cni"
    assert list(document["kubernetes_versions"]) == [f"1.{m}" for m in range(30, 22, -1)]
    entry = document["kubernetes_versions"]["1.29"]
    assert entry["latest"] == "v1.18.3-eksbuild.3"
    assert entry["default"] == "v1.16.0-eksbuild.1"
    builds = [V(b) for b in entry["builds"]]
    assert builds == sorted(builds, reverse=True)
    assert document["kubernetes_versions"]["1.30"]["default"] is None


def test_matrix_yaml_equals_json(bundled: Matrix) -> None:
    summary = summarize(bundled, K("1.27"))
    as_yaml = yaml.safe_load(rendered(summary, OutputFormat.YAML))
    assert as_yaml == json.loads(rendered(summary, OutputFormat.JSON))
    assert list(as_yaml["kubernetes_versions"]) == ["1.27"]


def test_matrix_table_lists_each_version(bundled: Matrix) -> None:
    text = rendered(summarize(bundled), OutputFormat.TABLE)
    for minor in range(23, 31):
        assert f"1.{minor}" in text
    assert "v1.16.0-eksbuild.1" in text  # the one recorded default
    one = rendered(summarize(bundled, K("1.30")), OutputFormat.TABLE)
    assert "v1.18.1-eksbuild.3" in one  # every build when one version is shown


def test_plan_json_document(upgrade_plan: Plan) -> None:
    document = json.loads(rendered(upgrade_plan, OutputFormat.JSON))
    assert {
        k: document[k] for k in ("schema_version", "addon", "kubernetes_version", "from", "to")
    } == {
        "schema_version": 1,
        "addon": "vpc-cni",
        "kubernetes_version": "1.23",
        "from": "v1.6.3",
        "to": "v1.18.3",
    }
    steps = document["steps"]
    assert steps[0] == {
        "from": "v1.6.3",
        "to": "v1.7.10",
        "notes": ["stepping stone: v1.12.0 or later needs v1.7.0 or later first"],
    }
    assert [s["to"] for s in steps][-1] == "v1.18.3"
    assert all(a["to"] == b["from"] for a, b in itertools.pairwise(steps))


def test_plan_yaml_and_table(upgrade_plan: Plan) -> None:
    assert yaml.safe_load(rendered(upgrade_plan, OutputFormat.YAML))["steps"][5]["to"] == "v1.12.6"
    table = rendered(upgrade_plan, OutputFormat.TABLE)
    assert "v1.6.3 → v1.18.3 (upgrade)" in table
    assert "stepping stone" in table


def test_compat_json_document(failing_report: CompatReport) -> None:
    document: dict[str, Any] = json.loads(rendered(failing_report, OutputFormat.JSON))
    assert document["schema_version"] == 1
    assert document["kubernetes_version"] == "1.29"
    assert document["target_kubernetes_version"] == "1.30"
    assert document["addon_version"] == "v1.15.0-eksbuild.2"
    for finding in document["findings"]:
        assert set(finding) >= {"code", "severity", "message"}
        assert finding["severity"] in ("error", "warning", "info")
    assert document["plan"]["to"] == "v1.18.3-eksbuild.3"
    assert document["detected"]["customizations"] == [
        {
            "container": "aws-node",
            "name": "WARM_IP_TARGET",
            "value": "5|7",
            "default": None,
            "kind": "env",
        }
    ]
    assert document["detected"]["type"] == "managed"


def test_compat_junit_has_one_case_per_check(failing_report: CompatReport) -> None:
    root = ElementTree.fromstring(rendered(failing_report, OutputFormat.JUNIT))
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == list(failing_report.checks)
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    expected = {f.check for f in failing_report.findings if f.severity is Severity.ERROR}
    assert failed == expected
    assert suite.get("failures") == str(len(expected))
    assert suite.get("tests") == str(len(failing_report.checks))


def test_junit_failures_follow_fail_on(bundled: Matrix) -> None:
    report = check_compat(
        bundled,
        kubernetes=K("1.30"),
        addon_version=V("v1.18.1-eksbuild.3"),
        fail_on=Severity.WARNING,
    )
    suite = ElementTree.fromstring(rendered(report, OutputFormat.JUNIT)).find("testsuite")
    assert suite is not None
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["latest"]


def test_compat_markdown_escapes_table_cells(failing_report: CompatReport) -> None:
    text = rendered(failing_report, OutputFormat.MARKDOWN)
    assert text.startswith("## vpc-cni v1.15.0-eksbuild.2 on Kubernetes 1.29 → 1.30")
    assert "**Result:** failed" in text
    assert "`5\\|7`" in text
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.count("|") - line.count("\\|") == 5


def test_compat_table_names_findings(failing_report: CompatReport) -> None:
    text = rendered(failing_report, OutputFormat.TABLE)
    assert "version-not-offered" not in text  # people read messages; codes are for machines
    assert "v1.15.0-eksbuild.2 is not offered for Kubernetes 1.29 (the cluster's" in text
    assert "WARM_IP_TARGET" in text


@pytest.mark.parametrize("output", [OutputFormat.JUNIT, OutputFormat.MARKDOWN])
def test_ci_formats_are_only_for_compat_reports(upgrade_plan: Plan, output: OutputFormat) -> None:
    with pytest.raises(ValueError, match="not available"):
        rendered(upgrade_plan, output)


def test_table_prints_messages_literally(failing_report: CompatReport) -> None:
    from eksaddon.compat import Finding

    odd = Finding("latest", "x", Severity.WARNING, "[bold]not markup[/bold] :warning: [1/12]")
    report = failing_report._replace(findings=(odd,))
    assert "[bold]not markup[/bold] :warning: [1/12]" in rendered(report, OutputFormat.TABLE)
