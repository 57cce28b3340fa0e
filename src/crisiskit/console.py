"""Terminal output: the only module that imports rich.

Everything a command shows goes through here, so that `--output json` keeps stdout pure JSON
(messages go to stderr) and so that rendering stays out of the core.

Nothing printed can carry an escape sequence: every text, whatever its origin (the
inventory, the tenant, an error), is passed through `safe()`, which shows control and
invisible formatting characters as visible escapes (`\\x1b`, `\\u202e`), and is never read
as rich markup or emoji codes. JSON output escapes the same characters as `\\uXXXX`.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Cc (C0, C1, DEL), Cf (bidi controls, zero-width characters, U+FEFF…), Cs, Zl, Zp.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(value: object) -> str:
    """Return `value` as text fit for a terminal: control and format characters made visible.

    Line feeds are kept (messages span lines); everything else of categories Cc, Cf, Cs,
    Zl and Zp becomes a visible escape such as `\\x1b` or `\\u202e`.
    """
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        _escape(ch) if ch != "\n" and unicodedata.category(ch) in _UNSAFE else ch for ch in text
    )


def _json_safe(document: str) -> str:
    """Escape, as JSON \\uXXXX, the unsafe characters json.dumps leaves raw (C1, bidi, …)."""
    if document.isprintable():
        return document
    out = []
    for ch in document:
        if ch != "\n" and unicodedata.category(ch) in _UNSAFE:
            code = ord(ch)
            if code > 0xFFFF:  # JSON spells these as a surrogate pair
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)

if TYPE_CHECKING:
    from crisiskit.plan.model import Plan

# Tables written to a pipe or a log are read later, often in full: do not fold them at 80.
PIPE_WIDTH = 160

_out: Console | None = None
_err: Console | None = None


def _width(stream: Any) -> int | None:
    """Return a width for output that is not a terminal (a log, a pipe): wide, not rich's 80."""
    if os.environ.get("COLUMNS") or (hasattr(stream, "isatty") and stream.isatty()):
        return None
    return PIPE_WIDTH


def out() -> Console:
    """Return the stdout console (created on first use so tests can swap sys.stdout)."""
    global _out
    if _out is None or _out.file is not sys.stdout:
        _out = Console(
            file=sys.stdout, highlight=False, soft_wrap=True, width=_width(sys.stdout),
            markup=False, emoji=False,
        )
    return _out


def err() -> Console:
    """Return the stderr console."""
    global _err
    if _err is None or _err.file is not sys.stderr:
        _err = Console(
            file=sys.stderr, highlight=False, soft_wrap=True, markup=False, emoji=False
        )
    return _err


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout (and nothing else)."""
    sys.stdout.write(_json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str)) + "\n")
    sys.stdout.flush()


def emit_json_lines(records: Iterable[Any]) -> None:
    """Write one compact JSON document per line to stdout (JSON Lines), and nothing else."""
    for record in records:
        sys.stdout.write(_json_safe(json.dumps(record, ensure_ascii=False, default=str)) + "\n")
    sys.stdout.flush()


def text(message: str, *, style: str | None = None) -> None:
    """Write a line of text to stdout (rich markup is not interpreted)."""
    out().print(Text(safe(message)), style=style)


def info(message: str) -> None:
    """Write an informational line to stderr."""
    err().print(Text(safe(message)))


def warn(message: str) -> None:
    """Write a warning to stderr."""
    err().print(Text(f"warning: {safe(message)}"), style="yellow")


def error(message: str) -> None:
    """Write an error to stderr."""
    err().print(Text(f"error: {safe(message)}"), style="bold red")


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str | None = None,
) -> None:
    """Render a table on stdout."""
    t = Table(
        title=None if title is None else Text(safe(title)),
        caption=None if caption is None else Text(safe(caption)),
        show_lines=False,
    )
    for column in columns:
        t.add_column(Text(safe(column)), overflow="fold")
    for row in rows:
        t.add_row(*(Text("" if cell is None else safe(cell)) for cell in row))
    out().print(t)


def is_terminal() -> bool:
    """Tell whether stderr is an interactive terminal (progress bars, prompts)."""
    return err().is_terminal


def confirm(prompt: str) -> bool:
    """Ask a yes/no question on the terminal; anything but yes is no."""
    from rich.prompt import Confirm

    return Confirm.ask(Text(safe(prompt)), console=err(), default=False)


def ask(prompt: str) -> str:
    """Ask for a line of text on the terminal (stderr); return it stripped ("" if none)."""
    from rich.prompt import Prompt

    try:
        return str(Prompt.ask(Text(safe(prompt)), console=err(), default="")).strip()
    except EOFError:
        return ""


class Phase:
    """Progress of one phase: rich bar on a terminal, plain lines otherwise."""

    def __init__(self, name: str, total: int, progress: Any | None) -> None:
        self.name = safe(name)
        self.total = total
        self.done = 0
        self._progress = progress
        self._task = (
            progress.add_task(self.name, total=total or 1) if progress is not None else None
        )

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if self._progress is not None:
            self._progress.update(self._task, advance=n)
        elif note:
            info(f"[{self.name}] {note}")

    def finish(self, summary: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self.total or 1)
        info(f"{self.name}: {summary}")


@contextmanager
def progress() -> Iterator[Any]:
    """Yield a factory `phase(name, total) -> Phase` that shows progress per phase."""
    if is_terminal():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
            console=err(),
        ) as bar:
            yield lambda name, total: Phase(name, total, bar)
    else:
        yield lambda name, total: Phase(name, total, None)


# Columns every plan table shows; other actions (delete, disable...) get a column when used.
PLAN_COLUMNS = ("create", "update", "present", "conflict")
SYMBOL = {
    "create": "+",
    "update": "~",
    "present": "=",
    "conflict": "!",
    "disable": "/",
    "revoke": "x",
    "delete": "-",
    "purge": "#",
    "export": ">",
    "wait": ".",
}


def render_plan(plan: Plan, *, verbose: bool = False) -> None:
    """Print any plan: counts by kind and action, then each step that does something."""
    counts = plan.counts()
    used = {a for by in counts.values() for a in by}
    columns = [*PLAN_COLUMNS, *sorted(a for a in used if a not in PLAN_COLUMNS)]
    rows = [(kind, *(by.get(a, 0) for a in columns)) for kind, by in counts.items()]
    title = f"Plan for {plan.commune}"
    if plan.playbook:
        title += f" (playbook {plan.playbook})"
    table(title, ("kind", *columns), rows)
    for step in plan.steps:
        if step.action == "present" and not verbose:
            continue
        detail = f"  ({step.detail})" if step.detail else ""
        text(f"  {SYMBOL.get(step.action, '?')} {step.kind} {step.key}{detail}")
