"""Playbooks: the shipped ones, and every rule a broken one can break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crisiskit.errors import InputError
from crisiskit.playbooks import list_playbooks, load_playbook

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def test_shipped_playbooks() -> None:
    assert {"minimal", "standard"} <= set(list_playbooks(PLAYBOOKS))
    standard = load_playbook("standard", PLAYBOOKS)
    assert standard.roles is None and standard.includes("agent")
    assert standard.register_phone and standard.devices.laptops and standard.devices.phones
    assert standard.team is not None
    assert standard.team.display_name == "Cellule de crise – {commune}"
    assert [c.name for c in standard.team.channels] == ["Décisions", "Communication", "Technique"]
    assert standard.folders == ["Main courante", "Communiqués", "Décisions", "Forensic"]
    assert 10 <= standard.tap.lifetime_minutes <= 43200
    minimal = load_playbook("minimal", PLAYBOOKS)
    assert minimal.roles == ["maire", "dgs", "dsi"]
    assert minimal.includes("dsi") and not minimal.includes("agent")
    assert not minimal.devices.laptops and not minimal.devices.phones


BROKEN = """\
name: other
description: ""
roles: [Maire]
licence: both
tap: {lifetime_minutes: 5, usable_once: true}
team:
  display_name: Cellule – {ville}
  channels:
    - {name: General}
    - {name: "Décisions/Urgent"}
    - {name: Technique}
    - {name: TECHNIQUE}
    - {name: "Un nom de canal bien trop long pour Microsoft Teams, vraiment"}
folders: [Main courante, "A:B", main courante]
devices: {laptops: yes, tablets: true}
readiness: {mailbox_s: 0}
"""


def test_a_broken_playbook_reports_everything_at_its_location(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BROKEN, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_playbook("bad", tmp_path)
    lines = str(caught.value).replace(str(tmp_path / "bad.yaml"), "bad.yaml").splitlines()
    assert lines == [
        "bad.yaml:2:14: description: must have at least 1 character(s)",
        "bad.yaml:3:9: roles[0]: must be lower-case snake_case, e.g. police_municipale",
        "bad.yaml:4:10: licence: Input should be 'direct' or 'group'",
        "bad.yaml:5:25: tap.lifetime_minutes: must be at least 10",
        "bad.yaml:7:17: team.display_name: unknown placeholder {ville} "
        "(allowed: {commune}, {commune_id}, {insee})",
        "bad.yaml:9:14: team.channels[0].name: 'General' is the Team's built-in channel; "
        "it cannot be created",
        "bad.yaml:10:14: team.channels[1].name: a Teams channel name cannot contain /",
        "bad.yaml:13:14: team.channels[4].name: must have at most 50 characters",
        "bad.yaml:14:26: folders[1]: a SharePoint folder name cannot contain :",
        "bad.yaml:15:25: devices.tablets: unknown key (allowed: laptops, phones)",
        "bad.yaml:16:24: readiness.mailbox_s: must be at least 1",
    ]


def test_name_and_duplicates_are_checked_once_the_fields_are_valid(tmp_path: Path) -> None:
    text = (PLAYBOOKS / "standard.yaml").read_text(encoding="utf-8")
    text = text.replace("    - name: Technique\n", "    - name: communication\n")
    text = text.replace("  - Forensic\n", "  - main courante\n")
    (tmp_path / "copy.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_playbook("copy", tmp_path)
    assert [f"{d.path}: {d.message}" for d in caught.value.diagnostics] == [
        "name: must match the file name ('copy')",
        "team.channels[2].name: same name as team.channels[1]",
        "folders[3]: same name as folders[0]",
    ]


def test_a_missing_playbook_names_the_available_ones(tmp_path: Path) -> None:
    shutil.copy(PLAYBOOKS / "minimal.yaml", tmp_path / "minimal.yaml")
    with pytest.raises(InputError, match=r"no such playbook \(available in .*: minimal\)"):
        load_playbook("standard", tmp_path)
    with pytest.raises(InputError, match="is not a playbook name"):
        load_playbook("../etc/passwd", tmp_path)


@pytest.mark.parametrize(
    ("text", "reason"), [("", "the playbook is empty"), ("[1]\n", "not a list")]
)
def test_an_empty_or_wrong_playbook_is_one_line(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=reason):
        load_playbook("x", tmp_path)
