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
from eksaddon.nodeside.helm import HelmRelease
from eksaddon.versions import AddonVersion

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Where a release's manifest is rendered when neither the caller nor the images name a region.
FALLBACK_REGION = "us-west-2"
UNKNOWN = "unknown"


class TypeEvidence(NamedTuple):
    """One signal of who manages the DaemonSet; ``points_to`` None: it tells neither way."""

    signal: str
    points_to: AddonType | None
    detail: str


class Drift(NamedTuple):
    """Something the release's manifest has that the DaemonSet lacks (not a customization)."""

    container: str
    kind: str  # "container", "env", "arg" or "resources"
    name: str
    expected: str | None

    def describe(self) -> str:
        if self.kind == "container":
            return f"container {self.name} is absent"
        if self.kind == "resources":
            return f"{self.container} lacks resources {self.name} ({self.expected})"
        what = "env var" if self.kind == "env" else "arg"
        value = "" if self.expected is None else f" (the manifest sets {self.expected!r})"
        return f"{self.container} lacks {what} {self.name}{value}"


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


class _Container(NamedTuple):
    name: str
    image: str
    env: Mapping[str, str | None]
    args: Mapping[str, str | None]


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
    pod = _pod_spec(document, spec, label=label)
    containers = {c.name: c for c in _containers(pod, label=label)}
    main = containers.get(spec.version_container)
    if main is None:
        raise InputFileError(
            f"DaemonSet backup {label} has no {spec.version_container!r} container "
            f"(found: {_shown(', '.join(sorted(containers)) or 'none', quote=False)})"
        )
    version = _image_version(main.image, spec, label=label)
    evidence = tuple(_type_evidence(document, version, spec))
    addon_type = _addon_type(evidence)
    where = region or _image_region(main.image) or FALLBACK_REGION
    release_pod = _release_pod(matrix, version, where)  # rendered once: defaults and drift both
    drift, drift_note = _drift(pod, release_pod, version)
    return DetectedAddon(
        version=version,
        addon_type=addon_type,
        type_basis=_type_basis(addon_type, evidence),
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


def _shown(value: object, *, quote: bool = True, limit: int = 80) -> str:
    """A value from the backup as it goes into a one-line message: escaped and shortened.

    A hostile or broken backup may hold megabytes or control characters where a name belongs.
    """
    text = str(value)
    if quote or not text.isprintable():
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pod_spec(document: Any, spec: DaemonSetSpec, *, label: str) -> Mapping[str, Any]:
    if not isinstance(document, dict):
        found = "a list" if isinstance(document, list) else f"a {type(document).__name__}"
        raise InputFileError(f"DaemonSet backup {label} holds {found}, not a DaemonSet object")
    kind = document.get("kind")
    if kind != "DaemonSet":
        shown = (
            f"a {_shown(kind, quote=False)}"
            if isinstance(kind, str) and kind
            else "an object with no kind"
        )
        raise InputFileError(
            f"DaemonSet backup {label} is {shown}, not a DaemonSet",
            hint=f"save it with `kubectl get daemonset {spec.name} -n {spec.namespace} -o yaml`",
        )
    name = _get(document, "metadata", "name")
    if name != spec.name:
        raise InputFileError(
            f"DaemonSet backup {label} is DaemonSet {_shown(name)}, not {spec.name!r}",
            hint=f"save it with `kubectl get daemonset {spec.name} -n {spec.namespace} -o yaml`",
        )
    pod = _get(document, "spec", "template", "spec")
    if not isinstance(pod, dict):
        raise InputFileError(f"DaemonSet backup {label} has no spec.template.spec (truncated?)")
    return pod


def _get(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _containers(pod: Mapping[str, Any], *, label: str) -> Iterator[_Container]:
    for field in ("initContainers", "containers"):
        entries = pod.get(field) or []
        if not isinstance(entries, list):
            raise InputFileError(
                f"DaemonSet backup {label}: spec.template.spec.{field} is not a list"
            )
        for index, entry in enumerate(entries):
            where = f"spec.template.spec.{field}[{index}]"
            yield _container(entry, where=where, label=label)


def _container(entry: Any, *, where: str, label: str) -> _Container:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InputFileError(f"DaemonSet backup {label}: {where} is not a container with a name")
    image = entry.get("image")
    if not isinstance(image, str) or not image:
        raise InputFileError(
            f"DaemonSet backup {label}: {where} ({_shown(entry['name'], quote=False)}) has no image"
        )
    return _Container(
        name=entry["name"],
        image=image,
        env=_env(entry.get("env"), where=where, label=label),
        args=_args(entry.get("args"), where=where, label=label),
    )


def _env(entries: Any, *, where: str, label: str) -> dict[str, str | None]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise InputFileError(f"DaemonSet backup {label}: {where}.env is not a list")
    env: dict[str, str | None] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputFileError(f"DaemonSet backup {label}: {where}.env has an entry with no name")
        env[entry["name"]] = _env_value(entry)
    return env


def _env_value(entry: Mapping[str, Any]) -> str | None:
    if "valueFrom" in entry:
        # Never read through a reference (a secretKeyRef names a secret; its value is not ours to
        # print): describe the reference instead.
        source = entry["valueFrom"]
        if isinstance(source, dict) and source:
            kind, ref = next(iter(source.items()))
            detail = ref.get("fieldPath") or ref.get("key") if isinstance(ref, dict) else None
            return f"<{kind}{':' + str(detail) if detail else ''}>"
        return "<valueFrom>"
    value = entry.get("value")
    return None if value is None else str(value)


def _args(entries: Any, *, where: str, label: str) -> dict[str, str | None]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise InputFileError(f"DaemonSet backup {label}: {where}.args is not a list")
    args: dict[str, str | None] = {}
    for entry in entries:
        text = str(entry)
        name, sep, value = text.partition("=")
        args[name] = value if sep else None
    return args


def _image_version(image: str, spec: DaemonSetSpec, *, label: str) -> AddonVersion:
    reference = image.split("@", 1)[0]
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        raise InputFileError(
            f"DaemonSet backup {label}: {spec.version_container} image {_shown(image)} "
            "has no version tag"
        )
    if not repository.endswith(spec.version_image):
        raise InputFileError(
            f"DaemonSet backup {label}: {spec.version_container} image {_shown(image)} is not "
            f"{spec.version_image}; is another CNI installed?"
        )
    try:
        return AddonVersion.parse(tag)
    except EksAddonError:
        raise InputFileError(
            f"DaemonSet backup {label}: {spec.version_container} image tag {_shown(tag)} is not a "
            "version (vX.Y.Z or vX.Y.Z-eksbuild.N)"
        ) from None


NO_MANAGED_FIELDS = "no-managed-fields"
_SHOW_MANAGED_FIELDS = "kubectl get daemonset {name} -n {namespace} -o yaml --show-managed-fields"


def managed_fields_hint(spec: DaemonSetSpec) -> str:
    """How to take a backup that shows who manages the DaemonSet."""
    return _SHOW_MANAGED_FIELDS.format(name=spec.name, namespace=spec.namespace)


def _type_evidence(
    document: Any, version: AddonVersion, spec: DaemonSetSpec
) -> Iterator[TypeEvidence]:
    """Every signal of who manages the DaemonSet that the backup holds, strongest first."""
    metadata = document.get("metadata")
    managers = _managers(document)
    eks = spec.managed_field_manager
    if managers is None:
        yield TypeEvidence(
            NO_MANAGED_FIELDS,
            None,
            "the backup has no metadata.managedFields (kubectl hides them), so EKS's field "
            f"manager {eks!r} cannot be seen; take the backup with "
            f"`{managed_fields_hint(spec)}`",
        )
    elif eks in managers:
        yield TypeEvidence(
            "eks-field-manager", AddonType.MANAGED, f"metadata.managedFields has manager {eks!r}"
        )
    else:
        yield TypeEvidence(
            "other-field-managers",
            AddonType.SELF_MANAGED,
            f"metadata.managedFields has no manager {eks!r} "
            f"(managers: {_shown(', '.join(sorted(managers)) or 'none', quote=False)})",
        )
    notes = helm.annotations_of(metadata)
    release = helm.read_release(metadata)
    if release is not None:
        yield TypeEvidence(
            "helm-release",
            AddonType.SELF_MANAGED,
            f"annotation {helm.RELEASE_NAME}={release.name}: installed by Helm "
            f"({helm.describe(release)})",
        )
    if LAST_APPLIED in notes:
        yield TypeEvidence(
            "kubectl-last-applied",
            AddonType.SELF_MANAGED,
            f"annotation {LAST_APPLIED}: applied with `kubectl apply`",
        )
    chart = helm.chart_labels(metadata)
    if chart and release is None:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(chart.items()))
        yield TypeEvidence(
            "preinstalled-chart-labels",
            AddonType.SELF_MANAGED,
            f"labels {shown} without Helm's meta.helm.sh annotations: the CNI EKS pre-installs "
            "on a new cluster",
        )
    if version.is_eksbuild:
        yield TypeEvidence(
            "eksbuild-image-tag",
            None,
            f"image tag {version} is an EKS build, which tells nothing: EKS pre-installs the "
            "self-managed CNI with EKS build tags too",
        )
    else:
        yield TypeEvidence(
            "plain-release-image-tag",
            AddonType.SELF_MANAGED,
            f"image tag {version} is a plain release; EKS add-on builds run vX.Y.Z-eksbuild.N "
            "images",
        )


def _addon_type(evidence: tuple[TypeEvidence, ...]) -> AddonType | None:
    """EKS's field manager decides; without it any other owner's mark; else unknown."""
    pointed = {e.points_to for e in evidence}
    if AddonType.MANAGED in pointed:
        return AddonType.MANAGED
    if AddonType.SELF_MANAGED in pointed:
        return AddonType.SELF_MANAGED
    return None


def _type_basis(addon_type: AddonType | None, evidence: tuple[TypeEvidence, ...]) -> str:
    used = [e.detail for e in evidence if e.points_to is addon_type] if addon_type else []
    return "; ".join(used or [e.detail for e in evidence])


def _managers(document: Any) -> set[str] | None:
    """The field managers of the DaemonSet; None when the backup has no managedFields."""
    fields = _get(document, "metadata", "managedFields")
    if not isinstance(fields, list) or not fields:
        return None
    return {
        f["manager"] for f in fields if isinstance(f, dict) and isinstance(f.get("manager"), str)
    }


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
    pod = _get(daemonset, "spec", "template", "spec")
    return pod if isinstance(pod, dict) else None


def _drift(
    pod: Mapping[str, Any], default_pod: Mapping[str, Any] | None, version: AddonVersion
) -> tuple[tuple[Drift, ...], str | None]:
    """What the release's manifest has that the DaemonSet lacks: containers, env vars, args,
    resources. A DaemonSet may add or change settings (customizations); what it lacks is drift."""
    if default_pod is None:
        return (), f"eksaddon has no manifest of {version.release} to compare with"
    live = {
        c.get("name"): c
        for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
        if isinstance(c, dict)
    }
    found: list[Drift] = []
    for expected in [*default_pod.get("initContainers", []), *default_pod.get("containers", [])]:
        name = expected["name"]
        container = live.get(name)
        if container is None:
            found.append(Drift(name, "container", name, None))
            continue
        found += _missing_settings(name, container, expected)
        found += _missing_resources(name, container.get("resources"), expected.get("resources"))
    return tuple(found), None


def _missing_settings(
    name: str, container: Mapping[str, Any], expected: Mapping[str, Any]
) -> Iterator[Drift]:
    env = container.get("env")
    env = env if isinstance(env, list) else []
    present = {e.get("name") for e in env if isinstance(e, dict)}
    for entry in expected.get("env") or []:
        if entry["name"] not in present:
            yield Drift(name, "env", entry["name"], _env_value(entry))
    args = container.get("args")
    args = args if isinstance(args, list) else []
    flags = {str(a).partition("=")[0] for a in args}
    for arg in expected.get("args") or []:
        flag, sep, value = str(arg).partition("=")
        if flag not in flags:
            yield Drift(name, "arg", flag, value if sep else None)


def _missing_resources(name: str, live: Any, expected: Any, path: str = "") -> Iterator[Drift]:
    """Each leaf of the manifest's resources (requests.cpu, ...) the container does not set."""
    if not isinstance(expected, dict):
        return
    for key, value in expected.items():
        where = f"{path}.{key}" if path else str(key)
        have = live.get(key) if isinstance(live, dict) else None
        if isinstance(value, dict):
            yield from _missing_resources(name, have, value, where)
        elif have is None:
            yield Drift(name, "resources", where, str(value))


def _customizations(
    containers: Mapping[str, _Container], spec: DaemonSetSpec, version: AddonVersion
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
    pod = _pod_spec(document, spec, label=label)
    values: dict[tuple[str, str], str | None] = {}
    for container in _containers(pod, label=label):
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


def _detects(detector: Detector, containers: Mapping[str, _Container]) -> bool:
    container = containers.get(detector.container)
    if container is None:
        return False
    values = container.env if detector.env is not None else container.args
    value = values.get(detector.setting)
    return value is not None and value.strip().lower() == detector.equals.lower()
