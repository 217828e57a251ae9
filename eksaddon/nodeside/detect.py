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
from eksaddon.versions import AddonVersion


class Customization(NamedTuple):
    """A setting that differs from the manifest default (``default`` None: not in the manifest)."""

    container: str
    name: str
    value: str | None
    default: str | None
    kind: str = "env"


class DetectedAddon(NamedTuple):
    version: AddonVersion
    addon_type: AddonType
    type_basis: str
    images: Mapping[str, str]
    customizations: tuple[Customization, ...]
    features: tuple[str, ...]


class _Container(NamedTuple):
    name: str
    image: str
    env: Mapping[str, str | None]
    args: Mapping[str, str | None]


def detect(document: Any, matrix: Matrix, *, label: str) -> DetectedAddon:
    """Facts about the add-on from a parsed DaemonSet document; InputFileError if it is not one."""
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
    addon_type, basis = _addon_type(document, version, spec)
    return DetectedAddon(
        version=version,
        addon_type=addon_type,
        type_basis=basis,
        images={name: c.image for name, c in containers.items()},
        customizations=(
            *_customizations(containers, spec, version),
            *_pod_customizations(pod, matrix, version),
        ),
        features=tuple(
            name
            for name, feature in sorted(matrix.features.items())
            if any(_detects(d, containers) for d in feature.detect)
        ),
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


def _addon_type(document: Any, version: AddonVersion, spec: DaemonSetSpec) -> tuple[AddonType, str]:
    managers = _managers(document)
    if spec.managed_field_manager in managers:
        return AddonType.MANAGED, f"managedFields has manager {spec.managed_field_manager!r}"
    if managers:
        return AddonType.SELF_MANAGED, (
            f"managedFields has no manager {spec.managed_field_manager!r} "
            f"(managers: {', '.join(sorted(managers))})"
        )
    if version.is_eksbuild:
        return AddonType.MANAGED, (
            "image tag is an EKS build; the backup has no managedFields "
            "(kubectl hides them unless --show-managed-fields)"
        )
    return AddonType.SELF_MANAGED, "image tag is a plain release; the backup has no managedFields"


def _managers(document: Any) -> set[str]:
    fields = _get(document, "metadata", "managedFields")
    if not isinstance(fields, list):
        return set()
    return {
        f["manager"] for f in fields if isinstance(f, dict) and isinstance(f.get("manager"), str)
    }


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
    pod: Mapping[str, Any], matrix: Matrix, version: AddonVersion
) -> Iterator[Customization]:
    """Resources, tolerations and affinity that differ from the release's manifest.

    The defaults come from rendering that release; a version eksaddon cannot render (outside
    v1.7–v1.23, unknown) has no known defaults, and nothing is reported for it.
    """
    from eksaddon.errors import EksAddonError
    from eksaddon.nodeside.render import render

    try:
        objects = render(version.release, "us-west-2", matrix=matrix)
    except EksAddonError:
        return
    default_pod = next(o for o in objects if o["kind"] == "DaemonSet")["spec"]["template"]["spec"]
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
        if _canonical(live_resources) != _canonical(default_resources):
            yield Customization(
                container["name"],
                "resources",
                _canonical(live_resources),
                None if default_resources is None else _canonical(default_resources),
                "resources",
            )


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
