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


# A step down an answer: ("member", name), ("item", index) or ("key", map key).
Step = tuple[str, object]


def _shape_misfit(shape: Any, value: object, path: str) -> tuple[str, object] | None:
    """The first (path, value) whose JSON type the model's shape rules out, or None."""
    found = _misfit(shape, value)
    if found is None:
        return None
    steps, bad = found
    for kind, step in reversed(steps):  # collected from the misfit up
        if kind == "member":
            path = f"{path}.{step}" if path else str(step)
        elif kind == "item":
            path = f"{path}[{step}]"
        else:
            path = f"{path}.{step}"
    return path, bad


def _misfit(shape: Any, value: object) -> tuple[list[Step], object] | None:
    """The misfit under ``value`` as (steps from it, bottom first; the value), or None.

    Every answer of a fleet passes through here, so the fitting case only looks: the path is
    spelled out only for a misfit.
    """
    if value is None:
        return None
    kind = shape.type_name
    found: tuple[list[Step], object] | None
    if kind == "structure":
        if getattr(shape, "is_document_type", False):
            return None
        if not isinstance(value, dict):
            return [], value
        for name, member in _wire_members(shape):
            if name in value:
                found = _misfit(member, value[name])
                if found is not None:
                    found[0].append(("member", name))
                    return found
        return None
    if kind == "list":
        if not isinstance(value, list):
            return [], value
        for index, item in enumerate(value):
            found = _misfit(shape.member, item)
            if found is not None:
                found[0].append(("item", index))
                return found
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return [], value
        for key, item in value.items():
            found = _misfit(shape.value, item)
            if found is not None:
                found[0].append(("key", key))
                return found
        return None
    if kind == "timestamp":
        return None if _is_timestamp(value) else ([], value)
    if kind in _SCALARS:
        # botocore would coerce these silently (the text "false" into a boolean, "7" into 7).
        if kind == "boolean":
            fits = isinstance(value, bool)
        else:
            fits = isinstance(value, _SCALARS[kind]) and not isinstance(value, bool)
        return None if fits else ([], value)
    return None  # strings pass through botocore as they are: the readers check them


# The members of a structure shape by their name in the JSON answer, per shape (botocore keeps
# one shape object per model shape: the dictionary stays as small as the model).
_MEMBERS: dict[int, tuple[Any, tuple[tuple[str, Any], ...]]] = {}


def _wire_members(shape: Any) -> tuple[tuple[str, Any], ...]:
    cached = _MEMBERS.get(id(shape))
    if cached is None or cached[0] is not shape:
        members = tuple(
            (member.serialization.get("name", key), member) for key, member in shape.members.items()
        )
        cached = _MEMBERS[id(shape)] = (shape, members)
    return cached[1]


def _is_timestamp(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        botocore.utils.parse_timestamp(value)
    except Exception:  # ValueError, OverflowError, RuntimeError: all mean "not one"
        return False
    return True
