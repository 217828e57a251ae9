"""YAML output: block style, keys in document order, no Python tags."""

from __future__ import annotations

from typing import Any, TextIO

import yaml

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


def dump(document: Any, stream: TextIO) -> None:
    yaml.dump(
        document,
        stream,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
