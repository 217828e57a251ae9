"""The all-addons run the engine tests drive: cluster ``prod``, each add-on carried by the CLI's
carry (PRESERVE, no rollout check) on a fake clock, its state under the test's directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from journey_fakes import FakeCluster

from eksaddon.cli.all_addons import CarrySettings, make_carry
from eksaddon.engine.all_addons import AllAddonsResult, AllAddonsRun
from eksaddon.engine.all_addons_records import Carry
from eksaddon.engine.events import Progress
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.versions import KubernetesVersion
from fakes import FakeClock


def settings() -> CarrySettings:
    return CarrySettings(
        cluster="prod",
        resolve_conflicts="PRESERVE",
        timeout=300,
        poll_interval=5,
        force=False,
        skip_rollout_check=True,
        kubeconfig=None,
        kube_context=None,
        take_over_from_helm=False,
        matrix_override=None,
    )


def fake_carry(eks: FakeCluster, state: Path) -> Carry:
    """The CLI's carry of one add-on, against ``eks``, on a fake clock."""
    return make_carry(settings(), gateway=eks, state_directory=state, clock=FakeClock())


def run_all_addons(
    eks: FakeCluster,
    state: Path,
    select: Callable[[ClusterInfo], Any],
    progress: Progress,
    *,
    for_version: KubernetesVersion | None,
    confirm: Callable[[Sequence[Any]], bool] = lambda outcomes: True,
    confirm_changed: Callable[[Any], bool] = lambda plan: False,
    **options: Any,
) -> AllAddonsResult:
    return AllAddonsRun(
        gateway=eks,
        cluster="prod",
        for_kubernetes_version=for_version,
        select=select,
        carry=fake_carry(eks, state),
        state_directory=state,
        progress=progress,
        confirm=confirm,
        confirm_changed=confirm_changed,
        **options,
    ).run()
