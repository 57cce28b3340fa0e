"""Commands: sim serve (registered on crisiskit.cli.app.app).

The simulator is a stand-in for Microsoft Graph; nothing here imports msgraph or azure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisiskit.cli.app import group, handles_errors, state
from crisiskit.errors import InputError

sim_app = typer.Typer(
    name="sim",
    help="Run the local Microsoft Graph simulator (tests, --sandbox runs, crisis exercises)."
    "\n\nExample: crisiskit sim serve --port 0 --profile realistic",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(sim_app, "sim")


@sim_app.command("serve")
@handles_errors
def serve(
    ctx: typer.Context,
    *,
    host: Annotated[
        str, typer.Option(help="Address to listen on; loopback unless you mean otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = 8765,
    state_file: Annotated[
        Path | None,
        typer.Option("--state", help="JSON state file: reloaded at start, rewritten after writes."),
    ] = None,
    profile: Annotated[
        str, typer.Option(help="Behaviour profile: instant, realistic or hostile.")
    ] = "instant",
    scale: Annotated[
        float, typer.Option(help="Multiplier applied to the profile's delays.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the random source (ids, faults).")] = 0,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="CRISISKIT_SIM_TOKEN", help="Accept only this bearer token (default: any)."
        ),
    ] = None,
    roles: Annotated[
        str | None,
        typer.Option(
            help="Application roles tokens hold, comma-separated (default: README's "
            "least-privilege list), e.g. User.ReadWrite.All,Group.ReadWrite.All."
        ),
    ] = None,
    seats: Annotated[
        int | None,
        typer.Option(help="Seats of the tenant's licence SKU (default 250; also at runtime)."),
    ] = None,
    empty: Annotated[
        bool, typer.Option("--empty", help="Start with an empty tenant (no inventory seeding).")
    ] = False,
) -> None:
    """Serve a simulated Microsoft 365 tenant until Ctrl-C; print its base URL first.

    With --output json the first line is {"base_url": ..., "control_url": ...}.

    Example: crisiskit -i inventory.yaml sim serve --port 0 --profile realistic --seed 7
    """
    from crisiskit.sim.permissions import parse_roles
    from crisiskit.sim.server import serve as run

    if not 0 <= port <= 65535:
        raise InputError(f"--port: {port} is not a TCP port (0..65535)")
    if scale < 0:
        raise InputError(f"--scale: {scale} must be >= 0")
    if seats is not None and not 0 <= seats <= 10_000_000:
        raise InputError(f"--seats: {seats} must be between 0 and 10000000")
    inventory = None
    if not empty and (state_file is None or not state_file.exists()):
        from crisiskit.inventory import load_inventory

        inventory = load_inventory(state(ctx).inventory_path)
    run(
        host=host,
        port=port,
        state_file=state_file,
        profile=profile,
        scale=scale,
        seed=seed,
        token=token,
        roles=parse_roles(roles) if roles is not None else None,
        empty=empty,
        inventory=inventory,
        seats=seats,
        json_line=state(ctx).json,
    )
