"""Commands: validate, conventions, schema (registered on crisiskit.cli.app.app).

Nothing here talks to Microsoft Graph, so nothing here imports msgraph or azure; the inventory
and pydantic are imported inside the commands so that `crisiskit --help` stays instant.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiskit import console
from crisiskit.cli.app import AppState, app, handles_errors, state
from crisiskit.errors import EXIT_INPUT, Diagnostic, InputError

if TYPE_CHECKING:
    from crisiskit.inventory import Checked


def parse_day(value: str | None, option: str) -> date:
    """Return the date an option names (YYYY-MM-DD), today if absent; InputError otherwise."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def check_all(st: AppState) -> tuple[Checked, list[str]]:
    """Validate the inventory and every playbook beside it; raise InputError with all problems."""
    from crisiskit.inventory import check_inventory
    from crisiskit.playbooks import list_playbooks, playbook_diagnostics

    found: list[Diagnostic] = []
    checked = None
    try:
        checked = check_inventory(st.inventory_path, st.playbooks_dir)
    except InputError as exc:
        if not exc.diagnostics:
            raise
        found.extend(exc.diagnostics)
    names = list_playbooks(st.playbooks_dir)
    for name in names:
        try:
            found.extend(playbook_diagnostics(st.playbooks_dir / f"{name}.yaml")[1])
        except InputError as exc:
            found.extend(exc.diagnostics or [Diagnostic(str(name), 1, 1, "", str(exc))])
    if found or checked is None:
        count = len(found)
        raise InputError(f"{count} problem{'s' if count != 1 else ''}", found)
    return checked, names


@app.command()
@handles_errors
def validate(ctx: typer.Context) -> None:
    """Check the inventory and the playbooks; report every problem at once, change nothing.

    Example: crisiskit -i inventory.yaml validate
    """
    st = state(ctx)
    try:
        checked, playbooks = check_all(st)
    except InputError as exc:
        if st.json:
            problems = [
                {"file": d.file, "line": d.line, "col": d.col, "path": d.path,
                 "message": d.message}
                for d in exc.diagnostics
            ] or [{"file": None, "line": None, "col": None, "path": "", "message": str(exc)}]
            console.emit_json({"valid": False, "problems": problems})
        if not exc.diagnostics:
            raise
        for diagnostic in exc.diagnostics:
            console.info(str(diagnostic))
        console.error(f"{exc.args[0]}; nothing was changed")
        raise typer.Exit(EXIT_INPUT) from None
    inv = checked.inventory
    summary: dict[str, Any] = {
        "valid": True,
        "inventory": str(st.inventory_path),
        "communes": len(inv.communes),
        "roster_entries": sum(len(c.roster) for c in inv.communes),
        "laptops": len(inv.devices.laptops),
        "phones": len(inv.devices.phones),
        "playbooks": playbooks,
        "homonyms": checked.result.homonyms,
    }
    if st.json:
        console.emit_json(summary)
        return
    console.text(
        f"{st.inventory_path}: valid: {summary['communes']} communes, "
        f"{summary['roster_entries']} roster entries, {summary['laptops']} laptops, "
        f"{summary['phones']} phones; playbooks: {', '.join(playbooks) or 'none'}"
    )
    for note in checked.result.notes:
        console.text(f"  homonym: {note}")


DUE_LABELS = {
    "renewal": "tacit renewal (Art. 7)",
    "term": "8-year term ends (Art. 7)",
    "termination": "termination takes effect (Art. 9)",
}


@app.command()
@handles_errors
def conventions(
    ctx: typer.Context,
    *,
    at: Annotated[
        str | None, typer.Option("--at", help="Date to evaluate, YYYY-MM-DD (default: today).")
    ] = None,
    due: Annotated[
        bool,
        typer.Option(
            "--due",
            help="Only what falls due within --within days: tacit renewals, 8-year terms, "
            "terminations taking effect.",
        ),
    ] = False,
    within: Annotated[
        int, typer.Option("--within", min=0, help="Window of --due, in days.", metavar="DAYS")
    ] = 90,
) -> None:
    """Show each commune's convention status (Articles 7 and 9) and its key dates.

    Example: crisiskit conventions --at 2027-01-01
    Example: crisiskit conventions --due --within 60
    """
    from crisiskit.conventions import status_at
    from crisiskit.inventory import load_inventory

    st = state(ctx)
    day = parse_day(at, "--at")
    inv = load_inventory(st.inventory_path, st.playbooks_dir)
    if due:
        _due(st, inv, day, within)
        return
    rows = []
    for commune in inv.communes:
        s = status_at(commune.convention, day)
        rows.append(
            {
                "commune": commune.id,
                "name": commune.name,
                "status": s.status.value,
                "next_renewal": s.next_renewal,
                "max_end": s.max_end,
                "termination_effective": s.termination_effective,
            }
        )
    if st.json:
        console.emit_json({"at": day.isoformat(), "conventions": rows})
        return
    console.table(
        f"Conventions at {day.isoformat()}",
        ["Commune", "Name", "Status", "Next renewal", "Max end", "Termination effective"],
        [
            [r["commune"], r["name"], r["status"], r["next_renewal"], r["max_end"],
             r["termination_effective"]]
            for r in rows
        ],
        caption="End dates are the first day no longer in force.",
    )


def _due(st: AppState, inv: Any, day: date, within: int) -> None:
    from crisiskit.conventions import due_within

    rows = [
        {"commune": c.id, "name": c.name, "kind": d.kind.value, "date": d.day,
         "days_left": d.days_left}
        for c in inv.communes
        for d in due_within(c.convention, day, within)
    ]
    rows.sort(key=lambda r: (r["date"], r["commune"]))
    if st.json:
        console.emit_json({"at": day.isoformat(), "within_days": within, "due": rows})
        return
    if not rows:
        console.text(f"Nothing falls due between {day.isoformat()} and the next {within} days.")
        return
    console.table(
        f"Conventions: what falls due within {within} days of {day.isoformat()}",
        ["Date", "In", "Commune", "Name", "What"],
        [[r["date"], f"{r['days_left']} d", r["commune"], r["name"], DUE_LABELS[r["kind"]]]
         for r in rows],
        caption="A renewal date is the first day of the renewed year; an end date is the "
        "first day no longer in force.",
    )


@app.command()
@handles_errors
def schema(ctx: typer.Context) -> None:
    """Print the JSON Schema of the inventory (the content of inventory.schema.json).

    Example: crisiskit schema > inventory.schema.json
    """
    from crisiskit.inventory.schema import schema_text

    console.write(schema_text())

