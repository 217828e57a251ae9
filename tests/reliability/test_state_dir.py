"""The state directory can fail (issue #10 §5), through the real CLI on the fault matrix's cluster.

The pipeline rule (docs/exit-codes.md): exit 3 means nothing was changed (safe to rerun from
scratch), exit 4 means part-way (keep the state directory, rerun to resume). A directory that
cannot be written before the first change is exit 3 with nothing sent; a disk that fills up after
UpdateAddon was sent is exit 4 naming the update in flight, and the journal on disk stays the last
complete one, from which a rerun resumes without sending any step twice. ``--discard-journal``
gets past any journal, moving it aside, never deleting it.

The process runs as root in CI, so a read-only directory cannot be made with chmod: the
directory is made unusable by a file in its way (ENOTDIR), and a full disk is ENOSPC raised by
the one function every state file goes through (``state.write_text_atomically``).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from eksaddon.engine import journal as journals
from eksaddon.engine import state
from eksaddon.engine.journal import Journal
from eksaddon.errors import StateDirectoryError, UnsafeStateFileError
from reliability.test_fault_matrix import Run, upgrade, world
from reliability.test_wrong_facts import stop_after_a_failed_step
from reliability.world import ADDON, CLUSTER, PLAN, START, TARGET, World, one_error_line
from reliability_ledger import LEDGER
from standins.kube import kube_apiserver, kube_fresh
from standins.server import eks_server, eks_standin

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh", "world"]

STATE_MESSAGE = "cannot write the state directory"


def update_addon_calls(world: World) -> int:
    return world.eks_proxy.count("POST", rf"^/clusters/{CLUSTER}/addons/{ADDON}/update")


def fill_the_disk(
    monkeypatch: pytest.MonkeyPatch, *, when: Callable[[Path, int], bool]
) -> list[Path]:
    """From the first write ``when(path, journal_writes_so_far)`` picks, every state write
    fails with ENOSPC, as on a full disk. Returns the paths whose writes failed."""
    real = state.write_text_atomically
    failed: list[Path] = []
    journal_writes = [0]

    def write(path: Path, text: str, *, mode: int) -> None:
        if failed or when(path, journal_writes[0]):
            failed.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if path.parent.name == "journals":
            journal_writes[0] += 1
        real(path, text, mode=mode)

    monkeypatch.setattr(state, "write_text_atomically", write)
    return failed


def test_a_state_directory_that_cannot_be_made_is_exit_3_and_nothing_sent(
    run: Run, world: World, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state directory should go")
    LEDGER.fault("state directory unusable", "before any change")
    result = run(*world.upgrade_args(), "--state-dir", str(blocker / "state"))
    assert result.code == 3, result.err
    line = one_error_line(result.err)
    assert f"{STATE_MESSAGE} {blocker}/state/locks: Not a directory" in line, line
    assert line.endswith("free space or pass --state-dir"), line
    assert update_addon_calls(world) == 0
    assert world.addon().addon_version == START


def test_install_with_an_unusable_state_directory_creates_nothing(
    run: Run, world: World, tmp_path: Path
) -> None:
    world.eks.create_cluster("fresh", "1.29")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = run("install", "--cluster", "fresh", "--yes", "--state-dir", str(blocker / "s"))
    assert result.code == 3, result.err
    assert STATE_MESSAGE in one_error_line(result.err)
    assert world.eks.standin.count("CreateAddon") == 0


def test_a_full_disk_at_the_backup_is_exit_3_and_nothing_sent(
    run: Run, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = fill_the_disk(monkeypatch, when=lambda path, _: path.parent.name == "backups")
    LEDGER.fault("state directory full", "at the backup")
    result = upgrade(run, world)
    assert failed, "the backup was never written"
    assert result.code == 3, result.err
    line = one_error_line(result.err)
    assert f"{STATE_MESSAGE} {world.state}/backups: No space left on device" in line, line
    assert update_addon_calls(world) == 0
    assert world.journal() is None


def test_a_full_disk_at_the_new_journal_is_exit_3_and_nothing_sent(
    run: Run, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_the_disk(monkeypatch, when=lambda path, _: path.parent.name == "journals")
    LEDGER.fault("state directory full", "at the new journal")
    result = upgrade(run, world)
    assert result.code == 3, result.err
    assert STATE_MESSAGE in one_error_line(result.err)
    assert update_addon_calls(world) == 0
    assert world.journal_files() == []


def test_a_disk_filling_up_after_the_update_was_sent_is_exit_4_and_resumable(
    run: Run, world: World
) -> None:
    # Journal writes: created, running, step 1 sending; the fourth records the update id.
    # (A private patcher: undoing the test's own would undo the world's environment too.)
    with pytest.MonkeyPatch.context() as disk:
        failed = fill_the_disk(
            disk, when=lambda path, writes: path.parent.name == "journals" and writes >= 3
        )
        LEDGER.fault("state directory full", "after update_addon was sent")
        result = upgrade(run, world)
    assert failed, "the disk never filled up"
    assert result.code == 4, result.err
    line = one_error_line(result.err)
    (update,) = world.updates()
    assert f"stopped at step 1 of 2 ({START} → {PLAN[0]}, update {update.id} in flight)" in line
    assert f"{STATE_MESSAGE} {world.state}/journals: No space left on device" in line, line
    assert "once" in line and "writable again" in line and "to resume" in line, line
    # The journal on disk is the last complete one: its seal holds, step 1 is "sending".
    journal = world.journal()
    assert journal is not None and journal.steps[0]["state"] == journals.SENDING

    rerun = upgrade(run, world)  # space freed
    assert rerun.code == 0, rerun.err
    assert world.addon().addon_version == TARGET
    assert world.successful_updates() == dict.fromkeys(PLAN, 1), "no step twice"
    assert len(world.backups()) == 1


GARBAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "binary": lambda good: bytes(range(256)),
    "unknown-format": lambda good: json.dumps({**json.loads(good), "journal_version": 99}).encode(),
    "empty": lambda good: b"",
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_discard_journal_gets_past_any_journal(run: Run, world: World, kind: str) -> None:
    stop_after_a_failed_step(run, world)  # a part-way run leaves its journal
    path = journals.journal_path(world.state, region="us-west-2", cluster=CLUSTER, addon=ADDON)
    content = GARBAGE[kind](path.read_bytes())
    path.write_bytes(content)
    LEDGER.fault(f"journal {kind}", "--discard-journal")

    refused = upgrade(run, world)
    assert refused.code == 2 and "--discard-journal" in one_error_line(refused.err)

    done = run(*world.upgrade_args(), "--discard-journal")
    assert done.code == 0, done.err
    assert "previous journal moved to" in done.err
    moved = list(path.parent.glob("*.discarded.json"))
    assert len(moved) == 1 and moved[0].read_bytes() == content, "moved aside, never deleted"
    assert world.addon().addon_version == TARGET


def test_discard_journal_gets_past_a_directory_in_the_way(run: Run, world: World) -> None:
    path = journals.journal_path(world.state, region="us-west-2", cluster=CLUSTER, addon=ADDON)
    path.mkdir(parents=True)
    (path / "keep").write_text("kept")
    done = run(*world.upgrade_args(), "--discard-journal")
    assert done.code == 0, done.err
    (moved,) = path.parent.glob("*.discarded.json")
    assert (moved / "keep").read_text() == "kept"


# --- the writers themselves --------------------------------------------------------------------


def test_an_atomic_write_never_replaces_a_symlink_at_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    link = tmp_path / "backups" / "backup.json"
    link.parent.mkdir()
    link.symlink_to(victim)
    with pytest.raises(UnsafeStateFileError, match="it is a symbolic link"):
        state.write_json_atomically(link, {"x": 1})
    assert link.is_symlink() and victim.read_text() == "untouched"
    assert [p.name for p in link.parent.iterdir()] == ["backup.json"], "no temporary file left"


def test_a_fifo_is_never_read_as_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "journals" / "j.json"
    path.parent.mkdir()
    os.mkfifo(path)
    with pytest.raises(UnsafeStateFileError, match="not a regular file"):
        Journal.load(path)


def test_the_state_directory_error_names_the_directory_and_the_next_step(tmp_path: Path) -> None:
    error = StateDirectoryError(tmp_path, OSError(errno.EROFS, os.strerror(errno.EROFS)))
    assert error.exit_code == 3
    assert error.one_line() == (
        f"cannot write the state directory {tmp_path}: Read-only file system; free space or pass "
        "--state-dir"
    )


def test_a_lock_file_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    lock = tmp_path / "journals" / "x.lock"
    lock.parent.mkdir()
    lock.symlink_to(victim)
    with (
        pytest.raises(UnsafeStateFileError, match="it is a symbolic link"),
        state.run_lock(lock, what="vpc-cni on cluster prod"),
    ):
        pass  # pragma: no cover - never entered
    assert victim.read_text() == "untouched"


def test_the_lock_names_its_holder_and_goes_with_it(tmp_path: Path) -> None:
    from eksaddon.errors import RunInProgressError

    lock = tmp_path / "journals" / "x.lock"
    with state.run_lock(lock, what="vpc-cni on cluster prod"):
        assert lock.read_text() == f"{os.getpid()}\n"
        assert lock.stat().st_mode & 0o777 == 0o600
        with (
            pytest.raises(RunInProgressError) as caught,
            state.run_lock(lock, what="vpc-cni on cluster prod"),
        ):
            pass  # pragma: no cover - never entered
        assert caught.value.exit_code == 3
        assert f"another eksaddon run (pid {os.getpid()}) is changing vpc-cni" in str(caught.value)
    with state.run_lock(lock, what="vpc-cni on cluster prod"):  # released: free again
        pass
