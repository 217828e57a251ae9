"""eksaddon benchmarks: start-up, a 200-cluster fleet check, and the overhead of an upgrade step.

    python bench/run.py            # all three, about a minute; figures go in docs/performance.md
    python bench/run.py --runs 11  # more start-up samples

Everything runs on this machine: the EKS stand-in (tests/standins, moto 5.2.5 with the add-on
operations) serves on 127.0.0.1, with latency added to every API call where a section says so.
Ratios are measured side by side in one run; times are medians.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from standins.eks_addons import StandIn  # noqa: E402
from standins.server import StandInServer, running_server  # noqa: E402

CHECK = ["check-compat", "--kubernetes-version", "1.29", "--addon-version", "v1.15.0-eksbuild.2"]
FLEET = 200
LATENCY = 0.1
CONCURRENCY = 16


def tool() -> list[str]:
    beside = Path(sys.executable).with_name("eksaddon")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "eksaddon"]


def timed(
    command: Sequence[str], env: dict[str, str] | None = None, *, expect: int | None = None
) -> float:
    """Wall time of one run; with ``expect``, any other exit code aborts the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, text=True
    )
    elapsed = time.perf_counter() - start
    if expect is not None and done.returncode != expect:
        sys.exit(
            f"benchmark command failed ({done.returncode}): {' '.join(command)}\n{done.stderr}"
        )
    return elapsed


def median_ms(command: Sequence[str], runs: int, env: dict[str, str] | None = None) -> float:
    return statistics.median(timed(command, env) for _ in range(runs)) * 1000


def aws_cli() -> list[str] | None:
    """`aws` from the awscli package, in its own venv (its botocore pin is not ours)."""
    found = shutil.which("aws")
    if found:
        return [found]
    venv = Path(tempfile.gettempdir()) / "eksaddon-bench-awscli"
    aws = venv / "bin" / "aws"
    if not aws.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        installed = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "awscli"], check=False, capture_output=True
        )
        if installed.returncode != 0:
            return None
    return [str(aws)]


def startup(runs: int) -> list[tuple[str, float, str]]:
    env = {**os.environ, "EKSADDON_CACHE_DIR": tempfile.mkdtemp(prefix="eksaddon-bench-")}
    subprocess.run([*tool(), *CHECK], env=env, stdout=subprocess.DEVNULL, check=False)
    baseline = median_ms([sys.executable, "-c", "import click, yaml"], runs)
    rows = [("python3 -c 'import click, yaml'", baseline, "1.00 (baseline)")]
    for name, extra in (("check-compat (table)", []), ("check-compat -o json", ["-o", "json"])):
        ms = median_ms([*tool(), *CHECK, *extra], runs, env)
        rows.append((f"{name}, warm cache", ms, f"{ms / baseline:.2f}"))
    aws = aws_cli()
    if aws is not None:
        aws_ms = median_ms([*aws, "--version"], runs)
        check = rows[1][1]
        rows.append(
            ("aws --version (awscli)", aws_ms, f"check-compat / aws = {check / aws_ms:.2f}")
        )
    else:
        rows.append(("aws --version", math.nan, "awscli could not be installed"))
    return rows


def fleet(server: StandInServer) -> list[tuple[str, float, str]]:
    server.fresh()
    for number in range(FLEET):
        name = f"cluster-{number:03d}"
        server.create_cluster(name, "1.29")
        server.put_addon(name, "v1.18.3-eksbuild.3")
    standin = server.standin
    standin.reset_counters()
    standin.latency = LATENCY
    env = {**server.env(), "EKSADDON_CACHE_DIR": tempfile.mkdtemp(prefix="eksaddon-bench-")}
    wall = timed(
        [
            *tool(),
            "check-compat",
            "--all-clusters",
            "--concurrency",
            str(CONCURRENCY),
            "-o",
            "json",
        ],
        env,
        expect=0,
    )
    calls = sum(standin.calls.values())
    pages = math.ceil(FLEET / 100)
    # The ideal concurrent critical path: list the clusters (pages in sequence), then
    # ceil(FLEET / CONCURRENCY) waves of two dependent calls (DescribeCluster, DescribeAddon),
    # plus one catalogue read that the first wave waits for.
    network = LATENCY * (pages + 2 * math.ceil(FLEET / CONCURRENCY) + 1)
    # What any boto3 CLI pays before its first call: start Python, import boto3, make a client.
    sdk = timed(
        [sys.executable, "-c", "import boto3; boto3.client('eks', region_name='us-west-2')"]
    )
    ideal = network + sdk
    standin.latency = 0.0
    return [
        (
            f"{FLEET}-cluster fleet check, {int(LATENCY * 1000)} ms per call",
            wall * 1000,
            f"{wall / ideal:.2f} x ideal ({ideal * 1000:.0f} ms = {network * 1000:.0f} ms of calls "
            f"+ {sdk * 1000:.0f} ms SDK start); {wall / network:.2f} x the calls alone",
        ),
        (
            "API calls made",
            float(calls),
            ", ".join(f"{op} {n}" for op, n in sorted(standin.calls.items())),
        ),
    ]


def upgrade_overhead(server: StandInServer) -> list[tuple[str, float, str]]:
    update_seconds, poll, steps = 1.0, 0.25, 3
    standin = server.fresh(StandIn(clock=time.time))
    standin.update_polls = None
    standin.update_seconds = update_seconds
    server.create_cluster("prod", "1.29")
    server.put_addon("prod", "v1.15.5-eksbuild.1")
    env = {
        **server.env(),
        "EKSADDON_CACHE_DIR": tempfile.mkdtemp(prefix="eksaddon-bench-"),
        "EKSADDON_STATE_DIR": tempfile.mkdtemp(prefix="eksaddon-bench-"),
    }
    wall = timed(
        # The EKS side only: the stand-in has no Kubernetes API for the rollout check.
        [
            *tool(),
            "upgrade",
            "--cluster",
            "prod",
            "--yes",
            "--skip-rollout-check",
            "--poll-interval",
            str(poll),
        ],
        env,
        expect=0,
    )
    per_step = (wall - steps * update_seconds) / steps
    return [
        (
            f"upgrade overhead per step (update {update_seconds:.0f} s, poll {poll} s)",
            per_step * 1000,
            f"{per_step / poll:.2f} poll intervals (goal <= 1)",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="eksaddon benchmarks")
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    started = time.perf_counter()
    rows = startup(runs)
    with running_server() as server:
        rows += fleet(server)
        rows += upgrade_overhead(server)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, start-up medians of {runs}")
    for name, value, note in rows:
        print(f"{name:<52} {value:10.1f}  {note}")
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
