from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from tests_support import Result, daemonset, write_yaml

Run = Callable[..., Result]


def test_render_prints_documents_for_kubectl(run: Run) -> None:
    result = run("render", "--version", "v1.18.3", "--region", "eu-west-1")
    assert result.code == 0, result.err
    documents = [d for d in yaml.safe_load_all(result.out) if d]
    kinds = [d["kind"] for d in documents]
    assert kinds[-1] == "DaemonSet"
    assert "ClusterRole" in kinds
    images = [c["image"] for c in documents[-1]["spec"]["template"]["spec"]["containers"]]
    assert images[0] == "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.3"


def test_render_carries_the_settings_of_a_backup(run: Run, tmp_path: Path) -> None:
    backup = write_yaml(
        tmp_path / "old.yaml",
        daemonset("v1.12.6", env={"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"}),
    )
    result = run(
        "render",
        "--version",
        "v1.13.4",
        "--region",
        "us-west-2",
        "--preserve-from",
        str(backup),
        "-o",
        "json",
    )
    assert result.code == 0, result.err
    listing = json.loads(result.out)
    (ds,) = [o for o in listing["items"] if o["kind"] == "DaemonSet"]
    aws_node = next(
        c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "aws-node"
    )
    env = {e["name"]: e.get("value") for e in aws_node["env"]}
    assert env["WARM_IP_TARGET"] == "5"
    assert env["ENABLE_PREFIX_DELEGATION"] == "true"


def test_render_errors_are_one_line(run: Run) -> None:
    for args, expected in [
        (("--version", "v1.6.3", "--region", "us-west-2"), "v1.6.3"),
        (("--version", "v1.18.3", "--region", "mars-east-1"), "no known ECR registry for region"),
    ]:
        result = run("render", *args)
        assert result.code == 2
        assert result.err.count("\n") == 1
        assert expected in result.err


def test_render_says_when_it_keeps_an_upstream_slip(run: Run) -> None:
    result = run("render", "--version", "v1.22.0", "--region", "us-west-2")
    assert result.code == 0, result.err
    assert result.err.startswith("note: upstream's v1.22.0 tag ships the v1.21.1 manifest")
    assert "amazon-k8s-cni:v1.21.1" in result.out
    clean = run("render", "--version", "v1.23.0", "--region", "us-west-2")
    assert clean.code == 0, clean.err
    assert clean.err == ""
    assert "amazon-k8s-cni:v1.23.0" in clean.out
