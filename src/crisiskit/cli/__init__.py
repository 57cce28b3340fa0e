"""Command-line interface: thin commands that parse, call the core, render, and exit.

Each module registers its commands on `crisiskit.cli.app.app`; importing them here wires the CLI.
None of them imports msgraph or azure at module level, so commands that do not talk to Graph
stay instant.
"""

from __future__ import annotations

from crisiskit.cli import (  # noqa: F401  (registration)
    activate,
    audit,
    credentials,
    devices,
    documents,
    exercise,
    inventory,
    sim,
    teardown,
    validate,
)
from crisiskit.cli.app import app


def main() -> None:
    """Run the crisiskit command line.

    Whatever the command prints, a reader that went away (`crisiskit ... | head -1`) changes
    neither its exit code nor what it prints on stderr: the last flush of stdout is made here,
    where a closed pipe is silenced rather than reported by the interpreter at exit.
    The exit skips the interpreter's teardown (`os._exit`, as mypy does): by then everything
    the command wrote is closed or committed, and the journal is made to survive a kill.
    """
    import os
    import sys

    from crisiskit import console

    code: str | int | None = 0
    console.guard_stdout()
    try:
        app()
    except SystemExit as done:
        code = done.code
    finally:
        try:
            sys.stdout.flush()
        except OSError as exc:
            if not console.is_broken_pipe(exc):
                raise
            console.close_stdout()
    # The interpreter's teardown frees every object the command made, module by module
    # (msgraph's models alone are thousands of classes): 0.03 to 0.2 s after the work is
    # done, on every exit, for nothing the operator needs.
    if isinstance(code, str):  # sys.exit("message"): the message, then status 1
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stderr.flush()
    finally:
        os._exit(code or 0)
