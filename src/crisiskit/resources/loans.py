"""Device loans: a local resource, kept in the state store (natural key the asset tag).

    create:  record the loan (idempotent for the same commune and account; lent to anyone
             else, `LoanConflict` stops the run before any remote write)
    delete:  close the loan (the device is back); with a `hold`, record in the same
             transaction where the device goes (to wipe, lost, maintenance), so that a device
             that came back is never lendable before it was re-imaged, whatever kills the run

Local steps run inline, in plan order, before the remote steps that become ready with them,
so a device is never promised twice, whatever happens next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from crisiskit.plan.model import Step
from crisiskit.resources.base import Resource, Session

KIND = "loan"
Hold = Literal["to_wipe", "lost", "maintenance", "retired"]


@dataclass(frozen=True)
class LoanCreate:
    device_kind: Literal["laptop", "phone"]
    asset_tag: str
    upn: str


@dataclass(frozen=True)
class LoanReturn:
    """Close a loan; `hold` is the device's state once back (None: no hold recorded)."""

    asset_tag: str
    hold: Hold | None = None
    reason: str | None = None  # why, for `devices` and the device's history (never a secret)


async def lend(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        p: LoanCreate = s.payload
        session.state.add_loan(session.run_id, session.commune, p.device_kind, p.asset_tag, p.upn)
        session.done(s, detail=f"{p.device_kind} -> {p.upn}")


async def take_back(session: Session, steps: Sequence[Step]) -> None:
    """Close each loan and, atomically with it, put the device on hold if the step says so."""
    state = session.state
    for s in steps:
        p: LoanReturn = s.payload
        with state.transaction():
            loan = state.return_loan(session.commune, p.asset_tag)
            held = False
            if p.hold is not None:
                current = state.device_holds().get(p.asset_tag)
                if current is None or current.state != p.hold:
                    state.set_device_state(
                        p.asset_tag, p.hold, operator=session.operator, reason=p.reason,
                        commune=session.commune, run_id=session.run_id,
                    )
                held = True
        detail = "returned" if loan is not None else "was not on loan"
        session.done(s, detail=f"{detail}, {p.hold}" if held else detail)


RESOURCE = Resource(KIND, {"create": lend, "delete": take_back}, local=True)
