"""What an activation claims of the shared stock (devices, licence seats), atomically.

Several communes may be activated at once from one home, in one process (`activate A B C`) or
in several. Each run decides its devices and checks its seats in ONE write transaction of the
state store, which re-reads the open loans, the device holds and the other runs' reservations,
and records the run's own claim before it commits:

    claim = new_claim()                          a random holder token for this run
    before = reservations(ctx, claim)            read BEFORE the tenant is observed
    ... observe the tenant (free seats) ...
    with ctx.store.transaction():                BEGIN IMMEDIATE: one writer at a time
        kit = desired(..., reserved=devices_of(others))
        plan = diff(...);  plan.seats_reserved = seats_elsewhere(before, others, sku)
        ... preconditions; if none refuse: ctx.store.reserve(claim, ...)
    ... run: each licence assigned counts the claim's seats down ...
    release(ctx, claim)                          at the end; a dead process's claim is purged

Why seats are counted this way: the tenant's free seats already include what other runs have
assigned so far; their reservations hold what they still have to assign. A run counts each
other run's reservation as read before its own observation, or as read now if larger: the
countdown comes after the assignment, so the sum never undercounts, and a run finished since
is still counted (it may have assigned after we observed). Two runs whose needs together
exceed the seats can never both start; the cost is an occasional refusal while another run
is still going, which says so and is lifted when that run ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from crisiskit.engine.context import Context
from crisiskit.plan.desired import DesiredKit
from crisiskit.state.api import Reservation


def new_claim() -> str:
    return secrets.token_hex(12)


def reservations(ctx: Context, claim: str | None) -> list[Reservation]:
    """Return the other live runs' reservations (dead processes' are purged on the way)."""
    return ctx.store.reservations(excluding=claim)


def devices_of(others: Iterable[Reservation]) -> frozenset[str]:
    return frozenset(r.asset_tag for r in others if r.kind == "device" and r.asset_tag)


def seats_elsewhere(
    before: Iterable[Reservation], now: Iterable[Reservation], sku: str
) -> tuple[int, list[str]]:
    """Return the seats of `sku` other runs may still assign, and who they are."""
    counted: dict[str, tuple[int, str]] = {}
    for r in [*before, *now]:
        if r.kind != "seats" or r.sku != sku:
            continue
        seats, _ = counted.get(r.holder, (0, ""))
        counted[r.holder] = (max(seats, r.seats), f"{r.commune} (pid {r.pid})")
    total = sum(seats for seats, _ in counted.values())
    who = sorted({name for seats, name in counted.values() if seats > 0})
    return total, who


def record(ctx: Context, claim: str, kit: DesiredKit, seats: int) -> None:
    """Record the claim (inside the deciding transaction): new devices, seats to assign."""
    ctx.store.reserve(
        claim, ctx.commune,
        devices=[a.asset_tag for a in kit.allocations if not a.existing],
        sku=kit.sku_part_number, seats=seats,
    )


def release(ctx: Context, claim: str | None) -> None:
    if claim is not None:
        ctx.store.release_reservations(claim)
