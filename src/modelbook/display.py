"""Text from users, made safe to show: every character a terminal or a page would act
on instead of showing is written as an escape.

Every character that is invisible or that a terminal or page acts on, by its Unicode
category: controls (Cc: C0, DEL, C1), format characters (Cf: the bidirectional
overrides, isolates and marks of Trojan Source, CVE-2021-42574; zero-width spaces
and joiners, the soft hyphen, the byte order mark, invisible operators, tags), the
line and paragraph separators (Zl, Zp), lone surrogates (Cs), private-use (Co) and
unassigned code points (Cn): ``ESC [ 1 A`` becomes ``\\x1b[1A``, U+202E
``\\u202e``, U+200B ``\\u200b``, U+F0001 ``\\U000f0001``. Every other character,
brackets, backslashes and spaces included, is kept as written. The CLI
(``cli.render.safe``), the reports (``report_render``) and the DOT lineage
(``lineage_render``) all go through here.
"""

from __future__ import annotations

import json
import unicodedata

_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# The joiners that Persian, Indic scripts and emoji sequences spell with, kept between
# two visible characters (a family emoji, "می‌خواهم"); alone they hide nothing.
_JOINERS = frozenset("\u200c\u200d")
# A subdivision flag: the black flag, then tag characters (U+E0020 to U+E007F).
_FLAG = "\U0001f3f4"


def hidden(char: str) -> bool:
    """Whether ``char`` is one :func:`visible` writes as an escape: a control, format,
    separator, surrogate or private-use character, or a noncharacter. A code point
    this Python's Unicode tables do not know yet is shown (a newer emoji)."""
    # Every such character is one str.isprintable() refuses; spaces (Zs) are too.
    if char.isprintable():
        return False
    category = unicodedata.category(char)
    if category == "Cn":
        code = ord(char)
        return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE
    return category in _HIDDEN


def _spelled(text: str, i: int) -> bool:
    """Whether the hidden ``text[i]`` is part of how the text is spelled: a joiner
    between two visible characters, or a tag character of a subdivision flag."""
    char = text[i]
    if char in _JOINERS:
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        return all(c and not c.isspace() and not hidden(c) for c in (before, after))
    if "\U000e0020" <= char <= "\U000e007f":
        j = i - 1
        while j >= 0 and "\U000e0020" <= text[j] <= "\U000e007f":
            j -= 1
        return j >= 0 and text[j] == _FLAG
    return False


def escape(char: str) -> str:
    """``char`` as the escape :func:`visible` writes: ``\\n``, ``\\x1b``, ``\\u200b``,
    ``\\U000f0001``."""
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` with every hidden character but those in ``keep`` written as an escape."""
    if text.isprintable():
        return text
    return "".join(
        escape(c) if c not in keep and hidden(c) and not _spelled(text, i) else c
        for i, c in enumerate(text)
    )


__all__ = ["escape", "hidden", "visible"]


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
