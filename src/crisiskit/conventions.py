"""The convention lifecycle (Articles 7 and 9 of the model convention): pure functions of dates.

Article 7: in force from its notification to 31 December of that year, then renewed tacitly
each 1 January, for at most 8 years from the notification.
Article 9: a termination request takes effect 3 months after its receipt; a breach notice left
unremedied for 3 months terminates the convention then. If both apply, the earlier one wins.

Every end date here is the first day the convention is no longer in force (it is in force on
`notification <= d < end`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.inventory.models import Convention

MAX_TERM_YEARS = 8
NOTICE_MONTHS = 3


class ConventionStatus(StrEnum):
    """Where a convention stands at a given date."""

    pending = "pending"  # not (yet) notified
    active = "active"
    terminating = "terminating"  # still in force, a termination takes effect at a known date
    terminated = "terminated"  # ended by a termination request or an unremedied breach
    expired = "expired"  # ended by its maximum term


@dataclass(frozen=True)
class ConventionState:
    """The status of a convention at a date, and the dates that matter next."""

    status: ConventionStatus
    next_renewal: date | None  # next tacit renewal (1 January) while in force
    max_end: date | None  # notification + 8 years: the latest possible end
    termination_effective: date | None  # when a termination (request or breach) takes effect

    @property
    def in_force(self) -> bool:
        """Tell whether activation is allowed (`terminating` still counts as in force)."""
        return self.status in (ConventionStatus.active, ConventionStatus.terminating)


def add_months(day: date, months: int) -> date:
    """Return the same day `months` later, clamped to the month's end (30 Nov + 3 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    """Return the same day `years` later; 29 February becomes 28 February in common years."""
    return add_months(day, 12 * years)


def termination_effective(convention: Convention, at: date = date.max) -> date | None:
    """Return when a termination takes effect, as known at `at` (the earlier of request and breach).

    Only what happened by `at` counts: a request received later is not yet known, and a breach
    remedied by `at` (within its 3 months) no longer terminates anything.
    """
    candidates = []
    request = convention.termination_request_date
    if request is not None and request <= at:
        candidates.append(add_months(request, NOTICE_MONTHS))
    breach = convention.breach_notice_date
    if breach is not None and breach <= at:
        deadline = add_months(breach, NOTICE_MONTHS)
        remedied = convention.breach_remedied_date
        if not (remedied is not None and remedied <= at and remedied < deadline):
            candidates.append(deadline)
    return min(candidates) if candidates else None


def status_at(convention: Convention, at: date) -> ConventionState:
    """Return the convention's status at `at`, with its next renewal, max end and termination."""
    notified = convention.notification_date
    if notified is None:
        return ConventionState(ConventionStatus.pending, None, None, None)
    max_end = add_years(notified, MAX_TERM_YEARS)
    if at < notified:
        return ConventionState(ConventionStatus.pending, None, max_end, None)
    effective = termination_effective(convention, at)
    if effective is not None and effective >= max_end:
        effective = None  # the maximum term ends it first: nothing left to terminate
    if effective is not None and at >= effective:
        return ConventionState(ConventionStatus.terminated, None, max_end, effective)
    if at >= max_end:
        return ConventionState(ConventionStatus.expired, None, max_end, None)
    end = min(max_end, effective) if effective is not None else max_end
    renewal: date | None = date(at.year + 1, 1, 1)
    if renewal is not None and renewal >= end:
        renewal = None
    if effective is not None:
        return ConventionState(ConventionStatus.terminating, renewal, max_end, effective)
    return ConventionState(ConventionStatus.active, renewal, max_end, None)


class DueKind(StrEnum):
    """What falls due on a convention."""

    renewal = "renewal"  # tacit renewal on 1 January (Article 7): renew, or terminate before
    term = "term"  # the 8-year maximum term ends (Article 7): a new convention is needed
    termination = "termination"  # a termination takes effect (Article 9): end of service


@dataclass(frozen=True)
class Due:
    """A date of a convention within a window: the first day things change."""

    kind: DueKind
    day: date
    days_left: int


def due_within(convention: Convention, today: date, days: int) -> list[Due]:
    """Return what falls due on a convention in force between `today` and `today + days`.

    Dates are the first day of the new situation (the renewed period, or the first day no
    longer in force), like every end date of this module. A convention not in force today
    has nothing due.
    """
    if days < 0:
        raise ValueError("the window must not be negative")
    state = status_at(convention, today)
    if not state.in_force:
        return []
    horizon = today + timedelta(days=days)
    term = state.max_end
    if term is not None and state.termination_effective is not None:
        term = None if state.termination_effective <= term else term
    found = [
        Due(kind, day, (day - today).days)
        for kind, day in (
            (DueKind.renewal, state.next_renewal),
            (DueKind.term, term),
            (DueKind.termination, state.termination_effective),
        )
        if day is not None and today <= day <= horizon
    ]
    return sorted(found, key=lambda d: (d.day, list(DueKind).index(d.kind)))
