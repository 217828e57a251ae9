"""Read the Kubernetes objects an add-on profile names (its workload, its settings' sources)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eksaddon.addons.base import ObjectRef, Objects
from eksaddon.errors import InputError
from eksaddon.gateways.protocols import KubernetesReader


def read_objects(kube: KubernetesReader, refs: Iterable[ObjectRef]) -> Objects:
    """Each object named, None when it is absent (a kind eksaddon does not read: InputError)."""
    readers: Mapping[str, Callable[[str, str], dict[str, Any] | None]] = {
        "DaemonSet": kube.read_daemonset,
        "Deployment": kube.read_deployment,
        "ConfigMap": kube.read_config_map,
    }
    found: dict[ObjectRef, Mapping[str, Any] | None] = {}
    for ref in dict.fromkeys(refs):
        reader = readers.get(ref.kind)
        if reader is None:
            raise InputError(f"eksaddon cannot read a {ref.kind} ({ref})")
        found[ref] = reader(ref.namespace, ref.name)
    return found
