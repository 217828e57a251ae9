"""The two functions every human-readable writer uses on text from outside."""

from __future__ import annotations

import pytest

from eksaddon import textsafety
from eksaddon.textsafety import REDACTED, for_terminal, redact, register_secret


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("line one\n[6/6] done: v1 is ACTIVE", "line one\\x0a[6/6] done: v1 is ACTIVE"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("abc\u202edcba", "abc\\u202edcba"),
        ("tab\tcr\r", "tab\\x09cr\\x0d"),
        ("c1\x9bcsi", "c1\\x9bcsi"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("ünïcödé ✓", "ünïcödé ✓"),
    ],
)
def test_unsafe_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert for_terminal(raw) == shown


def test_registered_secrets_and_signed_tokens_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textsafety, "_secrets", set())
    register_secret("AKIAABCDEFGHIJKLMNOP")
    register_secret("short")  # too short to redact safely: ordinary words would vanish
    text = "key AKIAABCDEFGHIJKLMNOP in https://x/?X-Amz-Security-Token=FwoGZXIvYXdzE&a=1 short"
    assert redact(text) == f"key {REDACTED} in https://x/?X-Amz-Security-Token={REDACTED}&a=1 short"
    assert REDACTED in for_terminal("AKIAABCDEFGHIJKLMNOP\n")
