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
"""

from __future__ import annotations

import argparse
import os
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


def median_ms(command: list[str], *, runs: int, warm_cache: str | None) -> float:
    """Median wall time; ``warm_cache`` None gives every run a fresh, empty matrix cache."""
    samples = []
    subprocess.run(command, env=BASE_ENV, capture_output=True, check=False)  # prime bytecode
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**BASE_ENV, "EKSADDON_CACHE_DIR": warm_cache or cache}
            start = time.perf_counter()
            subprocess.run(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
            )
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--no-bytecode", action="store_true", help="compile every module on every run"
    )
    arguments = parser.parse_args()
    runs = arguments.runs
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
    print(f"python {sys.version.split()[0]}, {runs} runs each, medians")
    label = 'baseline: python3 -c "import click, yaml"'
    print(f"{label:<45} {baseline:7.1f} ms   1.00")
    for name, command, cold in cases:
        ms = median_ms(command, runs=runs, warm_cache=None if cold else warm_cache)
        print(f"{name:<45} {ms:7.1f} ms   {ms / baseline:4.2f}")
    shutil.rmtree(warm_cache, ignore_errors=True)


if __name__ == "__main__":
    main()
