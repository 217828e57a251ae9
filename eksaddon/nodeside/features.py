"""Which features an EKS add-on's configuration values turn on (the matrix says where to look)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eksaddon.matrix.model import Matrix


def features_in_configuration(matrix: Matrix, values: Mapping[str, Any]) -> list[str]:
    """Names of the features whose configuration paths hold their "on" value in ``values``."""
    return [
        name
        for name, feature in sorted(matrix.features.items())
        if any(_lookup(values, path) == equals for path, equals in feature.configuration)
    ]


def _lookup(values: Mapping[str, Any], path: str) -> str | None:
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    # EKS schemas take booleans as strings ("true"); accept a YAML boolean written by hand too.
    if isinstance(node, bool):
        return "true" if node else "false"
    return node.strip().lower() if isinstance(node, str) else None
