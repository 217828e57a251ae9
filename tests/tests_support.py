"""Helpers importable from any test module (conftest holds the fixtures)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml


class Result(NamedTuple):
    """What one in-process CLI run gave (the ``run`` fixture in conftest.py)."""

    code: int
    out: str
    err: str


REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
UPSTREAM_MANIFESTS = SHARED / "domain" / "upstream-manifests"
# by-tag/<tag>/<file>: upstream's manifest of every release tag v1.7.5-v1.23.0, per region.
UPSTREAM_BY_TAG = UPSTREAM_MANIFESTS / "by-tag"


def require_shared(path: Path, what: str) -> None:
    """Skip when reference data in ../shared is absent; fail instead in CI, which must have it."""
    if path.exists():
        return
    message = f"{path} is absent: {what} live in ../shared, beside the repository"
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI must have them")
    pytest.skip(message)


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def upstream_daemonset(version: str) -> dict[str, Any]:
    """The aws-node DaemonSet of an upstream manifest in ../shared (skips when absent)."""
    path = UPSTREAM_MANIFESTS / f"aws-k8s-cni-{version}.yaml"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the upstream manifests live in ../shared, beside the repo")
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return next(d for d in documents if d.get("kind") == "DaemonSet")


def daemonset(
    tag: str = "v1.18.3-eksbuild.3",
    *,
    env: dict[str, str] | None = None,
    agent_args: list[str] | None = None,
    managers: list[str] | None = None,
    registry: str = "602401143452.dkr.ecr.us-west-2.amazonaws.com",
) -> dict[str, Any]:
    """A minimal but well-formed aws-node DaemonSet as `kubectl get -o yaml` prints it."""
    aws_node_env = [
        {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    ]
    aws_node_env += [{"name": k, "value": v} for k, v in (env or {}).items()]
    containers: list[dict[str, Any]] = [
        {"name": "aws-node", "image": f"{registry}/amazon-k8s-cni:{tag}", "env": aws_node_env}
    ]
    if agent_args is not None:
        containers.append(
            {
                "name": "aws-eks-nodeagent",
                "image": f"{registry}/amazon/aws-network-policy-agent:v1.1.2-eksbuild.2",
                "args": agent_args,
            }
        )
    metadata: dict[str, Any] = {"name": "aws-node", "namespace": "kube-system"}
    if managers is not None:
        metadata["managedFields"] = [{"manager": m, "operation": "Apply"} for m in managers]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "aws-node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "aws-node"}},
                "spec": {
                    "initContainers": [
                        {
                            "name": "aws-vpc-cni-init",
                            "image": f"{registry}/amazon-k8s-cni-init:{tag}",
                        }
                    ],
                    "containers": containers,
                },
            },
        },
    }


def eksaddon_command() -> list[str]:
    """The installed console script beside this Python, or ``python -m eksaddon``."""
    script = Path(sys.executable).with_name("eksaddon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "eksaddon"]


def release_daemonset(
    tag: str,
    *,
    env: dict[str, str] | None = None,
    managers: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The aws-node DaemonSet of the release's own manifest (nothing missing: no drift), its
    images tagged ``tag`` (an EKS build runs its release's manifest), ``env`` added to aws-node,
    ``managers`` as metadata.managedFields and ``metadata`` merged into its metadata."""
    from eksaddon.nodeside.render import render
    from eksaddon.versions import AddonVersion

    version = AddonVersion.parse(tag)
    objects = render(version.release, "us-west-2")
    document = next(o for o in objects if o["kind"] == "DaemonSet")
    pod = document["spec"]["template"]["spec"]
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        if container["name"] != "aws-eks-nodeagent":
            container["image"] = container["image"].replace(f":{version.release}", f":{tag}")
        if container["name"] == "aws-node":
            known = {e["name"]: e for e in container["env"]}
            for name, value in (env or {}).items():
                if name in known:
                    known[name]["value"] = value
                else:
                    container["env"].append({"name": name, "value": value})
    if managers is not None:
        document["metadata"]["managedFields"] = [
            {"manager": m, "operation": "Apply"} for m in managers
        ]
    for key, value in (metadata or {}).items():
        document["metadata"].setdefault(key, {}).update(value)
    return document
