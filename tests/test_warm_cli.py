"""The warm CLI (tests/warm_cli.py) answers as the installed console script does: same exit code,
stdout and stderr for the same arguments, environment, working directory and stdin, and it
refuses a run whose environment the server could not honour."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

import warm_cli
from tests_support import daemonset, eksaddon_command

pytestmark = pytest.mark.slow


def both(
    args: list[str], *, input: str | None = None, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The installed script's run and the warm one's, from the same environment."""
    installed = subprocess.run(
        [*eksaddon_command(), *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    warm = warm_cli.run(args, input=input, cwd=cwd, timeout=120)
    return installed, warm


def same(
    installed: subprocess.CompletedProcess[str], warm: subprocess.CompletedProcess[str]
) -> None:
    assert (warm.returncode, warm.stdout, warm.stderr) == (
        installed.returncode,
        installed.stdout,
        installed.stderr,
    )


def test_a_check_that_fails_on_a_pipe(tmp_path: Path) -> None:
    installed, warm = both(["check-compat", "-k", "1.29", "--addon-version", "v1.15.0-eksbuild.2"])
    assert installed.returncode == 1
    same(installed, warm)


def test_a_usage_error() -> None:
    installed, warm = both(["plan", "--no-such-flag"])
    assert installed.returncode == 2
    same(installed, warm)


def test_stdin_and_the_working_directory(tmp_path: Path) -> None:
    document = yaml.safe_dump(daemonset("v1.16.4-eksbuild.2"))
    installed, warm = both(
        ["check-compat", "-k", "1.29", "--daemonset", "-", "-o", "json"], input=document
    )
    same(installed, warm)
    (tmp_path / "ds.yaml").write_text(document)
    installed, warm = both(["check-compat", "-k", "1.29", "--daemonset", "ds.yaml"], cwd=tmp_path)
    same(installed, warm)


def test_the_runs_environment_is_its_own(tmp_path: Path) -> None:
    """The cache directory is read from the run's environment, not from the server's."""
    cache = tmp_path / "elsewhere"
    env = {**os.environ, "EKSADDON_CACHE_DIR": str(cache)}
    done = warm_cli.run(
        ["check-compat", "-k", "1.29", "--addon-version", "v1.18.3-eksbuild.3"], env=env
    )
    assert done.returncode == 0, done.stderr
    assert cache.is_dir()


def test_a_variable_read_while_importing_is_refused_when_it_differs() -> None:
    env = {**os.environ, "HOME": "/nonexistent-home"}
    with pytest.raises(AssertionError, match="HOME"):
        warm_cli.run(["--version"], env=env)
