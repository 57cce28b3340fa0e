"""The desired crisis kit of one commune: what the inventory and playbook say should exist.

Pure data, computed without touching the tenant: accounts, the group and its Team, folders,
onboarding credentials, phone methods and device allocations. Observation and diffing use it;
nothing here writes anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from crisiskit.resources.waiting import MAILBOX_BOUND_S, SITE_BOUND_S, TEAM_BOUND_S

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune, Inventory
    from crisiskit.playbooks import Playbook

DeviceKind = Literal["laptop", "phone"]


def tag_property(client_id: str) -> str:
    """Return the directory extension that marks an object as crisiskit's (ARCHITECTURE.md)."""
    return f"extension_{client_id.replace('-', '').lower()}_crisiskitCommune"


def group_nickname(commune_id: str) -> str:
    """Return the mailNickname of a commune's crisis group: its deterministic natural key."""
    return f"crisiskit-{commune_id}"


@dataclass(frozen=True)
class DesiredUser:
    """One crisis account."""

    upn: str
    mail_nickname: str
    display_name: str
    given_name: str
    surname: str
    role: str
    owner: bool
    usage_location: str
    needs_laptop: bool
    needs_phone: bool


@dataclass(frozen=True)
class DesiredChannel:
    name: str
    description: str


@dataclass(frozen=True)
class DesiredTeam:
    display_name: str
    description: str
    channels: tuple[DesiredChannel, ...]


@dataclass(frozen=True)
class DesiredGroup:
    """The private Microsoft 365 group that backs the crisis Team."""

    mail_nickname: str
    display_name: str
    description: str
    owners: tuple[str, ...]  # UPNs, roster order
    members: tuple[str, ...]  # UPNs, roster order (every account)


@dataclass(frozen=True)
class Allocation:
    """A device lent (or to be lent) to one account of the commune."""

    kind: DeviceKind
    asset_tag: str
    upn: str
    serial: str
    model: str
    number: str | None = None  # E.164, phones only
    graph_number: str | None = None  # "+33 612345678", phones only
    existing: bool = False  # an open loan already recorded in the local state


@dataclass(frozen=True)
class Shortage:
    """Accounts that need a device of this kind and for which none is available."""

    kind: DeviceKind
    needed: int
    available: int
    upns: tuple[str, ...]


@dataclass(frozen=True)
class Readiness:
    """The bounds of the waits (seconds): documented bounds, shortened by the playbook."""

    mailbox_s: float
    team_s: float
    drive_s: float


@dataclass(frozen=True)
class DesiredKit:
    """Everything one activation of one commune should leave in place."""

    commune_id: str
    commune_name: str
    playbook: str
    tag: str  # the directory extension property name
    sku_part_number: str
    licence_mode: Literal["direct", "group"]
    users: tuple[DesiredUser, ...]
    group: DesiredGroup | None
    team: DesiredTeam | None
    folders: tuple[str, ...]
    tap_lifetime_minutes: int
    tap_usable_once: bool
    register_phone: bool
    allocations: tuple[Allocation, ...]
    shortages: tuple[Shortage, ...]
    readiness: Readiness
    graph_root: str  # root of `@odata.bind` URLs: the tenant's Graph (national clouds too)
    computed_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()  # "Élodie Fabre (communication)": roles not provisioned

    def user(self, upn: str) -> DesiredUser:
        """Return the desired account with this UPN."""
        for u in self.users:
            if u.upn == upn:
                return u
        raise KeyError(upn)

    def phone_for(self, upn: str) -> Allocation | None:
        """Return the phone lent to this account, if any."""
        for a in self.allocations:
            if a.kind == "phone" and a.upn == upn:
                return a
        return None


@dataclass(frozen=True)
class OpenLoan:
    """An open loan as the engine needs it (decoupled from the state store's row type)."""

    commune: str
    kind: DeviceKind
    asset_tag: str
    upn: str


def _allocate(
    kind: DeviceKind,
    needers: list[DesiredUser],
    stock: list[Any],
    commune_loans: dict[str, OpenLoan],
    taken_elsewhere: set[str],
) -> tuple[list[Allocation], Shortage | None]:
    """Keep this commune's loans, then give each remaining account the lowest free asset tag.

    An account with an open loan of this kind gets no other device, even when the loan's asset
    is not (or no longer) in the stock: a loan recorded as unrecorded after a state rebuild
    (`crisiskit.engine.preflight.adopt`), or a device taken off the inventory while lent.
    """
    by_tag = {d.asset_tag: d for d in stock}
    allocations: list[Allocation] = []
    kept_for: set[str] = set()
    used: set[str] = set()
    for loan in sorted(commune_loans.values(), key=lambda lo: lo.asset_tag):
        if loan.kind != kind or loan.upn in kept_for:
            continue
        kept_for.add(loan.upn)
        device = by_tag.get(loan.asset_tag)
        if device is None:
            continue
        used.add(loan.asset_tag)
        allocations.append(_allocation(kind, device, loan.upn, existing=True))
    free = sorted(
        (
            d
            for d in stock
            if getattr(d.status, "value", d.status) == "available"
            and d.asset_tag not in taken_elsewhere
            and d.asset_tag not in used
        ),
        key=lambda d: d.asset_tag,
    )
    missing: list[str] = []
    for user in needers:
        if user.upn in kept_for:
            continue
        if free:
            allocations.append(_allocation(kind, free.pop(0), user.upn, existing=False))
        else:
            missing.append(user.upn)
    shortage = None
    if missing:
        available = len(needers) - len(kept_for) - len(missing)
        shortage = Shortage(kind, len(needers) - len(kept_for), available, tuple(missing))
    return allocations, shortage


def _allocation(kind: DeviceKind, device: Any, upn: str, *, existing: bool) -> Allocation:
    if kind == "phone":
        return Allocation(
            kind=kind,
            asset_tag=device.asset_tag,
            upn=upn,
            serial=device.imei,
            model=device.model,
            number=device.number,
            graph_number=device.graph_number,
            existing=existing,
        )
    return Allocation(
        kind=kind,
        asset_tag=device.asset_tag,
        upn=upn,
        serial=device.serial,
        model=device.model,
        existing=existing,
    )


def _bound(asked: int | None, documented: float) -> float:
    return documented if asked is None else min(float(asked), documented)


def _fill(template: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        template = template.replace("{" + key + "}", value)
    return template


def desired_kit(
    inventory: Inventory,
    commune: Commune,
    playbook: Playbook,
    open_loans: list[OpenLoan],
    now: datetime,
    held: frozenset[str] = frozenset(),
) -> DesiredKit:
    """Compute the kit the playbook asks for, allocating devices deterministically.

    `held` are the asset tags the tool holds back (to wipe, lost, in maintenance, retired:
    `crisiskit.devices`); they are never allocated, whatever the inventory says.
    """
    from crisiskit.graph.connect import graph_base_url
    from crisiskit.inventory.naming import roster_accounts

    tenant = inventory.tenant
    roles = set(playbook.roles) if playbook.roles is not None else None
    users: list[DesiredUser] = []
    left_out: list[str] = []  # roster people whose role the playbook does not provision
    for account in roster_accounts(commune, tenant.upn_domain):
        person = account.person
        if roles is not None and str(person.role) not in roles:
            role = str(person.role).replace("_", " ")
            left_out.append(f"{person.given_name} {person.surname} ({role})")
            continue
        users.append(
            DesiredUser(
                upn=account.upn.lower(),
                mail_nickname=account.mail_nickname,
                display_name=account.display_name,
                given_name=person.given_name,
                surname=person.surname,
                role=str(person.role),
                owner=bool(person.team_owner),
                usage_location=tenant.usage_location,
                needs_laptop=bool(person.laptop) and bool(playbook.devices.laptops),
                needs_phone=bool(person.phone) and bool(playbook.devices.phones),
            )
        )
    owners = [u.upn for u in users if u.owner]
    if users and not owners:
        # App-only creation must name an owner (GRAPH.md): fall back to the first account.
        owners = [users[0].upn]
    team: DesiredTeam | None = None
    group: DesiredGroup | None = None
    if users:
        names = {"commune": commune.name, "commune_id": commune.id, "insee": commune.insee}
        team_name = f"Cellule de crise – {commune.name}"
        description = f"Cellule de crise cyber de la commune de {commune.name}"
        if playbook.team is not None:
            team_name = _fill(playbook.team.display_name, names)
            description = _fill(playbook.team.description, names)
            team = DesiredTeam(
                display_name=team_name,
                description=description,
                channels=tuple(
                    DesiredChannel(c.name, _fill(c.description, names))
                    for c in playbook.team.channels
                ),
            )
        if playbook.team is not None or playbook.folders or playbook.licence == "group":
            group = DesiredGroup(
                mail_nickname=group_nickname(commune.id),
                display_name=team_name,
                description=description,
                owners=tuple(owners),
                members=tuple(u.upn for u in users),
            )
    upns = {u.upn for u in users}
    ours = {lo.asset_tag: lo for lo in open_loans if lo.commune == commune.id and lo.upn in upns}
    elsewhere = {lo.asset_tag for lo in open_loans if lo.asset_tag not in ours} | set(held)
    laptops, laptop_short = _allocate(
        "laptop",
        [u for u in users if u.needs_laptop],
        list(inventory.devices.laptops),
        ours,
        elsewhere,
    )
    phones, phone_short = _allocate(
        "phone",
        [u for u in users if u.needs_phone],
        list(inventory.devices.phones),
        ours,
        elsewhere,
    )
    readiness = playbook.readiness
    return DesiredKit(
        commune_id=commune.id,
        commune_name=commune.name,
        playbook=playbook.name,
        tag=tag_property(tenant.client_id),
        sku_part_number=tenant.sku_part_number,
        licence_mode="group" if playbook.licence == "group" else "direct",
        users=tuple(users),
        group=group,
        team=team,
        folders=tuple(playbook.folders) if group is not None else (),
        tap_lifetime_minutes=int(playbook.tap.lifetime_minutes),
        tap_usable_once=bool(playbook.tap.usable_once),
        register_phone=bool(playbook.register_phone),
        allocations=tuple(laptops + phones),
        shortages=tuple(s for s in (laptop_short, phone_short) if s is not None),
        readiness=Readiness(
            _bound(readiness.mailbox_s, MAILBOX_BOUND_S),
            _bound(readiness.team_s, TEAM_BOUND_S),
            _bound(readiness.drive_s, SITE_BOUND_S),
        ),
        graph_root=graph_base_url(str(tenant.graph_url)),
        computed_at=now,
        left_out=tuple(left_out),
    )
