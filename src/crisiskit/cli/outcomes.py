"""What `activate A B C` and `status` say at the end: the summary, a kit, what is pending.

Rendering only (the core's reports in, text or JSON out); `crisiskit.cli.activate` calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from crisiskit import console
from crisiskit.errors import EXIT_DECLINED, EXIT_OK
from crisiskit.words import count, paris_time, phone

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.engine.multi import CommuneResult
    from crisiskit.engine.status import KitStatus


def finish_several(
    results: list[CommuneResult],
    target: Target,
    *,
    json: bool,
    dry_run: bool,
    show_secrets: bool,
    verbose: bool,
    seconds: float = 0.0,
) -> None:
    """Print every commune's activation, one summary table, and exit with the worst code."""
    from crisiskit.cli.activation_report import render_report

    codes = {r.commune: exit_code(r, dry_run) for r in results}
    code = max(codes.values(), default=0)
    if json:
        console.emit_json({
            "communes": [_result_json(r, codes[r.commune]) for r in results],
            "target": target.to_json(),
            "exit_code": code,
        })
    else:
        for r in results:
            for notice in r.report.notices if r.report is not None else []:
                console.text(f"{r.commune}: {notice}", wrap=True)  # a lease taken over, …
            if r.report is not None and r.report.executed:
                console.text(f"== {r.commune} ==", style="bold")
                render_report(r.report, target, show_secrets=show_secrets, verbose=verbose,
                              seconds=seconds)
        if not dry_run:
            render_summary(results, codes)
        for r in results:
            if r.error is not None:
                console.error(f"{r.commune}: {r.error}")
        if dry_run:
            console.info("Dry run: nothing was changed.")
        elif any(r.report is not None and not r.report.confirmed for r in results):
            console.info(f"Declined: nothing was changed {target.where}.")
    if code:
        raise typer.Exit(code)


def exit_code(result: CommuneResult, dry_run: bool) -> int:
    """One commune's exit code: its error's, 4 declined, 0 for a dry run, else its report's."""
    if result.error is not None or result.report is None:
        return result.exit_code
    if dry_run:
        return EXIT_OK
    if not result.report.confirmed:
        return EXIT_DECLINED
    return result.exit_code


def _result_json(result: CommuneResult, code: int) -> dict[str, Any]:
    body = result.report.to_json() if result.report is not None else {"commune": result.commune}
    return {**body, "exit_code": code,
            "error": str(result.error) if result.error is not None else None}


def _mailbox_count(outcome: Any) -> str:
    ready = len(outcome.mailboxes_ready)
    return f"{ready}/{ready + len(outcome.mailboxes_pending)} ready"


def render_summary(results: list[CommuneResult], codes: dict[str, int]) -> None:
    """One line per commune: what its activation did, what is still provisioning, its code."""
    rows = []
    for r in results:
        outcome = r.report.outcome if r.report is not None else None
        if r.error is not None:
            what = type(r.error).__name__
        elif r.report is not None and not r.report.confirmed:
            what = "declined"
        elif outcome is None:
            what = "not run"
        elif outcome.failures:
            what = f"{len(outcome.failures)} failed"
        elif outcome.pending or outcome.writes_pending:
            what = "provisioning"
        else:
            what = "complete"
        rows.append((
            r.commune,
            what,
            str(sum(outcome.created.values())) if outcome else "-",
            _mailbox_count(outcome) if outcome else "-",
            ("ready" if outcome.team_id else "pending") if outcome else "-",
            ("ready" if outcome.drive_id else "pending") if outcome else "-",
            str(codes[r.commune]),
        ))
    console.table(
        "Activations",
        ("commune", "result", "created", "mailboxes", "Team", "SharePoint", "exit"),
        rows,
    )


def render_waited(result: Any) -> None:
    """Say what `status --wait` waited for, what is still pending, and what finishes it."""
    for line in result.ready:
        console.text(f"  {line}")
    for line in result.pending:
        console.text(f"  ! {line}")
    commune = result.status.commune
    if result.pending:
        console.text(f"Still provisioning after the documented wait; rerun `crisiskit status "
                     f"{commune} --wait` later, or see the Microsoft 365 service health.")
    if result.remaining:
        console.text(f"Ready to finish: `crisiskit activate {commune}` does what remains: "
                     + "; ".join(result.remaining))
    if result.complete:
        console.text(f"{commune}: the crisis kit is complete.")
    if result.sheet is not None:
        console.text("Handover sheet, complete edition: "
                     + ", ".join(str(p) for p in result.sheet.handover.values()))
    if result.sheet_left is not None:
        console.text(f"Handover sheet: {result.sheet_left}.")


def render_status(st: KitStatus, target: Target) -> None:
    """Print one commune's kit: accounts, passes, links, devices on loan."""
    present = sum(1 for a in st.accounts if a.account == "present")
    console.text(f"Kit of {st.commune} {target.where}", style="bold")
    windows = {(a.tap_valid_from, a.tap_valid_until) for a in st.accounts if a.tap_valid_until}
    console.table(
        f"{st.commune}: {present} of {count(len(st.accounts), 'user')} present",
        ("account", "state", "licence", "mailbox", "pass", "on file until (Paris)", "phone"),
        [
            (
                a.upn, "" if a.account == "present" else a.account,
                "yes" if a.licensed else "no", a.mailbox,
                "usable" if a.tap_in_tenant else "none",
                (paris_time(a.tap_valid_until, zone=False)
                 + ("" if a.tap_in_file else " (expired)"))
                if a.tap_valid_until else "not on file",
                phone(a.phone),
            )
            for a in st.accounts
        ],
        caption="pass: a Temporary Access Pass usable in the tenant; on file: in the "
        "credentials file (0600); phone: the account's MFA phone method",
        whole=(0, 5, 6),
        drop_empty=True,
    )
    if len(windows) == 1:
        start, end = next(iter(windows))
        console.text(f"Passes on file (credentials.csv): valid from {paris_time(start)} until "
                     f"{paris_time(end)}.")
    elif windows:
        first = min(w[0] or "" for w in windows)
        console.text(f"Passes on file (credentials.csv): the first valid from "
                     f"{paris_time(first)}; each one's end is above.")
    console.text(f"Group: {st.group}")
    console.text(f"Team: {st.team}" + (f", {st.team_url}" if st.team_url else ""))
    console.text(f"SharePoint: {st.drive}" + (f", {st.drive_url}" if st.drive_url else ""))
    for upn in st.strays:
        console.text(f"Tagged account not in the roster (left alone): {upn}")
    if st.loans:
        console.table(
            f"{st.commune}: {count(len(st.loans), 'device')} on loan",
            ("kind", "asset tag", "account", "since"),
            [(lo["kind"], lo["asset_tag"], lo["upn"], paris_time(lo["since"]))
             for lo in st.loans],
            whole=(1, 2, 3),
        )
    else:
        console.text("Devices on loan: none.")
