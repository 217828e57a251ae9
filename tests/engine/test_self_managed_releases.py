"""Which upstream releases a self-managed upgrade may install, decided before anything changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eksaddon.engine.rollout_check import RolloutCheck
from eksaddon.engine.selfmanaged import upgrade_self_managed
from eksaddon.engine.upgrade import UpgradeOptions
from eksaddon.errors import InputError
from eksaddon.matrix import Matrix
from fakes import FakeClock, FakeEks, FakeKube


class RecordingWriter:
    """Kubernetes for a self-managed upgrade that remembers every read and apply."""

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []
        self.read_count = 0

    def read(self, document: dict[str, Any]) -> dict[str, Any] | None:
        self.read_count += 1
        return document

    def apply(self, document: dict[str, Any], *, force: bool = True) -> dict[str, Any]:
        self.applied.append(document)
        return document


def test_upstream_s_v1_22_0_manifest_is_refused_before_any_change(
    bundled: Matrix, tmp_path: Path
) -> None:
    # The v1.22.0 tag ships the v1.21.1 manifest: applying it would never show v1.22.0 on the
    # nodes, so the step is refused while nothing has been written, backed up or journaled.
    writer = RecordingWriter()
    state = tmp_path / "state"
    with pytest.raises(
        InputError, match=r"cannot install vpc-cni v1\.22\.0: .*v1\.21\.1"
    ) as caught:
        upgrade_self_managed(
            gateway=FakeEks(version=None),
            writer=writer,
            nodes=RolloutCheck(FakeKube(["node-a"], tag="v1.21.2")),
            matrix=bundled,
            options=UpgradeOptions(
                cluster="prod", addon="vpc-cni", target="v1.22.0", poll_interval=5, timeout=60
            ),
            state_directory=state,
            progress=lambda e: None,
            confirm=lambda plan: True,
            clock=FakeClock(),
        )
    assert caught.value.hint == "choose another v1.22 release"
    assert writer.applied == []
    assert writer.read_count == 0  # refused before the backup read anything
    # Only the run's lock (locks/, released with the run) may be there: no backup, no journal.
    assert not any(p.is_file() and p.parent.name != "locks" for p in state.rglob("*"))
