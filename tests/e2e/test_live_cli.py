"""The CLI as a process of its own, against the moto-based EKS stand-in on 127.0.0.1.

Most runs fork from the warm CLI server (tests/warm_cli.py): the same entry point in a process
of its own, without the imports and model reads of a fresh start. The installed console script
itself is started for the whole v1.6 -> v1.18 journey and for the kill and SIGTERM cases, which
strike the script's own process (and rerun it).

The stand-in runs in this process (tests/standins/server.py), so faults are set and API calls
counted directly, while the CLI reaches it over HTTP through AWS_ENDPOINT_URL_EKS.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

import warm_cli
from standins.server import StandInServer
from tests_support import eksaddon_command

CLUSTER = "prod"


class Cli:
    def __init__(self, server: StandInServer, tmp_path: Path) -> None:
        self.server = server
        self.state = tmp_path / "state"
        self.env = server.env()
        self.env.update(
            {
                "EKSADDON_STATE_DIR": str(self.state),
                "EKSADDON_CACHE_DIR": str(tmp_path / "cache"),
                # Never a real cluster from the developer's kubeconfig.
                "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
            }
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A run forked from the warm CLI server."""
        return warm_cli.run(args, env=self.env, timeout=timeout)

    def installed(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A run of the installed console script."""
        return subprocess.run(
            [*eksaddon_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*eksaddon_command(), *args],
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    def journal(self) -> dict[str, Any]:
        (path,) = (self.state / "journals").glob("*.json")
        document: dict[str, Any] = json.loads(path.read_text())
        return document


@pytest.fixture
def cli(eks_standin: StandInServer, tmp_path: Path) -> Cli:
    eks_standin.create_cluster(CLUSTER, "1.29")
    return Cli(eks_standin, tmp_path)


# No Kubernetes API here: the node-side rollout check has its own tests (tests/engine, gateways).
UPGRADE = (
    "upgrade",
    "--cluster",
    CLUSTER,
    "--skip-rollout-check",
    "--yes",
    "--poll-interval",
    "0.05",
    "--timeout",
    "20",
)


def test_v1_6_3_reaches_v1_18_3_through_every_minor(cli: Cli) -> None:
    cli.server.put_addon(
        CLUSTER, "v1.6.3-eksbuild.2", configuration_values='{"env":{"WARM_IP_TARGET":"5"}}'
    )
    result = cli.installed(*UPGRADE, "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [s["to"].split("-")[0] for s in document["plan"]["steps"]] == [
        f"v1.{minor}.{patch}"
        for minor, patch in [
            (7, 10),
            (8, 0),
            (9, 3),
            (10, 4),
            (11, 4),
            (12, 6),
            (13, 4),
            (14, 1),
            (15, 5),
            (16, 4),
            (17, 1),
            (18, 3),
        ]
    ]
    assert document["final"]["version"] == "v1.18.3-eksbuild.3"
    assert document["final"]["configuration_values"] == '{"env":{"WARM_IP_TARGET":"5"}}'
    standin = cli.server.standin
    assert standin.count("UpdateAddon") == 12
    assert standin.count("DescribeAddonVersions") == 1
    assert "stepping stone" not in result.stderr or "[1/12]" in result.stderr
    assert "[12/12] done: v1.18.3-eksbuild.3 is ACTIVE" in result.stderr
    assert cli.journal()["state"] == "finished"


def test_a_kill_mid_step_and_a_rerun_do_not_send_the_step_twice(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.16.4-eksbuild.2")
    standin = cli.server.standin
    standin.update_polls = 10_000  # the first update stays in progress while we kill the CLI
    process = cli.start(*UPGRADE)
    assert process.stderr is not None
    for line in process.stderr:
        if "[1/2] update InProgress" in line:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    journal = cli.journal()
    assert journal["steps"][0]["state"] == "in-flight"
    assert standin.count("UpdateAddon") == 1
    standin.update_polls = 2
    for update in standin.updates():  # let the update the killed run started finish now
        update.polls_needed = update.polls + 1
    result = cli.installed(*UPGRADE)
    assert result.returncode == 0, result.stderr
    assert standin.count("UpdateAddon") == 2  # one per step, across both runs
    assert f"following update {journal['steps'][0]['update_id']}" in result.stderr


def test_sigterm_stops_with_130_and_a_resume_line(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    cli.server.standin.update_polls = 10_000
    process = cli.start(*UPGRADE)
    assert process.stderr is not None
    for line in process.stderr:
        if "update InProgress" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "rerun `eksaddon upgrade --cluster prod --addon vpc-cni` to resume" in err
    assert cli.journal()["state"] == "stopped"


def test_failed_update_is_exit_4_with_aws_errors(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    cli.server.standin.fail_next_update()
    result = cli.run(*UPGRADE)
    assert result.returncode == 4, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("eksaddon: error: update ")
    assert "ended Failed" in line
    assert "journal is kept at" in line


def test_degraded_addon_is_exit_4(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    cli.server.standin.degrade_after_next_update()
    result = cli.run(*UPGRADE)
    assert result.returncode == 4
    assert "is DEGRADED after step 1" in result.stderr


def test_timeout_is_exit_4(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    cli.server.standin.update_polls = 10_000
    result = cli.run(
        "upgrade",
        "--cluster",
        CLUSTER,
        "--skip-rollout-check",
        "--yes",
        "--poll-interval",
        "0.1",
        "--timeout",
        "1",
    )
    assert result.returncode == 4
    assert "timed out waiting for update" in result.stderr


def test_throttling_is_retried(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    standin = cli.server.standin
    standin.throttle("DescribeAddonVersions", times=2)
    result = cli.run(*UPGRADE)
    assert result.returncode == 0, result.stderr
    assert standin.count("DescribeAddonVersions") == 3  # two throttled, one answered


def test_another_update_in_progress_at_the_start_is_waited_for(cli: Cli) -> None:
    """An add-on UPDATING when the run starts is waited for (within --timeout), never planned
    from; one that stays UPDATING ends the run with exit 3 and nothing sent.
    (ResourceInUse at UpdateAddon itself, exit 4: tests/reliability/test_fault_matrix.py.)"""
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    standin = cli.server.standin
    standin.update_polls = 10_000
    cli.server.client().update_addon(
        clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.18.3-eksbuild.3"
    )
    result = cli.run(*UPGRADE[:-1], "1")
    assert result.returncode == 3, result.stderr
    assert "is still UPDATING after 1s; nothing was changed" in result.stderr
    assert standin.count("UpdateAddon") == 1  # the other actor's only


def test_dry_run_and_unconfirmed_runs_change_nothing(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.16.4-eksbuild.2")
    dry = cli.run("upgrade", "--cluster", CLUSTER, "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    assert len(json.loads(dry.stdout)["plan"]["steps"]) == 2
    unattended = cli.run("upgrade", "--cluster", CLUSTER, "--skip-rollout-check")
    assert unattended.returncode == 2
    assert "pass --yes to run unattended" in unattended.stderr
    assert cli.server.standin.count("UpdateAddon") == 0


def test_unknown_cluster_is_exit_3(cli: Cli) -> None:
    result = cli.run("status", "--cluster", "nope")
    assert result.returncode == 3
    assert result.stderr.startswith("eksaddon: error: cluster nope:")
    assert "Traceback" not in result.stderr


def test_status_json(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.16.4-eksbuild.2", configuration_values='{"env":{}}')
    result = cli.run("status", "--cluster", CLUSTER, "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["kubernetes_version"] == "1.29"
    assert document["addon_type"] == "managed"
    assert document["installed"]["version"] == "v1.16.4-eksbuild.2"
    assert document["latest"] == "v1.18.3-eksbuild.3"
    assert document["update_available"] is True
    assert [s["to"] for s in document["plan"]["steps"]][-1] == "v1.18.3-eksbuild.3"
    assert document["catalogue_source"] == "eks:DescribeAddonVersions"
    assert document["node_side"] is None
    assert "cannot load the Kubernetes configuration" in document["node_side_note"]


def test_live_check_compat(cli: Cli) -> None:
    cli.server.put_addon(CLUSTER, "v1.15.5-eksbuild.1")
    result = cli.run("check-compat", "--cluster", CLUSTER, "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    sources = [f["message"] for f in document["findings"] if f["check"] == "sources"]
    assert "version catalogue from eks:DescribeAddonVersions" in sources


def test_install_then_upgrade(cli: Cli) -> None:
    result = cli.run(
        "install", "--cluster", CLUSTER, "--yes", "--poll-interval", "0.05", "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["final"]["status"] == "ACTIVE"
    again = cli.run("install", "--cluster", CLUSTER, "--yes")
    assert again.returncode == 2
    assert "already an EKS add-on" in again.stderr


def test_matrix_refresh_writes_a_pinnable_matrix_and_diff_exits_1(cli: Cli, tmp_path: Path) -> None:
    pinned = tmp_path / "pinned.yaml"
    result = cli.run("matrix", "refresh", "-k", "1.29", "-k", "1.30", "--write", str(pinned))
    assert result.returncode == 0, result.stderr
    check = cli.run("--matrix", str(pinned), "matrix", "show", "-k", "1.30", "-o", "json")
    assert check.returncode == 0, check.stderr
    entry = json.loads(check.stdout)["kubernetes_versions"]["1.30"]
    assert entry["catalogue_complete"] is True
    assert "v1.17.1-eksbuild.1" in entry["builds"]
    assert cli.run("--matrix", str(pinned), "matrix", "diff", "-k", "1.30").returncode == 0
    drift = cli.run("matrix", "diff", "-k", "1.30", "-o", "json")
    assert drift.returncode == 1
    assert json.loads(drift.stdout)["changed"] is True


def test_the_rollout_check_needs_kubernetes_access(cli: Cli, tmp_path: Path) -> None:
    cli.server.put_addon(CLUSTER, "v1.17.1-eksbuild.1")
    cli.env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    result = cli.run("upgrade", "--cluster", CLUSTER, "--yes")
    assert result.returncode == 3
    assert "cannot load the Kubernetes configuration" in result.stderr
    assert "--skip-rollout-check" in result.stderr
    assert cli.server.standin.count("UpdateAddon") == 0


def test_migrate_needs_the_cluster_through_kubernetes(cli: Cli) -> None:
    result = cli.run("migrate", "--cluster", CLUSTER, "--yes")
    assert result.returncode == 3
    assert "cannot load the Kubernetes configuration" in result.stderr
    assert cli.server.standin.count("CreateAddon") == 0
