"""What the local state says about a commune's accounts, for the leavers' steps of a plan.

    leaver_facts(store, setup, strays) -> LeaverFacts

The journal of created objects (which accounts crisiskit made, with which id), the roster as
the inventory has it (whatever the playbook provisions), the commune's open loans, and, for
the accounts that may be leaving only, whether their sign-in sessions were revoked since the
account last changed (the journal's steps: Graph keeps no trace a read could give back).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from crisiskit.engine.context import Setup, open_loans
from crisiskit.plan.leavers import LeaverFacts, candidates

if TYPE_CHECKING:
    from crisiskit.resources.users import ObservedUser
    from crisiskit.state.api import StateStore

# The journaled steps that change whether an account can sign in, or what its sessions are.
_CHANGES = frozenset({"create", "update", "disable", "revoke"})


def leaver_facts(
    store: StateStore, setup: Setup, strays: Sequence[ObservedUser]
) -> LeaverFacts:
    """Read the facts the leavers' steps need (the journal is scanned only if someone leaves)."""
    from crisiskit.inventory.naming import roster_accounts

    commune = setup.commune.id
    roster = frozenset(
        a.upn.lower() for a in roster_accounts(setup.commune, setup.inventory.tenant.upn_domain)
    )
    journaled = {o.natural_key.lower(): o.graph_id for o in store.objects(commune, "user")}
    facts = LeaverFacts(
        journaled=journaled,
        roster=roster,
        loans=tuple(lo for lo in open_loans(store) if lo.commune == commune),
    )
    leaving = {s.upn for s in candidates(strays, facts)}
    if not leaving:
        return facts
    return LeaverFacts(
        journaled=journaled,
        roster=roster,
        loans=facts.loans,
        revoked=frozenset(revoked_since_last_change(store, commune, leaving)),
    )


def revoked_since_last_change(store: StateStore, commune: str, upns: Iterable[str]) -> set[str]:
    """Return the accounts whose last journaled change (create, update, disable, revoke) that
    succeeded is a revocation of their sessions."""
    wanted = set(upns)
    last: dict[str, tuple[int, str]] = {}
    for run in store.runs(commune):
        for s in store.steps(run.id):
            if s.kind != "user" or s.action not in _CHANGES or s.status != "done":
                continue
            key = s.key.lower()
            if key in wanted and (key not in last or s.id > last[key][0]):
                last[key] = (s.id, s.action)
    return {upn for upn, (_, action) in last.items() if action == "revoke"}
