"""Carry the settings that run on the nodes into a managed add-on's configuration values.

Settings changed with kubectl on the aws-node DaemonSet live outside EKS's configuration values;
an update under OVERWRITE, or a future EKS default, can drop them. eksaddon writes them into the
configuration values it sends on every step (``env`` for the aws-node container, ``init.env`` for
the init container: the keys of the add-on's configuration schema), so EKS itself keeps them, the
target version's schema checks them before anything is sent, and the rollout check can prove them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NamedTuple

from eksaddon.nodeside.detect import Customization

# container -> where its env lives in the vpc-cni configuration values
_ENV_PATHS = {"aws-node": ("env",), "aws-vpc-cni-init": ("init", "env")}


class Carried(NamedTuple):
    values: dict[str, Any]
    carried: tuple[Customization, ...]
    not_carried: tuple[Customization, ...]


def carry(values: dict[str, Any], customizations: Iterable[Customization]) -> Carried:
    """``values`` plus every env customization it can express; values already set win."""
    merged = copy.deepcopy(values)
    carried, left = [], []
    for item in customizations:
        path = _ENV_PATHS.get(item.container)
        if item.kind != "env" or path is None or item.value is None or item.value.startswith("<"):
            left.append(item)  # args and valueFrom references have no configuration key
            continue
        node = merged
        for key in path:
            node = node.setdefault(key, {})
        node.setdefault(item.name, item.value)
        carried.append(item)
    return Carried(merged, tuple(carried), tuple(left))


def drifted(expected: Iterable[Customization], live: Iterable[Customization]) -> list[str]:
    """Settings that should run on the nodes but do not (or run with another value)."""
    running = {(c.container, c.name): c.value for c in live}
    return [
        f"{c.container}/{c.name}: expected {c.value!r}, found "
        f"{running.get((c.container, c.name), 'the default')!r}"
        for c in expected
        if running.get((c.container, c.name)) != c.value
    ]
