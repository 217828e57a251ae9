"""Reading operator-supplied YAML/JSON files safely, and writing YAML one way everywhere.

Files come from operators and CI (matrix overrides, DaemonSet backups) and may be empty, binary,
truncated, enormous, or built to hurt (a "billion laughs" YAML bomb). Each problem becomes one
:class:`~eksaddon.errors.InputFileError` naming the file; nothing here ever returns half a document.
"""

from __future__ import annotations

import codecs
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from eksaddon.errors import InputFileError

if TYPE_CHECKING:
    import yaml

# PyYAML is imported on the first parse, not with this module: a warm offline run reads its
# matrix from the validated-document cache and never parses YAML (PyYAML's import is ~10 ms).

MAX_BYTES = 16 * 1024 * 1024
# A real DaemonSet or matrix expands to a few thousand nodes; aliases that multiply past this are
# an attack or an accident, and either way not something to walk through.
MAX_EXPANDED_NODES = 1_000_000

STDIN = "-"

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # PowerShell's ">" writes UTF-16 with a BOM: accept what `kubectl ... > file` gives there.
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_document(source: str | Path, *, what: str) -> Any:
    """Parse the single YAML or JSON document in ``source`` (a path, or ``-`` for stdin).

    ``what`` names the file's role in messages ("DaemonSet backup", "matrix file").
    """
    label = label_of(source)
    return parse_document(read_bytes(source, what=what), what=what, label=label)


def label_of(source: str | Path) -> str:
    return "standard input" if str(source) == STDIN else str(source)


def parse_document(data: bytes, *, what: str, label: str) -> Any:
    """Parse bytes already read (see :func:`read_bytes`) as one YAML or JSON document."""
    text = decode_text(data, what=what, label=label)
    if not text.strip():
        raise InputFileError(f"{what} {label} is empty")
    return _parse(text, what=what, label=label)


def read_bytes(source: str | Path, *, what: str) -> bytes:
    """The bytes of ``source`` (``-`` for stdin), refusing directories and oversized files."""
    label = label_of(source)
    try:
        if str(source) == STDIN:
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise InputFileError(f"{what} {label} is a directory, not a file") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputFileError(f"cannot read {what} {label}: {reason}") from None
    if len(data) > MAX_BYTES:
        raise InputFileError(f"{what} {label} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data


def decode_text(data: bytes, *, what: str, label: str) -> str:
    """The text of a file's bytes: UTF-8, or UTF-16/UTF-8 with a byte-order mark."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in data:
        raise InputFileError(f"{what} {label} is binary, not YAML or JSON text")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{what} {label} is not valid {encoding.upper()} text (byte {error.start})",
            hint="save it as UTF-8",
        ) from None


def _loader(text: str) -> yaml.SafeLoader:
    import yaml

    try:  # libyaml's parser is ~10x faster; fall back to the pure-Python one where it is missing.
        return yaml.CSafeLoader(text)  # type: ignore[return-value]
    except AttributeError:  # pragma: no cover - depends on how PyYAML was built
        return yaml.SafeLoader(text)


def load_yaml_text(text: str, *, subject: str) -> Any:
    """One YAML document from ``text`` (None if it holds none), with the guards files get.

    An alias bomb or a recursive alias is an :class:`InputFileError` naming ``subject``; syntax
    errors (and too deep nesting) propagate as ``yaml.YAMLError`` for the caller to word.
    """
    import yaml

    loader = _loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_bombs(node, subject=subject)
        return loader.construct_document(node)
    except RecursionError:  # the pure-Python parser on hostile nesting
        raise yaml.YAMLError("exceeded maximum nesting depth") from None
    finally:
        loader.dispose()


def _parse(text: str, *, what: str, label: str) -> Any:
    import yaml

    loader = _loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputFileError(f"{what} {label} holds no YAML or JSON document")
        _refuse_bombs(node, subject=f"{what} {label}")
        return loader.construct_document(node)
    except RecursionError:  # the pure-Python parser on hostile nesting
        raise InputFileError(
            f"{what} {label} is not valid YAML: exceeded maximum nesting depth"
        ) from None
    except yaml.composer.ComposerError as error:
        if "single document" in str(error.context or ""):
            raise InputFileError(
                f"{what} {label} holds more than one YAML document; expected exactly one"
            ) from None
        raise InputFileError(
            f"{what} {label} is not valid YAML: {describe_yaml_error(error)}"
        ) from None
    except yaml.YAMLError as error:
        raise InputFileError(
            f"{what} {label} is not valid YAML: {describe_yaml_error(error)}"
        ) from None
    finally:
        loader.dispose()


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """The problem and its line and column, on one line."""
    import yaml

    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{error.problem or error.context or 'syntax error'}{where}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _refuse_bombs(root: yaml.Node, *, subject: str) -> None:
    """Count the nodes ``root`` expands to, aliases included, without expanding anything.

    Aliased nodes are shared objects, so a memo keyed by ``id`` turns an exponential expansion into
    a linear walk. Iterative, so hostile nesting cannot exhaust the Python stack.
    """

    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in visiting:
            raise InputFileError(f"{subject} has a recursive YAML alias; refusing to read it")
        children = _children(node)
        if children_done or not children:
            visiting.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise InputFileError(
                    f"{subject} expands to more than {MAX_EXPANDED_NODES:,} YAML nodes "
                    "through aliases (a YAML bomb?); refusing to read it"
                )
            continue
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def dump_yaml(document: Any, stream: TextIO) -> None:
    """``document`` as YAML: block style, keys in document order, no Python tags (``-o yaml``,
    rendered manifests, Helm values files)."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's where PyYAML has it
    yaml.dump(
        document,
        stream,
        Dumper=dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
