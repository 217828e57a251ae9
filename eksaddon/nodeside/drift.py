"""Drift: what the release's own manifest has that a DaemonSet lacks (containers, env vars, args,
resources). What a DaemonSet adds or changes is a customization (:mod:`eksaddon.nodeside.detect`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from eksaddon.nodeside.daemonset_doc import env_value
from eksaddon.versions import AddonVersion


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


def find_drift(
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
            yield Drift(name, "env", entry["name"], env_value(entry))
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
