"""The node-side hook for a profile: one hook per kind of workload, chosen by the data.

The core never asks which add-on it is: a profile's main workload says what rolls out on the
nodes (a DaemonSet on every node, a Deployment's replicas), and this table says which hook checks
that kind. A workload kind without a hook, or an add-on with no workload, gets
:class:`~eksaddon.addons.base.NoNodeSide` with a line saying what is not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eksaddon.addons.base import AddonProfile, NodeSideHook, NoNodeSide, main_workload
from eksaddon.matrix.model import WorkloadKind

HookFactory = Callable[[Any, AddonProfile], NodeSideHook]


def _daemonset_hook(kube: Any, profile: AddonProfile) -> NodeSideHook:
    from eksaddon.engine.rollout_check import RolloutCheck

    return RolloutCheck(kube, profile)


def _deployment_hook(kube: Any, profile: AddonProfile) -> NodeSideHook:
    from eksaddon.engine.deployment_rollout import DeploymentRolloutCheck

    return DeploymentRolloutCheck.for_profile(kube, profile)


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
    return factory(kube, profile)
