"""The same fact reads the same everywhere (crisiskit.words), and waits say for what and how long
(console.RunDisplay, fed by the engine's ActivationProgress)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.console import Console

from crisiskit import console
from crisiskit.console.live import RunDisplay
from crisiskit.words import count, duration, listing, noun, paris_time, phone


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "0 s"), (42.7, "42 s"), (60, "1 min"), (100, "1 min 40 s"), (3900, "1 h 05 min")],
)
def test_durations(seconds: float, said: str) -> None:
    assert duration(seconds) == said


def test_counts_and_lists() -> None:
    assert count(1, "user") == "1 account"
    assert count(12, "user") == "12 accounts"
    assert count(1, "tap") == "1 Temporary Access Pass"
    assert count(2, "entry") == "2 entries"
    assert noun("phone_method") == "phone methods"
    assert noun("planner_plan", 1) == "planner plan"  # a kind no one named yet
    assert listing(["a"]) == "a" and listing(["a", "b", "c"]) == "a, b and c"


def test_times_are_paris_time_with_the_zone_never_raw_iso() -> None:
    winter = datetime(2026, 12, 1, 23, 20, 5, 123456, tzinfo=UTC)
    summer = "2026-07-14T08:00:00+00:00"
    assert paris_time(winter) == "2026-12-02 00:20 CET"
    assert paris_time(winter, seconds=True) == "2026-12-02 00:20:05 CET"
    assert paris_time(summer) == "2026-07-14 10:00 CEST"
    assert paris_time(summer, zone=False) == "2026-07-14 10:00"
    assert paris_time("2026-12-01T23:20:05") == "2026-12-02 00:20 CET"  # naive is UTC
    assert paris_time(None) == "" and paris_time("not a time") == "not a time"


def test_phone_numbers_in_one_format() -> None:
    assert phone("+33612345678") == phone("+33 612345678") == phone("06 12 34 56 78") == (
        "+33 6 12 34 56 78"
    )
    assert phone(None) == "" and phone("n/a") == "n/a"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _screen(display: RunDisplay) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None).print(display._render())
    return buffer.getvalue()


def test_a_wait_says_what_it_waits_for_and_for_how_long(monkeypatch) -> None:
    clock = FakeClock()
    monkeypatch.setenv("COLUMNS", "101")  # the live area is one column narrower
    monkeypatch.setattr(console, "_err", None)
    display = RunDisplay(terminal=False, clock=clock)
    team = display("Team", 4)
    team.waiting("for Microsoft Teams to finish provisioning")
    clock.now += 100
    line = next(x for x in _screen(display).splitlines() if x.startswith("Team"))
    assert line.rstrip().endswith(
        "0/4 waiting for Microsoft Teams to finish provisioning, 1 min 40 s"
    )
    team.advance()
    team.waiting(None)
    clock.now += 5
    team.finish("created, 3 channels created")
    assert display.rows[0].waited == 100
    assert "Team" not in _screen(display)  # a finished phase leaves the area


def test_a_long_wait_is_cut_but_never_its_time(monkeypatch) -> None:
    clock = FakeClock()
    monkeypatch.setenv("COLUMNS", "61")
    monkeypatch.setattr(console, "_err", None)
    display = RunDisplay(terminal=False, clock=clock)
    display("Team", 4).waiting("for the new group to reach Microsoft Teams (documented: 15 min)")
    clock.now += 75
    line = _screen(display).splitlines()[0].rstrip()
    assert line.endswith("…, 1 min 15 s") and len(line) <= 60


def test_without_a_terminal_each_phase_and_each_wait_is_one_plain_line(
    capsys: pytest.CaptureFixture[str]
) -> None:
    console._err = None
    clock = FakeClock()
    with RunDisplay(terminal=False, clock=clock, tick_s=0.01) as display:
        drive = display("SharePoint", 1)
        drive.waiting("for SharePoint to provision the group's site")
        clock.now += 30
        drive.advance()
        drive.finish("drive ready")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "SharePoint: waiting for SharePoint to provision the group's site"
    assert err[-1] == "SharePoint: drive ready (after waiting 30 s)"


def test_the_activation_routes_waiting_events_to_the_row_of_their_kind() -> None:
    from crisiskit.engine.progress import ActivationProgress
    from crisiskit.engine.session import Event

    kit, plan = _aubagne_plan()
    clock = FakeClock()
    display = RunDisplay(terminal=False, clock=clock)
    progress = ActivationProgress(display, kit, plan)
    team_step = next(s for s in plan.steps if s.kind == "team")
    progress.event(Event("team", team_step.key, "waiting", "team",
                         "for Microsoft Teams to finish provisioning"))
    progress.event(Event("mailbox", "", "waiting", "mailboxes",
                         "for Exchange Online to provision the mailboxes"))
    rows = {r.name: r for r in display.rows}
    assert rows["Team"].what == "for Microsoft Teams to finish provisioning"
    assert rows["Mailboxes"].what == "for Exchange Online to provision the mailboxes"
    assert rows["Accounts"].what is None


def _aubagne_plan() -> tuple:
    """Return Aubagne's desired kit and its plan against an empty tenant (no Graph needed)."""
    from pathlib import Path

    from crisiskit.inventory import load_inventory
    from crisiskit.plan.desired import desired_kit
    from crisiskit.plan.diff import diff
    from crisiskit.plan.observe import Observed
    from crisiskit.playbooks import load_playbook

    repo = Path(__file__).resolve().parents[2]
    inventory = load_inventory(repo / "inventory.yaml")
    commune = inventory.commune("aubagne")
    book = load_playbook(commune.playbook, repo / "playbooks")
    now = datetime.now(UTC)
    kit = desired_kit(inventory, commune, book, [], now)
    observed = Observed(sku={"skuId": "s", "prepaidUnits": {"enabled": 250}, "consumedUnits": 0},
                        users={}, strays=[], group=None)
    return kit, diff(kit, observed, {}, now).plan
