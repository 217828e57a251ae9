"""The Amazon VPC CNI (``vpc-cni``): the aws-node DaemonSet, its env/args settings, other CNIs.

Settings changed with kubectl on the aws-node DaemonSet live outside EKS's configuration values;
an update under OVERWRITE, or a future EKS default, can drop them. They are carried into the
configuration values sent on every step (``env`` for the aws-node container, ``init.env`` for the
init container: the keys of the add-on's configuration schema), so EKS itself keeps them, the
target version's schema checks them before anything is sent, and the rollout check proves them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eksaddon.addons.base import Carried, DataProfile, ObjectRef, Objects, Setting, SettingsRules
from eksaddon.matrix.model import AddonType, DaemonSetSpec, Matrix, Workload, WorkloadKind
from eksaddon.nodeside.detect import detect, live_values
from eksaddon.versions import ImageTagRule

# DaemonSet names of CNIs that replace the VPC CNI (EKS "alternate CNI plugins").
OTHER_CNIS = {
    "cilium": "Cilium",
    "calico-node": "Calico",
    "kube-router": "kube-router",
    "weave-net": "Weave Net",
    "antrea-agent": "Antrea",
}

# container -> where its env lives in the vpc-cni configuration values
_ENV_PATHS = {"aws-node": ("env",), "aws-vpc-cni-init": ("init", "env")}
# JSON-valued settings -> their configuration key (the Helm chart's values, which EKS exposes)
_JSON_PATHS = {
    ("aws-node", "resources"): "resources",
    ("(pod)", "tolerations"): "tolerations",
    ("(pod)", "affinity"): "affinity",
}
# node-agent flags -> (configuration path, how the value is written there)
_AGENT_FLAGS = {
    "--enable-network-policy": ("enableNetworkPolicy",),
    "--enable-policy-event-logs": ("nodeAgent", "enablePolicyEventLogs"),
    "--enable-cloudwatch-logs": ("nodeAgent", "enableCloudWatchLogs"),
    "--metrics-bind-addr": ("nodeAgent", "metricsBindAddr"),
    "--health-probe-bind-addr": ("nodeAgent", "healthProbeBindAddr"),
}


def carry(values: Mapping[str, Any], customizations: Iterable[Setting]) -> Carried:
    """``values`` plus every customization it can express; values already set win."""
    merged = copy.deepcopy(dict(values))
    carried: list[Setting] = []
    left: list[Setting] = []
    for item in customizations:
        placed = _place(merged, item)
        (carried if placed else left).append(item)
    return Carried(merged, tuple(carried), tuple(left))


def _place(values: dict[str, Any], item: Setting) -> bool:
    """Write ``item`` where the configuration values hold it; False when they cannot."""
    if item.value is None or item.value.startswith("<"):
        return False  # valueFrom references have no configuration key
    if item.kind == "env" and item.container in _ENV_PATHS:
        path: tuple[str, ...] = (*_ENV_PATHS[item.container], item.name)
        value: Any = item.value
    elif (item.container, item.kind) in _JSON_PATHS:
        path, value = (_JSON_PATHS[(item.container, item.kind)],), json.loads(item.value)
    elif item.kind == "arg" and item.name in _AGENT_FLAGS:
        # Ports are written without the colon ("8162"), as the schema's integers-as-strings.
        path, value = _AGENT_FLAGS[item.name], item.value.lstrip(":")
    else:
        return False
    node = values
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], value)
    return True


def remove_env(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``values`` without the named env settings (both containers' sections)."""
    document = copy.deepcopy(dict(values))
    dropped = set(names)
    env = document.get("env")
    init = document.get("init")
    init_env = init.get("env") if isinstance(init, dict) else None
    for section in (env, init_env):
        if isinstance(section, dict):
            for name in dropped:
                section.pop(name, None)
    return document


def daemonset_workload(spec: DaemonSetSpec) -> Workload:
    """The matrix's ``daemonset`` section as the core's workload record."""
    return Workload(
        kind=WorkloadKind.DAEMONSET,
        namespace=spec.namespace,
        name=spec.name,
        version_container=spec.version_container,
        image_tag=ImageTagRule.ADDON_VERSION,
        version_image=spec.version_image,
    )


def _ref(spec: DaemonSetSpec) -> ObjectRef:
    return ObjectRef(str(WorkloadKind.DAEMONSET), spec.namespace, spec.name)


class VpcCniSettings:
    """aws-node's env vars, args, resources and pod settings that differ from the release."""

    def sources(self, matrix: Matrix) -> tuple[ObjectRef, ...]:
        return () if matrix.daemonset is None else (_ref(matrix.daemonset),)

    def custom(self, objects: Objects, matrix: Matrix) -> tuple[Setting, ...]:
        if matrix.daemonset is None:
            return ()
        document = objects.get(_ref(matrix.daemonset))
        if document is None:
            return ()
        return detect(document, matrix, label=str(_ref(matrix.daemonset))).customizations

    def running(self, objects: Objects, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        if matrix.daemonset is None:
            return {}
        document = objects.get(_ref(matrix.daemonset))
        if document is None:
            return {}
        return live_values(document, matrix.daemonset, label=str(_ref(matrix.daemonset)))

    def carry(self, values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
        return carry(values, settings)

    def remove(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        return remove_env(values, names)


class VpcCniProfile(DataProfile):
    """vpc-cni: its matrix's ``daemonset`` section is the one workload; bundled manifests."""

    renders_manifests = True

    @property
    def workloads(self) -> tuple[Workload, ...]:
        spec = self.matrix.daemonset
        return self.matrix.workloads if spec is None else (daemonset_workload(spec),)

    @property
    def settings(self) -> SettingsRules:
        return VpcCniSettings()

    @property
    def node_side_note(self) -> str | None:
        return None

    def who_manages(self, objects: Objects) -> AddonType | None:
        spec = self.matrix.daemonset
        document = None if spec is None else objects.get(_ref(spec))
        if spec is None or document is None:
            return None
        return detect(document, self.matrix, label=str(_ref(spec))).addon_type

    def replaced_by(self, daemonsets: Sequence[Mapping[str, Any]]) -> str | None:
        return ", ".join(other_cnis(daemonsets)) or None

    def refuse_change(
        self,
        workload: Mapping[str, Any] | None,
        daemonsets: Sequence[Mapping[str, Any]],
        *,
        cluster: str,
    ) -> str | None:
        """The VPC CNI must actually carry the pods' network: absent, or scheduled on no node
        while another CNI runs, means there is nothing to upgrade."""
        others = other_cnis(daemonsets)
        status = (workload or {}).get("status")
        scheduled = status.get("desiredNumberScheduled", 1) if isinstance(status, Mapping) else 1
        if workload is not None and not (scheduled == 0 and others):
            return None
        replaced = f"; {', '.join(others)} runs instead" if others else ""
        where = "is absent" if workload is None else "runs on no node"
        name = self.workloads[0].name if self.workloads else self.name
        return f"the {name} DaemonSet {where} on cluster {cluster}{replaced}"


def other_cnis(daemonsets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The other CNIs the cluster's DaemonSets show, by their display names."""
    names = set()
    for document in daemonsets:
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if isinstance(name, str) and name in OTHER_CNIS:
            names.add(OTHER_CNIS[name])
    return sorted(names)
