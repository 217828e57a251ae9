"""Text from outside (AWS, Kubernetes, files) made safe before it reaches a terminal.

Two jobs, one module, so that every writer of human-readable output (stderr lines, progress, the
table, markdown and junit reports, a live view) calls the same two functions:

- :func:`for_terminal` makes control characters, ANSI/OSC escape sequences and Unicode
  bidirectional overrides visible as escapes. A health-issue message with a newline and
  ``[6/6] done`` after it must not forge a progress line; an OSC sequence must not retitle the
  terminal or hide a link; a right-to-left override must not reverse a name on screen.
- :func:`redact` removes the credentials eksaddon itself holds (registered with
  :func:`register_secret` when they are loaded) and anything shaped like a signed-request token,
  from any text it passes on, including text an endpoint echoed back.

Machine formats (json, yaml) carry the original text, escaped by their own serialisers; they still
go through :func:`redact`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

# C0 controls (tab and newline included: a value shown on one line must stay on one line), DEL,
# C1 controls, and the bidirectional formatting characters (LRM/RLM, ALM, embeddings, overrides,
# isolates). Zero-width characters that can hide text are escaped too.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)

_lock = threading.Lock()
_secrets: set[str] = set()
# Shorter values would redact ordinary words; real credentials are far longer.
MIN_SECRET_LENGTH = 8
REDACTED = "[redacted]"

# Values that are secret whoever they belong to: signed-URL and header forms of session tokens and
# signatures that an endpoint may echo back in an error message.
_SHAPED_SECRETS = re.compile(
    r"(?i)(X-Amz-Security-Token|X-Amz-Signature|X-Amz-Credential|aws_session_token"
    r"|aws_secret_access_key)([=:]\s*)[^\s&\"',;]+"
)


def for_terminal(text: str) -> str:
    """``text`` with every unsafe character shown as a visible escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, redact(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def register_secret(value: str | None) -> None:
    """Remember a credential eksaddon holds so that no message it passes on can show it."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` without any registered secret or signed-request token."""
    return redactor()(text)


def redactor() -> Callable[[str], str]:
    """:func:`redact` for the secrets registered now: for a document's thousands of strings
    (a fleet report), which would each take the lock and sort the secrets again."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)

    def redact_known(text: str) -> str:
        for secret in known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SHAPED_SECRETS.sub(_shaped, text)

    return redact_known


def _shaped(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{REDACTED}"
