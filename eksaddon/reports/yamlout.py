"""YAML output: block style, keys in document order, no Python tags."""

from __future__ import annotations

import io
from pathlib import Path
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


def write_yaml_file(path: Path, document: Any, *, header: str) -> None:
    """Write ``document`` as YAML, atomically, with a comment line saying where it came from."""
    from eksaddon.engine.state import write_text_atomically

    stream = io.StringIO()
    stream.write(f"# {header}\n")
    dump(document, stream)
    write_text_atomically(path, stream.getvalue(), mode=0o644)
