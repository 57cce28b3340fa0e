"""The report an operator reads after `activate`: what was done, what is still provisioning,
where the documents are, and the passes with --show-secrets (the activation's own renderer,
`render_report`; `crisiskit.cli.outcomes` calls it for each commune of `activate A B C`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit import console
from crisiskit.words import count, duration, listing, paris_time

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.engine.report import ActivationReport

# Kinds in the order an operator reads an outcome.
KIND_ORDER = ("user", "licence", "tap", "phone_method", "group", "membership", "team",
              "channel", "drive", "folder", "loan")


def _counts(counter: Any) -> str:
    kinds = sorted(counter, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)
    return listing([count(counter[k], k) for k in kinds if counter[k]], empty="nothing")


def render_report(
    report: ActivationReport,
    target: Target,
    *,
    show_secrets: bool,
    verbose: bool = False,
    seconds: float = 0.0,
) -> None:
    """Print the summary of an activation (secrets only with --show-secrets)."""
    outcome = report.outcome
    if not report.executed or outcome is None:
        return
    took = f" in {duration(seconds)}" if seconds >= 1 else ""
    if outcome.ok:
        console.text(f"Done: {report.plan.commune} activated {target.where}{took}.",
                     style="bold green")
    else:
        console.text(f"Incomplete: the activation of {report.plan.commune} {target.where} "
                     f"stopped{took}; a rerun resumes it.", style="bold red")
    for run_id in report.resumed:
        console.text(f"Resumed after interrupted run #{run_id}.")
    present = sum(outcome.present.values())
    if not outcome.created and not outcome.updated and not outcome.leaving and outcome.ok:
        console.text(f"Everything present ({count(present, 'object')}): nothing was changed "
                     f"{target.where}.")
    else:
        updated = f"; updated {_counts(outcome.updated)}" if outcome.updated else ""
        console.text(f"Created {_counts(outcome.created)}{updated}; {present} already present.",
                     wrap=True)
    for warning in outcome.warnings:
        console.text(f"Note: {warning}", wrap=True)
    ready, pending = len(outcome.mailboxes_ready), outcome.mailboxes_pending
    if outcome.leaving:
        done = ", ".join(f"{what}: {n}" for what, n in outcome.leaving.items())
        console.text(f"Leaving the cell: {done}; left: {', '.join(outcome.left) or 'none yet'}",
                     wrap=True)
    console.text(
        f"Mailboxes: {ready} of {ready + len(pending)} ready"
        + (f", {len(pending)} still provisioning (crisiskit status re-checks)" if pending else "")
    )
    commune = report.plan.commune
    if report.plan.plan.steps and any(s.kind == "team" for s in report.plan.steps):
        console.text("Team: " + _readiness(outcome.team_id, outcome.team_url,
                                           "team" in outcome.preparing, commune))
    if any(s.kind == "drive" for s in report.plan.steps):
        console.text("SharePoint: " + _readiness(outcome.drive_id, outcome.drive_url,
                                                 "sharepoint" in outcome.preparing, commune))
    _render_loans(report, verbose)
    _render_documents(report)
    if report.no_wait:
        render_pending(report)
    if show_secrets:
        _render_secrets(report)


def _readiness(ready_id: str | None, url: str | None, preparing: bool, commune: str) -> str:
    if ready_id:
        return f"ready, {url or 'no address returned'}"
    if preparing:
        return f"still provisioning (`crisiskit status {commune} --wait` waits for it)"
    return "not ready (a rerun finishes it)"


def render_pending(report: ActivationReport) -> None:
    """Say what is still provisioning after `activate --no-wait`, and what finishes it."""
    from crisiskit.engine.report import pending_lines

    lines = pending_lines(report)
    if lines:
        console.text("Still provisioning (the crisis cell can start meanwhile):")
        for line in lines:
            console.text(f"  {line}", wrap=True)


def _render_loans(report: ActivationReport, verbose: bool) -> None:
    if not report.loans:
        return
    kinds: dict[str, int] = {}
    for loan in report.loans:
        kinds[loan["kind"]] = kinds.get(loan["kind"], 0) + 1
    lent = listing([count(n, k) for k, n in kinds.items()])
    more = "" if verbose else " (the handover sheet lists them; -v here)"
    console.text(f"Devices lent: {lent}{more}")
    if verbose:
        for loan in report.loans:
            console.text(f"  {loan['kind']} {loan['asset_tag']} → {loan['upn']}")


def _render_documents(report: ActivationReport) -> None:
    docs = report.documents
    if docs and docs.handover:
        first, *others = docs.handover.values()
        also = f" (also {', '.join(p.suffix for p in others)})" if others else ""
        if docs.unchanged:
            console.text(f"Handover sheet unchanged, nothing it says has changed: {first}{also}")
        else:
            console.text(f"Handover sheet: {first}{also}")
    if docs:
        if docs.slips:
            console.text(
                f"First sign-in slips (mode 0600, hand over in person): {docs.slips}"
            )
    if report.credentials_path:
        console.text(
            f"Credentials file (mode 0600, hand over in person): {report.credentials_path}"
        )


def _render_secrets(report: ActivationReport) -> None:
    outcome = report.outcome
    if outcome is not None and outcome.passes:
        console.table(
            "Temporary Access Passes issued by this run",
            ("account", "temporary access pass", "valid until"),
            [(p.upn, p.secret.reveal(), paris_time(p.valid_until)) for p in outcome.passes],
        )
        return
    where = [str(p) for p in (report.credentials_path,
                              report.documents.slips if report.documents else None) if p]
    console.text(
        "--show-secrets: this run issued no pass; the passes issued earlier are in "
        + (listing(where) + " (mode 0600)" if where else "no file yet (no pass was issued)")
        + "."
    )
