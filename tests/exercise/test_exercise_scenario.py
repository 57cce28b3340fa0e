"""Scenario files: every shipped one validates; every mistake is FILE:LINE:COL at its field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.errors import InputError
from crisiskit.exercise.run import planned_events
from crisiskit.exercise.scenario import (
    Faults,
    list_scenarios,
    load_scenario,
    offset_text,
    parse_offset,
)
from crisiskit.inventory import Inventory

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"
PLAYBOOKS = REPO / "playbooks"
SHIPPED = list_scenarios(PLAYBOOKS / "exercises")

HEAD = """\
name: essai
title: Essai
communes: [aubagne, aix-en-provence]
speed: 600
injects:
"""


def _write(tmp_path: Path, injects: str, head: str = HEAD) -> Path:
    path = tmp_path / "essai.yaml"
    path.write_text(head + injects, encoding="utf-8")
    return path


def _problems(path: Path, inventory: Inventory) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_scenario(path, inventory, PLAYBOOKS)
    return [str(d) for d in caught.value.diagnostics]


def test_the_three_scenarios_of_the_issue_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= {
        "rancongiciel-aubagne", "fournisseur-commun", "crise-longue"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_validates_from_the_command_line(path: Path) -> None:
    result = CliRunner().invoke(app, ["-i", str(SAMPLE), "exercise", "validate", str(path),
                                      "--output", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


def test_the_shipped_scenarios_cover_what_the_issue_asks(sample_inventory: Inventory) -> None:
    loaded = {p.stem: load_scenario(p, sample_inventory, PLAYBOOKS) for p in SHIPPED}
    assert loaded["rancongiciel-aubagne"].communes == ("aubagne",)
    mass = loaded["fournisseur-commun"]
    hits = [i.at for i in mass.injects if i.kind == "commune_hit"]
    assert len(mass.communes) == 5 and len(hits) == 5 and max(hits) - min(hits) <= 600
    kinds = {i.kind for i in loaded["crise-longue"].injects}
    assert {"agents_join", "agent_leaves", "device_lost", "pass_reissue",
            "end_of_forensics"} <= kinds


def test_exercise_list_names_each_scenario_and_takes_the_global_options_after() -> None:
    result = CliRunner().invoke(app, ["exercise", "list", "-i", str(SAMPLE), "--output", "json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} == {p.stem for p in SHIPPED}
    assert all(r["valid"] for r in rows)


def test_a_bad_scenario_is_exit_2_with_file_line_col_and_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
  - at: T+0
    kind: commune_hit
    commune: aubagne
  - at: T+5 min
    kind: comune_hit
    commune: aubagne
  - at: T+10 min
    kind: end_of_exercise
""")
    result = CliRunner().invoke(app, ["-i", str(SAMPLE), "exercise", "validate", str(path)])
    assert result.exit_code == 2
    assert (f"{path}:10:11: injects[1].kind: unknown inject kind 'comune_hit' (did you mean "
            "'commune_hit'?)") in result.stderr
    assert "Traceback" not in result.stderr


def test_offsets_out_of_order_name_the_inject(tmp_path: Path, sample_inventory: Inventory
                                              ) -> None:
    path = _write(tmp_path, """\
  - {at: T+10 min, kind: commune_hit, commune: aubagne}
  - {at: T+5 min, kind: commune_hit, commune: aix-en-provence}
  - {at: "T+1 h", kind: end_of_exercise}
""")
    assert _problems(path, sample_inventory) == [
        f"{path}:7:10: injects[1].at: T+5 min comes before the previous inject (T+10 min): "
        "injects are listed in time order"]


def test_unknown_commune_person_and_asset_are_named(tmp_path: Path, sample_inventory: Inventory
                                                    ) -> None:
    path = _write(tmp_path, """\
  - {at: T+0, kind: commune_hit, commune: aubagne}
  - {at: T+1 min, kind: agent_leaves, commune: aubagne, person: gerard.luciani}
  - {at: T+2 min, kind: device_lost, commune: aubagne, asset: AMP-TEL-9999}
  - {at: T+3 min, kind: pass_reissue, commune: aix-en-provence, people: [claire.vasseur]}
  - {at: T+4 min, kind: device_lost, commune: aubagne, person: noel.chene}
  - {at: T+5 min, kind: end_of_exercise}
""", head=HEAD.replace("aix-en-provence]", "aix-en-provence, aubagnee]"))
    found = _problems(path, sample_inventory)
    assert any(":3:38: communes[2]: unknown commune 'aubagnee'; did you mean 'aubagne'" in f
               for f in found), found
    head_ok = _write(tmp_path, path.read_text().split("injects:")[1],
                     head=HEAD)
    found = _problems(head_ok, sample_inventory)
    assert any("injects[1].person: unknown person of aubagne 'gerard.luciani'; did you mean "
               "'gerard.lucciani'" in f for f in found), found
    assert any("injects[2].asset: unknown asset tag 'AMP-TEL-9999'" in f for f in found), found
    assert any("injects[3].commune: aix-en-provence is not hit before this inject" in f
               for f in found), found
    assert any("injects[4].person: noel.chene has no phone lent" in f for f in found), found
    assert all(f.startswith(f"{head_ok}:") for f in found)


def test_a_person_who_joined_can_leave_later_and_one_who_left_cannot(
    tmp_path: Path, sample_inventory: Inventory
) -> None:
    path = _write(tmp_path, """\
  - {at: T+0, kind: commune_hit, commune: aix-en-provence}
  - at: T+1 min
    kind: agents_join
    commune: aix-en-provence
    people: [{given_name: Nathalie, surname: Gaubert, role: agent}]
  - {at: T+2 min, kind: pass_reissue, commune: aix-en-provence, people: [nathalie.gaubert]}
  - {at: T+3 min, kind: agent_leaves, commune: aix-en-provence, person: nathalie.gaubert}
  - {at: T+4 min, kind: pass_reissue, commune: aix-en-provence, people: [nathalie.gaubert]}
  - {at: T+5 min, kind: end_of_exercise}
""")
    found = _problems(path, sample_inventory)
    assert len(found) == 1 and "injects[4].people[0]: unknown person of aix-en-provence" in \
        found[0], found


def test_bad_values_are_reported_by_field(tmp_path: Path, sample_inventory: Inventory) -> None:
    path = _write(tmp_path, """\
  - {at: 2 min, kind: commune_hit, commune: aubagne}
  - {at: T+3 min, kind: throttling_storm, rate: 0, duration: soon}
  - {at: T+4 min, kind: agents_join, commune: aubagne, people: [{given_name: A}]}
  - {at: T+5 min, kind: commune_hit}
""")
    found = "\n".join(_problems(path, sample_inventory))
    assert "injects[0].at: '2 min' is not an offset" in found
    assert "injects[1].duration: 'soon' is not a duration" in found
    assert "injects[1].rate: must be greater than 0" in found or "injects[1].rate:" in found
    assert "injects[2].people[0].surname: required field is missing" in found
    assert "injects[3].commune: required field is missing" in found
    assert "injects[3]: the last inject must be kind: end_of_exercise" in found


def test_generated_communes_for_scale(tmp_path: Path, sample_inventory: Inventory) -> None:
    path = _write(tmp_path, """\
  - {at: T+0, kind: commune_hit, commune: all}
  - {at: T+30 min, kind: end_of_exercise}
""", head=HEAD.replace("communes: [aubagne, aix-en-provence]",
                       "generated: {communes: 3, roster: 5}"))
    scenario = load_scenario(path, sample_inventory, PLAYBOOKS)
    assert scenario.communes == ("simu-01", "simu-02", "simu-03")
    assert [cid for _, cid in planned_events(scenario)] == [*scenario.communes, None]
    simu = scenario.inventory.commune("simu-02")
    assert len(simu.roster) == 5 and sum(p.team_owner for p in simu.roster) == 2
    assert not any(p.laptop or p.phone for p in simu.roster)
    # The generated inventory passes the inventory's own checks (unique UPNs, INSEE codes...).
    from crisiskit.inventory.checks import cross_check
    from crisiskit.inventory.loader import Document

    inv = scenario.inventory
    result = cross_check(Document("generated", {}), list(enumerate(inv.communes)),
                         list(enumerate(inv.devices.laptops)),
                         list(enumerate(inv.devices.phones)),
                         domain=inv.tenant.upn_domain, playbooks_dir=PLAYBOOKS)
    assert result.diagnostics == []


def test_offsets_read_and_write_alike() -> None:
    for text, seconds in [("T+0", 0), ("T+2 min", 120), ("T+1 h 30 min", 5400),
                          ("T+45 s", 45), ("T+1 h 05 min 07 s", 3907)]:
        assert parse_offset(text) == seconds
        assert parse_offset(offset_text(seconds)) == seconds
    with pytest.raises(ValueError):
        parse_offset("T+2 minutes")


def test_every_fault_a_scenario_may_set_is_a_knob_of_the_simulator() -> None:
    from crisiskit.sim.profiles import Profile

    assert set(Faults.model_fields) <= set(Profile.knob_names())
