"""Nothing crisiskit prints can carry an escape sequence, whatever the text it is given."""

from __future__ import annotations

import io
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crisiskit import console
from crisiskit.cli import app

# Clear screen + home, an OSC title with BEL, a CSI in its 8-bit form, bidi override and
# isolate, zero-width characters, BOM, line separator, NUL, DEL, backspace, carriage return,
# rich markup (one unbalanced: used to raise MarkupError), an emoji code, a lone surrogate and
# a tag character beyond the BMP.
HOSTILE = (
    "A\x1b[2J\x1b[HB\x1b]0;owned\x07C\x9b31mD\u202eE\u2066F\u200bG\u200dH\ufeffI\u2028J"
    "\x00K\x7fL\x08M\rN[/red][bold]x:smile:\ud800\U000e0001Z"
)
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u2028",
       "\x00", "\x7f", "\x08", "\r", "\ud800", "\U000e0001"]


def unsafe(text: str) -> list[str]:
    """Return the characters of `text` a terminal could act on (line feeds aside)."""
    return [ch for ch in text
            if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"}]


def print_everything() -> None:
    console.text(HOSTILE)
    console.text(HOSTILE, style="bold")
    console.info(HOSTILE)
    console.warn(HOSTILE)
    console.error(HOSTILE)
    console.table(HOSTILE, [HOSTILE, "b"], [[HOSTILE, None], ["x", HOSTILE]], caption=HOSTILE)
    with console.RunDisplay() as display:
        p = display(HOSTILE, 2)
        p.advance(1, note=HOSTILE)
        p.waiting(HOSTILE)
        display.log(HOSTILE)
        p.finish(HOSTILE)
    sys.stdin = io.StringIO("n\n")
    assert console.confirm(HOSTILE) is False


def test_every_console_function_neutralises_control_characters(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", sys.stdin)  # restored after the test
    print_everything()
    out, err = capsys.readouterr()
    for name, stream in (("stdout", out), ("stderr", err)):
        assert unsafe(stream) == [], f"{name} carries {unsafe(stream)[:5]}"
        assert "\\x1b[2J" in stream and "\\u202e" in stream  # shown, as visible escapes
    assert "[/red][bold]x:smile:" in out  # neither markup nor emoji codes are interpreted


def test_on_a_terminal_only_rich_own_styles_are_sent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich treats the streams as terminals
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    monkeypatch.setattr(sys, "stdin", sys.stdin)
    console._out = console._err = None
    try:
        assert console.is_terminal()
        print_everything()
    finally:
        console._out = console._err = None
    out, err = capsys.readouterr()
    for stream in (out, err):
        for raw in RAW:
            if raw == "\x1b":  # rich's own colour codes are ESC [ … m, nothing else
                rest = stream.replace("\x1b[", "")
                assert "\x1b" not in rest
                assert "\x1b[2J" not in stream and "\x1b[H" not in stream
            elif raw == "\r":
                continue  # rich's progress bar redraws its own line with CR
            else:
                assert raw not in stream, f"raw {raw!r} reached the terminal"


def test_json_output_escapes_them_and_keeps_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    console.emit_json({"name": HOSTILE, "list": [HOSTILE]})
    console.emit_json_lines([{"name": HOSTILE}, {"n": 1}])
    out = capsys.readouterr().out
    assert unsafe(out) == []
    first, *lines = out.split("\n}\n")
    assert json.loads(first + "}") == {"name": HOSTILE, "list": [HOSTILE]}
    records = [json.loads(line) for line in lines[0].splitlines()]
    assert records == [{"name": HOSTILE}, {"n": 1}]


def test_safe_keeps_ordinary_text_and_line_feeds() -> None:
    text = "Cellule de crise – Aubagne\n  Zoé « DGS », 1\u00a0000 €"
    assert console.safe(text) == text
    assert console.safe("a\tb") == "a\\x09b"


def test_a_hostile_key_in_the_inventory_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "playbooks").symlink_to(repo / "playbooks")
    text = (repo / "inventory.yaml").read_text(encoding="utf-8")
    path = tmp_path / "inventory.yaml"
    path.write_text(text + '"\\e]0;owned\\a\\e[2J\\u202e": 1\n', encoding="utf-8")
    result: Any = CliRunner().invoke(app, ["-i", str(path), "validate"],
                                     env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 2
    assert unsafe(result.stderr) == [] and unsafe(result.stdout) == []
    assert "\\x1b]0;owned\\x07\\x1b[2J\\u202e: unknown key" in result.stderr
