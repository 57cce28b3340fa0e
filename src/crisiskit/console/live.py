"""ONE live area on stderr for a whole run: a row per phase, waits with their elapsed time.

    with RunDisplay() as display:          # after the plan and the prompt
        phase = display("Accounts", 12)    # the engine's phase factory (PhaseFactory)
        phase.advance()                    # a step of the phase finished
        phase.waiting("for Microsoft Teams to finish provisioning")   # a wait began
        phase.waiting(None)                # it ended (advance and finish end it too)
        phase.finish("12 created")         # the row leaves the area: one line above it
        display.log("Resumed after interrupted run #3.")

On a terminal the area is a rich `Live` redrawn 4 times a second and erased when the run
ends (transient), so the final screen holds only the lines printed above it: one line per
finished phase, nothing stale, nothing twice. Every other line the run prints (console.text,
info, warn) goes above the area too, never through it. Without a terminal (a log, CI) there is
no area: each phase's line, each wait's start and a "still waiting" line every minute are
written to stderr as plain lines.

A wait row reads "Team  ━━━━━━━━━━━━  0/4  waiting for Microsoft Teams to finish
provisioning, 1 min 40 s": the elapsed time is measured here, from when the wait was
reported (the engine reports waits as events; see `crisiskit.engine.session.RunSession.event`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

import crisiskit.console as _console
from crisiskit.words import duration

BAR_WIDTH = 24
TICK_S = 60.0  # without a terminal: a "still waiting" line this often


@dataclass
class PhaseRow:
    """One phase of a run as the display shows it (see the module docstring)."""

    display: RunDisplay
    name: str
    total: int
    done: int = 0
    what: str | None = None  # what the phase waits for, while it waits
    since: float | None = None  # when that wait began (the display's clock)
    waited: float = 0.0  # seconds spent waiting, waits ended so far
    finished: bool = False
    last_tick: float = field(default=0.0)

    def advance(self, n: int = 1, note: str | None = None) -> None:
        """Count `n` finished steps of this phase (a note is logged without a terminal)."""
        self.done += n
        if note and not self.display.live:
            self.display.log(f"[{self.name}] {note}")

    def waiting(self, what: str | None) -> None:
        """Say what the phase now waits for ("for SharePoint to …"), or None: it stopped."""
        now = self.display.clock()
        if what == self.what:
            return
        self._end_wait(now)
        if what:
            self.what, self.since, self.last_tick = what, now, now
            if not self.display.live:
                self.display.log(f"{self.name}: waiting {what}")

    def finish(self, summary: str) -> None:
        """End the phase: its row leaves the live area, its line is printed above it."""
        if self.finished:
            return
        self._end_wait(self.display.clock())
        self.finished = True
        after = f" (after waiting {duration(self.waited)})" if self.waited >= 1 else ""
        self.display.log(f"{self.name}: {summary}{after}")

    def elapsed(self) -> float:
        """Return how long the current wait has lasted (0 when not waiting)."""
        return 0.0 if self.since is None else self.display.clock() - self.since

    def _end_wait(self, now: float) -> None:
        if self.since is not None:
            self.waited += now - self.since
        self.what = self.since = None


class RunDisplay:
    """The live area of one run (see the module docstring); also the engine's phase factory."""

    def __init__(
        self,
        *,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        self.terminal = _console.is_terminal() if terminal is None else terminal
        self.clock = clock
        self.tick_s = tick_s
        self.rows: list[PhaseRow] = []
        self._live: Live | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> RunDisplay:
        """Route every line printed from now on through the display (the area itself
        appears with the first phase, so that a plan and a prompt shown before stay whole)."""
        _console._display = self
        return self

    def _start(self) -> None:
        if self._live is not None or self._ticker is not None or self._stop.is_set():
            return
        if self.terminal:
            self._live = Live(
                get_renderable=self._render,
                console=_console.err(),
                transient=True,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._quiet_echo()
            self._live.start()
        else:
            self._ticker = threading.Thread(target=self._tick, name="waits", daemon=True)
            self._ticker.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Erase the live area (what was printed above it stays); idempotent."""
        self._stop.set()
        if self._live is not None:
            live, self._live = self._live, None
            try:
                live.stop()
            except OSError:  # a terminal gone away (closed, hung up) is not an error
                pass
        self._restore_echo()
        if _console._display is self:
            _console._display = None

    def _quiet_echo(self) -> None:
        """Stop the terminal from echoing "^C" into the live area (restored by close)."""
        self._echo: tuple[int, list[Any]] | None = None
        try:
            import sys
            import termios

            fd = sys.stdin.fileno()
            if not os.isatty(fd):
                return
            saved = termios.tcgetattr(fd)
            quiet = list(saved)
            quiet[3] &= ~termios.ECHOCTL
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
            self._echo = (fd, saved)
        except (ImportError, OSError, ValueError, AttributeError):
            self._echo = None

    def _restore_echo(self) -> None:
        echo = getattr(self, "_echo", None)
        if echo is None:
            return
        self._echo = None
        try:
            import termios

            termios.tcsetattr(echo[0], termios.TCSANOW, echo[1])
        except (ImportError, OSError):
            pass

    @property
    def live(self) -> bool:
        return self._live is not None

    # -- what the run reports -------------------------------------------------------------

    def __call__(self, name: str, total: int) -> PhaseRow:
        """Start a phase of `total` steps (the engine's `PhaseFactory`)."""
        row = PhaseRow(self, _console.safe(name), total)
        with self._lock:
            self.rows.append(row)
        self._start()
        return row

    def log(self, message: str, *, style: str | None = None) -> None:
        """Print one line above the live area (to stderr without a terminal)."""
        self.print(Text(_console.safe(message)), style=style)

    def print(
        self, renderable: RenderableType, *, style: str | None = None, wrap: bool = False
    ) -> None:
        """Print anything above the live area (used by console.text / info / warn)."""
        target = self._live.console if self._live is not None else _console.err()
        target.print(renderable, style=style, soft_wrap=not wrap)

    def shares(self, other: Console) -> bool:
        """Tell whether `other` writes to the terminal the live area is drawn on."""
        return self._live is not None and other.is_terminal

    def progress(self) -> list[tuple[str, int, int]]:
        """Return (phase, steps done, steps) of every phase shown so far, in order."""
        with self._lock:
            return [(r.name, r.done, r.total) for r in self.rows]

    # -- drawing ---------------------------------------------------------------------------

    def _render(self) -> RenderableType:
        with self._lock:
            rows = [r for r in self.rows if not r.finished]
        # One column short of the terminal's width: a full line leaves the cursor waiting to
        # wrap, and anything echoed then would push the area down a line.
        room = max(_console.err().width - 1, 20)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(no_wrap=True)
        width = max((len(r.name) for r in rows), default=0)
        counts = max((len(f"{r.done}/{r.total}") for r in rows), default=0)
        for r in rows:
            wait = ""
            if r.what:
                # What is waited for is cut if need be; for how long, never.
                elapsed = f", {duration(r.elapsed())}"
                left = room - (width + BAR_WIDTH + counts + 3) - len(elapsed) - len("waiting ")
                what = r.what if len(r.what) <= left else r.what[: max(left - 1, 0)] + "…"
                wait = f"waiting {what}{elapsed}"
            grid.add_row(
                Text(r.name.ljust(width)),
                ProgressBar(total=max(r.total, 1), completed=min(r.done, r.total),
                            width=BAR_WIDTH),
                Text(f"{r.done}/{r.total}"),
                Text(wait, style="cyan"),
            )
        return grid

    def _tick(self) -> None:
        """Without a terminal: say, once a minute, what the run is still waiting for."""
        while not self._stop.wait(min(self.tick_s, 5.0)):
            now = self.clock()
            with self._lock:
                rows = [r for r in self.rows if r.what and not r.finished]
            for r in rows:
                if r.since is not None and now - r.last_tick >= self.tick_s:
                    r.last_tick = now
                    self.log(f"{r.name}: still waiting {r.what}, {duration(now - r.since)}")

