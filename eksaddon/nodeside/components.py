"""The objects of the VPC CNI node-side manifest (aws-k8s-cni.yaml), built for one release.

The facts live in two data files: ``vpc_cni_manifest.yaml`` beside this module (objects, RBAC
rules, volumes, probes, resources, images; each entry with the releases that have it) and the
matrix's ``daemonset`` section (every container's env and arg defaults, also per release). The
functions here only select what applies to a release and assemble Kubernetes objects from it, so
a new release is a data change, not a code change. Where upstream's own file of a release is not
what its tag suggests (``upstream_slips`` in the data file), the objects are upstream's and
:func:`upstream_notes` says why.

The CRDs (ENIConfig, PolicyEndpoint, whose schemas are data in the facts file) are built in
:mod:`eksaddon.nodeside.crds`; :func:`eksaddon.nodeside.render.build_objects` assembles them all.

Everything returned is a fresh plain ``dict``: callers may change it without touching the facts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

import yaml

from eksaddon.errors import MatrixError
from eksaddon.matrix.model import DaemonSetSpec, SettingDefault
from eksaddon.versions import AddonVersion

try:  # libyaml's loader is much faster; the data file is read once per process either way.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

DATA_FILE = "vpc_cni_manifest.yaml"
_RANGE_KEYS = frozenset({"since", "until", "before"})

Manifest = dict[str, Any]


class Context(NamedTuple):
    """What every builder needs: the release, where its images come from, and the facts."""

    version: AddonVersion
    registry: str
    facts: Mapping[str, Any]
    defaults: DaemonSetSpec
    region: str | None = None  # None: the release's own objects, no region's file slips


@lru_cache(maxsize=1)
def facts() -> Mapping[str, Any]:
    """The parsed data file (shared: never change it; :func:`pick` hands out copies)."""
    text = resources.files("eksaddon.nodeside").joinpath(DATA_FILE).read_text(encoding="utf-8")
    document = yaml.load(text, Loader=_Loader)
    if not isinstance(document, dict) or document.get("format_version") != 1:
        raise MatrixError(f"{DATA_FILE} is not a format_version 1 manifest facts file")
    return document


# --- version ranges ---------------------------------------------------------------------------


@lru_cache(maxsize=256)
def release_of(text: str) -> AddonVersion:
    """A data file's version text, parsed (cached: the same few texts recur in every render)."""
    return AddonVersion.parse(text)


def in_range(entry: Mapping[str, Any], version: AddonVersion) -> bool:
    """Whether a data entry applies to ``version``.

    ``since`` and ``until`` are inclusive (as in the matrix); ``before`` is the first release
    without the entry.
    """
    release = version.release
    since, until, before = entry.get("since"), entry.get("until"), entry.get("before")
    if since is not None and release < release_of(since):
        return False
    if until is not None and release > release_of(until):
        return False
    return before is None or release < release_of(before)


def pick(entries: Iterable[Mapping[str, Any]], version: AddonVersion) -> list[dict[str, Any]]:
    """Copies of the entries that apply to ``version``, without their range keys, in order."""
    return [
        {k: copy.deepcopy(v) for k, v in entry.items() if k not in _RANGE_KEYS}
        for entry in entries
        if in_range(entry, version)
    ]


def pick_one(entries: Iterable[Mapping[str, Any]], version: AddonVersion) -> dict[str, Any] | None:
    """The single entry that applies to ``version`` (ranges of one fact never overlap)."""
    chosen = pick(entries, version)
    return chosen[0] if chosen else None


def reached(facts_value: str | None, version: AddonVersion) -> bool:
    """Whether ``version`` is at or after a ``*_since`` fact (None: never)."""
    return facts_value is not None and version.release >= release_of(facts_value)


# --- images -----------------------------------------------------------------------------------


def image(ctx: Context, repository: str) -> str:
    """The image reference of a repository key (cni, init, node_agent) for this release."""
    repo = ctx.facts["repositories"][repository]
    tag = node_agent_tag(ctx) if repository == "node_agent" else str(ctx.version.release)
    return f"{ctx.registry}/{repo}:{tag}"


def node_agent_tag(ctx: Context) -> str:
    # The agent is versioned on its own: the tag is the last entry at or before this release.
    applicable = [e for e in ctx.facts["node_agent_tags"] if in_range(e, ctx.version)]
    if not applicable:
        raise MatrixError(f"{DATA_FILE} records no node agent tag for {ctx.version}")
    return str(applicable[-1]["tag"])


# --- metadata ---------------------------------------------------------------------------------


def chart_rendered(ctx: Context) -> bool:
    return reached(ctx.facts["labels"]["chart_since"], ctx.version)


def object_labels(ctx: Context) -> dict[str, str] | None:
    """Labels of a chart-rendered object (with the version); None before the chart."""
    if not chart_rendered(ctx):
        return None
    labels = ctx.facts["labels"]
    slips = upstream_slips(ctx.facts, ctx.version, ctx.region)
    version = next(
        (s["labels_version"] for s in slips if "labels_version" in s), str(ctx.version.release)
    )
    return {**labels["chart"], labels["version_label"]: version}


def metadata(
    name: str, *, namespace: str | None = None, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


# --- upstream's own slips ---------------------------------------------------------------------


def upstream_slips(
    facts_: Mapping[str, Any], version: AddonVersion, region: str | None
) -> list[Mapping[str, Any]]:
    """What upstream's manifest of ``version`` for ``region`` got wrong and eksaddon keeps.

    ``region`` None leaves out the slips of one region's file (a file upstream did not
    regenerate): what is left is in the release itself, whatever the region.
    """
    release = str(version.release)
    return [
        slip
        for slip in facts_.get("upstream_slips", ())
        if slip["release"] == release
        and ("regions" not in slip or (region is not None and region in slip["regions"]))
    ]


def built_as(version: AddonVersion, region: str | None) -> AddonVersion:
    """The release whose objects upstream's manifest of ``version`` holds (usually itself).

    The v1.22.0 tag ships the v1.21.1 manifest unchanged: rendering v1.22.0 gives what applying
    upstream's v1.22.0 file gives, and :func:`upstream_notes` says so.
    """
    return _follow_reused(version, region)[0]


def upstream_notes(version: AddonVersion, region: str | None) -> list[str]:
    """Sentences on upstream's own slips in the manifest of ``version`` for ``region``."""
    return _follow_reused(version, region)[1]


def _follow_reused(version: AddonVersion, region: str | None) -> tuple[AddonVersion, list[str]]:
    notes: list[str] = []
    seen: set[AddonVersion] = set()
    while version not in seen:
        seen.add(version)
        slips = upstream_slips(facts(), version, region)
        notes.extend(str(slip["note"]) for slip in slips)
        reused = [slip["manifest_of"] for slip in slips if "manifest_of" in slip]
        if not reused:
            return version, notes
        version = release_of(reused[0])
    raise MatrixError(f"{DATA_FILE}: upstream_slips manifest_of entries form a loop at {version}")


# --- objects ----------------------------------------------------------------------------------


def service_account(ctx: Context) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(
            ctx.facts["name"], namespace=ctx.facts["namespace"], labels=object_labels(ctx)
        ),
    }


def config_map(ctx: Context) -> Manifest:
    spec = ctx.facts["configmap"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            spec["name"], namespace=ctx.facts["namespace"], labels=object_labels(ctx)
        ),
        "data": {e["key"]: str(e["value"]) for e in pick(spec["data"], ctx.version)},
    }


def cluster_role(ctx: Context) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(ctx.facts["name"], labels=object_labels(ctx)),
        "rules": pick(ctx.facts["cluster_role_rules"], ctx.version),
    }


def cluster_role_binding(ctx: Context) -> Manifest:
    name = ctx.facts["name"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(name, labels=object_labels(ctx)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ctx.facts["namespace"]}],
    }


# --- the DaemonSet ----------------------------------------------------------------------------


def daemonset(ctx: Context) -> Manifest:
    pod = ctx.facts["pod"]
    selector = dict(ctx.facts["labels"]["selector"])
    pod_labels = dict(ctx.facts["labels"]["chart"]) if chart_rendered(ctx) else selector
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(
            ctx.defaults.name,
            namespace=ctx.defaults.namespace,
            labels=object_labels(ctx) or selector,
        ),
        "spec": {
            "updateStrategy": copy.deepcopy(pod["update_strategy"]),
            "selector": {"matchLabels": dict(selector)},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec(ctx)},
        },
    }


def pod_spec(ctx: Context) -> dict[str, Any]:
    pod = ctx.facts["pod"]
    entries = [e for e in ctx.facts["containers"] if in_range(e, ctx.version)]
    spec: dict[str, Any] = {
        "priorityClassName": pod["priority_class"],
        "serviceAccountName": ctx.facts["name"],
        "hostNetwork": True,
    }
    init = [container(ctx, e) for e in entries if e.get("init")]
    if init:
        spec["initContainers"] = init
    spec["terminationGracePeriodSeconds"] = pod["termination_grace_period"]
    spec["tolerations"] = copy.deepcopy(pod["tolerations"])
    if reached(pod["security_context_since"], ctx.version):
        spec["securityContext"] = {}
    spec["containers"] = [container(ctx, e) for e in entries if not e.get("init")]
    spec["volumes"] = pick(pod["volumes"], ctx.version)
    spec["affinity"] = {"nodeAffinity": node_affinity(ctx)}
    return spec


def node_affinity(ctx: Context) -> dict[str, Any]:
    affinity = ctx.facts["pod"]["node_affinity"]
    terms = [
        {
            "matchExpressions": [
                {
                    "key": f"{prefix['prefix']}{e['label']}",
                    "operator": e["operator"],
                    "values": list(e["values"]),
                }
                for e in affinity["expressions"]
            ]
            + pick(affinity["compute_type"], ctx.version)
        }
        for prefix in pick(affinity["prefixes"], ctx.version)
    ]
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}


def container(ctx: Context, entry: Mapping[str, Any]) -> dict[str, Any]:
    """One container: its facts from the data file, its env and args from the matrix."""
    name = entry["name"]
    body: dict[str, Any] = {"name": name, "image": image(ctx, entry["image"])}
    pull_policy = pick_one(entry.get("imagePullPolicy", ()), ctx.version)
    if pull_policy is not None:
        body["imagePullPolicy"] = pull_policy["value"]
    ports = pick(entry.get("ports", ()), ctx.version)
    if ports:
        body["ports"] = ports
    body.update(probes(ctx, entry))
    defaults = ctx.defaults.containers.get(name)
    if defaults is not None:
        env = env_entries(ctx, defaults.env)
        if env:
            body["env"] = env
        args = [_arg(s, ctx.version) for s in defaults.args if s.applies_to(ctx.version)]
        if args:
            body["args"] = args
    for field in ("resources", "securityContext"):
        chosen = pick_one(entry.get(field, ()), ctx.version)
        if chosen is not None:
            body[field] = chosen
    body["volumeMounts"] = pick(entry.get("volumeMounts", ()), ctx.version)
    return body


def probes(ctx: Context, entry: Mapping[str, Any]) -> dict[str, Any]:
    """livenessProbe and readinessProbe: one command per release, each with its own delay."""
    variant = pick_one(entry.get("probe_commands", ()), ctx.version)
    if variant is None:
        return {}
    found: dict[str, Any] = {}
    for probe, delay in entry["probe_initial_delays"].items():
        found[probe] = {"exec": {"command": list(variant["command"])}, "initialDelaySeconds": delay}
        if "timeoutSeconds" in variant:
            found[probe]["timeoutSeconds"] = variant["timeoutSeconds"]
    return found


def env_entries(ctx: Context, settings: Iterable[SettingDefault]) -> list[dict[str, Any]]:
    """The env list as the manifest orders it (see ``env_refs_last_since`` in the data file)."""
    applicable = [s for s in settings if s.applies_to(ctx.version)]
    plain = sorted((s for s in applicable if s.value_from is None), key=_name)
    refs = [s for s in applicable if s.value_from is not None]
    if reached(ctx.facts["pod"]["env_refs_last_since"], ctx.version):
        ordered = plain + refs
    else:
        ordered = sorted(applicable, key=_name)
    return [_env(ctx, s) for s in ordered]


def _name(setting: SettingDefault) -> str:
    return setting.name


def _env(ctx: Context, setting: SettingDefault) -> dict[str, Any]:
    if setting.value_from is None:
        return {"name": setting.name, "value": setting.default_for(ctx.version)}
    return {"name": setting.name, "valueFrom": value_from(ctx, setting)}


def value_from(ctx: Context, setting: SettingDefault) -> dict[str, Any]:
    kind, _, path = str(setting.value_from).partition(":")
    if kind != "fieldRef" or not path:
        raise MatrixError(
            f"matrix env {setting.name}: value_from {setting.value_from!r} is not fieldRef:PATH"
        )
    ref: dict[str, Any] = {"fieldPath": path}
    if reached(ctx.facts["pod"]["field_ref_api_version_since"], ctx.version):
        ref = {"apiVersion": "v1", **ref}
    return {"fieldRef": ref}


def _arg(setting: SettingDefault, version: AddonVersion) -> str:
    value = setting.default_for(version)
    return setting.name if value is None else f"{setting.name}={value}"
