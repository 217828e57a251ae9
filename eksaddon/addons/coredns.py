"""CoreDNS (``coredns``): the Deployment, its ``coredns`` ConfigMap's Corefile, the replica count.

The settings at risk (../shared/domain/addons/coredns.yaml ``common_customizations_at_risk``):
Corefile edits (stub domains, extra server blocks forwarding to corporate resolvers, ``hosts``,
``rewrite``) that an EKS update overwrote (aws/containers-roadmap#1597, eksctl-io/eksctl#1098),
the replica count, resources and nodeSelector. The add-on schema (v1.10.1-eksbuild.11) holds the
whole Corefile as ``corefile`` and the count as ``replicaCount``: an edited Corefile is carried
whole, comments included, so nothing of it is lost; the edits are listed for the operator.

The Corefile is compared with EKS's default as eksctl's 1.30 asset and the EKS user guide show it
(S-EKSCTL coredns-1.30.json @04abf5827; S-EKSDOC managing-coredns.md). A Corefile eksaddon cannot
read is said to be one, and carried whole (the running text is never a loss). Pure.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from eksaddon.addons import corefile as cf
from eksaddon.addons import workload_objects as objs
from eksaddon.addons.base import (
    Carried,
    DataProfile,
    ObjectRef,
    Objects,
    Setting,
    SettingsRules,
)
from eksaddon.errors import InputError
from eksaddon.matrix.model import AddonType, Matrix, Workload, WorkloadKind
from eksaddon.versions import ImageTagRule

NAMESPACE = "kube-system"
DEPLOYMENT = ObjectRef(str(WorkloadKind.DEPLOYMENT), NAMESPACE, "coredns")
CONFIG_MAP = ObjectRef("ConfigMap", NAMESPACE, "coredns")
COREFILE_KEY = "Corefile"
CONTAINER = "coredns"
# Customization.container of the Corefile (the ConfigMap it lives in).
CONFIG_SOURCE = "coredns-configmap"

DEFAULT_COREFILE = """.:53 {
    errors
    health {
        lameduck 5s
      }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
"""
DEFAULT_BLOCKS = cf.parse(DEFAULT_COREFILE)
MAIN_BLOCK = (".:53",)
# EKS deploys two replicas regardless of node count (S-EKSDOC managing-coredns.md).
DEFAULT_REPLICAS = 2
DEFAULT_RESOURCES: Mapping[str, Any] = {
    "limits": {"memory": "170Mi"},
    "requests": {"cpu": "100m", "memory": "70Mi"},
}
# setting name -> its configuration key (coredns-config-schema-v1.10.1-eksbuild.11.json)
CONFIG_KEYS = {
    COREFILE_KEY: "corefile",
    "replicas": "replicaCount",
    "resources": "resources",
    "nodeSelector": "nodeSelector",
}


class CorefileReading(NamedTuple):
    """The Corefile as found: its text, its edits, or why it could not be read."""

    text: str
    edits: tuple[cf.CorefileEdit, ...]
    unreadable: str | None = None  # why the text could not be read (then edits are unknown)

    @property
    def custom(self) -> bool:
        return self.unreadable is not None or bool(self.edits)

    def describe(self) -> list[str]:
        if self.unreadable is not None:
            return [f"the Corefile cannot be read ({self.unreadable}): it is carried whole"]
        return [edit.describe() for edit in self.edits]


def read_corefile(configmap: Mapping[str, Any] | None) -> CorefileReading:
    """The ``coredns`` ConfigMap's Corefile compared with EKS's default.

    InputError when there is no Corefile to read at all: CoreDNS's settings are then unknown.
    """
    if configmap is None:
        raise InputError(
            f"{CONFIG_MAP} is absent: CoreDNS's Corefile cannot be read",
            hint=f"check `kubectl get configmap {CONFIG_MAP.name} -n {NAMESPACE}`",
        )
    text = objs.get(configmap, "data", COREFILE_KEY)
    if not isinstance(text, str):
        raise InputError(
            f"{CONFIG_MAP} has no data.{COREFILE_KEY}: CoreDNS's Corefile cannot be read"
        )
    try:
        blocks = cf.parse(text)
    except cf.CorefileError as error:
        return CorefileReading(text, (), error.message)
    return CorefileReading(text, cf.edits(blocks, DEFAULT_BLOCKS))


def corefile_warnings(reading: CorefileReading) -> list[str]:
    """What in a custom Corefile an EKS build is known to break on."""
    if reading.unreadable is not None or not reading.edits:
        return []
    blocks = cf.parse(reading.text)
    if cf.has_plugin(blocks, MAIN_BLOCK, "ready"):
        return []
    # S-EKSDOC managing-coredns.md (a6d2dad3, 2023-09-22)
    return [
        "the Corefile's .:53 block has no `ready` plugin: from v1.9.3-eksbuild.3 and "
        "v1.10.1-eksbuild.6 on, the readiness probe asks /ready, and the pods never get ready"
    ]


def replicas(deployment: Mapping[str, Any] | None) -> int | None:
    """The Deployment's replica count; None when absent or not an integer."""
    value = objs.get(deployment, "spec", "replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def deployment_settings(deployment: Mapping[str, Any] | None) -> Iterator[Setting]:
    """The replica count, resources and nodeSelector where they differ from EKS's Deployment."""
    if deployment is None:
        return
    raw = objs.get(deployment, "spec", "replicas")
    count = replicas(deployment)
    if raw is not None and count is None:
        raise InputError(
            f"{DEPLOYMENT} has spec.replicas {objs.canonical(raw)[:40]}, not a number: "
            "CoreDNS's replica count cannot be read"
        )
    if count is not None and count != DEFAULT_REPLICAS:
        yield Setting(CONTAINER, "replicas", str(count), str(DEFAULT_REPLICAS), "replicas")
    entry = objs.container(deployment, CONTAINER)
    resources = entry.get("resources") if entry is not None else None
    if isinstance(resources, Mapping) and resources and dict(resources) != DEFAULT_RESOURCES:
        default = objs.canonical(DEFAULT_RESOURCES)
        yield Setting(CONTAINER, "resources", objs.canonical(resources), default, "resources")
    selector = objs.get(objs.pod_spec(deployment), "nodeSelector")
    if isinstance(selector, Mapping) and selector:
        yield Setting(CONTAINER, "nodeSelector", objs.canonical(selector), None, "nodeSelector")


def corefile_setting(reading: CorefileReading) -> Setting | None:
    """The Corefile as one setting to carry (its whole text), when it is edited or unreadable."""
    if not reading.custom:
        return None
    default = None if reading.unreadable is not None else DEFAULT_COREFILE
    return Setting(CONFIG_SOURCE, COREFILE_KEY, reading.text, default, "corefile")


def carry(values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
    """``values`` plus every setting a configuration key holds (values already set win)."""
    merged = copy.deepcopy(dict(values))
    carried: list[Setting] = []
    left: list[Setting] = []
    for item in settings:
        key = CONFIG_KEYS.get(item.name) if item.container in (CONTAINER, CONFIG_SOURCE) else None
        if key is None or item.value is None:
            left.append(item)
            continue
        # By name, not kind: a run's journal keeps a setting's container, name and value only.
        try:
            value: Any = _config_value(item.name, item.value)
        except ValueError:  # not a number / not JSON: no configuration value can hold it
            left.append(item)
            continue
        merged.setdefault(key, value)
        carried.append(item)
    return Carried(merged, tuple(carried), tuple(left))


def _config_value(name: str, text: str) -> Any:
    if name == "replicas":
        return int(text)
    if name in ("resources", "nodeSelector"):
        return json.loads(text)
    return text


def remove(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    document = copy.deepcopy(dict(values))
    for name in names:
        key = CONFIG_KEYS.get(name)
        if key is not None:
            document.pop(key, None)
    return document


class CoreDnsSettings:
    """CoreDNS's Corefile (ConfigMap coredns) and Deployment settings."""

    def sources(self, matrix: Matrix) -> tuple[ObjectRef, ...]:
        return (DEPLOYMENT, CONFIG_MAP)

    def custom(self, objects: Objects, matrix: Matrix) -> tuple[Setting, ...]:
        found = corefile_setting(read_corefile(objects.get(CONFIG_MAP)))
        return (
            *(() if found is None else (found,)),
            *deployment_settings(objects.get(DEPLOYMENT)),
        )

    def running(self, objects: Objects, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        deployment = objects.get(DEPLOYMENT)
        running: dict[tuple[str, str], str | None] = {
            (CONFIG_SOURCE, COREFILE_KEY): read_corefile(objects.get(CONFIG_MAP)).text,
        }
        count = replicas(deployment)
        if count is not None:
            running[(CONTAINER, "replicas")] = str(count)
        entry = objs.container(deployment, CONTAINER)
        if entry is not None and isinstance(entry.get("resources"), Mapping):
            running[(CONTAINER, "resources")] = objs.canonical(entry["resources"])
        selector = objs.get(objs.pod_spec(deployment), "nodeSelector")
        if isinstance(selector, Mapping):
            running[(CONTAINER, "nodeSelector")] = objs.canonical(selector)
        return running

    def carry(self, values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
        return carry(values, settings)

    def remove(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        return remove(values, names)

    def describe(self, objects: Objects) -> list[str]:
        """The Corefile's edits (each a line), then what a build is known to break on."""
        reading = read_corefile(objects.get(CONFIG_MAP))
        lines = [f"Corefile: {line}" for line in reading.describe()]
        return [*lines, *(f"warning: {w}" for w in corefile_warnings(reading))]


def deployment_workload() -> Workload:
    return Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace=NAMESPACE,
        name=DEPLOYMENT.name,
        version_container=CONTAINER,
        image_tag=ImageTagRule.ADDON_VERSION,
        version_image="eks/coredns",
    )


class CoreDnsProfile(DataProfile):
    """CoreDNS: a Deployment (two replicas by default), its Corefile in ConfigMap coredns."""

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return self.matrix.workloads or (deployment_workload(),)

    @property
    def settings(self) -> SettingsRules:
        return CoreDnsSettings()

    @property
    def node_side_note(self) -> str | None:
        return None

    def who_manages(self, objects: Objects) -> AddonType | None:
        return objs.ownership(objects.get(DEPLOYMENT), str(DEPLOYMENT)).addon_type
