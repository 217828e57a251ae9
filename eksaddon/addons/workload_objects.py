"""Reading the Kubernetes objects of the kube-proxy and CoreDNS profiles: pure helpers.

Every field of an object the API server sent may be absent, null or of another type; these
helpers answer None for "not there" and leave the wording of an error to the caller, which names
the object. Who manages an object is read from its ``metadata.managedFields`` as for vpc-cni
(nodeside/detect.py): EKS applies its add-ons server-side as field manager ``eks``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from eksaddon.matrix.model import AddonType

EKS_FIELD_MANAGER = "eks"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def get(document: Any, *keys: str) -> Any:
    """``document[k1][k2]...``, or None as soon as a level is not a mapping."""
    for key in keys:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def pod_spec(document: Any) -> Mapping[str, Any] | None:
    pod = get(document, "spec", "template", "spec")
    return pod if isinstance(pod, Mapping) else None


def container(document: Any, name: str) -> Mapping[str, Any] | None:
    """The container ``name`` of a workload's pod template (None: absent)."""
    containers = get(pod_spec(document), "containers")
    if not isinstance(containers, list):
        return None
    return next(
        (c for c in containers if isinstance(c, Mapping) and c.get("name") == name),
        None,
    )


def canonical(value: Any) -> str:
    """A value as one comparable line of text: strings as they are, the rest as sorted JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def command_line(entry: Mapping[str, Any]) -> list[str]:
    """The words a container runs: ``command`` then ``args``; a ``sh -c SCRIPT`` is split
    (kube-proxy's default image runs ``/bin/sh -c "kube-proxy --v=2 ..."``)."""
    words = [str(w) for w in (_list(entry.get("command")) + _list(entry.get("args")))]
    if len(words) >= 3 and words[0].rsplit("/", 1)[-1] in ("sh", "bash") and words[1] == "-c":
        try:
            return [*shlex.split(words[2]), *words[3:]]
        except ValueError:  # an unbalanced quote: keep the script as one word
            return words
    return words


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def flags(words: Sequence[str]) -> dict[str, str | None]:
    """``--name=value`` and bare ``--name`` words; the program name and other words are not."""
    found: dict[str, str | None] = {}
    for word in words:
        if not word.startswith("-"):
            continue
        name, sep, value = word.partition("=")
        found[name] = value if sep else None
    return found


def env(entry: Mapping[str, Any]) -> dict[str, str]:
    """A container's env as name -> text; a valueFrom is described, never followed."""
    found: dict[str, str] = {}
    for item in _list(entry.get("env")):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        if "valueFrom" in item:
            source = item.get("valueFrom")
            kind = next(iter(source), "valueFrom") if isinstance(source, Mapping) else "valueFrom"
            found[item["name"]] = f"<{kind}>"
        else:
            found[item["name"]] = "" if item.get("value") is None else str(item.get("value"))
    return found


class Ownership(NamedTuple):
    """Who manages an object, as its metadata shows (None: it does not tell), and why."""

    addon_type: AddonType | None
    basis: str


def ownership(document: Any, what: str) -> Ownership:
    """EKS's field manager means the EKS add-on; other managers or ``kubectl apply``'s
    annotation without it mean self-managed (a cluster created before EKS add-ons); an object
    read without managedFields tells neither."""
    fields = get(document, "metadata", "managedFields")
    managers = (
        {
            f["manager"]
            for f in fields
            if isinstance(f, Mapping) and isinstance(f.get("manager"), str)
        }
        if isinstance(fields, list)
        else set()
    )
    if EKS_FIELD_MANAGER in managers:
        return Ownership(AddonType.MANAGED, f"{what} has field manager {EKS_FIELD_MANAGER!r}")
    annotations = get(document, "metadata", "annotations")
    if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        return Ownership(AddonType.SELF_MANAGED, f"{what} was applied with `kubectl apply`")
    if managers:
        shown = ", ".join(sorted(managers))[:120]
        return Ownership(
            AddonType.SELF_MANAGED,
            f"{what} has no field manager {EKS_FIELD_MANAGER!r} (managers: {shown})",
        )
    return Ownership(None, f"{what} shows no managedFields: who manages it cannot be told")
