"""JSON schema of a matrix file (format_version 1), checked by the loader before anything reads it.

The schema checks shape and spelling; ``eksaddon.matrix.loader`` then checks what a schema cannot
(versions that parse, latest/default builds that exist and are offered, no duplicates).
"""

from __future__ import annotations

from typing import Any

_N = "(0|[1-9][0-9]{0,8})"
ADDON_VERSION_PATTERN = rf"^v{_N}\.{_N}\.{_N}(-eksbuild\.({_N}|preview))?$"
RELEASE_PATTERN = rf"^v{_N}\.{_N}\.{_N}$"
KUBERNETES_PATTERN = rf"^{_N}\.{_N}$"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


# Shared pieces live under "definitions" and are referenced, so the generated validator has one
# function per piece instead of inlining each at every use.
_VERSION = _ref("version")
_RELEASE = _ref("release")
_KUBERNETES = _ref("kubernetes")
_TEXT = _ref("text")
_OPTIONAL_TEXT = _ref("optional_text")
_NAME = _ref("name")


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _strict_object(
    properties: dict[str, Any], *, required: list[str] | None = None
) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


_KUBERNETES_ENTRY = _strict_object(
    {
        "latest": _VERSION,
        "default": _optional(_VERSION),
        "default_as_of": _OPTIONAL_TEXT,
        "catalogue_complete": {"type": "boolean"},
        "complete_through": _optional(_VERSION),
        "latest_as_of": _OPTIONAL_TEXT,
        "notes": _OPTIONAL_TEXT,
    },
    required=["latest", "catalogue_complete"],
)

_BUILD = _strict_object(
    {
        "version": _VERSION,
        "kubernetes_versions": {"type": "array", "items": _KUBERNETES, "maxItems": 100},
        "not_offered_for": {"type": "array", "items": _KUBERNETES, "maxItems": 100},
        "sources": {"type": "array", "items": _NAME, "maxItems": 50},
        "notes": _OPTIONAL_TEXT,
    },
    required=["version", "kubernetes_versions"],
)

_RELEASE_ENTRY = _strict_object(
    {
        "version": _RELEASE,
        "date": _OPTIONAL_TEXT,
        "kubernetes_min": _optional(_KUBERNETES),
        "notes": _OPTIONAL_TEXT,
    },
    required=["version"],
)

_GATE = _strict_object(
    {
        "id": _NAME,
        "target_at_least": _VERSION,
        "requires_current_at_least": _VERSION,
        "reason": _TEXT,
    }
)

_DOWNGRADE_WARNING = _strict_object(
    {"id": _NAME, "from_at_least": _VERSION, "to_below": _VERSION, "message": _TEXT}
)

_MINORS = {"type": "integer", "minimum": 0, "maximum": 20}

_SKEW = _strict_object(
    {
        "max_newer_minors": _MINORS,
        "max_older_minors": _MINORS,
        "older_limits": {
            "type": "array",
            "maxItems": 20,
            "items": _strict_object({"below": _KUBERNETES, "max_older_minors": _MINORS}),
        },
        "source": _OPTIONAL_TEXT,
    },
    required=["max_newer_minors", "max_older_minors"],
)

POLICY_KINDS = ["minor-steps", "catalogue", "kubernetes-skew"]

_POLICY = _strict_object(
    {
        "kind": {"enum": POLICY_KINDS},
        # Required for minor-steps (the default kind) and refused for the others: checked after
        # the schema, where the message can say why.
        "max_minor_step": {"type": "integer", "minimum": 1, "maximum": 100},
        "skew": _ref("skew"),
        "source": _OPTIONAL_TEXT,
        "gates": {"type": "array", "items": _ref("gate")},
        "downgrade_warnings": {"type": "array", "items": _ref("downgrade_warning")},
    },
    required=[],
)

_IMAGE = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._/\-]{0,200}$"}

_WORKLOAD = _strict_object(
    {
        "kind": {"enum": ["DaemonSet", "Deployment"]},
        "namespace": _NAME,
        "name": _NAME,
        "version_container": _NAME,
        "version_image": _IMAGE,
        # null: no source shows how the image is tagged (then the running version is unknown).
        "image_tag": {"enum": ["addon-version", "minimal-variant", "unrelated", None]},
        "source": _OPTIONAL_TEXT,
        "notes": _OPTIONAL_TEXT,
    },
    required=["kind", "namespace", "name", "version_container", "image_tag"],
)

_DETECTOR = {
    "oneOf": [
        _strict_object({"container": _NAME, "env": _NAME, "equals": {"type": "string"}}),
        _strict_object({"container": _NAME, "arg": _NAME, "equals": {"type": "string"}}),
    ]
}

_FEATURE = _strict_object(
    {
        "description": _TEXT,
        "requires_addon": _optional(_VERSION),
        "requires_kubernetes": _optional(_KUBERNETES),
        "downgrade_floor": _optional(_VERSION),
        "floor_reason": _OPTIONAL_TEXT,
        "detect": {"type": "array", "items": _ref("detector"), "minItems": 1, "maxItems": 20},
        # Where the EKS add-on's configuration values turn the feature on (dotted key path).
        "configuration": {
            "type": "array",
            "maxItems": 20,
            "items": _strict_object(
                {
                    "path": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"},
                    "equals": {"type": "string"},
                }
            ),
        },
        "source": _OPTIONAL_TEXT,
    },
    required=["description", "detect"],
)

_SETTING = _strict_object(
    {
        "name": _NAME,
        "default": {"type": ["string", "null"], "maxLength": 1000},
        "since": _optional(_RELEASE),
        "until": _optional(_RELEASE),
        "value_from": _OPTIONAL_TEXT,
    },
    required=["name", "default"],
)

_CONTAINER = _strict_object(
    {
        "since": _optional(_RELEASE),
        "env": {"type": "array", "items": _ref("setting"), "maxItems": 500},
        "args": {"type": "array", "items": _ref("setting"), "maxItems": 500},
    },
    required=[],
)

_DAEMONSET = _strict_object(
    {
        "name": _NAME,
        "namespace": _NAME,
        "version_container": _NAME,
        "version_image": _IMAGE,
        "managed_field_manager": _NAME,
        "containers": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9\-]{0,62}$"},
            "additionalProperties": _ref("container"),
        },
    }
)

_DEFINITIONS: dict[str, Any] = {
    "version": {"type": "string", "pattern": ADDON_VERSION_PATTERN},
    "release": {"type": "string", "pattern": RELEASE_PATTERN},
    "kubernetes": {"type": "string", "pattern": KUBERNETES_PATTERN},
    "text": {"type": "string", "maxLength": 4000},
    "optional_text": {"type": ["string", "null"], "maxLength": 4000},
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{1,120}$"},
}

MATRIX_SCHEMA: dict[str, Any] = _strict_object(
    {
        "format_version": {"const": 1},
        "addon": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9\-_]{0,99}$"},
        "display_name": _TEXT,
        "as_of": _TEXT,
        "sources": {"type": "object", "additionalProperties": _TEXT},
        "notes": {"type": "array", "items": _TEXT},
        "kubernetes_versions": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": KUBERNETES_PATTERN},
            "additionalProperties": _ref("kubernetes_entry"),
        },
        "builds": {"type": "array", "items": _ref("build"), "minItems": 1, "maxItems": 5000},
        "self_managed": _strict_object(
            {"releases": {"type": "array", "items": _ref("release_entry"), "maxItems": 5000}}
        ),
        "upgrade_policy": _ref("policy"),
        "features": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9\-]{0,62}$"},
            "additionalProperties": _ref("feature"),
        },
        "daemonset": _ref("daemonset"),
        "workloads": {"type": "array", "items": _ref("workload"), "maxItems": 20},
    },
    required=["format_version", "addon", "kubernetes_versions", "builds", "upgrade_policy"],
)
MATRIX_SCHEMA["definitions"] = {
    **_DEFINITIONS,
    "kubernetes_entry": _KUBERNETES_ENTRY,
    "build": _BUILD,
    "release_entry": _RELEASE_ENTRY,
    "gate": _GATE,
    "downgrade_warning": _DOWNGRADE_WARNING,
    "detector": _DETECTOR,
    "feature": _FEATURE,
    "setting": _SETTING,
    "container": _CONTAINER,
    "daemonset": _DAEMONSET,
    "policy": _POLICY,
    "skew": _SKEW,
    "workload": _WORKLOAD,
}
