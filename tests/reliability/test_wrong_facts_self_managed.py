"""The self-managed upgrade keeps the managed one's rules (issue #10 §1, §2, §5).

On the self-managed fault world (tests/reliability/test_self_managed_faults.py: a rendered
v1.16.4 on a real kube-apiserver): a journal is resumed only at the Kubernetes version it was
planned for; a second run for the same cluster and add-on refuses at once naming the holder; a
state directory that fills up after the first apply stops with exit 4 and the journal intact,
and a rerun finishes with each step applied once.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends

from eksaddon.engine import journal as journals
from eksaddon.engine import state
from reliability.test_self_managed_faults import (
    DAEMONSET,
    FOREVER,
    Run,
    SelfManaged,
    assert_finished,
    upgrade,
    world,
)
from reliability.world import one_error_line
from reliability_ledger import LEDGER
from standins.faultproxy import Rule
from standins.kube import kube_apiserver, kube_fresh
from standins.server import eks_server, eks_standin
from tests_support import Result

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh", "world"]


def journal_file(world: SelfManaged) -> Path:
    return journals.journal_path(world.state, region="us-west-2", cluster="prod", addon="vpc-cni")


def stop_while_applying(run: Run, world: SelfManaged) -> None:
    rule = world.proxy.add(
        Rule("PATCH", DAEMONSET, "status", times=FOREVER, status=503, body=b"{}")
    )
    result = upgrade(run, world)
    assert rule.hits >= 1 and result.code == 4, result.err
    world.proxy.clear()


def test_a_self_managed_journal_is_refused_after_the_cluster_was_upgraded(
    run: Run, world: SelfManaged
) -> None:
    stop_while_applying(run, world)
    generation = world.daemonset()["metadata"]["generation"]
    eks_backends[DEFAULT_ACCOUNT_ID]["us-west-2"].clusters["prod"].version = "1.30"
    LEDGER.fault("self-managed: cluster Kubernetes version changed", "self-managed: between runs")
    result: Result = upgrade(run, world)
    assert result.code == 2, result.err
    line = one_error_line(result.err)
    assert "was planned for Kubernetes 1.29" in line and "now runs Kubernetes 1.30" in line, line
    assert world.daemonset()["metadata"]["generation"] == generation, "nothing applied"


def test_a_second_self_managed_run_refuses_at_once(run: Run, world: SelfManaged) -> None:
    lock = journals.lock_path(journal_file(world))
    LEDGER.fault("self-managed: second run", "self-managed: while a run is under way")
    with state.run_lock(lock, what="vpc-cni on cluster prod"):
        result: Result = upgrade(run, world)
    assert result.code == 3, result.err
    line = one_error_line(result.err)
    assert f"another eksaddon run (pid {os.getpid()}) is changing vpc-cni on cluster prod" in line
    assert world.daemonset()["metadata"]["generation"] == world.generation
    assert upgrade(run, world).code == 0  # the lock went with its holder
    assert_finished(world)


def test_a_full_disk_after_the_first_apply_is_exit_4_and_resumable(run, world: SelfManaged) -> None:  # type: ignore[no-untyped-def]
    real = state.write_text_atomically
    writes = {"journal": 0}

    def write(path: Path, text: str, *, mode: int) -> None:
        if path.parent.name == "journals":
            writes["journal"] += 1
            if writes["journal"] > 4:  # created, running, sending, applied: then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, text, mode=mode)

    LEDGER.fault("self-managed: state directory full", "self-managed: after the first apply")
    with pytest.MonkeyPatch.context() as disk:
        disk.setattr(state, "write_text_atomically", write)
        result: Result = upgrade(run, world)
    assert result.code == 4, result.err
    line = one_error_line(result.err)
    assert "cannot write the state directory" in line and "No space left on device" in line
    assert "writable again" in line and "to resume" in line, line
    journal = journals.Journal.load(journal_file(world))
    assert journal is not None  # the last complete one: its seal holds
    assert upgrade(run, world).code == 0
    assert_finished(world)
