"""kube-proxy (``kube-proxy``): the DaemonSet, its ``kube-proxy-config`` ConfigMap, their settings.

kube-proxy reads a KubeProxyConfiguration from ConfigMap kube-system/kube-proxy-config (key
``config``); it takes priority over command-line flags (aws/containers-roadmap#142). The settings
operators change there — ``mode: ipvs``, ``ipvs.scheduler``, ipvs timeouts, conntrack limits,
``iptables.masqueradeAll`` — and on the DaemonSet (extra flags such as ``--hostname-override``,
env such as HTTP_PROXY, resources) are lost when EKS rewrites the objects (../shared/domain/addons/
kube-proxy.yaml ``common_customizations_at_risk``). The add-on's configuration schema
(v1.28.8-eksbuild.5) holds ``mode``, ``ipvs.scheduler`` and ``resources`` only: those are carried
as configuration values; everything else is reported as not expressible, never dropped silently.

Only the fields whose EKS default is recorded are compared (the ConfigMap EKS ships has about
thirty; the others are not read, and docs/addons.md says so). Pure: the engine reads the objects.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import yaml

from eksaddon.addons import workload_objects as objs
from eksaddon.addons.base import (
    Carried,
    DataProfile,
    ObjectRef,
    Objects,
    Setting,
    SettingsRules,
    VersionReading,
    workload_version,
)
from eksaddon.datafiles import load_yaml_text
from eksaddon.errors import EksAddonError, InputError, InputFileError
from eksaddon.matrix.model import AddonType, Matrix, Workload, WorkloadKind
from eksaddon.versions import ImageTagRule

NAMESPACE = "kube-system"
DAEMONSET = ObjectRef(str(WorkloadKind.DAEMONSET), NAMESPACE, "kube-proxy")
CONFIG_MAP = ObjectRef("ConfigMap", NAMESPACE, "kube-proxy-config")
CONFIG_KEY = "config"
CONTAINER = "kube-proxy"
# Customization.container of the settings read from the ConfigMap (not a container: the source).
CONFIG_SOURCE = "kube-proxy-config"

# The flags EKS's DaemonSet runs kube-proxy with (S-KP-DS-DUMP; S-EKSDOC
# launch-node-bottlerocket.md): any other flag, or another value, is a customization.
DEFAULT_FLAGS: Mapping[str, str] = {"--v": "2", "--config": "/var/lib/kube-proxy-config/config"}
DEFAULT_RESOURCES: Mapping[str, Any] = {"requests": {"cpu": "100m"}}


class ConfigField(NamedTuple):
    """A KubeProxyConfiguration field eksaddon compares with EKS's default."""

    path: str  # dotted, as in the KubeProxyConfiguration
    default: Any
    form: str  # how values compare: "text", "mode", "int", "bool" or "duration"
    config_key: tuple[str, ...] | None  # where the add-on schema holds it; None: nowhere


# EKS's kube-proxy-config defaults (kube-proxy.yaml node_side_objects.configmap_kube-proxy-config)
# and the customizations at risk (common_customizations_at_risk), with the schema keys of
# kube-proxy-config-schema-v1.28.8-eksbuild.5.json. An absent field is kube-proxy's own default,
# which these equal.
FIELDS: tuple[ConfigField, ...] = (
    ConfigField("mode", "iptables", "mode", ("mode",)),
    ConfigField("ipvs.scheduler", "", "text", ("ipvs", "scheduler")),
    ConfigField("ipvs.tcpTimeout", "0s", "duration", None),
    ConfigField("ipvs.tcpFinTimeout", "0s", "duration", None),
    ConfigField("ipvs.udpTimeout", "0s", "duration", None),
    ConfigField("iptables.masqueradeAll", False, "bool", None),
    ConfigField("iptables.masqueradeBit", 14, "int", None),
    ConfigField("iptables.syncPeriod", "30s", "duration", None),
    ConfigField("conntrack.maxPerCore", 32768, "int", None),
    ConfigField("conntrack.min", 131072, "int", None),
    ConfigField("metricsBindAddress", "127.0.0.1:10249", "text", None),
    ConfigField("healthzBindAddress", "0.0.0.0:10256", "text", None),
)
_BY_PATH = {f.path: f for f in FIELDS}
_UNSET = object()
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


# -- the ConfigMap ------------------------------------------------------------------------------


def read_configuration(configmap: Mapping[str, Any] | None) -> dict[str, Any]:
    """The KubeProxyConfiguration in the ConfigMap; InputError when it cannot be read (then
    kube-proxy's settings are unknown, and eksaddon says so rather than guess them)."""
    where = str(CONFIG_MAP)
    if configmap is None:
        raise InputError(
            f"{where} is absent: kube-proxy's settings (mode, ipvs) cannot be read",
            hint=f"check `kubectl get configmap {CONFIG_MAP.name} -n {NAMESPACE}`",
        )
    text = objs.get(configmap, "data", CONFIG_KEY)
    if not isinstance(text, str):
        raise InputError(
            f"{where} has no data.{CONFIG_KEY}: kube-proxy's settings cannot be read",
            hint=f"kube-proxy reads its KubeProxyConfiguration from data.{CONFIG_KEY}",
        )
    try:
        document = load_yaml_text(text, subject=f"{where} data.{CONFIG_KEY}")
    except (yaml.YAMLError, InputFileError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{where} data.{CONFIG_KEY} is not readable YAML ({first[:120]}): kube-proxy's "
            "settings cannot be read"
        ) from None
    if not isinstance(document, dict):
        raise InputError(
            f"{where} data.{CONFIG_KEY} is not a KubeProxyConfiguration object: kube-proxy's "
            "settings cannot be read"
        )
    return document


def _field_value(configuration: Mapping[str, Any], path: str) -> Any:
    node: Any = configuration
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return _UNSET
        node = node[key]
    return node


def _normal(field: ConfigField, value: Any) -> str:
    """The value as kube-proxy reads it, as comparable text; an unreadable value stays as it is
    (so that it differs from the default, and is reported)."""
    if value is _UNSET or value is None:
        value = field.default
    if field.form == "mode" and value == "":
        value = "iptables"  # an empty mode is the Linux default, iptables
    elif field.form == "duration" and isinstance(value, str):
        value = _seconds(value)
    elif field.form == "duration" and isinstance(value, int) and value == 0:
        value = 0.0
    # canonical text keeps True apart from 1 (Python's True == 1 would hide a wrong type)
    return objs.canonical(value)


def _seconds(text: str) -> float | str:
    """A Go duration ("1m0s", "900ms", "0") in seconds; the text itself when it is not one."""
    if text in ("0", ""):
        return 0.0
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return text
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def configuration_settings(configuration: Mapping[str, Any]) -> Iterator[Setting]:
    """Each compared field whose value differs from EKS's default."""
    for field in FIELDS:
        raw = _field_value(configuration, field.path)
        if _normal(field, raw) != _normal(field, _UNSET):
            shown = "null" if raw is None else objs.canonical(raw)
            yield Setting(CONFIG_SOURCE, field.path, shown, objs.canonical(field.default), "config")


# -- the DaemonSet ------------------------------------------------------------------------------


def daemonset_settings(daemonset: Mapping[str, Any] | None) -> Iterator[Setting]:
    """Flags, env and resources of the kube-proxy container that EKS's DaemonSet does not have."""
    entry = objs.container(daemonset, CONTAINER)
    if entry is None:
        return
    for flag, value in objs.flags(objs.command_line(entry)[1:]).items():
        shown = "" if value is None else value
        if DEFAULT_FLAGS.get(flag) != shown:
            yield Setting(CONTAINER, flag, shown, DEFAULT_FLAGS.get(flag), "arg")
    for name, value in objs.env(entry).items():
        yield Setting(CONTAINER, name, value, None, "env")
    resources = entry.get("resources")
    if isinstance(resources, Mapping) and resources and dict(resources) != DEFAULT_RESOURCES:
        default = objs.canonical(DEFAULT_RESOURCES)
        yield Setting(CONTAINER, "resources", objs.canonical(resources), default, "resources")


def _daemonset_running(daemonset: Mapping[str, Any] | None) -> dict[tuple[str, str], str | None]:
    entry = objs.container(daemonset, CONTAINER)
    if entry is None:
        return {}
    running: dict[tuple[str, str], str | None] = {}
    for flag, value in objs.flags(objs.command_line(entry)[1:]).items():
        running[(CONTAINER, flag)] = "" if value is None else value
    for name, value in objs.env(entry).items():
        running[(CONTAINER, name)] = value
    if isinstance(entry.get("resources"), Mapping):
        running[(CONTAINER, "resources")] = objs.canonical(entry["resources"])
    return running


# -- configuration values -----------------------------------------------------------------------


def config_path(setting: Setting) -> tuple[str, ...] | None:
    """Where the add-on's configuration values hold ``setting``; None: no schema key does."""
    if setting.container == CONFIG_SOURCE:
        field = _BY_PATH.get(setting.name)
        return None if field is None else field.config_key
    if setting.container == CONTAINER and setting.name == "resources":
        return ("resources",)
    return None


def carry(values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
    """``values`` plus every setting a configuration key holds (values already set win)."""
    merged = copy.deepcopy(dict(values))
    carried: list[Setting] = []
    left: list[Setting] = []
    for item in settings:
        path = config_path(item)
        if path is None or item.value is None:
            left.append(item)
            continue
        # By name, not kind: a run's journal keeps a setting's container, name and value only.
        try:
            value: Any = json.loads(item.value) if path == ("resources",) else item.value
        except ValueError:
            left.append(item)
            continue
        node = merged
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(path[-1], value)
            carried.append(item)
            continue
        left.append(item)  # the values hold a non-object where the setting would go
    return Carried(merged, tuple(carried), tuple(left))


def remove(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``values`` without the named settings (``mode``, ``ipvs.scheduler``, ``resources``)."""
    document = copy.deepcopy(dict(values))
    for name in names:
        field = _BY_PATH.get(name)
        path = field.config_key if field is not None else (name,) if name == "resources" else None
        if path is None:
            continue
        node: Any = document
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
            if len(path) > 1 and not node:
                document.pop(path[0], None)
    return document


# -- the profile --------------------------------------------------------------------------------


class KubeProxySettings:
    """kube-proxy's settings in ConfigMap kube-proxy-config and on the DaemonSet."""

    def sources(self, matrix: Matrix) -> tuple[ObjectRef, ...]:
        return (DAEMONSET, CONFIG_MAP)

    def custom(self, objects: Objects, matrix: Matrix) -> tuple[Setting, ...]:
        configuration = read_configuration(objects.get(CONFIG_MAP))
        return (
            *configuration_settings(configuration),
            *daemonset_settings(objects.get(DAEMONSET)),
        )

    def running(self, objects: Objects, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        configuration = read_configuration(objects.get(CONFIG_MAP))
        running: dict[tuple[str, str], str | None] = {}
        for field in FIELDS:
            raw = _field_value(configuration, field.path)
            value = field.default if raw is _UNSET else raw
            running[(CONFIG_SOURCE, field.path)] = (
                "null" if value is None else objs.canonical(value)
            )
        running.update(_daemonset_running(objects.get(DAEMONSET)))
        return running

    def carry(self, values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
        return carry(values, settings)

    def remove(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        return remove(values, names)


def daemonset_workload() -> Workload:
    return Workload(
        kind=WorkloadKind.DAEMONSET,
        namespace=NAMESPACE,
        name=DAEMONSET.name,
        version_container=CONTAINER,
        image_tag=ImageTagRule.MINIMAL_VARIANT,
        version_image="kube-proxy",
    )


def running_version(workload: Workload, document: Mapping[str, Any] | None) -> VersionReading:
    """The add-on version the DaemonSet's image shows, or None and why (an unknown tag form
    is said, not guessed: a tag is not always an add-on build, kube-proxy.yaml ``caution``)."""
    try:
        return workload_version(workload, document)
    except EksAddonError as error:
        return VersionReading(None, error.message)


class KubeProxyProfile(DataProfile):
    """kube-proxy: a DaemonSet on every non-Fargate node, settings in kube-proxy-config."""

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return self.matrix.workloads or (daemonset_workload(),)

    @property
    def settings(self) -> SettingsRules:
        return KubeProxySettings()

    @property
    def node_side_note(self) -> str | None:
        return None

    def who_manages(self, objects: Objects) -> AddonType | None:
        return objs.ownership(objects.get(DAEMONSET), str(DAEMONSET)).addon_type
