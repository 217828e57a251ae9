"""Render the VPC CNI node-side manifest (aws-k8s-cni.yaml) of a release, for any region.

``render`` returns the manifest's objects as plain dicts in the manifest's order, with images from
the region's registry and, optionally, an operator's settings (the customizations
:func:`eksaddon.nodeside.detect.detect` found on a live DaemonSet) carried over. Rendering what
``detect`` read and detecting again gives back the same customizations: tests hold the two to that.

Self-managed manifests only: images carry the plain release tag (vX.Y.Z), never an EKS build's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from eksaddon.errors import InputError, MatrixError
from eksaddon.matrix.loader import load_matrix
from eksaddon.matrix.model import DaemonSetSpec, Matrix
from eksaddon.nodeside import components, crds
from eksaddon.nodeside.components import Manifest
from eksaddon.nodeside.detect import Customization
from eksaddon.versions import AddonVersion

ADDON = "vpc-cni"
KINDS = ("env", "arg", "resources")
POD_KINDS = ("tolerations", "affinity")  # set on the pod (container "(pod)"), values are JSON
# How detect() describes an env var it did not read through: "<fieldRef:spec.nodeName>",
# "<secretKeyRef:token>", "<valueFrom>".
_REFERENCE = re.compile(r"<(?P<kind>[A-Za-z]+)(?::(?P<detail>.*))?>")
_REFERENCE_KINDS = frozenset(
    {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "valueFrom"}
)


def render(
    version: AddonVersion,
    region: str,
    *,
    customizations: Sequence[Customization] = (),
    matrix: Matrix | None = None,
    shipped: bool = True,
) -> list[Manifest]:
    """The objects of the manifest of ``version`` for ``region``, with ``customizations`` applied.

    ``matrix`` supplies the releases and the env/arg defaults (default: the vpc-cni matrix, as
    ``load_matrix`` finds it). InputError names the problem with the version, region or a
    customization.

    ``shipped`` True: the objects of the file upstream ships for ``version`` and ``region``, its
    own slips included (see :func:`components.upstream_notes`). False: what installing the release
    needs: a region's file that upstream did not regenerate gives way to the release's own
    objects, and a tag whose manifest is another release's (v1.22.0) is an InputError.
    """
    if matrix is None:
        matrix = load_matrix(ADDON)
    defaults = _daemonset_defaults(matrix)
    check_version(version, matrix)
    registry = registry_for(region)
    file_region = region.strip().lower() if shipped else None
    built = components.built_as(version, file_region)
    if not shipped and built != version:
        raise InputError(
            f"cannot install {ADDON} {version}: "
            + "; ".join(components.upstream_notes(version, file_region)),
            hint=f"choose another v{version.major}.{version.minor} release",
        )
    ctx = components.Context(
        version=built,
        registry=registry,
        facts=components.facts(),
        defaults=defaults,
        region=file_region,
    )
    objects = build_objects(ctx)
    _apply(objects, customizations, ctx)
    return objects


# Each object the facts file lists, by its name there.
BUILDERS: Mapping[str, Callable[[components.Context], Manifest]] = {
    "ServiceAccount": components.service_account,
    "ConfigMap": components.config_map,
    "ClusterRole": components.cluster_role,
    "ClusterRoleBinding": components.cluster_role_binding,
    "ENIConfigCRD": crds.eniconfig_crd,
    "PolicyEndpointCRD": crds.policyendpoint_crd,
    "DaemonSet": components.daemonset,
}


def build_objects(ctx: components.Context) -> list[Manifest]:
    """Every object of the manifest for ``ctx.version``, in the manifest's order."""
    return [
        BUILDERS[entry["object"]](ctx)
        for entry in components.pick(ctx.facts["objects"], ctx.version)
    ]


def registry_for(region: str) -> str:
    """The ECR registry host serving the add-on images in ``region``."""
    registries = components.facts()["registries"]
    name = region.strip().lower() if isinstance(region, str) else ""
    account = registries["accounts"].get(name)
    if account is None:
        raise InputError(
            f"no known ECR registry for region {region!r}",
            hint="pass an AWS region name such as us-west-2 (ISO partitions are not supported)",
        )
    domain = next(
        (d for prefix, d in registries["partition_domains"].items() if name.startswith(prefix)),
        registries["domain"],
    )
    return f"{account}.dkr.ecr.{name}.{domain}"


def check_version(version: AddonVersion, matrix: Matrix) -> None:
    """InputError unless ``version`` is a plain release eksaddon can render."""
    supported = components.facts()["supported"]
    first, last = _minor(supported["first_minor"]), _minor(supported["last_minor"])
    span = f"v{supported['first_minor']}.x–v{supported['last_minor']}.x"
    if version.is_eksbuild:
        raise InputError(
            f"{version} is an EKS add-on build; eksaddon renders self-managed manifests, "
            "whose images carry the plain release tag",
            hint=f"render {version.release} instead",
        )
    if not first <= version.minor_line <= last:
        raise InputError(f"cannot render the {ADDON} manifest of {version}: eksaddon covers {span}")
    if matrix.find_release(version) is None:
        raise InputError(
            f"{version} is not a known {ADDON} release (no such upstream tag)",
            hint=_releases_hint(version, matrix),
        )


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _releases_hint(version: AddonVersion, matrix: Matrix) -> str:
    same_minor = sorted(
        r.version for r in matrix.releases if r.version.minor_line == version.minor_line
    )
    if not same_minor:
        return f"the matrix lists no v{version.major}.{version.minor} release"
    return f"known v{version.major}.{version.minor} releases: " + ", ".join(map(str, same_minor))


def _daemonset_defaults(matrix: Matrix) -> DaemonSetSpec:
    if matrix.daemonset is None:
        raise MatrixError(
            f"the {matrix.addon} matrix ({matrix.origin}) has no daemonset section: "
            "its env and arg defaults are needed to render the manifest"
        )
    return matrix.daemonset


# --- customizations ---------------------------------------------------------------------------


def _apply(
    objects: list[Manifest], customizations: Iterable[Customization], ctx: components.Context
) -> None:
    """Set each customization on the freshly built objects (they are ours to change)."""
    pod = next(o for o in objects if o["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in [*pod.get("initContainers", []), *pod["containers"]]}
    config = next((o for o in objects if o["kind"] == "ConfigMap"), None)
    for customization in customizations:
        if customization.kind in POD_KINDS:
            pod[customization.kind] = _json_value(customization)
            continue
        target = _target(containers, customization, ctx.version)
        if customization.kind == "env":
            _set_env(target, customization)
        elif customization.kind == "resources":
            target["resources"] = _json_value(customization)
        else:
            _set_arg(target, customization)
        if config is not None:
            _mirror(config, customization, ctx.facts["configmap"]["mirrors"])


def _target(
    containers: Mapping[str, dict[str, Any]], customization: Customization, version: AddonVersion
) -> dict[str, Any]:
    if customization.kind not in KINDS:
        raise InputError(
            f"customization {customization.name!r} has kind {customization.kind!r}; "
            f"expected one of {', '.join(KINDS)}"
        )
    if not isinstance(customization.name, str) or not customization.name:
        raise InputError(f"a customization of container {customization.container!r} has no name")
    target = containers.get(customization.container)
    if target is None:
        raise InputError(
            f"cannot set {customization.kind} {customization.name} on container "
            f"{customization.container!r}: the {version} manifest has no such container "
            f"(it has {', '.join(containers)})"
        )
    return target


def _json_value(customization: Customization) -> Any:
    try:
        return json.loads(customization.value or "null")
    except ValueError:
        raise InputError(
            f"customization {customization.kind} of {customization.container!r} is not JSON"
        ) from None


def _set_env(container: dict[str, Any], customization: Customization) -> None:
    entry = _env_entry(customization)
    env: list[dict[str, Any]] = container.setdefault("env", [])
    for index, existing in enumerate(env):
        if existing.get("name") == customization.name:
            env[index] = entry
            return
    env.append(entry)


def _env_entry(customization: Customization) -> dict[str, Any]:
    name, value = customization.name, customization.value
    if value is None:
        return {"name": name}  # an env var with no value: detect reads it back as None
    reference = _REFERENCE.fullmatch(value)
    if reference is None or reference["kind"] not in _REFERENCE_KINDS:
        return {"name": name, "value": value}
    if reference["kind"] == "fieldRef" and reference["detail"]:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": reference["detail"]}}}
    # detect() describes a secret or config map reference without its source: rebuilding it
    # would point the variable at something else, so the operator has to restate it.
    raise InputError(
        f"{customization.container} env {name} comes from a reference ({value}) that cannot be "
        "rebuilt from the description",
        hint="leave it out of the customizations and set it in the rendered manifest by hand",
    )


def _set_arg(container: dict[str, Any], customization: Customization) -> None:
    flag, value = customization.name, customization.value
    text = flag if value is None else f"{flag}={value}"
    args: list[str] = container.setdefault("args", [])
    for index, existing in enumerate(args):
        if str(existing).partition("=")[0] == flag:
            args[index] = text
            return
    args.append(text)


def _mirror(
    config: Manifest, customization: Customization, mirrors: Iterable[Mapping[str, str]]
) -> None:
    # The chart sets some ConfigMap keys from the same value as a container setting: keep them
    # equal so the rendered manifest switches nothing off that the DaemonSet turns on.
    setting = (customization.container, customization.kind, customization.name)
    for mirror in mirrors:
        matches = (mirror["container"], mirror["kind"], mirror["name"]) == setting
        if matches and customization.value is not None:
            config["data"][mirror["key"]] = customization.value
