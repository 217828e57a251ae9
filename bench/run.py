"""eksaddon benchmarks: start-up and completion, fleet checks (200 clusters; 2,000 across 10
regions), and the overhead of an upgrade step. Every figure is printed with its goal.

    python bench/run.py              # every default section, a few minutes; figures go in
                                     # docs/performance.md
    python bench/run.py --runs 11    # more start-up samples
    python bench/run.py --no-scale   # skip the 2,000-cluster fleet
    python bench/run.py --only suite # the whole pytest suite's wall time (minutes; not a default)

Each section is one entry of SECTIONS (name, function, whether it runs by default). A new
benchmark lives in its own module beside this one (bench/<name>.py, with a function taking a
Bench and returning rows) and adds one entry there; a section that needs the EKS stand-in asks
``bench.server``, started once for all sections.

Everything runs on this machine: the EKS stand-in (tests/standins, moto 5.2.5 with the add-on
operations) serves on 127.0.0.1, with latency added to every API call where a section says so.
Ratios are measured side by side in one run; start-up times are medians of interleaved runs.

Start-up is measured as an installed eksaddon runs: with its bytecode cached, as pip and pipx
leave it. The commands run with their own bytecode cache (PYTHONPYCACHEPREFIX, primed first)
and without PYTHONDONTWRITEBYTECODE, which would make an editable checkout compile every module of
eksaddon on every run (the baseline's click and PyYAML come precompiled from their wheels).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from standins.eks_addons import StandIn  # noqa: E402
from standins.keepalive import KeepAliveServer  # noqa: E402
from standins.server import CLUSTER_ROLE_ARN, StandInServer, running_server  # noqa: E402

CHECK = ["check-compat", "--kubernetes-version", "1.29", "--addon-version", "v1.15.0-eksbuild.2"]
COMPLETE = "eksaddon check-compat --addon-version "
FLEET = 200
LATENCY = 0.1
CONCURRENCY = 16
SCALE_CLUSTERS = 2000
SCALE_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-southeast-2",
)
SCALE_MEMORY_MIB = 200

# Goals (issue 14): start-up ratios against `python3 -c "import click, yaml"`; fleet wall time
# against its ideal concurrent critical path.
GOAL_TABLE = 1.6
GOAL_JSON = 1.4
GOAL_HELP = 1.3
GOAL_VERSION = 1.3
GOAL_COMPLETION = 1.4
GOAL_FLEET = 1.15
GOAL_SUITE_SECONDS = 300  # the whole pytest suite on the project's two cores

Row = tuple[str, float, str]


def against(ratio: float, goal: float) -> str:
    return f"{ratio:.2f} (goal <= {goal}: {'met' if ratio <= goal else 'NOT met'})"


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


def startup_env() -> dict[str, str]:
    """As installed: bytecode cached (a private cache, primed by the first run), a warm matrix."""
    env = {
        **os.environ,
        "EKSADDON_CACHE_DIR": tempfile.mkdtemp(prefix="eksaddon-bench-"),
        "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="eksaddon-bench-pyc-"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("EKSADDON_MATRIX", None)
    return env


def interleaved_medians(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int
) -> dict[str, float]:
    """Median wall time (ms) of each command, run in turn so that load drifts hit all alike."""
    for command, env in commands.values():  # prime the bytecode and matrix caches
        timed(command, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, env) in commands.items():
            samples[name].append(timed(command, env))
    return {name: statistics.median(times) * 1000 for name, times in samples.items()}


def startup(runs: int) -> list[Row]:
    env = startup_env()
    completing = {
        **env,
        "_EKSADDON_COMPLETE": "bash_complete",
        "COMP_WORDS": COMPLETE,
        "COMP_CWORD": str(len(COMPLETE.split())),
    }
    measured = interleaved_medians(
        {
            "baseline": ([sys.executable, "-c", "import click, yaml"], env),
            "table": ([*tool(), *CHECK], env),
            "json": ([*tool(), *CHECK, "-o", "json"], env),
            "help": ([*tool(), "--help"], env),
            "version": ([*tool(), "--version"], env),
            "completion": (tool(), completing),
        },
        runs,
    )
    baseline = measured["baseline"]
    rows: list[Row] = [("python3 -c 'import click, yaml'", baseline, "1.00 (baseline)")]
    for key, name, goal in (
        ("table", "check-compat (table), warm cache", GOAL_TABLE),
        ("json", "check-compat -o json, warm cache", GOAL_JSON),
        ("help", "eksaddon --help", GOAL_HELP),
        ("version", "eksaddon --version", GOAL_VERSION),
        ("completion", f"completion of '{COMPLETE.strip()} <TAB>'", GOAL_COMPLETION),
    ):
        rows.append((name, measured[key], against(measured[key] / baseline, goal)))
    aws = aws_cli()
    if aws is not None:
        aws_ms = median_ms([*aws, "--version"], runs)
        rows.append(
            (
                "aws --version (awscli)",
                aws_ms,
                f"check-compat / aws = {measured['table'] / aws_ms:.2f}",
            )
        )
    else:
        rows.append(("aws --version", math.nan, "awscli could not be installed"))
    return rows


def sdk_start(env: dict[str, str], runs: int = 3) -> tuple[float, float]:
    """What any boto3 CLI pays before its first call: start Python, import boto3, make a client.
    (median wall seconds, median CPU seconds) of ``runs`` runs."""
    command = [sys.executable, "-c", "import boto3; boto3.client('eks', region_name='us-west-2')"]
    samples = [waited(command, env) for _ in range(runs)]
    return (
        statistics.median(r.wall for r in samples),
        statistics.median(r.cpu for r in samples),
    )


class Run(NamedTuple):
    wall: float  # seconds
    code: int
    peak_kib: int  # peak RSS
    cpu: float  # user + system seconds of the command


def waited(command: Sequence[str], env: dict[str, str]) -> Run:
    """Wall time, exit code, peak RSS and CPU time of one run of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    errors = process.stderr.read()  # a pipe, drained so that the child never blocks on it
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        sys.exit(f"benchmark command failed ({process.returncode}): {' '.join(command)}\n{errors}")
    return Run(elapsed, process.returncode, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


def own_cpu() -> float:
    """CPU seconds of this process so far: the stand-in server's, while a command runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Measured(NamedTuple):
    run: Run
    server_cpu: float  # the stand-in's CPU seconds during the run
    calls: Counter[str]  # API calls by operation
    most_in_flight: int  # requests the stand-in served at once, at most
    replayed: int  # of those calls, answered from the priming run's record


def measured_fleet(server: StandInServer, command: list[str], env: dict[str, str]) -> Measured:
    """One primed, then one measured run of ``command`` with LATENCY added to every call.

    The priming run (no latency) leaves what an installed eksaddon finds on its second run: its
    bytecode and matrix caches written, and the stand-in's own lazy imports done. It also records
    the stand-in's answers, and the measured run (the same reads of the same clusters, nothing
    changed in between) is answered from that record, each call still counted and paced: what
    is measured is then the client's own critical path, not moto's CPU time on the same two
    cores and the same interpreter lock (see tests/standins/keepalive.py).
    """
    standin = server.standin
    transport = server.transport
    assert isinstance(transport, KeepAliveServer)
    transport.record_answers()
    try:
        waited(command, env)
        if not standin.at_rest():
            sys.exit("the stand-in is not at rest after the priming run: its answers may change")
        standin.reset_counters()
        transport.reset_counts()
        transport.replay_answers()
        standin.latency = LATENCY
        before = own_cpu()
        try:
            run = waited(command, env)
        finally:
            standin.latency = 0.0
    finally:
        transport.forget_answers()
    return Measured(
        run,
        own_cpu() - before,
        Counter(standin.calls),
        transport.most_in_flight,
        transport.replayed,
    )


def shape(measured: Measured, sdk_cpu: float) -> str:
    """The load-independent figures: CPU per call, the stand-in's CPU, requests in flight."""
    calls = sum(measured.calls.values())
    per_call = (measured.run.cpu - sdk_cpu) / calls * 1000 if calls else math.nan
    return (
        f"eksaddon CPU {measured.run.cpu:.2f} s ({per_call:.2f} ms a call beyond an SDK "
        f"start); stand-in CPU {measured.server_cpu:.2f} s ({measured.replayed} of {calls} "
        f"answers replayed); at most {measured.most_in_flight} requests in flight"
    )


@contextmanager
def quick_cluster_setup() -> Iterator[None]:
    """moto checks each cluster's role ARN by building a boto3 Session (~0.4 s a cluster here):
    skipped while the benchmark makes its clusters in the backend, so 2,000 take seconds."""
    from moto.eks import models

    original = getattr(models, "validate_role_arn")  # noqa: B009 - moto exports it implicitly
    setattr(models, "validate_role_arn", lambda arn: None)  # noqa: B010
    try:
        yield
    finally:
        setattr(models, "validate_role_arn", original)  # noqa: B010


def populate(server: StandInServer, clusters: int, regions: Sequence[str]) -> None:
    from moto.eks.models import eks_backends

    with quick_cluster_setup():
        for number in range(clusters):
            region = regions[number % len(regions)]
            name = f"cluster-{number:04d}"
            with server.standin.lock:
                cluster = eks_backends[server.account_id][region].create_cluster(
                    name=name,
                    role_arn=CLUSTER_ROLE_ARN,
                    resources_vpc_config={
                        "subnetIds": [],
                        "securityGroupIds": [],
                        "endpointPublicAccess": True,
                        "endpointPrivateAccess": False,
                    },
                    version="1.29",
                    tags={},
                )
            server.standin.put_addon(
                name,
                "v1.18.3-eksbuild.3",
                account_id=server.account_id,
                region=region,
                cluster=cluster,
            )


def fleet_env(server: StandInServer) -> dict[str, str]:
    """As installed (bytecode cached, see startup_env), against the stand-in."""
    return {**server.env(startup_env()), "EKSADDON_CACHE_DIR": tempfile.mkdtemp(prefix="eksaddon-")}


def fleet(server: StandInServer) -> list[Row]:
    server.fresh()
    populate(server, FLEET, [server.region])
    env = fleet_env(server)
    command = [*tool(), "check-compat", "--all-clusters", "--concurrency", str(CONCURRENCY)]
    measured = measured_fleet(server, [*command, "-o", "json"], env)
    if measured.run.code != 0:
        sys.exit(f"the {FLEET}-cluster fleet check failed its checks (exit {measured.run.code})")
    wall = measured.run.wall
    pages = math.ceil(FLEET / 100)
    # The ideal concurrent critical path: list the clusters (pages in sequence), then
    # ceil(FLEET / CONCURRENCY) waves of each cluster's first reads, issued together
    # (DescribeCluster and DescribeAddon: one latency), plus the one catalogue read (it needs a
    # cluster's Kubernetes version) that the first wave waits for.
    network = LATENCY * (pages + math.ceil(FLEET / CONCURRENCY) + 1)
    sdk, sdk_cpu = sdk_start(env)
    ideal = network + sdk
    calls = measured.calls
    return [
        (
            f"{FLEET}-cluster fleet check, {int(LATENCY * 1000)} ms per call",
            wall * 1000,
            f"{against(wall / ideal, GOAL_FLEET)} x ideal ({ideal * 1000:.0f} ms = "
            f"{network * 1000:.0f} ms of calls + {sdk * 1000:.0f} ms SDK start); "
            f"{wall / network:.2f} x the calls alone",
        ),
        (
            "API calls made",
            float(sum(calls.values())),
            ", ".join(f"{op} {n}" for op, n in sorted(calls.items())),
        ),
        (
            "  its CPU time (s) and shape",
            measured.run.cpu,
            f"{shape(measured, sdk_cpu)} (the ideal's: {CONCURRENCY} clusters x 2 reads)",
        ),
    ]


def fleet_at_scale(server: StandInServer) -> list[Row]:
    """2,000 clusters across 10 regions at 100 ms a call: wall time, ratio and peak memory."""
    server.fresh()
    populate(server, SCALE_CLUSTERS, SCALE_REGIONS)
    env = fleet_env(server)
    regions = [arg for region in SCALE_REGIONS for arg in ("--region", region)]
    command = [
        *tool(),
        "check-compat",
        "--all-clusters",
        *regions,
        "--concurrency",
        str(CONCURRENCY),
        "-o",
        "json",
    ]
    measured = measured_fleet(server, command, env)
    if measured.run.code != 0:
        sys.exit(f"the {SCALE_CLUSTERS}-cluster fleet check failed its checks")
    wall = measured.run.wall
    calls = sum(measured.calls.values())
    per_region = SCALE_CLUSTERS // len(SCALE_REGIONS)
    # The regions are listed at the same time (their pages in sequence), then the waves of first
    # reads; each region's catalogue is read once, and its first clusters wait for it.
    network = LATENCY * (
        math.ceil(per_region / 100) + math.ceil(SCALE_CLUSTERS / CONCURRENCY) + len(SCALE_REGIONS)
    )
    sdk, sdk_cpu = sdk_start(env)
    ideal = network + sdk
    peak_mib = measured.run.peak_kib / 1024
    verdict = "met" if peak_mib < SCALE_MEMORY_MIB else "NOT met"
    return [
        (
            f"{SCALE_CLUSTERS}-cluster fleet, {len(SCALE_REGIONS)} regions, "
            f"{int(LATENCY * 1000)} ms per call",
            wall * 1000,
            f"{wall / ideal:.2f} x ideal ({ideal * 1000:.0f} ms); {calls} API calls",
        ),
        (
            f"peak RSS of that {SCALE_CLUSTERS}-cluster check (MiB)",
            peak_mib,
            f"goal < {SCALE_MEMORY_MIB} MiB: {verdict}",
        ),
        ("  its CPU time (s) and shape", measured.run.cpu, shape(measured, sdk_cpu)),
    ]


def upgrade_overhead(server: StandInServer) -> list[Row]:
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


def suite(bench: Bench) -> list[Row]:
    """The README's test command (`pytest`, every test, on every core) timed once."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    verdict = "met" if wall < GOAL_SUITE_SECONDS and done.returncode == 0 else "NOT met"
    return [
        (
            f"pytest, the whole suite, in seconds ({os.cpu_count()} cores)",
            wall,
            f"goal < {GOAL_SUITE_SECONDS} s: {verdict}; exit {done.returncode}: {last}",
        )
    ]


@dataclass
class Bench:
    """What the sections share: the start-up sample count and one EKS stand-in server."""

    runs: int
    stack: ExitStack = field(default_factory=ExitStack)
    _server: StandInServer | None = None

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    @property
    def server(self) -> StandInServer:
        if self._server is None:
            # Keep-alive and paced: see tests/standins/keepalive.py for why not moto's own server.
            self._server = self.stack.enter_context(running_server(keep_alive=True))
        return self._server


@dataclass(frozen=True)
class Section:
    measure: Callable[[Bench], list[Row]]
    default: bool = True


SECTIONS: dict[str, Section] = {
    "startup": Section(lambda bench: startup(bench.runs)),
    "fleet": Section(lambda bench: fleet(bench.server)),
    "scale": Section(lambda bench: fleet_at_scale(bench.server)),
    "upgrade": Section(lambda bench: upgrade_overhead(bench.server)),
    "suite": Section(suite, default=False),
    # bench/gate.py: the cluster-upgrade gate over 200 clusters (in-process, on the gate's fake).
    "gate": Section(lambda bench: importlib.import_module("gate").gate_bench()),
}


def main() -> None:
    parser = argparse.ArgumentParser(description="eksaddon benchmarks")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-scale", action="store_true", help="skip the 2,000-cluster fleet")
    parser.add_argument(
        "--only",
        choices=list(SECTIONS),
        action="append",
        help="run only these sections (repeatable)",
    )
    arguments = parser.parse_args()
    runs = arguments.runs
    defaults = [name for name, section in SECTIONS.items() if section.default]
    chosen = [
        name
        for name in (arguments.only or defaults)
        if not (arguments.no_scale and name == "scale")
    ]
    started = time.perf_counter()
    load = os.getloadavg()[0]
    rows: list[Row] = []
    with Bench(runs) as bench:
        for name in chosen:
            rows += SECTIONS[name].measure(bench)
    if arguments.only is None:
        # Every goal is named in a default run; the suite's takes minutes, so it is its own.
        rows.append(
            (
                "pytest, the whole suite, in seconds",
                math.nan,
                f"goal < {GOAL_SUITE_SECONDS} s: not run by default "
                "(python bench/run.py --only suite)",
            )
        )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, start-up medians of {runs} "
        f"interleaved runs; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    for name, value, note in rows:
        print(f"{name:<58} {value:10.1f}  {note}")
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
