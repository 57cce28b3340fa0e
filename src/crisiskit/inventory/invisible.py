"""Control and invisible formatting characters: refused in every text value of an input file.

An ANSI escape can repaint the plan shown before the confirmation prompt, a right-to-left
override can make `Décisions` read as something else, a zero-width space makes two names that
look the same differ; none of them belongs in a name, a description or an address, and none
should reach Graph, the handover sheet or the credentials file. Refused (not silently
removed, so that what the operator typed and what the tenant holds never differ unseen):
every character of Unicode categories Cc (C0 and C1 controls, NUL, ESC, DEL), Cf (format:
bidi embeddings, overrides and isolates U+202A-202E and U+2066-2069, zero-width U+200B-200D,
U+FEFF, soft hyphen…), Cs (lone surrogates), Zl and Zp (U+2028, U+2029). The one exception:
line feeds and tabs inside a description, which may be written as a YAML block. Spaces,
including no-break spaces, are fine; leading and trailing whitespace is stripped anyway.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from crisiskit.errors import Diagnostic
from crisiskit.inventory.loader import Document, join_path

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_PROSE_ALLOWED = frozenset("\n\t")
_EDGES = " \t\n\r"
_NAMES = {
    0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED",
    0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE", 0x85: "NEXT LINE",
    0x9B: "CONTROL SEQUENCE INTRODUCER",
}


def describe(ch: str) -> str:
    """Name a character as `U+202E (RIGHT-TO-LEFT OVERRIDE)`."""
    code = ord(ch)
    name = _NAMES.get(code) or unicodedata.name(ch, "") or f"{unicodedata.category(ch)} character"
    return f"U+{code:04X} ({name})"


def first_refused(value: str, *, prose: bool = False) -> tuple[int, str] | None:
    """Return (index, character) of the first refused character of `value`, or None."""
    if value.isprintable():  # fast path: no control, format or separator character at all
        return None
    start = len(value) - len(value.lstrip(_EDGES))
    end = len(value.rstrip(_EDGES))
    for index in range(start, end):
        ch = value[index]
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            if prose and ch in _PROSE_ALLOWED:
                continue
            return index, ch
    return None


def _is_prose(path: str) -> bool:
    return path == "description" or path.endswith(".description")


def invisible_diagnostics(doc: Document) -> list[Diagnostic]:
    """Report every text value of `doc` that holds a refused character, at the value."""
    found: list[Diagnostic] = []
    todo: list[tuple[str, Any]] = [("", doc.data)]
    while todo:
        path, node = todo.pop()
        if isinstance(node, str):
            hit = first_refused(node, prose=_is_prose(path))
            if hit is not None:
                index, ch = hit
                found.append(doc.diagnostic(
                    path, f"contains the invisible or control character {describe(ch)} at "
                    f"character {index + 1}: retype the value without it"
                ))
        elif isinstance(node, dict):
            todo.extend((join_path(path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((join_path(path, i), v) for i, v in enumerate(node))
    return found
