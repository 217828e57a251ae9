"""Journals and backups are owner-only (files 0600, directories 0700) whatever the umask.

Every writer of the state directory is exercised under a permissive umask (0002): the managed
upgrade (journal, backup, a stopped run, an archived journal), the self-managed upgrade (objects
backup, journal), install and migrate (backups), and the CLI end to end against the EKS stand-in.
The state directory does not exist beforehand, so its own mode (a parent of ``journals/``, created
with it) is checked too. tests/engine/test_upgrade.py checks one managed backup and journal at the
default umask; this module covers every writer and the directories.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eksaddon.engine.install import InstallOptions, install
from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.selfmanaged import upgrade_self_managed
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.upgrade import UpgradeOptions, Upgrader
from eksaddon.errors import UpgradeStoppedError
from eksaddon.matrix import Matrix
from fakes import (
    FakeClock,
    FakeEks,
    FakeKube,
    RefusingObjectWriter,
    run_migration,
    self_managed_cluster,
)
from standins.server import StandInServer, eks_server, eks_standin

__all__ = ["eks_server", "eks_standin"]


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state directory two levels below anything that exists: eksaddon creates both."""
    return tmp_path / "fresh" / "state"


def assert_private(top: Path, *, expect: Callable[[list[Path]], bool]) -> list[Path]:
    """Every directory from ``top`` down is 0700 and every file 0600; returns the files."""
    loose: list[str] = []
    files: list[Path] = []
    for directory, _, names in os.walk(top):
        mode = stat.S_IMODE(os.stat(directory).st_mode)
        if mode != 0o700:
            loose.append(f"{directory}/ {mode:o}")
        for name in names:
            path = Path(directory, name)
            files.append(path)
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode != 0o600:
                loose.append(f"{path} {mode:o}")
    assert expect(files), f"unexpected files under {top}: {files}"
    assert not loose, f"not owner-only: {loose}"
    return files


def names(files: list[Path]) -> list[str]:
    return sorted(f"{p.parent.name}/{p.name}" for p in files)


def upgrader(eks: FakeEks, bundled: Matrix, state: Path, **options: Any) -> Upgrader:
    return Upgrader(
        gateway=eks,
        matrix=bundled,
        options=UpgradeOptions(
            cluster="prod", addon="vpc-cni", poll_interval=5, timeout=60, **options
        ),
        state_directory=state,
        progress=lambda e: None,
        confirm=lambda plan: True,
        clock=FakeClock(),
    )


def test_the_self_check_catches_a_loose_file(tmp_path: Path) -> None:
    """The check can fail: a file the umask left group-writable is reported."""
    top = tmp_path / "loose"
    top.mkdir(mode=0o700)
    os.chmod(top, 0o700)
    (top / "x.json").write_text("{}")  # 0664 under umask 0002
    with pytest.raises(AssertionError, match="not owner-only"):
        assert_private(top, expect=bool)


def test_write_json_atomically_makes_every_missing_directory_private(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "journals" / "j.json"
    write_json_atomically(target, {"x": 1})
    assert_private(tmp_path / "a", expect=lambda f: len(f) == 1)
    # A directory that already exists is the user's: its mode is left alone.
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    write_json_atomically(shared / "journals" / "j.json", {"x": 1})
    assert stat.S_IMODE(shared.stat().st_mode) == 0o775
    assert_private(shared / "journals", expect=lambda f: len(f) == 1)


def test_managed_upgrade_journal_backup_stopped_and_archived(bundled: Matrix, state: Path) -> None:
    eks = FakeEks(version="v1.16.4-eksbuild.2")
    eks.fail_next_update = "Failed"
    with pytest.raises(UpgradeStoppedError):
        upgrader(eks, bundled, state).run()
    stopped = assert_private(state.parent, expect=lambda f: len(f) == 3)
    assert names(stopped) == [
        "backups/" + next(p.name for p in stopped if p.parent.name == "backups"),
        "journals/us-west-2_prod_vpc-cni.json",
        "locks/us-west-2_prod_vpc-cni.lock",
    ]
    eks.fail_next_update = None
    upgrader(eks, bundled, state).run()  # resumed: the journal is rewritten, finished
    assert_private(state.parent, expect=lambda f: len(f) == 3)
    upgrader(eks, bundled, state).run()  # nothing left to do: the finished journal is archived
    final = assert_private(state.parent, expect=lambda f: len(f) == 3)
    assert any(p.name.endswith(".finished.json") for p in final)


def test_install_backup(bundled: Matrix, state: Path) -> None:
    install(
        gateway=FakeEks(version=None),
        matrix=bundled,
        options=InstallOptions(cluster="prod", addon="vpc-cni", poll_interval=5, timeout=60),
        state_directory=state,
        progress=lambda e: None,
        confirm=lambda what: True,
        clock=FakeClock(),
    )
    files = assert_private(state.parent, expect=lambda f: len(f) == 2)  # the backup, the lock
    assert [p.parent.name for p in files] == ["backups", "locks"]


def test_migrate_backup(bundled: Matrix, state: Path) -> None:
    eks, kube = self_managed_cluster({}, nodes=("node-a",))
    run_migration(bundled, state, eks, kube)
    files = assert_private(state.parent, expect=lambda f: len(f) == 2)  # the backup, the lock
    assert files[0].name.endswith("_daemonset.json")


def test_self_managed_upgrade_objects_backup_and_journal(bundled: Matrix, state: Path) -> None:
    with pytest.raises(UpgradeStoppedError):
        upgrade_self_managed(
            gateway=FakeEks(version=None),
            writer=RefusingObjectWriter(),
            nodes=RolloutCheck(FakeKube(["node-a"], tag="v1.16.4")),
            matrix=bundled,
            options=UpgradeOptions(cluster="prod", addon="vpc-cni", poll_interval=5, timeout=60),
            state_directory=state,
            progress=lambda e: None,
            confirm=lambda plan: True,
            clock=FakeClock(),
        )
    files = assert_private(state.parent, expect=lambda f: len(f) == 3)
    assert {p.parent.name for p in files} == {"backups", "journals", "locks"}
    assert any(p.name.endswith("_objects.json") for p in files)


def test_the_cli_upgrade_against_the_stand_in(
    eks_standin: StandInServer,
    run: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    state: Path,
    tmp_path: Path,
) -> None:
    for name, value in eks_standin.env({}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EKSADDON_STATE_DIR", str(state))
    eks_standin.create_cluster("prod", "1.29")
    eks_standin.put_addon("prod", "v1.17.1-eksbuild.1")
    args = (
        "upgrade",
        "--cluster",
        "prod",
        "--yes",
        "--skip-rollout-check",
        "--poll-interval",
        "0.05",
        "--timeout",
        "20",
    )
    result = run(*args)
    assert result.code == 0, result.err
    assert_private(state.parent, expect=lambda f: len(f) == 3)  # backup, journal, lock
    result = run(*args)  # nothing left to do: the finished journal is moved aside
    assert result.code == 0, result.err
    files = assert_private(state.parent, expect=lambda f: len(f) == 3)
    assert any(p.name.endswith(".finished.json") for p in files)
