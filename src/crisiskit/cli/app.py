"""The Typer application, its global options, and the error boundary shared by every command.

Global options (`-i/--inventory`, `--home`, `--output`, `-v/--verbose`) are accepted before
the command or after it, on every command: `handles_errors` (which every command goes
through) adds them to the command's parameters and applies them to the invocation's
`AppState`; `group()` does the same for command groups. A command reads them with
`state(ctx)` and never declares them itself.

`handles_errors` is the boundary every command goes through: crisiskit's errors become a line
on stderr and their exit code (errors.py), a declined confirmation exit 4, a Ctrl-C one line
and exit 130, and a closed stdout (`| head`) is not an error at all.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from crisiskit import __version__, console
from crisiskit.errors import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    CrisisKitError,
    Declined,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class AppState:
    """Global options, shared by every command through `ctx.obj`."""

    inventory_path: Path
    home: Path
    output: OutputFormat = OutputFormat.text
    verbose: bool = False

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json

    @property
    def playbooks_dir(self) -> Path:
        """Return the playbooks folder: `playbooks/` beside the inventory file."""
        try:
            return self.inventory_path.resolve().parent / "playbooks"
        except (OSError, RuntimeError):  # a loop of links: reading the inventory reports it
            return self.inventory_path.absolute().parent / "playbooks"


def _option(*decls: str, kind: Any, help: str) -> Any:
    return Annotated[kind | None, typer.Option(*decls, help=help, show_default=False)]


# The global options as every command (and group) also accepts them, after its name.
GLOBAL_PARAMETERS = (
    inspect.Parameter(
        "global_inventory", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=_option("--inventory", "-i", kind=Path,
                           help="Inventory YAML file (global option)."),
    ),
    inspect.Parameter(
        "global_home", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=_option("--home", kind=Path, help="Runtime state folder (global option)."),
    ),
    inspect.Parameter(
        "global_output", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=_option("--output", kind=OutputFormat,
                           help="text, or json on stdout only (global option)."),
    ),
    inspect.Parameter(
        "global_verbose", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[
            bool | None,
            typer.Option("--verbose", "-v", help="More detail (global option).",
                         show_default=False),
        ],
    ),
)
GLOBAL_NAMES = frozenset(p.name for p in GLOBAL_PARAMETERS)


def _apply_globals(args: tuple[Any, ...], given: dict[str, Any]) -> None:
    """Apply the global options given after a command's name to the invocation's AppState."""
    ctx = next((a for a in (*args, *given.values()) if hasattr(a, "find_root")), None)
    values = {k: given.pop(k) for k in list(given) if k in GLOBAL_NAMES}
    if ctx is None:
        return
    root = ctx.find_root().obj
    if not isinstance(root, AppState):
        return
    if values.get("global_inventory") is not None:
        root.inventory_path = Path(values["global_inventory"])
    if values.get("global_home") is not None:
        root.home = Path(values["global_home"])
    if values.get("global_output") is not None:
        root.output = OutputFormat(values["global_output"])
    if values.get("global_verbose"):
        root.verbose = True
        os.environ.setdefault("CRISISKIT_VERBOSE", "1")


def with_global_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return `fn` also accepting the global options (applied to AppState before it runs)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _apply_globals(args, kwargs)
        return fn(*args, **kwargs)

    signature = inspect.signature(fn, eval_str=True)
    taken = set(signature.parameters)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(),
                    *(p for p in GLOBAL_PARAMETERS if p.name not in taken)]
    )
    return wrapper


def group(sub: typer.Typer, name: str) -> None:
    """Add a command group to the app; it accepts the global options too (`audit -i X show`)."""

    def accept(ctx: typer.Context) -> None:
        return None

    sub.callback()(with_global_options(accept))
    app.add_typer(sub, name=name)


app = typer.Typer(
    name="crisiskit",
    help="Provision a commune's cyber-crisis kit (Microsoft 365 accounts, licences, Team, "
    "SharePoint, Temporary Access Passes, device loans) through Microsoft Graph, check it, "
    "and keep its audit trail. Global options go before or after the command.",
    epilog="Example: crisiskit activate aubagne --sandbox",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crisiskit {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    *,
    inventory: Annotated[
        Path,
        typer.Option(
            "--inventory", "-i", envvar="CRISISKIT_INVENTORY", help="Inventory YAML file."
        ),
    ] = Path("inventory.yaml"),
    home: Annotated[
        Path,
        typer.Option(envvar="CRISISKIT_HOME", help="Runtime state folder (state.db, outputs)."),
    ] = Path(".crisiskit"),
    output: Annotated[
        OutputFormat, typer.Option("--output", help="text, or json on stdout only.")
    ] = OutputFormat.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = AppState(inventory_path=inventory, home=home, output=output, verbose=verbose)
    if verbose:
        os.environ.setdefault("CRISISKIT_VERBOSE", "1")


F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(fn: F) -> F:
    """Make `fn` a crisiskit command: the global options after its name, and the error boundary.

    Crisiskit's own exceptions become a message on stderr and the mapped exit code; a declined
    confirmation is said as a plain line (exit 4); a Ctrl-C that reached here (outside an
    operation, which says more itself) is one line and exit 130; output into a closed pipe
    ends quietly with the command's own result. Every command is declared
    `@app.command(...)` over `@handles_errors`.
    """

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Declined as exc:
            console.info(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except CrisisKitError as exc:
            console.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.info("Interrupted.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:
            if not console.is_broken_pipe(exc):
                # The system said no (a full disk, a permission): not a bug, and not hidden.
                console.error(f"the system refused: {exc}. What was done is journaled: fix "
                              "the cause and rerun.")
                raise typer.Exit(EXIT_FAILED) from None
            console.close_stdout()
            return None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # Typer's own outcomes (an exit code, a usage error): Typer says them
        except Exception as exc:  # noqa: BLE001 - the last boundary: no traceback on screen
            raise internal_error(exc) from None

    return with_global_options(guarded)  # type: ignore[return-value]


def internal_error(exc: BaseException) -> typer.Exit:
    """Say that crisiskit itself failed, keep the traceback in a private file; exit 70.

    A bug is not the operator's doing: one sentence says so, where its traceback is (a file
    of mode 0600 in the system's temporary folder: it names code, never a secret, which is a
    masked type) and that what was done is journaled, so a rerun resumes.
    """
    import tempfile
    import traceback

    fd, name = tempfile.mkstemp(prefix="crisiskit-crash-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"crisiskit {__version__}\n")
        out.write("".join(traceback.format_exception(exc)))
    console.error(
        f"internal error ({type(exc).__name__}): a bug in crisiskit, not in what you typed. "
        f"Its traceback is in {name} (send it to the maintainers). What was done is "
        "journaled: a rerun resumes."
    )
    return typer.Exit(EXIT_INTERNAL)


def state(ctx: typer.Context) -> AppState:
    """Return the global options of this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, AppState)
    return obj
