"""French typography and dates; conventions falling due (Articles 7 and 9)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from doc_helpers import REPO
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.conventions import DueKind, due_within
from crisiskit.documents.typography import (
    NBSP,
    NNBSP,
    at_place,
    commune_title,
    french_date,
    french_datetime,
    french_typography,
)
from crisiskit.inventory.models import Convention


@pytest.mark.parametrize(
    ("raw", "typeset"),
    [
        ("Maire : Gérard", f"Maire{NBSP}: Gérard"),
        ("Nom: Gérard", f"Nom{NBSP}: Gérard"),
        ("Prêt? Oui! Non ; peut-être", f"Prêt{NNBSP}? Oui{NNBSP}! Non{NNBSP}; peut-être"),
        ('la "Cellule de crise"', f"la «{NBSP}Cellule de crise{NBSP}»"),
        ("« déjà »", f"«{NBSP}déjà{NBSP}»"),
        ("l'équipe d'Aubagne", "l’équipe d’Aubagne"),
        # Code spans, autolinks, link targets and table delimiter rows are left alone.
        ("`a : b ? c` <https://x.fr/?q=1&r=2> [ici](<https://y.fr/a?b>)",
         "`a : b ? c` <https://x.fr/?q=1&r=2> [ici](<https://y.fr/a?b>)"),
        ("| a | b |\n|:---|---:|", "| a | b |\n|:---|---:|"),
        ("::: signatures", "::: signatures"),
        ("https://aka.ms/x?y=1 et 10:30", "https://aka.ms/x?y=1 et 10:30"),
    ],
)
def test_french_typography(raw: str, typeset: str) -> None:
    assert french_typography(raw) == typeset
    assert french_typography(typeset) == typeset  # idempotent


def test_dates_and_times_in_paris() -> None:
    assert french_date(date(2026, 12, 1)) == f"1er{NBSP}décembre 2026"
    assert french_date(date(2026, 2, 14)) == f"14{NBSP}février 2026"
    assert french_date(None) == "________"
    # Winter UTC+1, summer UTC+2; the date is Paris's, not UTC's.
    assert french_datetime(datetime(2026, 11, 26, 23, 5, tzinfo=UTC)) == (
        f"27{NBSP}novembre 2026 à 0{NBSP}h{NBSP}05 (heure de Paris)")
    assert french_datetime(datetime(2026, 7, 14, 8, 0, tzinfo=UTC)) == (
        f"14{NBSP}juillet 2026 à 10{NBSP}h{NBSP}00 (heure de Paris)")


@pytest.mark.parametrize(
    ("name", "title", "place"),
    [("Aubagne", "Commune d'Aubagne", "à Aubagne"), ("Le Rove", "Commune du Rove", "au Rove"),
     ("Les Pennes-Mirabeau", "Commune des Pennes-Mirabeau", "aux Pennes-Mirabeau"),
     ("La Ciotat", "Commune de La Ciotat", "à La Ciotat"),
     ("Éguilles", "Commune d'Éguilles", "à Éguilles")],
)
def test_french_elision_and_contraction(name: str, title: str, place: str) -> None:
    assert commune_title(name) == title
    assert at_place(name) == place


def convention(**dates: date) -> Convention:
    return Convention(deliberation_number="D-1", deliberation_date=date(2019, 1, 10), **dates)


def test_due_renewal_on_1_january_within_the_window() -> None:
    c = convention(notification_date=date(2024, 3, 1))
    (due,) = due_within(c, date(2026, 10, 3), 90)
    assert (due.kind, due.day, due.days_left) == (DueKind.renewal, date(2027, 1, 1), 90)
    assert due_within(c, date(2026, 10, 2), 90) == []  # 91 days away


def test_due_eight_year_term_instead_of_a_renewal() -> None:
    # Notified 15 March 2019: in force until 14 March 2027, so 1 January 2027 renews it for
    # the last time and the term falls on 15 March 2027 (first day no longer in force).
    c = convention(notification_date=date(2019, 3, 15))
    kinds = [(d.kind, d.day) for d in due_within(c, date(2026, 12, 20), 90)]
    assert kinds == [(DueKind.renewal, date(2027, 1, 1)), (DueKind.term, date(2027, 3, 15))]
    # Notified 1 January 2019: its term ends on 1 January 2027, no renewal then.
    c = convention(notification_date=date(2019, 1, 1))
    assert [(d.kind, d.day) for d in due_within(c, date(2026, 12, 1), 60)] == [
        (DueKind.term, date(2027, 1, 1))]


def test_due_termination_three_months_after_request_or_breach() -> None:
    c = convention(notification_date=date(2024, 3, 1), termination_request_date=date(2026, 11, 30))
    found = [(d.kind, d.day) for d in due_within(c, date(2026, 12, 1), 120)]
    assert found == [(DueKind.renewal, date(2027, 1, 1)), (DueKind.termination, date(2027, 2, 28))]
    c = convention(notification_date=date(2024, 3, 1), breach_notice_date=date(2026, 10, 1),
                   breach_remedied_date=date(2026, 11, 15))
    assert [d.kind for d in due_within(c, date(2026, 12, 1), 90)] == [DueKind.renewal]
    # Not in force: nothing is due.
    assert due_within(convention(), date(2026, 12, 1), 365) == []
    with pytest.raises(ValueError):
        due_within(c, date(2026, 12, 1), -1)


def test_cli_conventions_due() -> None:
    runner = CliRunner()
    args = ["-i", str(REPO / "inventory.yaml"), "--output", "json", "conventions", "--due",
            "--at", "2026-11-01", "--within", "75"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    due = json.loads(result.stdout)["due"]
    assert [(d["commune"], d["kind"], d["date"]) for d in due if d["kind"] != "renewal"] == [
        ("martigues", "termination", "2026-12-21"), ("la-ciotat", "termination", "2027-01-15")]
    # A wide terminal: the table's cells are not wrapped, whatever the tests run in.
    text = runner.invoke(app, args[:2] + args[4:], env={"COLUMNS": "200"})
    assert "termination takes effect (Art. 9)" in text.stdout
    bad = runner.invoke(app, args[:-1] + ["-3"])
    assert bad.exit_code == 2
