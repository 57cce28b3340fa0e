"""Convention lifecycle (Articles 7 and 9): examples from the text, and invariants."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crisiskit.conventions import (
    ConventionStatus,
    add_months,
    add_years,
    status_at,
    termination_effective,
)
from crisiskit.inventory.models import Convention

S = ConventionStatus


def conv(**dates: Any) -> Convention:
    base = {"deliberation_number": "D-1", "deliberation_date": date(2020, 1, 1)}
    return Convention.model_validate(base | dates)


def test_calendar_arithmetic_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 10, 15), 3) == date(2027, 1, 15)
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 8) == date(2032, 2, 29)
    assert add_years(date(2092, 2, 29), 8) == date(2100, 2, 28)  # 2100 is not a leap year


def test_signed_but_not_notified_is_pending() -> None:
    state = status_at(conv(signature_date=date(2026, 11, 12)), date(2026, 11, 26))
    assert (state.status, state.next_renewal, state.max_end) == (S.pending, None, None)
    assert not state.in_force


def test_in_force_from_notification_renewed_each_first_of_january() -> None:
    c = conv(signature_date=date(2025, 2, 20), notification_date=date(2025, 3, 10))
    assert status_at(c, date(2025, 3, 9)).status is S.pending
    first = status_at(c, date(2025, 3, 10))
    assert first.status is S.active and first.in_force
    assert first.next_renewal == date(2026, 1, 1)
    assert first.max_end == date(2033, 3, 10)
    assert status_at(c, date(2025, 12, 31)).next_renewal == date(2026, 1, 1)
    assert status_at(c, date(2026, 1, 1)).next_renewal == date(2027, 1, 1)


def test_the_maximum_term_is_eight_years_and_no_renewal_reaches_past_it() -> None:
    c = conv(notification_date=date(2018, 5, 2))
    assert status_at(c, date(2025, 12, 31)).next_renewal == date(2026, 1, 1)
    last_year = status_at(c, date(2026, 1, 1))
    assert last_year.status is S.active and last_year.next_renewal is None
    assert status_at(c, date(2026, 5, 1)).status is S.active
    assert status_at(c, date(2026, 5, 2)).status is S.expired


def test_a_termination_request_takes_effect_three_months_after_receipt() -> None:
    c = conv(notification_date=date(2023, 4, 17), termination_request_date=date(2026, 10, 15))
    assert status_at(c, date(2026, 10, 14)).status is S.active
    during = status_at(c, date(2026, 11, 26))
    assert during.status is S.terminating and during.in_force
    assert during.termination_effective == date(2027, 1, 15)
    assert during.next_renewal == date(2027, 1, 1)  # still renewed: it ends after 1 January
    assert status_at(c, date(2027, 1, 14)).next_renewal is None
    assert status_at(c, date(2027, 1, 15)).status is S.terminated


def test_an_unremedied_breach_terminates_three_months_after_notice() -> None:
    c = conv(notification_date=date(2024, 6, 24), breach_notice_date=date(2026, 9, 21))
    state = status_at(c, date(2026, 11, 26))
    assert state.status is S.terminating and state.termination_effective == date(2026, 12, 21)
    assert state.next_renewal is None
    assert status_at(c, date(2026, 12, 21)).status is S.terminated


def test_a_breach_remedied_in_time_ends_nothing() -> None:
    c = conv(
        notification_date=date(2024, 6, 24),
        breach_notice_date=date(2026, 9, 21),
        breach_remedied_date=date(2026, 11, 2),
    )
    assert status_at(c, date(2026, 10, 1)).status is S.terminating
    after = status_at(c, date(2026, 11, 2))
    assert after.status is S.active and after.termination_effective is None
    assert status_at(c, date(2027, 6, 1)).status is S.active
    assert termination_effective(c) is None


def test_a_breach_remedied_too_late_still_terminated_it() -> None:
    c = conv(
        notification_date=date(2024, 6, 24),
        breach_notice_date=date(2026, 9, 21),
        breach_remedied_date=date(2026, 12, 21),
    )
    assert status_at(c, date(2027, 1, 5)).status is S.terminated


def test_the_earlier_of_request_and_breach_wins() -> None:
    c = conv(
        notification_date=date(2024, 1, 10),
        termination_request_date=date(2026, 9, 1),
        breach_notice_date=date(2026, 7, 15),
    )
    assert termination_effective(c) == date(2026, 10, 15)
    assert status_at(c, date(2026, 10, 15)).status is S.terminated


def test_a_termination_after_the_maximum_term_is_an_expiry() -> None:
    c = conv(notification_date=date(2018, 5, 2), termination_request_date=date(2026, 3, 1))
    state = status_at(c, date(2026, 6, 1))
    assert state.status is S.expired and state.termination_effective is None


dates = st.dates(min_value=date(2015, 1, 1), max_value=date(2045, 12, 31))
offsets = st.none() | st.integers(min_value=0, max_value=4000)


@settings(max_examples=300, deadline=None)
@given(dates, offsets, offsets, offsets, dates)
def test_lifecycle_invariants(
    notified: date, request: int | None, breach: int | None, remedy: int | None, at: date
) -> None:
    c = conv(
        notification_date=notified,
        termination_request_date=None if request is None else notified + timedelta(request),
        breach_notice_date=None if breach is None else notified + timedelta(breach),
        breach_remedied_date=(
            None if breach is None or remedy is None else notified + timedelta(breach + remedy)
        ),
    )
    state = status_at(c, at)
    assert state.max_end == add_years(notified, 8)
    if at < notified:
        assert state.status is S.pending
    if at >= state.max_end:
        assert state.status in (S.expired, S.terminated)
    if state.next_renewal is not None:
        assert state.in_force
        assert (state.next_renewal.month, state.next_renewal.day) == (1, 1)
        assert at < state.next_renewal < state.max_end
        assert state.next_renewal.year == at.year + 1
    if state.status is S.terminating:
        assert state.termination_effective is not None and at < state.termination_effective
    if state.status is S.terminated:
        assert state.termination_effective is not None and state.termination_effective <= at
    # Once ended, a convention never comes back to life.
    if state.status in (S.terminated, S.expired):
        for later in (at + timedelta(1), at + timedelta(400)):
            assert status_at(c, later).status in (S.terminated, S.expired)


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(min_value=0, max_value=3000), dates)
def test_a_request_always_ends_it_exactly_three_months_later(
    notified: date, after: int, at: date
) -> None:
    received = notified + timedelta(after)
    effective = add_months(received, 3)
    assume(effective < add_years(notified, 8))
    c = conv(notification_date=notified, termination_request_date=received)
    state = status_at(c, at)
    if at >= effective:
        assert state.status is S.terminated
    elif at >= received:
        assert state.status is S.terminating and state.termination_effective == effective
    elif at >= notified:
        assert state.status is S.active


@pytest.mark.parametrize(
    ("commune", "status"),
    [
        ("aubagne", S.active),
        ("vitrolles", S.pending),
        ("la-ciotat", S.terminating),
        ("martigues", S.terminating),
        ("istres", S.expired),
        ("gemenos", S.terminated),
    ],
)
def test_sample_inventory_statuses_on_2026_11_26(commune: str, status: ConventionStatus) -> None:
    from pathlib import Path

    from crisiskit.inventory import load_inventory

    inventory = load_inventory(Path(__file__).resolve().parents[2] / "inventory.yaml")
    assert status_at(inventory.commune(commune).convention, date(2026, 11, 26)).status is status
