"""Commands: exercise list / validate / run (registered on crisiskit.cli.app.app as `exercise`).

Parse, call `crisiskit.exercise` (scenario loading, the runner, the report), render. The run
itself is wired in `cli/wiring.run_exercise` (the embedded simulator, a temporary home, one
Graph client).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisiskit import console
from crisiskit.cli.app import AppState, group, handles_errors, state
from crisiskit.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from crisiskit.exercise.run import Event
    from crisiskit.exercise.scenario import Scenario

exercise_app = typer.Typer(
    name="exercise",
    help="Crisis exercises: scripted scenarios played on a fresh simulated tenant, with a "
    "French report (chronogramme, time to operational, RETEX)."
    "\n\nExample: crisiskit exercise run rancongiciel-aubagne",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(exercise_app, "exercise")

OUTCOMES = {"ok": "done", "failed": "FAILED", "refused": "refused", "pending": "not run"}


def scenarios_dir(s: AppState) -> Path:
    """Return `playbooks/exercises/` beside the inventory."""
    return s.playbooks_dir / "exercises"


def _load(s: AppState, path: Path) -> Scenario:
    from crisiskit.exercise.scenario import load_scenario
    from crisiskit.inventory import load_inventory

    inventory = load_inventory(s.inventory_path)
    if not path.exists() and not path.is_symlink() and path.parent == Path("."):
        candidate = scenarios_dir(s) / f"{path.name.removesuffix('.yaml')}.yaml"
        if candidate.exists():
            path = candidate
    return load_scenario(path, inventory, s.playbooks_dir)


@exercise_app.command("list")
@handles_errors
def list_command(ctx: typer.Context) -> None:
    """List the scenarios of playbooks/exercises/ beside the inventory.

    Example: crisiskit exercise list
    """
    from crisiskit.exercise.scenario import list_scenarios

    s = state(ctx)
    rows = []
    for path in list_scenarios(scenarios_dir(s)):
        try:
            sc = _load(s, path)
        except InputError as exc:
            rows.append({"name": path.stem, "valid": False, "title": str(exc), "communes": 0,
                         "injects": 0, "length": "", "file": str(path)})
            continue
        from crisiskit.exercise.scenario import offset_text

        rows.append({"name": sc.name, "valid": True, "title": sc.title,
                     "communes": len(sc.communes), "injects": len(sc.injects),
                     "length": offset_text(sc.end), "file": str(path)})
    if s.json:
        console.emit_json(rows)
        return
    if not rows:
        console.info(f"No scenario in {scenarios_dir(s)}.")
        return
    console.table(
        None,
        ["Scenario", "Title", "Communes", "Injects", "Ends at"],
        [[r["name"], r["title"] if r["valid"] else "INVALID (crisiskit exercise validate)",
          str(r["communes"]), str(r["injects"]), r["length"]] for r in rows],
        whole=[0],
    )


@exercise_app.command("validate")
@handles_errors
def validate_command(
    ctx: typer.Context,
    scenario: Annotated[Path, typer.Argument(help="Scenario file (or a name in "
                                             "playbooks/exercises/).")],
) -> None:
    """Check a scenario against the inventory; report every problem as FILE:LINE:COL (exit 2).

    Example: crisiskit exercise validate playbooks/exercises/fournisseur-commun.yaml
    """
    from crisiskit.exercise.scenario import offset_text

    s = state(ctx)
    sc = _load(s, scenario)
    if s.json:
        console.emit_json({"scenario": sc.name, "valid": True, "communes": list(sc.communes),
                           "injects": len(sc.injects), "ends_at": sc.end})
        return
    console.text(f"{sc.path}: valid: {len(sc.communes)} commune(s), {len(sc.injects)} injects, "
                 f"ends at {offset_text(sc.end)}; speed ×{sc.speed:g}, seed {sc.seed}.")


@exercise_app.command("run")
@handles_errors
def run_command(
    ctx: typer.Context,
    scenario: Annotated[Path, typer.Argument(help="Scenario file (or a name in "
                                             "playbooks/exercises/).")],
    *,
    report: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR",
        help="Folder of the report (default: $CRISISKIT_HOME/exercises/<scenario>-<UTC>/).")
    ] = None,
    speed: Annotated[float | None, typer.Option(
        "--speed", help="Speed factor (scenario seconds per real second), e.g. 60.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the simulator.")] = None,
    operator: Annotated[str | None, typer.Option(
        help="Who runs the exercise, for its audit trail (default: $USER).")] = None,
) -> None:
    """Play a scenario on a fresh simulated tenant and write its report (French).

    Everything runs in this process through the production operations (activate, roster
    changes, devices swap, credentials reissue), one Graph client and one throttling budget
    shared by every commune; each inject is applied at its time. No real tenant is touched.
    The report (rapport-exercice.md, .html, .pdf, chronologie.png, evenements.json) says
    what was planned and what happened, each commune's time to operational, the traffic and
    the failures recovered, and leaves the RETEX to the observers.

    Example: crisiskit exercise run rancongiciel-aubagne --speed 120 --report /tmp/retex
    """
    from crisiskit.cli.wiring import run_exercise
    from crisiskit.exercise.report import requests, write_report
    from crisiskit.exercise.scenario import offset_text

    s = state(ctx)
    if speed is not None and not 1 <= speed <= 100000:
        raise InputError("--speed must be between 1 and 100000")
    if seed is not None and seed < 0:
        raise InputError("--seed must not be negative")
    sc = _load(s, scenario).with_options(speed=speed, seed=seed)
    from crisiskit.state.files import private_dir

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = report or private_dir(s.home, "exercises") / f"{sc.name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    who = operator or os.environ.get("USER") or "exercise"
    console.info(f"Exercise {sc.name}: {len(sc.injects)} injects until {offset_text(sc.end)}, "
                 f"speed ×{sc.speed:g} (about {sc.end / sc.speed:.0f} s), seed {sc.seed}, on "
                 "a fresh simulated tenant (no real tenant is touched).")

    def said(event: Event) -> None:
        if s.json:
            return
        where = f" {event.commune}" if event.commune else ""
        console.info(
            f"{offset_text(event.finished or 0.0)} (planned {offset_text(event.planned)}, "
            f"started {offset_text(event.started or 0.0)}){where}: {event.kind} "
            f"{OUTCOMES.get(event.outcome, event.outcome)}"
            + (f": {event.detail}" if event.detail else ""))

    try:
        result = run_exercise(sc, operator=who, on_event=said)
    except KeyboardInterrupt:
        console.info("Exercise interrupted; no report written.")
        raise typer.Exit(130) from None
    written = write_report(result, folder)
    if s.json:
        console.emit_json({**result.to_json(),
                           "report": {k: str(v) for k, v in written.paths.items()}})
    else:
        for c in result.communes:
            took = c.time_to_operational
            if c.hit_at is not None:
                console.text(f"{c.id}: " + (f"operational in {offset_text(took)[2:]} (the "
                             f"service's own delay: {offset_text(c.service_delay)[2:]})"
                             if took is not None else f"not operational ({c.problem})"))
        t = result.totals
        console.text(f"Graph: {requests(t)} requests, {t['retries']} retries, "
                     f"{t['throttled']} throttled, {t['ambiguous']} uncertain writes settled; "
                     f"{result.wall_s:.1f} s.")
        console.text("Report: " + ", ".join(str(p) for p in written.paths.values()))
    if not result.ok:
        raise OperationFailed("the exercise met failures that were not recovered; see the "
                              f"report ({written.paths['md']})")


__all__ = ["exercise_app"]
