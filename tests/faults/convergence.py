"""Check that a commune's kit converged after faults: no duplicate, same kit as a clean run."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faultkit import (
    COMMUNE,
    CliResult,
    diff_snapshots,
    duplicates,
    kit_snapshot,
    loans_snapshot,
    tag_of,
    tap_secrets,
)


def credentials_rows(home: Path) -> dict[str, str]:
    """Return upn → pass from the credentials file, or {} when there is none yet."""
    path = home / "outputs" / COMMUNE / "credentials.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        # README, credentials file: the pass is the cell without its leading apostrophe.
        return {
            r["upn"].lower(): r["temporary_access_pass"].removeprefix("'")
            for r in csv.DictReader(f)
        }


def orphan_passes(state: dict[str, Any], home: Path) -> set[str]:
    """Return the UPNs whose pass exists in the tenant but is not in the credentials file.

    Those passes were issued by a run that died before it could write them down: nobody can
    hand them over, so the next run has to issue new ones and say so.
    """
    rows = credentials_rows(home)
    upn_of = {u["id"]: str(u["userPrincipalName"]).lower() for u in state["users"]}
    out = set()
    for m in state.get("authenticationMethods", []):
        if m.get("temporaryAccessPass") is not None or "temporaryAccessPass" in str(
            m.get("@odata.type", "")
        ):
            upn = upn_of.get(m.get("userId", ""), "")
            if upn and rows.get(upn) != m.get("temporaryAccessPass"):
                out.add(upn)
    return out


def assert_converged(
    state: dict[str, Any],
    home: Path,
    reference_snapshot: dict[str, Any],
    reference_loans: list[tuple[str, str]],
    context: str,
    signs_in: Callable[[str, str], bool] | None = None,
) -> None:
    """Fail with a precise message unless the kit equals the reference, without duplicates.

    A simulator restarted from its state file knows the passes issued before only by their
    hash (`temporaryAccessPass` is null in its state): those are checked by signing in with
    the credentials file's pass (`signs_in(upn, pass)`), which must then be given.
    """
    dups = duplicates(state)
    assert not dups, f"{context}: duplicates in the tenant: {dups}"
    snap = kit_snapshot(state)
    diff = diff_snapshots(reference_snapshot, snap)
    assert not diff, f"{context}: kit differs from an uninterrupted run:\n{diff}"
    loans = loans_snapshot(home)
    assets = [a for a, _ in loans]
    assert len(assets) == len(set(assets)), f"{context}: an asset is lent twice: {loans}"
    assert loans == reference_loans, (
        f"{context}: loans differ from an uninterrupted run:\n{loans}\n!=\n{reference_loans}"
    )
    # Every pass in the tenant is the one on file for its account, and every account has one.
    rows = credentials_rows(home)
    ours = {str(u["userPrincipalName"]).lower() for u in state["users"] if tag_of(u) == COMMUNE}
    assert set(rows) == ours, f"{context}: credentials file rows {sorted(rows)} != {sorted(ours)}"
    upn_of = {u["id"]: str(u["userPrincipalName"]).lower() for u in state["users"]}
    hashed = sorted(
        upn_of[str(m["userId"])]
        for m in state.get("authenticationMethods", [])
        if "temporaryAccessPass" in str(m.get("@odata.type", ""))
        and m.get("temporaryAccessPass") is None
        and upn_of.get(str(m.get("userId"))) in ours
    )
    if hashed:
        assert signs_in is not None, f"{context}: passes known only by hash, no way to check"
        for upn in hashed:
            assert signs_in(upn, rows[upn]), f"{context}: the pass on file for {upn} is not valid"
    in_clear = sorted(v for u, v in rows.items() if u not in hashed)
    assert in_clear == sorted(tap_secrets(state)), (
        f"{context}: the credentials file does not hold the passes that are valid in the tenant"
    )


def assert_reissue_reported(upns: set[str], rerun: CliResult, audit_export: str) -> None:
    """Fail unless the rerun says it reissued these passes and the audit records it."""
    out = (rerun.stdout + rerun.stderr).lower()
    audit = audit_export.lower()
    for upn in sorted(upns):
        said = any("reissu" in line and upn in line for line in out.splitlines()) or (
            "reissu" in out and upn in out
        )
        assert said, f"the rerun did not say it reissued the pass of {upn}:\n{rerun}"
        logged = any("reissu" in line and upn in line for line in audit.splitlines())
        assert logged, f"the audit export does not record the reissued pass of {upn}"
