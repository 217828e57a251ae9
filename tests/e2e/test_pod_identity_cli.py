"""``--pod-identity-association`` on install and upgrade, and what ``status`` shows of it: the
CLI as a process of its own (forked from the warm CLI server, tests/warm_cli.py) against the EKS
stand-in (omitted = kept, given = replaced)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import warm_cli
from standins.server import StandInServer

CLUSTER = "prod"
ADDON = "aws-ebs-csi-driver"
ACCOUNT = "arn:aws:iam::123456789012:role"
POLICY = {
    "serviceAccount": "ebs-csi-controller-sa",
    "recommendedManagedPolicies": ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
}


class Cli:
    def __init__(self, server: StandInServer, tmp_path: Path) -> None:
        self.server = server
        self.env = server.env()
        self.env.update(
            {
                "EKSADDON_STATE_DIR": str(tmp_path / "state"),
                "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
                "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
            }
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return warm_cli.run(
            [*args, "--cluster", CLUSTER, "--addon", ADDON], env=self.env, timeout=120
        )

    def change(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(*args, "--yes", "--poll-interval", "0.05", "--timeout", "20")

    def status(self) -> dict[str, Any]:
        result = self.run("status", "--skip-node-side", "-o", "json")
        assert result.returncode == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def roles(self) -> list[str]:
        record = self.server.standin.addon(CLUSTER, ADDON)
        assert record is not None
        return sorted(a["roleArn"] for a in record.pod_identity_associations)


@pytest.fixture
def cli(eks_standin: StandInServer, tmp_path: Path) -> Cli:
    eks_standin.create_cluster(CLUSTER, "1.29")
    catalogue = eks_standin.standin.catalogue
    for version in ("v1.35.0-eksbuild.1", "v1.36.0-eksbuild.1"):
        catalogue.add(
            ADDON,
            version,
            ["1.29"],
            default_for=["1.29"] if version == "v1.35.0-eksbuild.1" else (),
            requires_iam_permissions=True,
            pod_identity=[POLICY],
        )
    return Cli(eks_standin, tmp_path)


def test_install_creates_the_association_and_status_shows_it(cli: Cli) -> None:
    pair = f"ebs-csi-controller-sa={ACCOUNT}/ebs-csi"
    result = cli.change("install", "--pod-identity-association", pair)
    assert result.returncode == 0, result.stderr
    assert cli.roles() == [f"{ACCOUNT}/ebs-csi"]
    document = cli.status()
    assert len(document["installed"]["pod_identity_associations"]) == 1
    assert document["pod_identity"]["recommended_for"] == "v1.35.0-eksbuild.1"
    assert document["pod_identity"]["recommended"] == [
        {
            "service_account": "ebs-csi-controller-sa",
            "recommended_managed_policies": POLICY["recommendedManagedPolicies"],
        }
    ]
    table = cli.run("status", "--skip-node-side")
    assert "AmazonEBSCSIDriverPolicy" in table.stdout


def test_an_upgrade_without_the_option_keeps_them_and_with_it_replaces_them(cli: Cli) -> None:
    pair = f"ebs-csi-controller-sa={ACCOUNT}/ebs-csi"
    assert cli.change("install", "--pod-identity-association", pair).returncode == 0
    kept = cli.change("upgrade", "--skip-rollout-check", "--to", "v1.36.0-eksbuild.1")
    assert kept.returncode == 0, kept.stderr
    assert cli.roles() == [f"{ACCOUNT}/ebs-csi"]
    cli.server.standin.catalogue.add(ADDON, "v1.36.1-eksbuild.1", ["1.29"], pod_identity=[POLICY])
    other = f"ebs-csi-controller-sa={ACCOUNT}/ebs-csi-v2"
    replaced = cli.change("upgrade", "--skip-rollout-check", "--pod-identity-association", other)
    assert replaced.returncode == 0, replaced.stderr
    assert cli.roles() == [f"{ACCOUNT}/ebs-csi-v2"]


def test_a_bad_role_is_refused_before_any_call(cli: Cli) -> None:
    result = cli.change("install", "--pod-identity-association", "ebs-csi-controller-sa=admin")
    assert result.returncode == 2
    assert "is not an IAM role ARN" in result.stderr
    assert cli.server.standin.count("CreateAddon") == 0
