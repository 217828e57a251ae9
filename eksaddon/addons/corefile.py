"""A CoreDNS Corefile read into server blocks and directives, and compared with another.

The Corefile is Caddyfile syntax: server blocks (``.:53 { ... }``, ``corp.example:53 { ... }``),
each a list of plugin directives with arguments and an optional ``{ ... }`` sub-block; ``#``
starts a comment; words may be double-quoted. That is all EKS's Corefile and the edits seen in
the facts use (stub domains, ``hosts``, ``forward`` to corporate resolvers, ``rewrite``). What this
reader cannot follow (unbalanced braces, a directive outside any server block) is an error, so
that an unreadable Corefile is said to be one and never compared by guesswork.

Comments and layout are not part of the comparison: a reformatted default is no edit. The text
itself is what gets carried (``corefile`` holds it whole), comments included.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from eksaddon.errors import InputError

# A quoted word, a brace, a newline, or a run of anything else but whitespace and braces.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\{\$[^}\s]*\}|[{}]|\n|[^\s{}"]+')
_COMMENT = re.compile(r"(^|\s)#.*$", re.MULTILINE)
MAX_DEPTH = 16
NEWLINE = "\n"


class CorefileError(InputError):
    """The Corefile cannot be read: nothing may be inferred from it."""


class Directive(NamedTuple):
    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...] = ()

    def text(self, indent: str = "") -> str:
        head = " ".join((self.name, *self.args))
        if not self.block:
            return indent + head
        inner = "\n".join(d.text(indent + "    ") for d in self.block)
        return f"{indent}{head} {{\n{inner}\n{indent}}}"


class ServerBlock(NamedTuple):
    keys: tuple[str, ...]  # the zones and ports, e.g. (".:53",)
    directives: tuple[Directive, ...]

    @property
    def label(self) -> str:
        return " ".join(self.keys)

    def text(self) -> str:
        inner = "\n".join(d.text("    ") for d in self.directives)
        return f"{self.label} {{\n{inner}\n}}"


class CorefileEdit(NamedTuple):
    """One difference from the default Corefile: what, where, and the live text of it."""

    what: str  # "server block added", "plugin added", "plugin changed", ...
    where: str  # the server block's label, and the plugin's name when it is one
    text: str | None  # the live block or directive; None when it was removed

    def describe(self) -> str:
        return f"{self.what}: {self.where}"


def parse(text: str) -> tuple[ServerBlock, ...]:
    """The server blocks of ``text``; CorefileError saying where it cannot be read."""
    tokens = _tokens(text)
    blocks: list[ServerBlock] = []
    position = 0
    while position < len(tokens):
        if tokens[position] == NEWLINE:
            position += 1
            continue
        keys: list[str] = []
        while position < len(tokens) and tokens[position] not in ("{", "}"):
            if tokens[position] != NEWLINE:
                keys.append(tokens[position].rstrip(","))
            position += 1
        if position == len(tokens) or tokens[position] == "}" or not keys:
            raise CorefileError(
                f"the Corefile has {' '.join(keys)[:60] or 'a closing brace'} outside any "
                "server block"
            )
        directives, position = _directives(tokens, position + 1, depth=1)
        blocks.append(ServerBlock(tuple(keys), directives))
    if not blocks:
        raise CorefileError("the Corefile holds no server block")
    return tuple(blocks)


def _tokens(text: str) -> list[str]:
    without_comments = _COMMENT.sub(r"\1", text)
    return _TOKEN.findall(without_comments)


def _directives(
    tokens: Sequence[str], position: int, *, depth: int
) -> tuple[tuple[Directive, ...], int]:
    """Directives up to the matching ``}``; the position after it."""
    if depth > MAX_DEPTH:
        raise CorefileError(f"the Corefile nests blocks deeper than {MAX_DEPTH}")
    found: list[Directive] = []
    words: list[str] = []
    while position < len(tokens):
        token = tokens[position]
        if token == "}":
            if words:
                found.append(Directive(words[0], tuple(words[1:])))
            return tuple(found), position + 1
        if token == "{":
            if not words:
                raise CorefileError("the Corefile opens a block with no directive before it")
            block, position = _directives(tokens, position + 1, depth=depth + 1)
            found.append(Directive(words[0], tuple(words[1:]), block))
            words = []
            continue
        if token == NEWLINE:
            if words:
                found.append(Directive(words[0], tuple(words[1:])))
            words = []
        else:
            words.append(token)
        position += 1
    raise CorefileError("the Corefile has a block that is never closed (a missing '}')")


def edits(live: Sequence[ServerBlock], default: Sequence[ServerBlock]) -> tuple[CorefileEdit, ...]:
    """What ``live`` adds to, changes in or removes from ``default``, block by block."""
    found: list[CorefileEdit] = []
    defaults = {b.keys: b for b in default}
    live_keys = {b.keys for b in live}
    for block in live:
        base = defaults.get(block.keys)
        if base is None:
            found.append(CorefileEdit("server block added", block.label, block.text()))
        else:
            found.extend(_directive_edits(block, base))
    for block in default:
        if block.keys not in live_keys:
            found.append(CorefileEdit("server block removed", block.label, None))
    return tuple(found)


def _directive_edits(live: ServerBlock, default: ServerBlock) -> Iterator[CorefileEdit]:
    have = Counter(live.directives)
    expected = Counter(default.directives)
    added = list((have - expected).elements())
    removed = list((expected - have).elements())
    removed_names = Counter(d.name for d in removed)
    for directive in added:
        where = f"{live.label} {directive.name}"
        if removed_names[directive.name] > 0:
            removed_names[directive.name] -= 1
            yield CorefileEdit("plugin changed", where, directive.text())
        else:
            yield CorefileEdit("plugin added", where, directive.text())
    for name, count in removed_names.items():
        for _ in range(count):
            yield CorefileEdit("plugin removed", f"{live.label} {name}", None)


def has_plugin(blocks: Sequence[ServerBlock], keys: tuple[str, ...], name: str) -> bool:
    """Whether the server block ``keys`` runs plugin ``name`` (False when the block is absent)."""
    block = next((b for b in blocks if b.keys == keys), None)
    return block is not None and any(d.name == name for d in block.directives)
