"""Device loans: a local resource, kept in the state store (natural key the asset tag).

    create:  record the loan (idempotent for the same commune and account; lent to anyone
             else, `LoanConflict` stops the run before any remote write)
    delete:  close the loan and put the device in `to_wipe`, in one transaction (it is back,
             and must be re-imaged before it is lent again; `devices wiped` lifts that)

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


@dataclass(frozen=True)
class LoanCreate:
    device_kind: Literal["laptop", "phone"]
    asset_tag: str
    upn: str


@dataclass(frozen=True)
class LoanReturn:
    asset_tag: str


async def lend(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        p: LoanCreate = s.payload
        session.state.add_loan(session.run_id, session.commune, p.device_kind, p.asset_tag, p.upn)
        session.done(s, detail=f"{p.device_kind} -> {p.upn}")


async def take_back(session: Session, steps: Sequence[Step]) -> None:
    store = session.state
    for s in steps:
        asset = s.payload.asset_tag
        with store.transaction():
            loan = store.return_loan(session.commune, asset)
            if loan is not None:
                store.set_device_state(asset, "to_wipe", operator=session.operator,
                                       reason="returned", commune=session.commune,
                                       run_id=session.run_id)
        session.done(s, detail="returned, to wipe" if loan is not None else "was not on loan")


RESOURCE = Resource(KIND, {"create": lend, "delete": take_back}, local=True)
