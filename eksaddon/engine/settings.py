"""Carry the settings that run on the nodes into a managed add-on's configuration values.

Settings changed with kubectl on the aws-node DaemonSet live outside EKS's configuration values;
an update under OVERWRITE, or a future EKS default, can drop them. eksaddon writes them into the
configuration values it sends on every step (``env`` for the aws-node container, ``init.env`` for
the init container: the keys of the add-on's configuration schema), so EKS itself keeps them, the
target version's schema checks them before anything is sent, and the rollout check can prove them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from eksaddon.nodeside.detect import Customization

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


class Carried(NamedTuple):
    values: dict[str, Any]
    carried: tuple[Customization, ...]
    not_carried: tuple[Customization, ...]


def carry(values: dict[str, Any], customizations: Iterable[Customization]) -> Carried:
    """``values`` plus every customization it can express; values already set win."""
    merged = copy.deepcopy(values)
    carried: list[Customization] = []
    left: list[Customization] = []
    for item in customizations:
        placed = _place(merged, item)
        (carried if placed else left).append(item)
    return Carried(merged, tuple(carried), tuple(left))


def _place(values: dict[str, Any], item: Customization) -> bool:
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


def drifted(
    expected: Iterable[Customization], running: Mapping[tuple[str, str], str | None]
) -> list[str]:
    """Settings that should run on the nodes but do not (or run with another value).

    ``running`` is every setting the DaemonSet has (:func:`~eksaddon.nodeside.detect.live_values`),
    defaults included: a carried value that became the new release's default still counts.
    """
    return [
        f"{c.container}/{c.name}: expected {c.value!r}, found "
        f"{running.get((c.container, c.name), 'the default')!r}"
        for c in expected
        if running.get((c.container, c.name)) != c.value
    ]
