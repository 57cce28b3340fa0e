"""Commands: audit show, audit verify, audit export (registered on crisiskit.cli.app.app).

The audit log lives in the local state database; nothing here talks to Microsoft Graph.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisiskit import console
from crisiskit.cli.app import AppState, OutputFormat, group, handles_errors, state
from crisiskit.errors import EXIT_FAILED, InputError, StateMismatch
from crisiskit.words import count as plural
from crisiskit.words import paris_time

if TYPE_CHECKING:
    from crisiskit.state import Store

audit_app = typer.Typer(
    name="audit",
    help="Show, verify and export the tamper-evident audit log of every step and Graph write."
    "\n\nExample: crisiskit audit show --commune aubagne",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(audit_app, "audit")

DEFAULT_LIMIT = 50

CommuneOption = Annotated[
    str | None,
    typer.Option("--commune", "-c", help="Only the entries of this commune (any case)."),
]


_GUID = re.compile(r"\b([0-9a-fA-F]{8})(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")


def _abbreviate(value: str | None) -> str:
    """Shorten Graph ids in a table cell to their first 8 digits (export keeps them whole)."""
    return _GUID.sub(r"\1…", value or "")


def _commune(st: AppState, store: Store | None, commune: str | None) -> str | None:
    """Return the commune id `--commune` names (any case), or raise InputError (exit 2).

    Known ids are the inventory's (when it can be read) and those the audit log holds.
    """
    if commune is None:
        return None
    from crisiskit.errors import unknown

    known: set[str] = set()
    try:
        from crisiskit.inventory import load_inventory

        known |= {c.id for c in load_inventory(st.inventory_path).communes}
    except InputError:
        pass  # the audit log is readable without an inventory
    if store is not None:
        known |= {e.commune for e in store.audit_entries() if e.commune}
    wanted = commune.strip().lower()
    if wanted in known:
        return wanted
    raise unknown("commune", commune, sorted(known))


def _open(st: AppState) -> Store | None:
    """Open the state store, or return None (with a note) when there is none yet."""
    from crisiskit.state import DB_NAME, Store

    if not (st.home / DB_NAME).exists():
        console.info(f"no state database at {st.home / DB_NAME}: nothing recorded yet")
        return None
    return Store.open(st.home)


@audit_app.command("show")
@handles_errors
def show(
    ctx: typer.Context,
    *,
    commune: CommuneOption = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=0, help="Show the last N entries (0: all)."),
    ] = DEFAULT_LIMIT,
) -> None:
    """Show the latest audit entries, oldest first (times in Paris time).

    Example: crisiskit audit show --commune aubagne --limit 20
    """
    st = state(ctx)
    as_json = st.output is OutputFormat.json
    store = _open(st)
    if store is None:
        commune = _commune(st, None, commune)
        entries, total = [], 0
    else:
        with store:
            commune = _commune(st, store, commune)
            entries = store.audit_entries(commune, limit=limit or None)
            total = store.audit_count(commune)
    if as_json:
        console.emit_json([e.to_json() for e in entries])
        return
    if not entries:
        console.info("no audit entries" + (f" for {commune}" if commune else ""))
        return
    rows = [
        (
            e.seq,
            paris_time(e.at, seconds=True),
            e.operator,
            e.commune or "",
            e.action,
            _abbreviate(e.target),
            e.outcome,
            _abbreviate(e.request_id),
        )
        for e in entries
    ]
    caption = (
        f"last {len(entries)} of {total} entries (Paris time, ids shortened); --limit 0 shows "
        "all; --output json gives them whole"
        if total > len(entries)
        else f"{plural(total, 'entry')} (Paris time, ids shortened)"
    )
    console.table(
        "Audit log" + (f" – {commune}" if commune else ""),
        ("seq", "at", "operator", "commune", "action", "target", "outcome", "request id"),
        rows,
        caption=caption,
    )


@audit_app.command("verify")
@handles_errors
def verify(
    ctx: typer.Context,
    *,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="SEQ:HASH recorded earlier (e.g. on a handover sheet) that must still match; "
            "repeatable.",
        ),
    ] = None,
) -> None:
    """Check the audit hash chain; exit 1 listing each problem if an entry was tampered with.

    A missing state database, or an empty one in a home that holds the outputs of earlier
    runs, is not an intact chain: exit 3, saying so.

    Example: crisiskit audit verify --anchor "57:3f2a 9c1d 0b7e 55aa"
    """
    from crisiskit.engine.preflight import evidence
    from crisiskit.state import DB_NAME, Store

    st = state(ctx)
    as_json = st.output is OutputFormat.json
    anchors = [_parse_anchor(value) for value in anchor or []]
    database = st.home / DB_NAME
    if not database.exists():
        raise StateMismatch(
            f"no state database at {database}: there is no audit chain to verify. If this "
            "home ran crisiskit before, its database was lost: restore it from your backup "
            "(the audit chain cannot be rebuilt from the tenant)"
        )
    with Store.open(st.home) as store:
        problems = store.audit_verify(anchors)
        count = store.audit_count()
    left = evidence(st.home) if count == 0 else []
    if left:
        raise StateMismatch(
            f"the state database {database} holds no audit entry, but this home holds the "
            f"outputs of earlier runs ({', '.join(left[:3])}): its audit chain was lost or "
            "emptied; restore the database from your backup"
        )
    if as_json:
        console.emit_json({"intact": not problems, "entries": count, "problems": problems})
    elif not problems:
        console.text(f"audit chain intact: {plural(count, 'entry')}")
    else:
        console.error(f"audit chain broken: {plural(len(problems), 'problem')} in "
                      f"{plural(count, 'entry')}")
        for problem in problems:
            console.text(f"  - {problem}")
    if problems:
        raise typer.Exit(EXIT_FAILED)


def _parse_anchor(value: str) -> tuple[int, str]:
    seq, sep, digest = value.partition(":")
    digest = "".join(digest.split()).lower()
    if (
        not sep
        or not seq.strip().isdigit()
        or not 16 <= len(digest) <= 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise InputError(f"--anchor: {value!r} is not SEQ:HASH (16 to 64 hex digits)")
    return int(seq), digest


@audit_app.command("export")
@handles_errors
def export(
    ctx: typer.Context,
    *,
    commune: CommuneOption = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Write to this file (mode 0600) instead of stdout."),
    ] = None,
) -> None:
    """Export audit entries as JSON Lines, one entry per line with its hashes (times UTC).

    JSON Lines whatever --output says: one JSON document per line.

    Example: crisiskit audit export --commune aubagne --file audit-aubagne.jsonl
    """
    import json

    from crisiskit.state import atomic_write

    st = state(ctx)
    store = _open(st)
    entries = []
    if store is None:
        commune = _commune(st, None, commune)
    else:
        with store:
            commune = _commune(st, store, commune)
            entries = store.audit_entries(commune)
    if file is None:
        console.emit_json_lines(e.to_json() for e in entries)
        return
    if file.exists() and file.is_dir():
        raise InputError(f"--file: {file} is a folder")
    data = "".join(
        json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries
    ).encode("utf-8")
    try:
        atomic_write(file, data, 0o600)
    except OSError as exc:
        raise InputError(f"--file: cannot write {file}: {exc.strerror}") from None
    console.info(f"exported {plural(len(entries), 'audit entry')} to {file}")
