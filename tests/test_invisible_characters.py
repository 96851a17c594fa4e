"""Every invisible or format character (Unicode categories Cc, Cf, Zl, Zp, Cs, Co, Cn)
is written as an escape by the one rule the CLI, the text lineage tree, the reports and
DOT labels share; printable text, spaces included, is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.display import visible
from modelbook.lineage_render import dot_text

from .test_cli_lineage import in_process

INVISIBLE = {
    "\u200b": "\\u200b",  # zero-width space (Cf)
    "\u00ad": "\\xad",  # soft hyphen (Cf)
    "\ufeff": "\\ufeff",  # byte order mark (Cf)
    "\u2060": "\\u2060",  # word joiner (Cf)
    "\U000e0041": "\\U000e0041",  # tag latin capital A (Cf)
    "\ue000": "\\ue000",  # private use (Co)
    "\U000f0001": "\\U000f0001",  # supplementary private use (Co)
    "\ufdd0": "\\ufdd0",  # noncharacter (Cn)
    "\uffff": "\\uffff",  # noncharacter (Cn)
    "\u202e": "\\u202e",
    "\x1b": "\\x1b",
    "\u2028": "\\u2028",
}


@pytest.mark.parametrize(("char", "escaped"), sorted(INVISIBLE.items()))
def test_each_invisible_character_is_escaped(char: str, escaped: str) -> None:
    assert visible(f"a{char}b") == f"a{escaped}b"
    assert dot_text(char) == escaped.replace("\\", "\\\\")


@pytest.mark.parametrize(
    "text",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian, with a non-joiner
        "\u0915\u094d\u200d\u0937",  # Devanagari, with a joiner
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # a flag
        "\U0001fa77\U0001face",  # emoji newer than this Python's Unicode tables
    ],
)
def test_text_spelled_with_joiners_tags_or_new_emoji_is_kept(text: str) -> None:
    assert visible(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\u200dx", "\\u200dx"),
        ("x \u200d y", "x \\u200d y"),
        ("x\u200d", "x\\u200d"),
        ("x\u200d\u202ey", "x\\u200d\\u202ey"),
        ("\U000e0067x", "\\U000e0067x"),
    ],
)
def test_a_joiner_or_tag_that_spells_nothing_is_escaped(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_printable_text_is_kept() -> None:
    text = "é ☃ 😀 日本 \u00a0\u3000 [bold] \\x"
    assert visible(text) == text


def test_the_text_lineage_tree_escapes_a_zero_width_space(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = "r\u202e\u200bz\x1b[31m"
    registry.register("inj", [model_file], owners="o", run_id=run_id, capture_environment=False)
    cli = in_process(db_uri, blob_dir, capsys)
    run = cli("lineage", "models:/inj/1")
    assert run.code == 0, run.err
    assert "r\\u202e\\u200bz\\x1b[31m" in run.out
    assert all(ch not in run.out for ch in "\u202e\u200b\x1b")
    graph = json.loads(cli("lineage", "models:/inj/1", "--format", "json").out)
    assert any(n["id"] == f"run:{run_id}" for n in graph["nodes"])
