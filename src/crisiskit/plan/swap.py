"""The plan of `devices swap`: a lent device lost or broken, replaced for the same account.

    loan delete OLD (held lost | maintenance) ──> loan create NEW (same account)
                                                     └──> phone_method update (phones: the
                                                          account's mobile method gets the
                                                          new number; its type cannot change)

The replacement is the lowest free asset tag of the same kind (`crisiskit.devices.lendable`),
unless the operator names one (`--to`). Deterministic and resumable: `locate` reads what an
earlier run already did from the local state (the old loan closed and the device held by a
swap; the first loan of the same kind to the same account after that) and plans only what is
left, each done part shown `present`; a rerun after success writes nothing. Refusals (exit 3,
nothing done): a device lent to another commune or not lent at all, no replacement free, a
`--to` that is not lendable or differs from the replacement an earlier run lent.

Pure: the local facts come in `SwapFacts`, the account in an `AccountView`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from crisiskit.errors import InputError
from crisiskit.plan.accounts import AccountView
from crisiskit.plan.model import Plan, Step, step
from crisiskit.resources.loans import Hold, LoanCreate, LoanReturn
from crisiskit.resources.phones import PhoneCreate, PhoneUpdate, same_number
from crisiskit.words import phone as shown

if TYPE_CHECKING:
    from crisiskit.inventory.models import Inventory
    from crisiskit.state.api import DeviceEvent, Loan

KIND = "swap"
Reason = Literal["lost", "broken"]
HOLDS: dict[str, Hold] = {"lost": "lost", "broken": "maintenance"}
DeviceKind = Literal["laptop", "phone"]


@dataclass(frozen=True)
class Device:
    """A device of the stock as a swap and its addendum need it."""

    kind: DeviceKind
    asset_tag: str
    model: str
    serial: str  # a laptop's serial number, a phone's IMEI
    number: str | None = None  # phones: E.164
    graph_number: str | None = None  # phones: "+33 612345678"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "asset_tag": self.asset_tag, "model": self.model,
                "serial": self.serial, "number": self.number}


@dataclass(frozen=True)
class SwapFacts:
    """What the local state says of the stock (read by the engine)."""

    loans: Sequence[Loan]  # the commune's loans, history included, oldest first
    open_loans: Sequence[Loan]  # every open loan, of every commune
    holds: Mapping[str, DeviceEvent]  # current holds by asset tag
    lendable: frozenset[str]  # asset tags that can be lent now
    states: Mapping[str, str]  # every device's derived state (crisiskit.devices)


@dataclass
class Swap:
    """Where a swap stands: the device, its holder, the replacement, what is already done."""

    old: Device
    upn: str | None = None
    new: Device | None = None
    returned: bool = False  # an earlier run closed the old loan (device held by the swap)
    lent: bool = False  # the replacement is already lent to the account
    still_lent: bool = True  # and still is (else nothing is left to do)
    refusals: list[str] = field(default_factory=list)


@dataclass
class SwapPlan:
    """The steps of one swap, where it stands, and why it would refuse."""

    plan: Plan
    swap: Swap
    reason: Reason
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def commune(self) -> str:
        return self.plan.commune

    @property
    def empty(self) -> bool:
        return self.plan.empty

    def to_json(self) -> dict[str, Any]:
        s = self.swap
        return {
            **self.plan.to_json(),
            "old": s.old.to_json(),
            "new": s.new.to_json() if s.new else None,
            "upn": s.upn,
            "reason": self.reason,
            "refusals": list(self.refusals),
            "notes": list(self.notes),
        }


def stock_device(inventory: Inventory, asset_tag: str, what: str = "ASSET") -> Device:
    """Return a device of the inventory's stock; an unknown asset tag is bad input (exit 2)."""
    for laptop in inventory.devices.laptops:
        if laptop.asset_tag == asset_tag:
            return Device("laptop", laptop.asset_tag, laptop.model, laptop.serial)
    for phone in inventory.devices.phones:
        if phone.asset_tag == asset_tag:
            return Device("phone", phone.asset_tag, phone.model, phone.imei, phone.number,
                          phone.graph_number)
    raise InputError(f"{what} {asset_tag!r} is not a device of the inventory's stock")


def _same_kind(inventory: Inventory, kind: str) -> list[str]:
    stock = inventory.devices.laptops if kind == "laptop" else inventory.devices.phones
    return sorted(d.asset_tag for d in stock)


def locate(
    inventory: Inventory, commune: str, asset: str, to: str | None, facts: SwapFacts
) -> Swap:
    """Decide the swap: whose device it is, its replacement, what an earlier run did."""
    old = stock_device(inventory, asset)
    target: Device | None = None
    if to is not None:
        target = stock_device(inventory, to, "--to")
        if target.kind != old.kind:
            raise InputError(f"--to {to} is a {target.kind}; {asset} is a {old.kind}")
        if target.asset_tag == asset:
            raise InputError(f"--to {to} is the device being replaced")
    swap = Swap(old)
    current = next((lo for lo in facts.open_loans if lo.asset_tag == asset), None)
    if current is not None and current.commune != commune:
        swap.refusals.append(f"{asset} is lent to {current.commune}, not to {commune}")
        return swap
    previous: Loan | None = None
    if current is not None:
        swap.upn = current.upn
    else:
        ours = [lo for lo in facts.loans if lo.asset_tag == asset and lo.returned_at]
        previous = ours[-1] if ours else None
        hold = facts.holds.get(asset)
        if (
            previous is None
            or hold is None
            or hold.state not in HOLDS.values()
            or hold.commune != commune
            or hold.at < str(previous.returned_at)
        ):
            state = facts.states.get(asset, "available")
            swap.refusals.append(f"{asset} is not on loan to {commune} (it is {state})")
            return swap
        swap.upn, swap.returned = previous.upn, True
        after = [
            lo for lo in facts.loans
            if lo.id > previous.id and lo.upn == previous.upn and lo.asset_tag != asset
            and lo.device_kind == old.kind and lo.loaned_at >= str(previous.returned_at)
        ]
        if after:
            swap.new = stock_device(inventory, after[0].asset_tag)
            swap.lent, swap.still_lent = True, after[0].returned_at is None
            if target is not None and target.asset_tag != swap.new.asset_tag:
                swap.refusals.append(
                    f"{asset} was already replaced by {swap.new.asset_tag} (for {swap.upn})"
                )
            return swap
    if target is not None:
        if target.asset_tag not in facts.lendable:
            state = facts.states.get(target.asset_tag, "unknown")
            swap.refusals.append(f"--to {target.asset_tag} is not lendable (it is {state})")
            return swap
        swap.new = target
        return swap
    free = [tag for tag in _same_kind(inventory, old.kind) if tag in facts.lendable
            and tag != asset]
    if not free:
        swap.refusals.append(f"no {old.kind} is available in the stock to replace {asset}")
        return swap
    swap.new = stock_device(inventory, free[0])
    return swap


def swap_plan(
    commune: str,
    swap: Swap,
    reason: Reason,
    account: AccountView | None,
    *,
    register_phone: bool,
    playbook: str | None = None,
) -> SwapPlan:
    """Return the swap's steps (pure): what is left to do, the rest `present`."""
    out = SwapPlan(Plan(KIND, commune, [], playbook=playbook), swap, reason,
                   list(swap.refusals))
    if swap.refusals or swap.new is None or swap.upn is None:
        return out
    old, new, upn, hold = swap.old, swap.new, swap.upn, HOLDS[reason]
    steps: list[Step] = []
    back_id = f"loan:{old.asset_tag}:return"
    if swap.returned:
        steps.append(step("loan", "present", old.asset_tag, detail=f"back from {upn}, held",
                          phase="devices", id=back_id))
    else:
        steps.append(step(
            "loan", "delete", old.asset_tag,
            LoanReturn(old.asset_tag, hold, reason=f"{reason}; replaced by {new.asset_tag}"),
            detail=f"{old.kind} back from {upn}, {reason}: held {hold}", phase="devices",
            id=back_id,
        ))
    lend_id = f"loan:{new.asset_tag}"
    if swap.lent:
        steps.append(step("loan", "present", new.asset_tag, detail=f"{new.kind} → {upn}",
                          phase="devices", id=lend_id))
    else:
        steps.append(step(
            "loan", "create", new.asset_tag, LoanCreate(new.kind, new.asset_tag, upn),
            after=(back_id,) if not swap.returned else (), detail=f"{new.kind} → {upn}",
            phase="devices", id=lend_id,
        ))
    if new.kind == "phone" and register_phone and swap.still_lent and new.graph_number:
        steps.extend(_phone(out, account, upn, new.graph_number, lend_id, swap.lent))
    out.plan.steps = steps
    return out


def _phone(
    out: SwapPlan, account: AccountView | None, upn: str, number: str, lend_id: str, lent: bool
) -> list[Step]:
    """The account's mobile phone method: its number becomes the new phone's."""
    after = () if lent else (lend_id,)
    if account is None or account.user is None:
        out.notes.append(f"{upn} has no account in the tenant: no phone method to change")
        return []
    user = account.user
    if not account.ours:
        owner = f"tagged for {user.tag!r}" if user.tag else "not created by crisiskit"
        out.refusals.append(f"account {upn} is {owner} (crisiskit will not touch it)")
        return [step("phone_method", "conflict", upn, detail=f"the account is {owner}",
                     graph_id=user.id, phase="phones")]
    mobile = account.phones.get("mobile")
    if mobile is None:
        return [step("phone_method", "create", upn, PhoneCreate(user.id, number),
                     after=after, detail=shown(number), phase="phones")]
    if same_number(mobile[1], number):
        return [step("phone_method", "present", upn, detail=shown(number), graph_id=mobile[0],
                     phase="phones")]
    return [step("phone_method", "update", upn, PhoneUpdate(user.id, mobile[0], number),
                 after=after, detail=f"{shown(mobile[1])} → {shown(number)}", graph_id=mobile[0],
                 phase="phones")]
