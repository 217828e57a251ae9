"""A values file for the ``aws-vpc-cni`` Helm chart that carries a DaemonSet's custom settings.

Pure. Only the chart's own keys (``helm_chart.yaml`` records where the chart takes each setting
from) and only what differs from the chart's defaults: the chart renders the upstream manifest, so
its defaults are the manifest defaults the matrix records. A setting the chart has no key for is
listed as not carried, never dropped in silence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from eksaddon.matrix.model import Matrix
from eksaddon.nodeside.detect import POD, Customization
from eksaddon.nodeside.helm import chart_facts, chart_version
from eksaddon.versions import AddonVersion

CHART_DEFAULT_REGISTRY = "602401143452.dkr.ecr.us-west-2.amazonaws.com"


class HelmValues(NamedTuple):
    release: AddonVersion
    values: dict[str, Any]
    carried: tuple[Customization, ...]
    not_carried: tuple[tuple[Customization, str], ...]  # (setting, why)
    notes: tuple[str, ...]


def helm_values(
    customizations: Sequence[Customization],
    version: AddonVersion,
    matrix: Matrix,
    *,
    registry: str | None = None,
) -> HelmValues:
    """The values that make the chart of ``version`` carry ``customizations`` (and pull from
    ``registry``, a ``ACCOUNT.dkr.ecr.REGION.DOMAIN`` host, when it is not the chart's)."""
    release = version.release
    facts = chart_facts()
    values: dict[str, Any] = {}
    carried: list[Customization] = []
    skipped: list[tuple[Customization, str]] = []
    beyond = (facts.get("chart_env_beyond_manifest") or {}).get(str(release)) or {}
    for item in customizations:
        if _is_default_at(item, release, matrix):
            continue  # the chart of this release has it so already
        if (
            item.kind == "env"
            and item.container == "aws-node"
            and beyond.get(item.name) == item.value
        ):
            continue  # a default of the chart's own, beyond the manifest's
        placed = _place(item, release, facts)
        if isinstance(placed, str):
            skipped.append((item, placed))
            continue
        path, value = placed
        _set(values, path, value)
        carried.append(item)
    notes = list(_registry(values, registry, release, facts))
    checked = [AddonVersion.parse(v) for v in facts["values_checked_at"]]
    if release not in checked:
        notes.append(
            f"keys as the chart has them at {', '.join(str(v) for v in checked)}; the chart of "
            f"{release} was not checked"
        )
    return HelmValues(release, values, tuple(carried), tuple(skipped), tuple(notes))


def _is_default_at(item: Customization, release: AddonVersion, matrix: Matrix) -> bool:
    """Whether the setting's value is the release's own default (a default that changed)."""
    spec = matrix.daemonset
    container = spec.containers.get(item.container) if spec is not None else None
    if container is None or item.kind not in ("env", "arg"):
        return False
    settings = container.env if item.kind == "env" else container.args
    for setting in settings:
        if setting.name == item.name and setting.applies_to(release):
            return setting.value_from is None and setting.default_for(release) == item.value
    return False


def _place(
    item: Customization, release: AddonVersion, facts: Mapping[str, Any]
) -> tuple[list[str], Any] | str:
    """Where the setting goes in the values and as what; a string says why it cannot go."""
    if item.kind == "env":
        where = facts["env"].get(item.container)
        if where is None:
            return f"the chart has no env key for container {item.container}"
        if item.value is None or item.value.startswith("<"):
            return "the chart's env map holds plain values only (a reference goes in by hand)"
        return [*where.split("."), item.name], item.value
    if item.kind == "arg":
        entry = facts["args"].get(item.container, {}).get(item.name)
        return _arg(item, entry, release)
    if item.kind == "resources":
        entry = facts["resources"].get(item.container)
        return _json(item, entry, release, "resources")
    if item.container == POD:
        return _json(item, facts["pod"].get(item.kind), release, item.kind)
    return f"the chart has no key for {item.kind} settings"


def _since_ok(entry: Mapping[str, Any], release: AddonVersion) -> str | None:
    since = entry.get("since")
    if since is not None and release < AddonVersion.parse(str(since)):
        return (
            f"{entry['key']} is known in the chart from {since} only; whether the chart of "
            f"{release} has it is unknown"
        )
    return None


def _arg(
    item: Customization, entry: Mapping[str, Any] | None, release: AddonVersion
) -> tuple[list[str], Any] | str:
    if entry is None:
        return f"the chart sets no key for {item.container} arg {item.name}"
    problem = _since_ok(entry, release)
    if problem is not None:
        return problem
    if item.value is None:
        return "a flag without a value has no chart key"
    value: Any = item.value
    strip = entry.get("strip")
    if strip and value.startswith(strip):
        value = value[len(strip) :]
    if entry.get("integer") and value.isdigit():
        value = int(value)
    return str(entry["key"]).split("."), value


def _json(
    item: Customization, entry: Mapping[str, Any] | None, release: AddonVersion, what: str
) -> tuple[list[str], Any] | str:
    if entry is None:
        return f"the chart has no {what} key for {item.container}"
    problem = _since_ok(entry, release)
    if problem is not None:
        return problem
    return str(entry["key"]).split("."), json.loads(item.value or "null")


def _set(values: dict[str, Any], path: list[str], value: Any) -> None:
    node = values
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _registry(
    values: dict[str, Any], registry: str | None, release: AddonVersion, facts: Mapping[str, Any]
) -> list[str]:
    if registry is None or registry == CHART_DEFAULT_REGISTRY:
        return []
    account, dkr, endpoint, region, *domain = registry.split(".")
    if dkr != "dkr" or not domain:
        return [f"registry {registry} is not an ECR registry: set the images by hand"]
    image = {"account": account, "region": region, "domain": ".".join(domain)}
    if endpoint != "ecr":
        image["endpoint"] = endpoint
    for key in ("image", "init.image", "nodeAgent.image"):
        if key.startswith("nodeAgent") and release < AddonVersion.parse("v1.18.3"):
            continue  # not known in the checked charts before v1.18.3
        _set(values, key.split("."), dict(image))
    return []


def chart_for(release: AddonVersion) -> str:
    found = chart_version(release)
    if found.chart_version is None:
        return (
            f"chart version of {release}: unknown to eksaddon (see the APP VERSION column of "
            f"`helm search repo {chart_facts()['repository_alias']}/{chart_facts()['chart']} "
            "--versions`)"
        )
    return f"chart version {found.chart_version} ({found.source})"


def as_yaml(result: HelmValues, *, source: str | None) -> str:
    """The values file: what it is for in comments, then the values."""
    from eksaddon.datafiles import dump_yaml as dump

    facts = chart_facts()
    lines = [
        f"# Helm values for the {facts['chart']} chart, release {result.release}: "
        f"{chart_for(result.release)}",
        "# Only what differs from the chart's defaults"
        + (f"; {len(result.carried)} custom setting(s) from {source}" if source else ""),
    ]
    lines += [f"# note: {note}" for note in result.notes]
    lines += [
        f"# NOT CARRIED: {c.container}/{c.name}={c.value}: {why}" for c, why in result.not_carried
    ]
    import io

    body = io.StringIO()
    if result.values:
        dump(result.values, body)
    else:
        body.write("{}\n")
    return "\n".join(lines) + "\n" + body.getvalue()
