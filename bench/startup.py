"""Cold-start benchmark for offline commands (not a test: run it by hand or in CI for figures).

Each command runs in a new process; the median of several runs is compared with the floor any
click + PyYAML tool pays, ``python3 -c "import click, yaml"``. Goals (issue 14): offline
``check-compat`` table <= 1.6, ``-o json`` <= 1.4, ``--help`` <= 1.3 (warm matrix cache).

    python bench/startup.py [--runs 21]

"cold cache" runs give every process an empty matrix cache, so the YAML is parsed and the schema
checked each time (a first run after install or after the matrix changed); "warm" runs reuse it.
As in bench/run.py, every command runs with its bytecode cached (a private PYTHONPYCACHEPREFIX,
primed first; PYTHONDONTWRITEBYTECODE dropped), as an installed eksaddon does; set
``--no-bytecode`` to see what compiling every module on every run costs.

``--instructions`` counts the instructions each command executes once, under valgrind's
callgrind, instead of timing it: slow (~15 s a command) but the same however loaded the machine
is, so ratios from a shared machine can be checked. Instructions leave out file-system and
page-fault time, so they understate the cost of importing many files a little.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECK = ["check-compat", "--kubernetes-version", "1.29", "--addon-version", "v1.15.0-eksbuild.2"]


def eksaddon() -> str:
    beside = Path(sys.executable).with_name("eksaddon")
    found = str(beside) if beside.exists() else shutil.which("eksaddon")
    if not found:
        sys.exit("eksaddon is not installed in this environment: pip install -e .")
    return found


BASE_ENV = dict(os.environ)
MEASURE = "wall"


def instructions(command: list[str], env: dict[str, str]) -> float:
    """Instructions executed by one run of ``command`` (valgrind --tool=callgrind), in millions."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    counted = re.search(r"Collected : (\d+)", done.stderr)
    if counted is None:
        sys.exit(f"valgrind counted nothing for {' '.join(command)}:\n{done.stderr[-2000:]}")
    return int(counted.group(1)) / 1e6


def median_ms(command: list[str], *, runs: int, warm_cache: str | None) -> float:
    """Median wall time; ``warm_cache`` None gives every run a fresh, empty matrix cache."""
    samples = []
    subprocess.run(command, env=BASE_ENV, capture_output=True, check=False)  # prime bytecode
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**BASE_ENV, "EKSADDON_CACHE_DIR": warm_cache or cache}
            if MEASURE == "instructions":
                samples.append(instructions(command, env))
                continue
            start = time.perf_counter()
            subprocess.run(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
            )
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * (1 if MEASURE == "instructions" else 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--no-bytecode", action="store_true", help="compile every module on every run"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (valgrind) instead of timing: independent of the machine's load",
    )
    arguments = parser.parse_args()
    runs = arguments.runs
    global MEASURE
    if arguments.instructions:
        if shutil.which("valgrind") is None:
            sys.exit("--instructions needs valgrind (apt-get install valgrind)")
        MEASURE, runs = "instructions", 1
    if arguments.no_bytecode:
        # Installed packages keep the bytecode their wheels' install compiled; an editable
        # checkout without __pycache__ compiles eksaddon on every run.
        BASE_ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        BASE_ENV.pop("PYTHONPYCACHEPREFIX", None)
    else:
        BASE_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        BASE_ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="eksaddon-bench-pyc-")
    tool = eksaddon()
    warm_cache = tempfile.mkdtemp(prefix="eksaddon-bench-")
    subprocess.run(
        [tool, *CHECK],
        env={**BASE_ENV, "EKSADDON_CACHE_DIR": warm_cache},
        stdout=subprocess.DEVNULL,
        check=False,
    )  # fill the warm cache once
    baseline = median_ms([sys.executable, "-c", "import click, yaml"], runs=runs, warm_cache=None)
    cases = [
        ("check-compat (table), warm cache", [tool, *CHECK], False),
        ("check-compat (table), cold cache", [tool, *CHECK], True),
        ("check-compat -o json, warm cache", [tool, *CHECK, "-o", "json"], False),
        ("check-compat -o json, cold cache", [tool, *CHECK, "-o", "json"], True),
        (
            "plan -o json, warm cache",
            [tool, "plan", "-k", "1.23", "--from", "v1.6.3", "-o", "json"],
            False,
        ),
        ("--help", [tool, "--help"], False),
        ("--version", [tool, "--version"], False),
    ]
    unit = "M instr." if MEASURE == "instructions" else "ms"
    what = "instructions executed, one run each" if unit != "ms" else f"{runs} runs each, medians"
    print(f"python {sys.version.split()[0]}, {what}")
    label = 'baseline: python3 -c "import click, yaml"'
    print(f"{label:<45} {baseline:7.1f} {unit}   1.00")
    for name, command, cold in cases:
        value = median_ms(command, runs=runs, warm_cache=None if cold else warm_cache)
        print(f"{name:<45} {value:7.1f} {unit}   {value / baseline:4.2f}")
    shutil.rmtree(warm_cache, ignore_errors=True)


if __name__ == "__main__":
    main()
