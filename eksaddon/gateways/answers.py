"""Reading AWS and Kubernetes answers without trusting their shape.

Any field of any answer may be absent, null, of another type than the API's model says, or an
enum value nobody told eksaddon about. The gateways read answers only through :class:`Answer`,
whose accessors say what they expect; anything else raises
:class:`~eksaddon.errors.UnexpectedAnswerError` naming the field's path (``addon.health.issues[0]``)
and the value received, shortened and made safe (JSON with every non-ASCII character escaped), so
the message is one readable line and never a KeyError or an AttributeError.

No SDK types here: this module is pure, and the Kubernetes gateway uses it as well.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from eksaddon.errors import UnexpectedAnswerError

T = TypeVar("T")

ABSENT = object()
# Enough to recognise the value, short enough for one line.
MAX_SHOWN = 80
_KIND_NAMES = {str: "text", bool: "a boolean", int: "an integer", dict: "an object", list: "a list"}


def shown(value: object) -> str:
    """``value`` as one short, safe line: JSON, ASCII only, cut at :data:`MAX_SHOWN`."""
    if value is ABSENT:
        return "absent"
    try:
        text = json.dumps(value, ensure_ascii=True, default=str, sort_keys=True)
    except (TypeError, ValueError):  # a structure json cannot walk (a cycle): say what it is
        text = type(value).__name__
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 1]}…"


def _fits(value: object, kind: type[Any]) -> bool:
    if kind is int:  # JSON has no separate booleans in Python's eyes: True is an int there
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


class Answer:
    """One object of an answer, with the path that leads to it (for the error messages)."""

    def __init__(
        self, data: object, *, source: str = "EKS", path: str = "", hint: str | None = None
    ) -> None:
        self._source = source
        self._path = path
        self._hint = hint
        if not isinstance(data, Mapping):
            raise self.misfit(path or "answer", data)
        self._data: Mapping[str, Any] = data

    @property
    def path(self) -> str:
        return self._path

    @property
    def raw(self) -> Mapping[str, Any]:
        return self._data

    def misfit(self, path: str, value: object) -> UnexpectedAnswerError:
        return UnexpectedAnswerError(self._source, path, shown(value), hint=self._hint)

    def _full(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _get(self, key: str) -> object:
        return self._data.get(key, ABSENT)

    # -- scalars -----------------------------------------------------------------------------

    def required(self, key: str, kind: type[T]) -> T:
        """``key``'s value, which must be present, not null, and of ``kind``."""
        value = self._get(key)
        if not _fits(value, kind) or (kind is str and value == ""):
            raise self.misfit(self._full(key), value)
        return value  # type: ignore[return-value]  # _fits checked it

    def optional(self, key: str, kind: type[T]) -> T | None:
        """``key``'s value, or None when absent or null; another type is a misfit."""
        value = self._get(key)
        if value is ABSENT or value is None:
            return None
        if not _fits(value, kind):
            raise self.misfit(self._full(key), value)
        return value  # type: ignore[return-value]

    def text(self, key: str) -> str:
        return self.required(key, str)

    def optional_text(self, key: str) -> str | None:
        return self.optional(key, str)

    def shown_text(self, key: str) -> str | None:
        """A value only shown to the operator, never acted on: text as it is, anything else as
        the JSON received (read-only commands show what they got rather than fail)."""
        value = self._get(key)
        if value is ABSENT or value is None:
            return None
        return value if isinstance(value, str) else shown(value)

    def flag(self, key: str) -> bool:
        """A boolean that defaults to false when absent or null."""
        return bool(self.optional(key, bool))

    def one_of(self, key: str, known: tuple[str, ...]) -> str:
        """A required enum value that must be one eksaddon knows."""
        value = self.text(key)
        if value not in known:
            raise self.misfit(self._full(key), value)
        return value

    # -- containers ----------------------------------------------------------------------------

    def child(self, key: str) -> Answer:
        """A required nested object."""
        value = self._get(key)
        if not isinstance(value, Mapping):
            raise self.misfit(self._full(key), value)
        return Answer(value, source=self._source, path=self._full(key), hint=self._hint)

    def optional_child(self, key: str) -> Answer | None:
        value = self._get(key)
        if value is ABSENT or value is None:
            return None
        return self.child(key)

    def _list(self, key: str) -> list[Any]:
        value = self._get(key)
        if value is ABSENT or value is None:
            return []
        if not isinstance(value, list):
            raise self.misfit(self._full(key), value)
        return value

    def children(self, key: str) -> list[Answer]:
        """A list of objects; absent or null is an empty list, a null element a misfit."""
        path = self._full(key)
        return [
            Answer(item, source=self._source, path=f"{path}[{index}]", hint=self._hint)
            for index, item in enumerate(self._list(key))
        ]

    def texts(self, key: str) -> list[str]:
        """A list of non-empty strings; absent or null is an empty list."""
        items = self._list(key)
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item:
                raise self.misfit(f"{self._full(key)}[{index}]", item)
        return items

    def text_map(self, key: str) -> dict[str, str]:
        """An object of strings to strings (labels, tags); absent or null is empty."""
        value = self._get(key)
        if value is ABSENT or value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.misfit(self._full(key), value)
        for name, item in value.items():
            if not isinstance(name, str) or not isinstance(item, str):
                raise self.misfit(f"{self._full(key)}.{name}", item)
        return dict(value)
