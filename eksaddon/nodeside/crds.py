"""The VPC CNI manifest's CustomResourceDefinitions: ENIConfig (custom networking) and, from
v1.14.0 to v1.22.0, PolicyEndpoint (network policy).

Their schemas are data: the ``schemas`` of ``eniconfig_crd`` and ``policyendpoint_crd`` in
``vpc_cni_manifest.yaml`` (as controller-gen generated them upstream, per release range); this
module only wraps the schema that applies to a release in the CRD object upstream's file has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eksaddon.errors import MatrixError
from eksaddon.nodeside.components import (
    DATA_FILE,
    Context,
    Manifest,
    metadata,
    object_labels,
    pick_one,
    reached,
    release_of,
)


def eniconfig_crd(ctx: Context) -> Manifest:
    crd = ctx.facts["eniconfig_crd"]
    names = {"plural": crd["plural"], "singular": crd["singular"], "kind": crd["kind"]}
    version: dict[str, Any] = {"name": crd["version"], "served": True, "storage": True}
    if not reached(crd["v1_since"], ctx.version):
        # apiextensions v1beta1 needed no schema; Kubernetes 1.22 removed that API.
        spec = {"group": crd["group"], "names": names, "scope": crd["scope"], "versions": [version]}
        return _crd("apiextensions.k8s.io/v1beta1", metadata(_crd_name(crd)), spec)
    # v1 requires a structural schema: ENIConfig keeps every field as the client wrote it.
    version["schema"] = _schema(crd, ctx)
    spec = {
        "scope": crd["scope"],
        "group": crd["group"],
        "preserveUnknownFields": False,
        "versions": [version],
        "names": names,
    }
    labels = object_labels(ctx) if ctx.version.release <= release_of(crd["labels_until"]) else None
    return _crd("apiextensions.k8s.io/v1", metadata(_crd_name(crd), labels=labels), spec)


def _schema(crd: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    chosen = pick_one(crd["schemas"], ctx.version)
    if chosen is None:
        raise MatrixError(f"{DATA_FILE} records no {crd['kind']} CRD schema for {ctx.version}")
    return chosen


def policyendpoint_crd(ctx: Context) -> Manifest:
    crd = ctx.facts["policyendpoint_crd"]
    meta: dict[str, Any] = {"annotations": dict(crd["annotations"])}
    if ctx.version.release <= release_of(crd["creation_timestamp_null_until"]):
        meta["creationTimestamp"] = None  # as controller-gen wrote it; the API server ignores it
    meta.update(metadata(_crd_name(crd), labels=crd["labels"]))
    spec = {
        "group": crd["group"],
        "names": {
            "kind": crd["kind"],
            "listKind": crd["list_kind"],
            "plural": crd["plural"],
            "singular": crd["singular"],
        },
        "scope": crd["scope"],
        "versions": [
            {
                "name": crd["version"],
                "schema": _schema(crd, ctx),
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
            }
        ],
    }
    return _crd("apiextensions.k8s.io/v1", meta, spec)


def _crd_name(crd: Mapping[str, Any]) -> str:
    return f"{crd['plural']}.{crd['group']}"


def _crd(api_version: str, meta: dict[str, Any], spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": api_version,
        "kind": "CustomResourceDefinition",
        "metadata": meta,
        "spec": spec,
    }
