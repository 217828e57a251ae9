"""The node-side hook for a profile: one hook per kind of workload, chosen by the data.

The core never asks which add-on it is: a profile's main workload says what rolls out on the
nodes (a DaemonSet on every node, a Deployment's replicas), and this table says which hook checks
that kind. A workload kind without a hook, or an add-on with no workload, gets
:class:`~eksaddon.addons.base.NoNodeSide` with a line saying what is not checked. The profile's
other workloads (EBS CSI: the controller Deployment, then the node DaemonSet) are checked for
their rollout after each step too, by :class:`AlsoRollingOut`; settings stay the main hook's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from eksaddon.addons.base import (
    AddonProfile,
    NodeSideHook,
    NoNodeSide,
    Setting,
    StepView,
    main_workload,
)
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.matrix.model import Matrix, Workload, WorkloadKind
from eksaddon.planner import Step

HookFactory = Callable[[Any, AddonProfile], NodeSideHook]


def _daemonset_hook(kube: Any, profile: AddonProfile) -> NodeSideHook:
    from eksaddon.engine.rollout_check import RolloutCheck

    return RolloutCheck(kube, profile)


def _deployment_hook(kube: Any, profile: AddonProfile) -> NodeSideHook:
    from eksaddon.engine.deployment_rollout import DeploymentRolloutCheck

    return DeploymentRolloutCheck.for_profile(kube, profile)


def _other_daemonset(kube: Any, profile: AddonProfile, workload: Workload) -> NodeSideHook:
    from eksaddon.engine.rollout_check import RolloutCheck

    return RolloutCheck(kube, profile, workload=workload)


def _other_deployment(kube: Any, profile: AddonProfile, workload: Workload) -> NodeSideHook:
    from eksaddon.engine.deployment_rollout import DeploymentRolloutCheck

    return DeploymentRolloutCheck(kube, workload)


# Workload kind -> the hook that proves the rollout of a profile's other workloads.
OTHER_WORKLOAD_HOOKS: dict[WorkloadKind, Callable[[Any, AddonProfile, Workload], NodeSideHook]] = {
    WorkloadKind.DAEMONSET: _other_daemonset,
    WorkloadKind.DEPLOYMENT: _other_deployment,
}


class AlsoRollingOut:
    """The main workload's hook, and after each step the rollout of the profile's others.

    Before any change each must be on the cluster (the add-on runs them all); the settings read,
    carried and proved are the main hook's alone.
    """

    def __init__(self, main: NodeSideHook, others: Sequence[NodeSideHook]) -> None:
        self.main = main
        self.others = tuple(others)

    @property
    def notice(self) -> str | None:
        notes = [self.main.notice, *(o.notice for o in self.others)]
        unique = [n for i, n in enumerate(notes) if n and n not in notes[:i]]
        return "; ".join(unique) or None

    def check_target(self, cluster: ClusterInfo) -> None:
        for hook in (self.main, *self.others):
            hook.check_target(cluster)

    def customizations(self, matrix: Matrix) -> tuple[Setting, ...]:
        return self.main.customizations(matrix)

    def expect(self, matrix: Matrix, settings: Iterable[Setting]) -> None:
        self.main.expect(matrix, settings)

    def after_step(self, ctx: StepView, step: Step) -> None:
        for hook in (self.main, *self.others):
            hook.after_step(ctx, step)


# Workload kind -> the hook that proves its rollout.
HOOKS: dict[WorkloadKind, HookFactory] = {
    WorkloadKind.DAEMONSET: _daemonset_hook,
    WorkloadKind.DEPLOYMENT: _deployment_hook,
}


def needs_kubernetes(profile: AddonProfile) -> bool:
    """Whether the profile's node-side check reads the cluster (a kubeconfig is needed)."""
    workload = main_workload(profile)
    return workload is not None and workload.kind in HOOKS


def hook_for(profile: AddonProfile, kube: Any) -> NodeSideHook:
    """The hook that checks ``profile``'s main workload through ``kube``."""
    workload = main_workload(profile)
    if workload is None:
        return NoNodeSide(profile.node_side_note)
    factory = HOOKS.get(workload.kind)
    if factory is None:
        return NoNodeSide(
            f"eksaddon has no rollout check for a {workload.kind} yet: the {workload.kind} "
            f"{workload.namespace}/{workload.name} of {profile.name} is not checked on the "
            "cluster (EKS's ACTIVE is trusted alone)"
        )
    main = factory(kube, profile)
    others = [
        OTHER_WORKLOAD_HOOKS[w.kind](kube, profile, w)
        for w in profile.workloads[1:]
        if w.kind in OTHER_WORKLOAD_HOOKS
    ]
    return AlsoRollingOut(main, others) if others else main
