"""Helm-installed aws-node: the values file ``render --helm-values`` writes, held against the
chart's own values.yaml in ../shared, and the chart facts eksaddon bundles."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eksaddon.matrix import Matrix
from eksaddon.nodeside.detect import detect
from eksaddon.nodeside.helm import chart_facts, chart_version, read_release, upgrade_commands
from eksaddon.nodeside.helm_values import helm_values
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion
from tests_support import SHARED, Result, release_daemonset, upstream_daemonset, write_yaml

Run = Callable[..., Result]
CHARTS = SHARED / "domain" / "upstream-manifests" / "helm"
CHECKED = ["v1.12.6", "v1.18.3"]


def chart_values(tag: str) -> dict[str, Any]:
    path = CHARTS / tag / "charts" / "aws-vpc-cni" / "values.yaml"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is absent in CI, where ../shared must be present")
        pytest.skip(f"{path} is absent: the chart sources live in ../shared, beside the repo")
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def chart_yaml(tag: str) -> dict[str, Any]:
    chart_values(tag)  # skips (or fails in CI) when ../shared is absent
    path = CHARTS / tag / "charts" / "aws-vpc-cni" / "Chart.yaml"
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def leaf(values: dict[str, Any], path: list[str]) -> Any:
    node: Any = values
    for key in path:
        assert isinstance(node, dict) and key in node, f"{'.'.join(path)} is not a chart key"
        node = node[key]
    return node


def merged(base: Any, top: Any) -> Any:
    """Helm's merge of a values file over the chart's values: maps key by key."""
    if not isinstance(base, dict) or not isinstance(top, dict):
        return top
    return {**base, **{k: merged(base.get(k), v) for k, v in top.items()}}


def customized(tag: str) -> dict[str, Any]:
    """The release's DaemonSet with one custom setting of every kind the chart can carry."""
    document = release_daemonset(
        tag, env={"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"}
    )
    pod = document["spec"]["template"]["spec"]
    pod["containers"][0]["resources"] = {"requests": {"cpu": "50m", "memory": "80Mi"}}
    pod["tolerations"] = [{"operator": "Exists", "effect": "NoSchedule"}]
    for container in pod["containers"]:
        if container["name"] == "aws-eks-nodeagent":
            container["args"] = [
                a.replace("--enable-network-policy=false", "--enable-network-policy=true").replace(
                    "--conntrack-cache-cleanup-period=300", "--conntrack-cache-cleanup-period=600"
                )
                for a in container["args"]
            ]
    return document


@pytest.mark.parametrize("tag", CHECKED)
def test_the_chart_versions_recorded_are_the_charts_own(tag: str) -> None:
    chart = chart_yaml(tag)
    found = chart_version(AddonVersion.parse(tag))
    assert found.chart_version == str(chart["version"])
    assert chart["appVersion"] == tag


def test_an_unrecorded_chart_version_is_unknown_not_guessed() -> None:
    found = chart_version(AddonVersion.parse("v1.16.4"))
    assert found.chart_version is None and found.source == "not recorded"


@pytest.mark.parametrize("tag", CHECKED)
def test_the_charts_defaults_are_the_manifests(bundled: Matrix, tag: str) -> None:
    # "Only what differs from the chart's defaults" rests on this: an unmodified release has no
    # custom setting, and the chart's env defaults are the manifest's.
    values = chart_values(tag)
    manifest = next(
        o for o in render(AddonVersion.parse(tag), "us-west-2") if o["kind"] == "DaemonSet"
    )
    aws_node = manifest["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in aws_node["env"] if "value" in e}
    beyond = {k: str(v) for k, v in values["env"].items() if env.get(k) != str(v)}
    # Where they differ, the bundled facts say so, exactly.
    assert beyond == chart_facts()["chart_env_beyond_manifest"][tag]
    assert all(k not in env for k in beyond)  # the chart adds; it never changes a default
    detected = detect(upstream_daemonset(tag), bundled, label=tag)
    assert helm_values(detected.customizations, AddonVersion.parse(tag), bundled).values == {}


@pytest.mark.parametrize("tag", CHECKED)
def test_every_key_written_is_the_charts_and_carries_the_setting(bundled: Matrix, tag: str) -> None:
    values = chart_values(tag)
    backup = customized(tag)
    detected = detect(backup, bundled, label="backup")
    result = helm_values(detected.customizations, AddonVersion.parse(tag), bundled)
    assert result.not_carried == ()
    assert set(result.carried) == set(detected.customizations)
    written = result.values
    # Every scalar key is one the chart's values.yaml has (env is the chart's map of env vars).
    for key, value in written.items():
        assert key in values, key
        if key not in ("env", "resources", "tolerations") and isinstance(value, dict):
            for inner in value:
                leaf(values, [key, inner])
    final = merged(values, written)
    pod = backup["spec"]["template"]["spec"]
    aws_node = pod["containers"][0]
    live_env = {e["name"]: e["value"] for e in aws_node["env"] if "value" in e}
    beyond = chart_facts()["chart_env_beyond_manifest"][tag]
    assert {k: str(v) for k, v in final["env"].items()} == {**live_env, **beyond}
    assert final["resources"] == aws_node["resources"]
    assert final["tolerations"] == pod["tolerations"]
    if tag == "v1.18.3":
        assert final["enableNetworkPolicy"] == "true"
        assert final["nodeAgent"]["conntrackCacheCleanupPeriod"] == 600


def test_node_agent_arg_values_are_written_as_the_chart_holds_them() -> None:
    # The template writes "--metrics-bind-addr=:{{ value }}": the value file holds "8162".
    values = chart_values("v1.18.3")
    manifest = next(
        o for o in render(AddonVersion.parse("v1.18.3"), "us-west-2") if o["kind"] == "DaemonSet"
    )
    agent = next(
        c
        for c in manifest["spec"]["template"]["spec"]["containers"]
        if c["name"] == "aws-eks-nodeagent"
    )
    args = dict(a.split("=", 1) for a in agent["args"])
    assert ":" + str(values["nodeAgent"]["metricsBindAddr"]) == args["--metrics-bind-addr"]
    assert ":" + str(values["nodeAgent"]["healthProbeBindAddr"]) == args["--health-probe-bind-addr"]
    assert (
        str(values["nodeAgent"]["conntrackCacheCleanupPeriod"])
        == args["--conntrack-cache-cleanup-period"]
    )
    assert values["enableNetworkPolicy"] == args["--enable-network-policy"]


def test_what_the_chart_cannot_hold_is_said_not_dropped(bundled: Matrix) -> None:
    backup = release_daemonset("v1.18.3")
    env = backup["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}})
    detected = detect(backup, bundled, label="backup")
    result = helm_values(detected.customizations, AddonVersion.parse("v1.18.3"), bundled)
    ((item, why),) = result.not_carried
    assert item.name == "TOKEN" and "reference" in why


def test_render_helm_values_cli(run: Run, tmp_path: Path) -> None:
    backup = write_yaml(tmp_path / "aws-node.yaml", customized("v1.18.3"))
    result = run("render", "--helm-values", "--version", "v1.18.3", "--preserve-from", str(backup))
    assert result.code == 0, result.err
    assert result.out.startswith("# Helm values for the aws-vpc-cni chart, release v1.18.3")
    assert "chart version 1.18.3" in result.out
    values = yaml.safe_load(result.out)
    assert values["env"] == {"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"}
    as_json = run(
        "render",
        "--helm-values",
        "--version",
        "v1.18.3",
        "--preserve-from",
        str(backup),
        "-o",
        "json",
    )
    assert json.loads(as_json.out) == values


def test_render_helm_values_for_another_region_points_at_its_registry(run: Run) -> None:
    result = run("render", "--helm-values", "--version", "v1.18.3", "--region", "cn-northwest-1")
    assert result.code == 0, result.err
    values = yaml.safe_load(result.out)
    assert values["image"]["region"] == "cn-northwest-1"
    assert values["image"]["domain"] == "amazonaws.com.cn"
    assert values["nodeAgent"]["image"] == values["image"] == values["init"]["image"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "v1.18.3-eksbuild.3"], "is an EKS add-on build"),
        (["--version", "v1.99.0"], "not a known vpc-cni release"),
    ],
)
def test_render_helm_values_refuses_what_is_no_release(
    run: Run, args: list[str], message: str
) -> None:
    result = run("render", "--helm-values", *args)
    assert result.code == 2
    assert message in result.err


def test_render_without_helm_values_still_needs_a_region(run: Run) -> None:
    result = run("render", "--version", "v1.18.3")
    assert result.code == 2 and "--region" in result.err


def test_upgrade_commands_name_each_steps_chart_version_or_say_it_is_unknown() -> None:
    release = read_release(
        {
            "labels": {
                "helm.sh/chart": "aws-vpc-cni-1.2.8",
                "app.kubernetes.io/version": "v1.12.6",
            },
            "annotations": {
                "meta.helm.sh/release-name": "cni",
                "meta.helm.sh/release-namespace": "networking",
            },
        }
    )
    assert release is not None
    lines = upgrade_commands(
        release, [AddonVersion.parse("v1.13.4"), AddonVersion.parse("v1.18.3")]
    )
    helm = [line for line in lines if line.startswith("helm upgrade")]
    assert len(helm) == 2
    assert helm[0].startswith("helm upgrade cni eks/aws-vpc-cni --namespace networking --version <")
    assert "unknown to eksaddon" in helm[0]
    assert "--version 1.18.3 --values aws-vpc-cni-values-v1.18.3.yaml" in helm[1]
    renders = [line for line in lines if line.startswith("eksaddon render --helm-values")]
    assert [r.split()[4] for r in renders] == ["v1.13.4", "v1.18.3"]
