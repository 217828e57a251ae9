"""Read a DaemonSet (a ``kubectl get daemonset aws-node -n kube-system -o yaml`` backup) into facts.

Pure: it takes the parsed document, never the cluster. The version comes from the image tag of the
``aws-node`` container, never the init container (the AWS procedure greps ``amazon-k8s-cni:`` for
the same reason). Customizations are the env vars and node-agent args that differ from that
version's manifest defaults, as the matrix records them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from eksaddon.errors import EksAddonError, InputFileError
from eksaddon.matrix.model import AddonType, ContainerDefaults, DaemonSetSpec, Detector, Matrix
from eksaddon.matrix.model import Customization as Customization
from eksaddon.nodeside import helm
from eksaddon.nodeside.daemonset_doc import (
    Container,
    brief,
    containers_of,
    get_in,
    image_version,
    pod_spec,
)
from eksaddon.nodeside.drift import Drift, find_drift
from eksaddon.nodeside.helm import HelmRelease
from eksaddon.nodeside.ownership import (
    LAST_APPLIED,
    NO_MANAGED_FIELDS,
    TypeEvidence,
    addon_type_of,
    managed_fields_hint,
    type_basis,
    type_signals,
)
from eksaddon.versions import AddonVersion

# Drift, TypeEvidence and the ownership names live in drift / ownership; importers take them here.
__all__ = [
    "FALLBACK_REGION",
    "LAST_APPLIED",
    "NO_MANAGED_FIELDS",
    "POD",
    "UNKNOWN",
    "Customization",
    "DetectedAddon",
    "Drift",
    "TypeEvidence",
    "detect",
    "live_values",
    "managed_fields_hint",
]

# Where a release's manifest is rendered when neither the caller nor the images name a region.
FALLBACK_REGION = "us-west-2"
UNKNOWN = "unknown"


class DetectedAddon(NamedTuple):
    version: AddonVersion
    # None: the evidence does not tell whether EKS manages it (see type_evidence).
    addon_type: AddonType | None
    type_basis: str
    images: Mapping[str, str]
    customizations: tuple[Customization, ...]
    features: tuple[str, ...]
    type_evidence: tuple[TypeEvidence, ...] = ()
    helm: HelmRelease | None = None
    drift: tuple[Drift, ...] = ()
    drift_note: str | None = None  # why drift was not looked for

    @property
    def type_name(self) -> str:
        return UNKNOWN if self.addon_type is None else str(self.addon_type)

    @property
    def has_managed_fields(self) -> bool:
        return not any(e.signal == NO_MANAGED_FIELDS for e in self.type_evidence)

    def with_type(self, addon_type: AddonType, evidence: TypeEvidence) -> DetectedAddon:
        """The same facts with the type settled by a stronger source (DescribeAddon, --type)."""
        return self._replace(
            addon_type=addon_type,
            type_basis=evidence.detail,
            type_evidence=(evidence, *self.type_evidence),
        )


def detect(
    document: Any, matrix: Matrix, *, label: str, region: str | None = None
) -> DetectedAddon:
    """Facts about the add-on from a parsed DaemonSet document; InputFileError if it is not one.

    The release's own manifest (its defaults, what drift is measured against) is rendered for
    ``region``; without one, for the region of the registry the DaemonSet pulls from, and only
    when that shows none for :data:`FALLBACK_REGION` (images are not compared for drift).
    """
    spec = matrix.daemonset
    if spec is None:
        raise InputFileError(f"the {matrix.addon} matrix has no daemonset section to read {label}")
    pod = pod_spec(document, spec, label=label)
    containers = {c.name: c for c in containers_of(pod, label=label)}
    main = containers.get(spec.version_container)
    if main is None:
        raise InputFileError(
            f"DaemonSet backup {label} has no {spec.version_container!r} container "
            f"(found: {brief(', '.join(sorted(containers)) or 'none', quote=False)})"
        )
    version = image_version(main.image, spec, label=label)
    evidence = tuple(type_signals(document, version, spec))
    addon_type = addon_type_of(evidence)
    where = region or _image_region(main.image) or FALLBACK_REGION
    release_pod = _release_pod(matrix, version, where)  # rendered once: defaults and drift both
    drift, drift_note = find_drift(pod, release_pod, version)
    return DetectedAddon(
        version=version,
        addon_type=addon_type,
        type_basis=type_basis(addon_type, evidence),
        images={name: c.image for name, c in containers.items()},
        customizations=(
            *_customizations(containers, spec, version),
            *_pod_customizations(pod, release_pod),
        ),
        features=tuple(
            name
            for name, feature in sorted(matrix.features.items())
            if any(_detects(d, containers) for d in feature.detect)
        ),
        type_evidence=evidence,
        helm=helm.read_release(document.get("metadata")),
        drift=drift,
        drift_note=drift_note,
    )


def _image_region(image: str) -> str | None:
    """The region of an ECR image's registry (``<account>.dkr.ecr.<region>.<domain>/...``)."""
    host = image.split("/", 1)[0] if "/" in image else ""
    parts = host.split(".")
    if len(parts) > 3 and parts[1:3] == ["dkr", "ecr"] and parts[3]:
        return parts[3]
    return None


def _release_pod(matrix: Matrix, version: AddonVersion, region: str) -> Mapping[str, Any] | None:
    """The pod spec of the release's own manifest; None when eksaddon cannot render it."""
    from eksaddon.nodeside.render import render

    try:
        objects = render(version.release, region, matrix=matrix)
    except EksAddonError:
        if region == FALLBACK_REGION:
            return None
        # A registry of a region eksaddon does not know: the defaults are the same anywhere.
        return _release_pod(matrix, version, FALLBACK_REGION)
    daemonset = next((o for o in objects if o.get("kind") == "DaemonSet"), None)
    pod = get_in(daemonset, "spec", "template", "spec")
    return pod if isinstance(pod, dict) else None


def _customizations(
    containers: Mapping[str, Container], spec: DaemonSetSpec, version: AddonVersion
) -> Iterator[Customization]:
    for name, container in containers.items():
        defaults = spec.containers.get(name)
        if defaults is None:
            continue
        yield from _differences(container.env, defaults, version, kind="env")
        yield from _differences(container.args, defaults, version, kind="arg")


POD = "(pod)"


def live_values(
    document: Any, spec: DaemonSetSpec, *, label: str
) -> dict[tuple[str, str], str | None]:
    """Every setting as the DaemonSet has it: (container, name) -> value, defaults included.

    What a carried setting is checked against after a step: a value that has since become the
    release's default is no customization any more, but it still runs.
    """
    pod = pod_spec(document, spec, label=label)
    values: dict[tuple[str, str], str | None] = {}
    for container in containers_of(pod, label=label):
        for name, value in (*container.env.items(), *container.args.items()):
            values[(container.name, name)] = value
    for entry in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        if entry.get("resources"):
            values[(entry["name"], "resources")] = _canonical(entry["resources"])
    for kind in ("tolerations", "affinity"):
        if pod.get(kind) is not None:
            values[(POD, kind)] = _canonical(pod[kind])
    return values


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _pod_customizations(
    pod: Mapping[str, Any], default_pod: Mapping[str, Any] | None
) -> Iterator[Customization]:
    """Resources, tolerations and affinity that differ from the release's manifest.

    The defaults come from rendering that release; a version eksaddon cannot render (unknown)
    has no known defaults, and nothing is reported for it.
    """
    if default_pod is None:
        return
    for kind in ("tolerations", "affinity"):
        live, default = pod.get(kind), default_pod.get(kind)
        if live is not None and _canonical(live) != _canonical(default):
            yield Customization(
                POD, kind, _canonical(live), None if default is None else _canonical(default), kind
            )
    defaults = {
        c["name"]: c for c in [*default_pod.get("initContainers", []), *default_pod["containers"]]
    }
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        default_container = defaults.get(container.get("name"))
        live_resources = container.get("resources")
        if default_container is None or live_resources in (None, {}):
            continue
        default_resources = default_container.get("resources")
        # What the DaemonSet adds or changes is the setting; what it lacks of the manifest's
        # resources is drift (reported apart), so the carried value keeps the manifest's.
        carried = _overlay(default_resources, live_resources)
        if _canonical(carried) != _canonical(default_resources):
            yield Customization(
                container["name"],
                "resources",
                _canonical(carried),
                None if default_resources is None else _canonical(default_resources),
                "resources",
            )


def _overlay(base: Any, top: Any) -> Any:
    """``top`` over ``base``, mappings merged key by key."""
    if not isinstance(base, dict) or not isinstance(top, dict):
        return top
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _overlay(base.get(key), value)
    return merged


def _differences(
    live: Mapping[str, str | None], defaults: ContainerDefaults, version: AddonVersion, *, kind: str
) -> Iterator[Customization]:
    settings = defaults.env if kind == "env" else defaults.args
    known = {s.name: s for s in settings if s.applies_to(version)}
    for setting_name, value in live.items():
        default = known.get(setting_name)
        if default is not None and default.value_from is not None:
            continue  # a fieldRef the manifest sets itself (MY_NODE_NAME): not a setting
        expected = None if default is None else default.default_for(version)
        if default is None or value != expected:
            yield Customization(defaults.name, setting_name, value, expected, kind)


def _detects(detector: Detector, containers: Mapping[str, Container]) -> bool:
    container = containers.get(detector.container)
    if container is None:
        return False
    values = container.env if detector.env is not None else container.args
    value = values.get(detector.setting)
    return value is not None and value.strip().lower() == detector.equals.lower()
