"""Reading JSON a client sent: strict, bounded, never an internal error.

Graph refuses what is not plain JSON with a 400 ("Unable to read JSON request payload"): the
simulator does the same for invalid UTF-8, `NaN` / `Infinity` (not JSON, though Python's parser
accepts them), numbers too large to be finite, and nesting deeper than `MAX_DEPTH` (a body
that deep would otherwise exhaust the stack later, when copied or saved). This module imports
nothing from the simulator but its errors.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64


class JsonRejected(ValueError):
    """The bytes are not JSON the simulator accepts; the message says why."""


def _constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected(f"the number {text[:20]} is out of range")
    return value


def _too_deep(raw: bytes) -> bool:
    """Tell whether brackets nest deeper than MAX_DEPTH (outside strings)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # cannot be deeper than the number of openers
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def parse(raw: bytes) -> Any:
    """Parse a request body; raise JsonRejected (a ValueError) for anything not accepted."""
    if _too_deep(raw):
        raise JsonRejected(f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw, parse_constant=_constant, parse_float=_float)
    except JsonRejected:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise JsonRejected(f"not valid JSON ({type(exc).__name__})") from None
