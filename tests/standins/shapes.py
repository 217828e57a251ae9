"""Strict checks of an EKS answer against botocore's output shape (for the stand-in's own tests).

botocore's parser accepts almost anything (unknown members dropped, "7" coerced); these checks do
not: every member must be one the model names, of the model's JSON type, an enum value it lists,
a timestamp botocore can read, and every required member present.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session  # type: ignore[import-untyped, unused-ignore]
import botocore.utils  # type: ignore[import-untyped, unused-ignore]

_MODEL: Any = None


def eks_model() -> Any:
    global _MODEL
    if _MODEL is None:
        _MODEL = botocore.session.get_session().get_service_model("eks")
    return _MODEL


def problems(operation: str, document: object) -> list[str]:
    """Every way `document` (the JSON of a successful answer) breaks the operation's output shape."""
    shape = eks_model().operation_model(operation).output_shape
    return [] if shape is None else list(_walk(shape, document, operation))


def _walk(shape: Any, value: object, path: str) -> Iterator[str]:
    kind = shape.type_name
    if value is None:
        yield f"{path}: null"
        return
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{path}: {type(value).__name__}, not an object"
            return
        members = {m.serialization.get("name", k): m for k, m in shape.members.items()}
        for name in sorted(set(value) - set(members)):
            yield f"{path}.{name}: not in the model"
        for name in shape.required_members:
            if name not in value:
                yield f"{path}.{name}: required, absent"
        for name, member in members.items():
            if name in value:
                yield from _walk(member, value[name], f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{path}: {type(value).__name__}, not a list"
            return
        for index, item in enumerate(value):
            yield from _walk(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{path}: {type(value).__name__}, not a map"
            return
        for key, item in value.items():
            yield from _walk(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{path}: {type(value).__name__}, not text"
        elif shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} not in {shape.name}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: {value!r} is not a boolean"
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            yield f"{path}: {value!r} is not an integer"
    elif kind == "timestamp":
        try:
            botocore.utils.parse_timestamp(value)
        except Exception:
            yield f"{path}: {value!r} is not a timestamp"


def register_checks(client: Any, seen: list[tuple[str, list[str]]]) -> None:
    """Check every successful answer the client receives; (operation, problems) go to `seen`."""

    def check(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        status = int(response_dict.get("status_code") or 0)
        if not 200 <= status < 300:
            return
        body = response_dict.get("body") or b"{}"
        seen.append((operation_model.name, problems(operation_model.name, json.loads(body))))

    client.meta.events.register("before-parse.eks", check)
