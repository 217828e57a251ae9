"""Before botocore parses a successful EKS answer: every object, list, map and number where the
service model says so, or a misfit naming the field (botocore's parser would raise AttributeError or
TypeError from deep inside, or coerce the text "false" into a boolean)."""

from __future__ import annotations

import json
from typing import Any

import botocore.utils

from eksaddon.errors import UnexpectedAnswerError
from eksaddon.gateways.answers import shown


def check_answer_shape(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """Before botocore parses a successful answer: every object, list and map where the model
    says so, or a misfit naming the field (botocore's parser would raise AttributeError or
    TypeError from deep inside). Scalars are the readers' business (eksaddon.gateways.answers)."""
    status = int(response_dict.get("status_code") or 0)
    shape = operation_model.output_shape
    if not 200 <= status < 300 or shape is None:
        return
    body = response_dict.get("body") or b"{}"
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UnexpectedAnswerError(
            "EKS", f"the {operation_model.name} answer", shown(bytes(body[:60]).decode("latin-1"))
        ) from None
    misfit = _shape_misfit(shape, document, "")
    if misfit is not None:
        path, value = misfit
        raise UnexpectedAnswerError(
            "EKS", path or f"the {operation_model.name} answer", shown(value)
        )


_SCALARS: dict[str, type | tuple[type, ...]] = {
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
}


def _shape_misfit(shape: Any, value: object, path: str) -> tuple[str, object] | None:
    """The first (path, value) whose JSON type the model's shape rules out, or None."""
    kind = shape.type_name
    if value is None or getattr(shape, "is_document_type", False):
        return None
    if kind == "timestamp":
        return None if _is_timestamp(value) else (path, value)
    children: list[tuple[Any, object, str]]
    if kind == "structure" and isinstance(value, dict):
        children = [
            (member, value[name], f"{path}.{name}" if path else name)
            for name, member in (
                (m.serialization.get("name", key), m) for key, m in shape.members.items()
            )
            if name in value
        ]
    elif kind == "list" and isinstance(value, list):
        children = [(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    elif kind == "map" and isinstance(value, dict):
        children = [(shape.value, item, f"{path}.{key}") for key, item in value.items()]
    elif kind in ("structure", "list", "map"):
        return path, value
    elif kind in _SCALARS:
        # botocore would coerce these silently (the text "false" into a boolean, "7" into 7).
        if kind == "boolean":
            fits = isinstance(value, bool)
        else:
            fits = isinstance(value, _SCALARS[kind]) and not isinstance(value, bool)
        return None if fits else (path, value)
    else:
        return None  # strings pass through botocore as they are: the readers check them
    for member, item, where in children:
        found = _shape_misfit(member, item, where)
        if found is not None:
            return found
    return None


def _is_timestamp(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        botocore.utils.parse_timestamp(value)
    except Exception:  # ValueError, OverflowError, RuntimeError: all mean "not one"
        return False
    return True
