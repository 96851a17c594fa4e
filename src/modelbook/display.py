"""Text from users, made safe to show: every character a terminal or a page would act
on instead of showing is written as an escape.

Control characters (C0, DEL, C1), the bidirectional overrides, isolates and marks
(U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, the Trojan Source
characters of CVE-2021-42574), the line and paragraph separators and lone
surrogates: ``ESC [ 1 A`` becomes ``\\x1b[1A``, U+202E ``\\u202e``. Every other
character, brackets and backslashes included, is kept as written. The CLI
(``cli.render.safe``) and the reports (``report_render``) both go through here.
"""

from __future__ import annotations

import json
import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` with every unsafe character but those in ``keep`` written as an escape."""
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m.group()), text)


__all__ = ["visible"]


def as_written(value: object) -> str:
    """A value of a TOML, YAML or JSON file as the file writes it, for messages:
    ``true`` (not Python's ``True``), ``"2"``, ``1.5``, ``["a", 1]``; any other
    value as Python shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(as_written(v) for v in value) + "]"
    return repr(value)


def article(noun: str) -> str:
    """``noun`` with its indefinite article by its first letter: ``an int``, ``a str``
    (a name read letter by letter, such as ``ndarray``, needs its own)."""
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def excerpt(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters; else its first ``limit`` and a note
    of how many were left out. Check messages and hints stored before their size limit
    (:data:`~modelbook.limits.MAX_CHECK_MESSAGE`) may be of any size: output shows this."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters left out)"


def evidence_excerpt(evidence: object, limit: int) -> object:
    """Check evidence to show: as stored when its JSON has at most ``limit`` bytes; else an
    object holding the start of that JSON text (``excerpt``), its size (``bytes``) and how
    many bytes were left out (``omitted_bytes``), so that output never carries a blob
    stored before :data:`~modelbook.limits.MAX_CHECK_EVIDENCE` was checked."""
    text = json.dumps(evidence, ensure_ascii=False, default=str)
    data = text.encode("utf-8")
    if len(data) <= limit:
        return evidence
    shown = data[:limit].decode("utf-8", errors="ignore")
    return {
        "excerpt": shown,
        "bytes": len(data),
        "omitted_bytes": len(data) - len(shown.encode("utf-8")),
        "note": f"evidence over {limit:,} bytes as JSON: only its start is shown",
    }
