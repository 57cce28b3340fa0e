"""Command-line interface: thin commands that parse, call the core, render, and exit.

Each module registers its commands on `crisiskit.cli.app.app`; importing them here wires the CLI.
None of them imports msgraph or azure at module level, so commands that do not talk to Graph
stay instant.
"""

from __future__ import annotations

from crisiskit.cli import (  # noqa: F401  (registration)
    activate,
    audit,
    devices,
    documents,
    inventory,
    sim,
    teardown,
    validate,
)
from crisiskit.cli.app import app


def main() -> None:
    """Run the crisiskit command line."""
    app()
