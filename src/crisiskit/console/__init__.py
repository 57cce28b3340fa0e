"""Terminal output: the only package that imports rich.

Everything a command shows goes through here, so that `--output json` keeps stdout pure JSON
(messages go to stderr) and so that rendering stays out of the core.

    text / info / warn / error / table / emit_json   one line, a table, a JSON document
    confirm(prompt, cancel=)                         a yes/no question (Ctrl-C can end it)
    render_plan(plan, target=...)  (console.plan)    any plan: header, refusals, counts, steps
    RunDisplay  (console.live)                       ONE live area for a whole run: phases,
                                                     waits with their elapsed time, log lines
    (crisiskit.words: counts with their noun, durations, Paris times, phone numbers)

Nothing printed can carry an escape sequence: every text, whatever its origin (the
inventory, the tenant, an error), is passed through `safe()`, which shows control and
invisible formatting characters as visible escapes (`\\x1b`, `\\u202e`), and is never read
as rich markup or emoji codes. JSON output escapes the same characters as `\\uXXXX`.

Output into a closed pipe (`crisiskit ... | head`) is not an error: the first write that
meets it sends the rest of stdout to /dev/null, and the command ends with its own exit code.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
import unicodedata
from collections.abc import Iterable, Sequence
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
    from crisiskit.console.live import RunDisplay

# Tables written to a pipe or a log are read later, often in full: do not fold them at 80.
PIPE_WIDTH = 160

_out: Console | None = None
_err: Console | None = None
_display: RunDisplay | None = None  # the live area of a run, while one is shown


class _Guarded:
    """A standard stream as rich and emit_json write to it, a closed pipe made harmless."""

    def __init__(self, stream: Any, fd: int) -> None:
        self.stream = stream
        self.fd = fd

    def write(self, data: str) -> int:
        if not _closed[self.fd].is_set():
            try:
                return int(self.stream.write(data))
            except OSError as exc:
                if not is_broken_pipe(exc):
                    raise
                _close(self.fd)
        return len(data)

    def flush(self) -> None:
        if not _closed[self.fd].is_set():
            try:
                self.stream.flush()
            except OSError as exc:
                if not is_broken_pipe(exc):
                    raise
                _close(self.fd)

    def isatty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return int(self.stream.fileno())

    @property
    def encoding(self) -> str:
        return str(getattr(self.stream, "encoding", None) or "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_stdout() -> None:
    """Make sys.stdout itself harmless on a closed pipe (what click writes too: --help)."""
    if not isinstance(sys.stdout, _Guarded) and sys.stdout is not None:
        sys.stdout = _Guarded(sys.stdout, 1)  # type: ignore[assignment]


_closed = {1: threading.Event(), 2: threading.Event()}


def pipe_closed() -> bool:
    """Tell whether stdout's reader went away (`| head` has read enough)."""
    return _closed[1].is_set()


def close_stdout() -> None:
    """Stop writing to stdout for good: its reader is gone (EPIPE)."""
    _close(1)


def _close(fd: int) -> None:
    """Point a standard descriptor whose reader is gone at /dev/null, for good.

    The interpreter's last flush then cannot fail either; the command goes on and ends with
    its own exit code.
    """
    _closed[fd].set()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


def is_broken_pipe(exc: BaseException) -> bool:
    """Tell whether an exception is a write into a closed pipe."""
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


def _width(stream: Any) -> int | None:
    """Return a width for output that is not a terminal (a log, a pipe): wide, not rich's 80."""
    if os.environ.get("COLUMNS") or (hasattr(stream, "isatty") and stream.isatty()):
        return None
    return PIPE_WIDTH


def out() -> Console:
    """Return the stdout console (created on first use so tests can swap sys.stdout)."""
    global _out
    stdout = sys.stdout.stream if isinstance(sys.stdout, _Guarded) else sys.stdout
    if _out is None or getattr(_out.file, "stream", None) is not stdout:
        _out = Console(
            file=_Guarded(stdout, 1),  # type: ignore[arg-type]
            highlight=False, soft_wrap=True, width=_width(sys.stdout), markup=False, emoji=False,
        )
    return _out


def err() -> Console:
    """Return the stderr console."""
    global _err
    if _err is None or getattr(_err.file, "stream", None) is not sys.stderr:
        _err = Console(
            file=_Guarded(sys.stderr, 2),  # type: ignore[arg-type]
            highlight=False, soft_wrap=True, markup=False, emoji=False,
        )
    return _err


def write(data: str) -> None:
    """Write raw text to stdout as it is (a schema, a file's content), closed pipe or not."""
    stream = _Guarded(sys.stdout, 1)
    stream.write(data)
    stream.flush()


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout (and nothing else)."""
    write(_json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str)) + "\n")


def emit_json_lines(records: Iterable[Any]) -> None:
    """Write one compact JSON document per line to stdout (JSON Lines), and nothing else."""
    stream = _Guarded(sys.stdout, 1)
    for record in records:
        stream.write(_json_safe(json.dumps(record, ensure_ascii=False, default=str)) + "\n")
        if pipe_closed():
            break
    stream.flush()


def text(message: str, *, style: str | None = None, wrap: bool = False) -> None:
    """Write a line of text to stdout (rich markup is not interpreted).

    `wrap`: break a long sentence between words at the terminal's width (otherwise a line is
    never broken, so that an address or an identifier can be copied whole). While a run's
    live area is shown on the same terminal, the line is printed above it.
    """
    _print_out(Text(safe(message)), style=style, wrap=wrap)


def _print_out(renderable: Any, style: str | None = None, wrap: bool = False) -> None:
    if _display is not None and _display.shares(out()):
        _display.print(renderable, style=style, wrap=wrap)
        return
    out().print(renderable, style=style, soft_wrap=not wrap)


def _to_err(line: Text, style: str | None = None, wrap: bool = False) -> None:
    if _display is not None:
        _display.print(line, style=style, wrap=wrap)
    else:
        err().print(line, style=style, soft_wrap=not wrap)


def info(message: str, *, wrap: bool = False) -> None:
    """Write an informational line to stderr (above a run's live area, if one is shown)."""
    _to_err(Text(safe(message)), wrap=wrap)


def warn(message: str) -> None:
    """Write a warning to stderr."""
    _to_err(Text(f"warning: {safe(message)}"), style="yellow", wrap=True)


def error(message: str) -> None:
    """Write an error to stderr."""
    _to_err(Text(f"error: {safe(message)}"), style="bold red")


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str | None = None,
    whole: Sequence[int] = (),
    drop_empty: bool = False,
) -> None:
    """Render a table on stdout.

    `whole`: indexes of columns holding identifiers (addresses, asset tags, times), never
    broken across lines; other columns fold when the terminal is narrow. `drop_empty`: leave
    out the columns no row has a value in.
    """
    keep = list(range(len(columns)))
    if drop_empty and rows:
        keep = [i for i in keep if any(row[i] not in (None, "") for row in rows)]
    t = Table(
        title=None if title is None else Text(safe(title)),
        caption=None if caption is None else Text(safe(caption)),
        show_lines=False,
        title_justify="left",
        caption_justify="left",
    )
    for i in keep:
        t.add_column(Text(safe(columns[i])), overflow="fold", no_wrap=i in whole)
    for row in rows:
        t.add_row(*(Text("" if row[i] is None else safe(row[i])) for i in keep))
    _print_out(t)


def is_terminal() -> bool:
    """Tell whether stderr is an interactive terminal (progress bars, prompts)."""
    return err().is_terminal


def confirm(prompt: str, *, cancel: threading.Event | None = None) -> bool:
    """Ask a yes/no question on the terminal; anything but yes is no.

    With `cancel`, the question is abandoned (answered no) as soon as the event is set: a
    Ctrl-C handled elsewhere ends the wait for an answer instead of leaving it blocked.
    """
    from rich.prompt import Confirm

    stdin = sys.stdin
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if cancel is None or fd < 0:
        return Confirm.ask(Text(safe(prompt)), console=err(), default=False)
    import select

    question = Text(safe(prompt))
    question.append(" [y/n] (n): ", style="bold")
    while True:
        err().print(question, end="")
        err().file.flush()
        while True:
            if cancel.is_set():
                err().print()
                return False
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                break
        answer = stdin.readline()
        if not answer:  # end of input: no answer is no
            err().print()
            return False
        answer = answer.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        err().print(Text("Please enter y or n"), style="prompt.invalid")


def ask(prompt: str) -> str:
    """Ask for a line of text on the terminal (stderr); return it stripped ("" if none)."""
    from rich.prompt import Prompt

    try:
        return str(Prompt.ask(Text(safe(prompt)), console=err(), default="")).strip()
    except EOFError:
        return ""


from crisiskit.console.live import RunDisplay  # noqa: E402  (needs the helpers above)
from crisiskit.console.plan import render_plan  # noqa: E402

__all__ = [
    "RunDisplay",
    "ask",
    "close_stdout",
    "confirm",
    "emit_json",
    "emit_json_lines",
    "err",
    "error",
    "info",
    "is_broken_pipe",
    "is_terminal",
    "out",
    "pipe_closed",
    "render_plan",
    "safe",
    "table",
    "text",
    "warn",
    "write",
]


