"""Reading a DaemonSet document (a ``kubectl get daemonset -o yaml`` backup or the live object)
into its containers, env vars, args and image version, each malformed part an InputFileError
that names the backup (:mod:`eksaddon.nodeside.detect` turns these into facts).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from eksaddon.errors import EksAddonError, InputFileError
from eksaddon.matrix.model import DaemonSetSpec
from eksaddon.versions import AddonVersion


class Container(NamedTuple):
    name: str
    image: str
    env: Mapping[str, str | None]
    args: Mapping[str, str | None]


def brief(value: object, *, quote: bool = True, limit: int = 80) -> str:
    """A value from the backup as it goes into a one-line message: escaped and shortened.

    A hostile or broken backup may hold megabytes or control characters where a name belongs.
    """
    text = str(value)
    if quote or not text.isprintable():
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pod_spec(document: Any, spec: DaemonSetSpec, *, label: str) -> Mapping[str, Any]:
    if not isinstance(document, dict):
        found = "a list" if isinstance(document, list) else f"a {type(document).__name__}"
        raise InputFileError(f"DaemonSet backup {label} holds {found}, not a DaemonSet object")
    kind = document.get("kind")
    if kind != "DaemonSet":
        shown = (
            f"a {brief(kind, quote=False)}"
            if isinstance(kind, str) and kind
            else "an object with no kind"
        )
        raise InputFileError(
            f"DaemonSet backup {label} is {shown}, not a DaemonSet",
            hint=f"save it with `kubectl get daemonset {spec.name} -n {spec.namespace} -o yaml`",
        )
    name = get_in(document, "metadata", "name")
    if name != spec.name:
        raise InputFileError(
            f"DaemonSet backup {label} is DaemonSet {brief(name)}, not {spec.name!r}",
            hint=f"save it with `kubectl get daemonset {spec.name} -n {spec.namespace} -o yaml`",
        )
    pod = get_in(document, "spec", "template", "spec")
    if not isinstance(pod, dict):
        raise InputFileError(f"DaemonSet backup {label} has no spec.template.spec (truncated?)")
    return pod


def get_in(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def containers_of(pod: Mapping[str, Any], *, label: str) -> Iterator[Container]:
    for field in ("initContainers", "containers"):
        entries = pod.get(field) or []
        if not isinstance(entries, list):
            raise InputFileError(
                f"DaemonSet backup {label}: spec.template.spec.{field} is not a list"
            )
        for index, entry in enumerate(entries):
            where = f"spec.template.spec.{field}[{index}]"
            yield _container(entry, where=where, label=label)


def _container(entry: Any, *, where: str, label: str) -> Container:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InputFileError(f"DaemonSet backup {label}: {where} is not a container with a name")
    image = entry.get("image")
    if not isinstance(image, str) or not image:
        raise InputFileError(
            f"DaemonSet backup {label}: {where} ({brief(entry['name'], quote=False)}) has no image"
        )
    return Container(
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
        env[entry["name"]] = env_value(entry)
    return env


def env_value(entry: Mapping[str, Any]) -> str | None:
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


def image_version(image: str, spec: DaemonSetSpec, *, label: str) -> AddonVersion:
    reference = image.split("@", 1)[0]
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        raise InputFileError(
            f"DaemonSet backup {label}: {spec.version_container} image {brief(image)} "
            "has no version tag"
        )
    if not repository.endswith(spec.version_image):
        raise InputFileError(
            f"DaemonSet backup {label}: {spec.version_container} image {brief(image)} is not "
            f"{spec.version_image}; is another CNI installed?"
        )
    try:
        return AddonVersion.parse(tag)
    except EksAddonError:
        raise InputFileError(
            f"DaemonSet backup {label}: {spec.version_container} image tag {brief(tag)} is not a "
            "version (vX.Y.Z or vX.Y.Z-eksbuild.N)"
        ) from None
