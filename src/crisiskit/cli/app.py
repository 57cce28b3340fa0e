"""The Typer application, its global options, and the error boundary shared by every command."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from crisiskit import __version__, console
from crisiskit.errors import CrisisKitError


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


app = typer.Typer(
    name="crisiskit",
    help="Provision and tear down the Métropole's cyber-crisis kit for a commune "
    "(Microsoft 365 accounts, Team, SharePoint, devices) through Microsoft Graph.",
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
    """Turn crisiskit's own exceptions into a message on stderr and the mapped exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CrisisKitError as exc:
            console.error(str(exc))
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def state(ctx: typer.Context) -> AppState:
    """Return the global options of this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, AppState)
    return obj
