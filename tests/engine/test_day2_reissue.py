"""`crisiskit credentials reissue` end to end: real CLI, loopback simulator, real SQLite."""

from __future__ import annotations

import json
from typing import Any

from day2_helpers import (
    JULIE,
    PATRICK,
    audit_actions,
    everything_local,
    methods,
    mode,
    outputs,
    passes,
    signs_in,
)
from engine_helpers import Kit
from pypdf import PdfReader


def _pdf_text(path: object) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def test_reissue_writes_a_new_file_and_slip_and_only_the_new_pass_works(kit: Kit) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    out = outputs(kit, "la-ciotat")
    original = (out / "credentials.csv").read_bytes()
    old = passes(out / "credentials.csv")
    assert signs_in(kit, PATRICK, old[PATRICK])
    mark = kit.log_size()

    run = kit.cli("credentials", "reissue", "la-ciotat", "patrick.giraud", "--yes")
    assert run.exit_code == 0, run.stderr

    # The tenant: the old pass deleted first, then one new pass, the only one.
    writes = [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in kit.writes(mark)]
    assert writes[0][0] == "DELETE" and writes[-1] == ("POST", "temporaryAccessPassMethods")
    assert len(writes) == 2
    assert len(methods(kit, PATRICK, "temporaryAccessPass")) == 1

    # A new 0600 file with only that account; the activation's file untouched.
    assert (out / "credentials.csv").read_bytes() == original
    new_files = sorted(out.glob("credentials-reissue-*.csv"))
    assert len(new_files) == 1 and mode(new_files[0]) == 0o600
    new = passes(new_files[0])
    assert list(new) == [PATRICK] and new[PATRICK] != old[PATRICK]
    assert signs_in(kit, PATRICK, new[PATRICK])
    assert not signs_in(kit, PATRICK, old[PATRICK])
    assert signs_in(kit, JULIE, old[JULIE])  # the other account keeps its pass

    # A printable slip for that person only, 0600, with the new pass.
    slips = sorted(out.glob("fiches-premiere-connexion-reissue-*.pdf"))
    assert len(slips) == 1 and mode(slips[0]) == 0o600
    text = _pdf_text(slips[0])
    assert "Patrick Giraud" in text and new[PATRICK] in text and "Julie" not in text

    # Audited, no secret anywhere but the 0600 files.
    actions = audit_actions(kit, "la-ciotat")
    tail = actions[actions.index("reissue.start"):]
    for action in ("tap.delete", "tap.create", "graph.DELETE", "graph.POST",
                   "reissue.credentials", "reissue.finish"):
        assert action in tail
    for secret in (new[PATRICK], old[PATRICK]):
        assert secret.encode() not in everything_local(kit)
        assert secret not in run.stdout and secret not in run.stderr

    # The next activation takes the reissued pass as the account's: nothing to reissue.
    plan = json.loads(kit.cli("--output", "json", "plan", "la-ciotat").stdout)
    assert plan["counts"]["tap"] == {"present": 2}
    assert plan["empty"] is True


def test_reissue_dry_run_and_bad_accounts_change_nothing(kit: Kit) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    out = outputs(kit, "la-ciotat")
    mark = kit.log_size()
    dry = kit.cli("--output", "json", "credentials", "reissue", "la-ciotat", PATRICK, JULIE,
                  "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["executed"] is False
    assert data["plan"]["counts"]["tap"] == {"create": 2, "delete": 2}
    unknown = kit.cli("credentials", "reissue", "la-ciotat", "gerard.lucciani", "--yes")
    assert unknown.exit_code == 2 and "gerard.lucciani" in unknown.stderr
    assert kit.writes(mark) == []
    assert not list(out.glob("credentials-reissue-*")) and not list(out.glob("*reissue*.pdf"))


def test_reissue_of_an_account_not_yet_created_is_refused(kit: Kit) -> None:
    mark = kit.log_size()
    run = kit.cli("credentials", "reissue", "la-ciotat", "patrick.giraud", "--yes")
    assert run.exit_code == 3
    assert "does not exist in the tenant" in run.stderr
    assert kit.writes(mark) == []
    assert audit_actions(kit, "la-ciotat") == ["reissue.refused"]


def test_a_reissue_that_lost_the_lease_hands_no_pass_over(kit: Kit, monkeypatch: Any) -> None:
    """The lease taken over while the reissue ran (issue 9): exit 1, its new file removed,
    no slip, the pass never shown; the activation's file untouched."""
    from crisiskit.engine.run import Hold
    from crisiskit.errors import LeaseLost

    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    out = outputs(kit, "la-ciotat")
    original = (out / "credentials.csv").read_bytes()

    async def lost(self: Hold) -> None:
        raise LeaseLost("the lease of la-ciotat was taken over by bob on laptop-2")

    monkeypatch.setattr(Hold, "confirm", lost)
    run = kit.cli("credentials", "reissue", "la-ciotat", "patrick.giraud", "--yes")
    assert run.exit_code == 1, run.stderr
    assert "taken over by bob" in run.stderr and "are not valid" in run.stderr, run.stderr
    assert not list(out.glob("credentials-reissue-*.csv"))
    assert not list(out.glob("fiches-premiere-connexion-reissue-*.pdf"))
    assert (out / "credentials.csv").read_bytes() == original
    assert "credentials.voided" in audit_actions(kit, "la-ciotat")
