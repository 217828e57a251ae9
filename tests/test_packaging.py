"""The wheel carries the bundled matrix, and an installed eksaddon works from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests_support import REPO

# One wheel build for the module, in one worker: two `pip wheel` runs over the same source tree at
# once (one per xdist worker) race on setuptools' build/ directory.
pytestmark = pytest.mark.xdist_group("packaging")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built_by.returncode == 0, built_by.stdout + built_by.stderr
    (built,) = target.glob("eksaddon-*.whl")
    return built


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


def test_installed_wheel_runs_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "EKSADDON_CACHE_DIR": str(tmp_path / "cache")}
    completed = subprocess.run(
        [
            sys.executable,
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
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["matrix"] == "bundled vpc-cni.yaml"
    located = subprocess.run(
        [
            sys.executable,
            "-c",
            "import eksaddon, version_matrix; print(eksaddon.__file__); "
            "print(version_matrix.__file__)",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert all(line.startswith(str(site)) for line in located.stdout.splitlines())


def test_the_wheel_installs_into_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    """``pip install eksaddon-*.whl`` into a new venv gives a working ``eksaddon`` on its PATH.

    No network: the venv borrows the dependencies already installed here through a ``.pth`` file
    (pip would otherwise download them), and pip installs the wheel itself with ``--no-index``.
    """
    import site
    import sysconfig

    venv = tmp_path / "venv"
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
    script = venv / "bin" / "eksaddon"
    assert script.is_file()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "EKSADDON_MATRIX")
    }
    env["EKSADDON_CACHE_DIR"] = str(tmp_path / "cache")
    version = subprocess.run(
        [str(script), "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("eksaddon, version ")
    assert "  vpc-cni " in version.stdout
    where = subprocess.run(
        [str(python), "-c", "import eksaddon, version_matrix; print(eksaddon.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert where.stdout.strip().startswith(purelib)
    checked = subprocess.run(
        [str(script), "check-compat", "-k", "1.30", "--addon-version", "v1.18.3-eksbuild.3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "bundled vpc-cni.yaml" in checked.stdout
