"""The matrix commands, plan and offline check-compat for every bundled add-on, a new add-on from a
YAML file alone, and `matrix refresh` for any add-on EKS offers (against the moto stand-in)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eksaddon.matrix.loader import bundled_addons
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import Result, write_yaml

__all__ = ["eks_server", "eks_standin"]  # fixtures used below

Run = Callable[..., Result]
NEW_ADDONS = ("kube-proxy", "coredns", "aws-ebs-csi-driver", "eks-pod-identity-agent")


def test_matrix_list_shows_every_bundled_addon_with_its_as_of_date(run: Run) -> None:
    result = run("matrix", "list", "-o", "json")
    assert result.code == 0, result.err
    rows = {row["addon"]: row for row in json.loads(result.out)["addons"]}
    assert sorted(rows) == bundled_addons() == sorted(["vpc-cni", *NEW_ADDONS])
    assert {name: row["as_of"] for name, row in rows.items()} == {
        "vpc-cni": "2024-09-12",
        "kube-proxy": "2024-09-12",
        "coredns": "2024-09-12",
        "aws-ebs-csi-driver": "2024-07-25",
        "eks-pod-identity-agent": "2024-04",
    }
    assert rows["kube-proxy"]["upgrade_policy"] == "kubernetes-skew"
    assert rows["vpc-cni"]["upgrade_policy"] == "minor-steps"
    assert not any(row["catalogue_complete"] for row in rows.values())
    table = run("matrix", "list")
    assert table.code == 0 and "eks-pod-identity-agent" in table.out and "2024-07-25" in table.out


def test_matrix_list_ignores_a_pinned_matrix(run: Run, tmp_path: Path, bundled_raw: Any) -> None:
    pinned = write_yaml(tmp_path / "pinned.yaml", {**bundled_raw, "as_of": "pinned"})
    result = run("--matrix", str(pinned), "matrix", "list", "-o", "json")
    assert result.code == 0, result.err
    assert "pinned" not in result.out


@pytest.mark.parametrize("addon", NEW_ADDONS)
def test_matrix_show_works_for_each_bundled_addon(run: Run, addon: str) -> None:
    result = run("matrix", "show", "--addon", addon, "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["addon"] == addon and document["source"] == f"bundled {addon}.yaml"
    assert all(not v["catalogue_complete"] for v in document["kubernetes_versions"].values())
    assert run("matrix", "show", "--addon", addon).code == 0


def test_matrix_show_marks_data_points_with_their_date(run: Run) -> None:
    result = run("matrix", "show", "--addon", "aws-ebs-csi-driver", "-k", "1.29", "-o", "json")
    assert json.loads(result.out)["kubernetes_versions"]["1.29"]["latest_as_of"] == "2024-04"
    table = run("matrix", "show", "--addon", "aws-ebs-csi-driver", "-k", "1.29")
    assert "v1.29.1-eksbuild.1 (as of 2024-04)" in table.out


@pytest.mark.parametrize(
    ("addon", "kubernetes", "current", "target"),
    [
        ("kube-proxy", "1.29", "v1.28.6-eksbuild.2", "v1.29.7-eksbuild.5"),
        ("coredns", "1.29", "v1.10.1-eksbuild.13", "v1.11.3-eksbuild.1"),
        ("aws-ebs-csi-driver", "1.30", "v1.29.1-eksbuild.1", "v1.31.0-eksbuild.1"),
        ("eks-pod-identity-agent", "1.29", "v1.1.0-eksbuild.1", "v1.2.0-eksbuild.1"),
    ],
)
def test_plan_and_offline_check_compat_for_each_bundled_addon(
    run: Run, addon: str, kubernetes: str, current: str, target: str
) -> None:
    planned = run("plan", "--addon", addon, "-k", kubernetes, "--from", current, "-o", "json")
    assert planned.code == 0, planned.err
    steps = json.loads(planned.out)["steps"]
    assert [(s["from"], s["to"]) for s in steps] == [(current, target)]
    checked = run(
        "check-compat", "--addon", addon, "-k", kubernetes, "--addon-version", current, "-o", "json"
    )
    assert checked.code == 0, checked.err
    codes = {f["code"] for f in json.loads(checked.out)["findings"]}
    assert {"behind-latest", "upgrade-path"} <= codes


def test_check_compat_refuses_a_kube_proxy_build_newer_than_the_cluster(run: Run) -> None:
    result = run(
        "check-compat",
        "--addon",
        "kube-proxy",
        "-k",
        "1.28",
        "--addon-version",
        "v1.29.7-eksbuild.5",
        "-o",
        "json",
    )
    assert result.code == 1, result.err
    findings = {f["code"]: f for f in json.loads(result.out)["findings"]}
    skew = findings["version-skew"]
    assert skew["severity"] == "error" and skew["check"] == "offered"
    assert "newer than the control plane (1.28)" in skew["message"]


def test_check_compat_blocks_a_cluster_upgrade_that_breaks_the_skew(run: Run) -> None:
    # kube-proxy 1.26 is three minors behind 1.29: fine now, four behind 1.30.
    result = run(
        "check-compat",
        "--addon",
        "kube-proxy",
        "-k",
        "1.29",
        "--target-kubernetes-version",
        "1.30",
        "--addon-version",
        "v1.26.13-eksbuild.2",
        "-o",
        "json",
    )
    assert result.code == 1, result.err
    skews = [f for f in json.loads(result.out)["findings"] if f["code"] == "version-skew"]
    assert [f["check"] for f in skews] == ["target-kubernetes"]
    assert "upgrade kube-proxy before the cluster" in skews[0]["message"]


def test_plan_for_an_uncovered_kubernetes_version_names_the_range(run: Run) -> None:
    result = run(
        "plan", "--addon", "eks-pod-identity-agent", "-k", "1.30", "--from", "v1.2.0-eksbuild.1"
    )
    assert result.code == 2
    assert "Kubernetes 1.30 is not in the eks-pod-identity-agent matrix (it covers 1.29–1.29)" in (
        result.err
    )


# --- a new add-on with standard rules: a YAML file and nothing else ---

SNAPSHOT_CONTROLLER = {  # facts as in ../shared/domain/addons/snapshot-controller.yaml (majors 6 -> 8)
    "format_version": 1,
    "addon": "snapshot-controller",
    "display_name": "CSI snapshot controller",
    "as_of": "2024-04",
    "kubernetes_versions": {
        "1.29": {
            "latest": "v8.0.0-eksbuild.1",
            "default": "v6.3.2-eksbuild.1",
            "catalogue_complete": False,
        },
    },
    "builds": [
        {"version": "v8.0.0-eksbuild.1", "kubernetes_versions": ["1.29"]},
        {"version": "v6.3.2-eksbuild.1", "kubernetes_versions": ["1.29"]},
    ],
    "upgrade_policy": {"kind": "catalogue"},
    "workloads": [
        {
            "kind": "Deployment",
            "namespace": "kube-system",
            "name": "snapshot-controller",
            "version_container": "snapshot-controller",
            "image_tag": None,
        },
    ],
}


def test_a_new_addon_needs_only_a_yaml_file(run: Run, tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "snapshot-controller.yaml", SNAPSHOT_CONTROLLER)
    shown = run(
        "--matrix", str(path), "matrix", "show", "--addon", "snapshot-controller", "-o", "json"
    )
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["kubernetes_versions"]["1.29"]["builds"] == [
        "v8.0.0-eksbuild.1",
        "v6.3.2-eksbuild.1",
    ]
    planned = run(
        "--matrix",
        str(path),
        "plan",
        "--addon",
        "snapshot-controller",
        "-k",
        "1.29",
        "--from",
        "v6.3.2-eksbuild.1",
        "-o",
        "json",
    )
    assert planned.code == 0, planned.err
    document = json.loads(planned.out)
    assert document["to"] == "v8.0.0-eksbuild.1"  # across a major version, in one update
    assert [(s["from"], s["to"]) for s in document["steps"]] == [
        ("v6.3.2-eksbuild.1", "v8.0.0-eksbuild.1")
    ]
    table = run("--matrix", str(path), "matrix", "show", "--addon", "snapshot-controller")
    assert "CSI snapshot controller" in table.out


# --- matrix refresh / diff against the EKS stand-in ---


@pytest.fixture
def eks(eks_standin: StandInServer, monkeypatch: pytest.MonkeyPatch) -> StandInServer:
    """The stand-in EKS endpoint for in-process runs, with kube-proxy and an unbundled add-on."""
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    catalogue = eks_standin.standin.catalogue
    catalogue.describe_addon("kube-proxy")
    catalogue.add("kube-proxy", "v1.29.7-eksbuild.5", ["1.29"])
    catalogue.add("kube-proxy", "v1.29.0-eksbuild.1", ["1.29"], default_for=["1.29"])
    catalogue.add("kube-proxy", "v1.28.12-eksbuild.5", ["1.29", "1.28"])
    catalogue.describe_addon("snapshot-controller", type="storage")
    catalogue.add("snapshot-controller", "v8.0.0-eksbuild.1", ["1.29", "1.30"])
    catalogue.add("snapshot-controller", "v6.3.2-eksbuild.1", ["1.29"], default_for=["1.29"])
    return eks_standin


def test_refresh_a_bundled_addon_keeps_its_rules(
    run: Run, eks: StandInServer, tmp_path: Path
) -> None:
    target = tmp_path / "kube-proxy.yaml"
    result = run("matrix", "refresh", "--addon", "kube-proxy", "-k", "1.29", "--write", str(target))
    assert result.code == 0, result.err
    document = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert document["upgrade_policy"]["kind"] == "kubernetes-skew"
    assert document["workloads"][0]["image_tag"] == "minimal-variant"
    entry = document["kubernetes_versions"]["1.29"]
    assert entry["catalogue_complete"] is True and entry["default"] == "v1.29.0-eksbuild.1"
    pinned = run("--matrix", str(target), "matrix", "diff", "--addon", "kube-proxy", "-k", "1.29")
    assert pinned.code == 0, pinned.err
    drift = run("matrix", "diff", "--addon", "kube-proxy", "-k", "1.29", "-o", "json")
    assert drift.code == 1, drift.err
    row = json.loads(drift.out)["kubernetes_versions"]["1.29"]
    assert row["removed"] and "v1.29.0-eksbuild.3" in row["removed"]  # in the bundled file only
    assert row["default"] == {"matrix": "v1.29.0-eksbuild.1", "live": "v1.29.0-eksbuild.1"}


def test_refresh_any_addon_eks_offers(run: Run, eks: StandInServer, tmp_path: Path) -> None:
    target = tmp_path / "snapshot-controller.yaml"
    result = run(
        "matrix",
        "refresh",
        "--addon",
        "snapshot-controller",
        "-k",
        "1.29",
        "-k",
        "1.30",
        "--write",
        str(target),
    )
    assert result.code == 0, result.err
    shown = run(
        "--matrix", str(target), "matrix", "show", "--addon", "snapshot-controller", "-o", "json"
    )
    assert shown.code == 0, shown.err
    versions = json.loads(shown.out)["kubernetes_versions"]
    assert versions["1.29"]["builds"] == ["v8.0.0-eksbuild.1", "v6.3.2-eksbuild.1"]
    assert versions["1.29"]["default"] == "v6.3.2-eksbuild.1"
    assert versions["1.30"]["builds"] == ["v8.0.0-eksbuild.1"]
    planned = run(
        "--matrix",
        str(target),
        "plan",
        "--addon",
        "snapshot-controller",
        "-k",
        "1.29",
        "--from",
        "v6.3.2-eksbuild.1",
        "-o",
        "json",
    )
    assert planned.code == 0, planned.err
    assert json.loads(planned.out)["to"] == "v8.0.0-eksbuild.1"


def test_refresh_of_an_addon_eks_does_not_offer_changes_nothing(
    run: Run, eks: StandInServer, tmp_path: Path
) -> None:
    target = tmp_path / "nope.yaml"
    result = run(
        "matrix", "refresh", "--addon", "no-such-addon", "-k", "1.29", "--write", str(target)
    )
    assert result.code == 2
    assert "EKS lists no no-such-addon versions for Kubernetes 1.29" in result.err
    assert not target.exists()


def test_refresh_of_an_unbundled_addon_needs_kubernetes_versions(run: Run, tmp_path: Path) -> None:
    result = run(
        "matrix", "refresh", "--addon", "snapshot-controller", "--write", str(tmp_path / "x")
    )
    assert result.code == 2
    assert "name them with -k" in result.err


def test_upgrade_of_a_daemonset_addon_needs_its_rollout_check_before_any_change(
    run: Run, eks: StandInServer, tmp_path: Path
) -> None:
    # kube-proxy's profile checks its DaemonSet on the nodes (its matrix's workloads): without a
    # Kubernetes API to check it with, nothing is asked of EKS, let alone changed.
    eks.create_cluster("prod", "1.29")
    result = run(
        "upgrade",
        "--cluster",
        "prod",
        "--addon",
        "kube-proxy",
        "--yes",
        "--kubeconfig",
        str(tmp_path / "absent-kubeconfig"),
    )
    assert result.code == 3, result.err  # the environment lacks it: nothing changed
    assert "Kubernetes configuration" in result.err
    assert "--skip-rollout-check" in result.err
    assert eks.standin.count("UpdateAddon") == 0 and eks.standin.count("DescribeAddon") == 0
