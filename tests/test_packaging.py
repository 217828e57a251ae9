"""The wheel carries the bundled matrix, and an installed eksaddon works from any directory: pip
into a fresh venv, and pipx from the source tree and from the wheel, all offline."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests_support import REPO

# One source copy, one wheel build and one venv for the module, in one worker.
pytestmark = pytest.mark.xdist_group("packaging")

# What a checkout holds that no build reads (and that a build must not race on: build/).
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
)
WHEELHOUSE = "EKSADDON_WHEELHOUSE"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(message: str) -> None:
    """Skip for what this machine lacks; in CI, which must provide it (.ci/run), fail."""
    if in_ci():
        pytest.fail(f"{message}, and CI must provide it (.ci/run)")
    pytest.skip(message)


def clean_env(tmp_path: Path) -> dict[str, str]:
    """This environment without what points Python at this checkout or its venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "EKSADDON_MATRIX")
    }
    env["EKSADDON_CACHE_DIR"] = str(tmp_path / "cache")
    return env


def check(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's sources: builds write build/ and *.egg-info into the tree they
    build, which must be neither the developer's checkout nor one another build uses."""
    tree = tmp_path_factory.mktemp("source") / "eksaddon"
    shutil.copytree(REPO, tree, ignore=NOT_SOURCES)
    return tree


@pytest.fixture(scope="module")
def wheel(source_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wheel")
    built_by = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(target),
            str(source_tree),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built_by.returncode == 0, built_by.stdout + built_by.stderr
    (built,) = target.glob("eksaddon-*.whl")
    return built


@dataclass(frozen=True)
class Venv:
    python: Path
    script: Path
    purelib: str


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install eksaddon-*.whl`` into a new venv, once for the module.

    No network: the venv borrows the dependencies already installed here through a ``.pth`` file
    (pip would otherwise download them), and pip installs the wheel itself with ``--no-index``.
    """
    import site
    import sysconfig

    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    here = {sysconfig.get_path("purelib"), *site.getsitepackages()}
    # Plain path lines: the .pth files there (this checkout's editable finder) are not run, and the
    # venv's own site-packages comes first, so eksaddon is the wheel's (checked below).
    Path(purelib, "borrowed-dependencies.pth").write_text(
        "\n".join(sorted(here)) + "\n", encoding="utf-8"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return Venv(python, venv / "bin" / "eksaddon", purelib)


def test_wheel_ships_the_matrix_and_every_module(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "version_matrix/vpc-cni.yaml" in names
    bundled = {p.relative_to(REPO).as_posix() for p in (REPO / "version_matrix").glob("*.yaml")}
    assert len(bundled) >= 5 and bundled <= names  # every add-on matrix, kube-proxy to pod identity
    assert "eksaddon/nodeside/vpc_cni_manifest.yaml" in names
    assert "version_matrix/__init__.py" in names
    sources = {p.relative_to(REPO).as_posix() for p in (REPO / "eksaddon").rglob("*.py")}
    assert sources <= names
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "eksaddon = eksaddon.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_from_another_directory(fresh_venv: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    completed = check(
        [
            str(fresh_venv.python),
            "-m",
            "eksaddon",
            "check-compat",
            "-k",
            "1.30",
            "--addon-version",
            "v1.18.3-eksbuild.3",
            "-o",
            "json",
        ],
        tmp_path,
        env,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["matrix"] == "bundled vpc-cni.yaml"
    located = check(
        [
            str(fresh_venv.python),
            "-c",
            "import eksaddon, version_matrix; print(eksaddon.__file__); "
            "print(version_matrix.__file__)",
        ],
        tmp_path,
        env,
    )
    assert located.returncode == 0, located.stderr
    lines = located.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(fresh_venv.purelib) for line in lines)


def test_the_wheel_installs_into_a_fresh_venv(fresh_venv: Venv, tmp_path: Path) -> None:
    """``pip install eksaddon-*.whl`` gives a working ``eksaddon`` on the venv's PATH."""
    assert fresh_venv.script.is_file()
    env = clean_env(tmp_path)
    version = check([str(fresh_venv.script), "--version"], tmp_path, env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("eksaddon, version ")
    assert "  vpc-cni " in version.stdout
    checked = check(
        [
            str(fresh_venv.script),
            "check-compat",
            "-k",
            "1.30",
            "--addon-version",
            "v1.18.3-eksbuild.3",
        ],
        tmp_path,
        env,
    )
    assert checked.returncode == 0, checked.stderr
    assert "bundled vpc-cni.yaml" in checked.stdout


# --- pipx ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """Wheels of eksaddon's dependencies and of pip, setuptools and wheel, for offline installs.

    ``pipx install`` makes a venv of its own and has pip install eksaddon there with every
    dependency (it reads their metadata: no borrowing from this venv), builds ``.`` in an isolated
    environment (setuptools, wheel) and brings its shared pip up to date: offline, all of it must
    come from a directory. .ci/run fills one (``pip download``, where the index is reachable).
    """
    if importlib.util.find_spec("pipx") is None:
        missing("pipx is not installed (pip install -e '.[test]' installs it)")
    named = os.environ.get(WHEELHOUSE)
    if not named:
        missing(
            f"${WHEELHOUSE} is not set: pipx installs eksaddon with its dependencies and these "
            "tests use no network; point it at a directory filled by `pip download -d DIR . pip "
            "setuptools wheel` (as .ci/run does)"
        )
    house = Path(str(named))
    if not any(house.glob("*.whl")):
        missing(f"${WHEELHOUSE}={house} holds no wheels")
    return house


@pytest.fixture(scope="module")
def pipx_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pipx's shared libraries (its pip), made by the first install and reused by the next."""
    return tmp_path_factory.mktemp("pipx-shared")


@pytest.mark.parametrize("spec", [".", "the wheel"])
def test_pipx_installs_offline_into_a_fresh_environment(
    spec: str,
    wheelhouse: Path,
    pipx_shared: Path,
    source_tree: Path,
    wheel: Path,
    tmp_path: Path,
) -> None:
    """``pipx install .`` in the source tree, and ``pipx install eksaddon-*.whl``: an ``eksaddon``
    app in PIPX_BIN_DIR that runs from pipx's own venv, with nothing from this one."""
    home, bin_dir = tmp_path / "pipx-home", tmp_path / "pipx-bin"
    env = clean_env(tmp_path)
    for name in list(env):
        if name.startswith(("PIPX_", "PIP_")):
            del env[name]
    env.update(
        {
            "PIPX_HOME": str(home),
            "PIPX_BIN_DIR": str(bin_dir),
            "PIPX_MAN_DIR": str(tmp_path / "pipx-man"),
            "PIPX_SHARED_LIBS": str(pipx_shared),
            # Every pip that pipx runs (its shared pip's upgrade too) looks in the wheelhouse only.
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
            "PIP_NO_COMPILE": "1",  # bytecode of botocore's thousands of modules: not the point
            "USE_EMOJI": "0",
        }
    )
    target = "." if spec == "." else str(wheel)
    installed = subprocess.run(
        [sys.executable, "-m", "pipx", "install", target],
        cwd=source_tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    app = bin_dir / "eksaddon"
    assert app.exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = check([str(app), "--version"], elsewhere, env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("eksaddon, version ")
    assert "  vpc-cni " in version.stdout
    checked = check(
        [str(app), "check-compat", "-k", "1.30", "--addon-version", "v1.18.3-eksbuild.3"],
        elsewhere,
        env,
    )
    assert checked.returncode == 0, checked.stderr
    assert "bundled vpc-cni.yaml" in checked.stdout
    python = home / "venvs" / "eksaddon" / "bin" / "python"
    located = check(
        [
            str(python),
            "-c",
            "import eksaddon, boto3; print(eksaddon.__file__); print(boto3.__file__)",
        ],
        elsewhere,
        env,
    )
    assert located.returncode == 0, located.stderr
    lines = located.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(str(home)) for line in lines), lines
