"""Graph's limits, invisible characters and explicit accounts, checked by `validate`.

The values checked are the values sent: a test compares them with the desired state that
`plan/desired.py` computes, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.errors import InputError
from crisiskit.inventory import check_inventory, load_inventory
from crisiskit.inventory.invisible import first_refused
from crisiskit.inventory.limits import (
    CHANNEL_DESCRIPTION,
    GROUP_DISPLAY_NAME,
    GROUP_MAIL_NICKNAME,
    GROUP_NICKNAME,
    TEAM_DESCRIPTION,
    UPN_DOMAIN,
    UPN_LENGTH,
    USER_DISPLAY_NAME,
    USER_GIVEN_NAME,
    USER_MAIL_NICKNAME,
    USER_SURNAME,
)
from crisiskit.inventory.models import Commune
from crisiskit.inventory.naming import roster_accounts
from crisiskit.plan.desired import desired_kit, group_nickname
from crisiskit.playbooks import (
    channel_descriptions,
    group_names,
    list_playbooks,
    load_playbook,
    playbook_diagnostics,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"
PLAYBOOKS = REPO / "playbooks"
Write = Callable[[str], Path]


def problems(path: Path, playbooks: Path | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        check_inventory(path, playbooks)
    return [str(d).split(": ", 1)[1] for d in caught.value.diagnostics]


# ---------------------------------------------------------------- the values sent


def test_the_values_checked_are_the_values_the_desired_state_sends() -> None:
    inventory = load_inventory(SAMPLE)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    books = {name: load_playbook(name, PLAYBOOKS) for name in list_playbooks(PLAYBOOKS)}
    checked = 0
    for commune in inventory.communes:
        assert GROUP_NICKNAME.format(commune.id) == group_nickname(commune.id)
        for book in books.values():
            kit = desired_kit(inventory, commune, book, [], now)
            names = group_names(book, commune)
            if kit.group is None:
                assert names is None or not kit.users
                continue
            assert names == (kit.group.display_name, kit.group.description)
            if kit.team is not None:
                assert kit.team.display_name == kit.group.display_name
                assert [c.description for c in kit.team.channels] == \
                    channel_descriptions(book, commune)
            accounts = {a.upn.lower(): a for a in roster_accounts(commune, "crise.ampmetropole.fr")}
            for user in kit.users:
                account = accounts[user.upn]
                assert (user.display_name, user.mail_nickname) == \
                    (account.display_name, account.mail_nickname)
                # and, the inventory being valid, each is within Graph's limits
                assert len(user.display_name) <= USER_DISPLAY_NAME
                assert len(user.given_name) <= USER_GIVEN_NAME
                assert len(user.surname) <= USER_SURNAME
                assert len(user.mail_nickname) <= USER_MAIL_NICKNAME
                assert len(user.upn) <= UPN_LENGTH
            assert len(kit.group.display_name) <= GROUP_DISPLAY_NAME
            assert len(kit.group.description) <= TEAM_DESCRIPTION
            assert len(kit.group.mail_nickname) <= GROUP_MAIL_NICKNAME
            checked += 1
    assert checked >= 20


def test_a_playbook_without_team_still_makes_a_group_for_its_folders(tmp_path: Path) -> None:
    inventory = load_inventory(SAMPLE)
    commune = inventory.commune("aubagne")
    text = (PLAYBOOKS / "standard.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["name"] = "folders-only"
    del data["team"]
    (tmp_path / "folders-only.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    book = load_playbook("folders-only", tmp_path)
    kit = desired_kit(inventory, commune, book, [], datetime(2026, 3, 1, tzinfo=UTC))
    assert kit.group is not None and kit.team is None
    assert group_names(book, commune) == (kit.group.display_name, kit.group.description)


# ---------------------------------------------------------------- limits after expansion


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(PLAYBOOKS, tmp_path / "playbooks")
    return tmp_path


def set_template(folder: Path, name: str, change: Callable[[dict], None], *,
                 as_name: str | None = None) -> None:
    book = yaml.safe_load((folder / "playbooks" / f"{name}.yaml").read_text(encoding="utf-8"))
    change(book)
    target = as_name or name
    book["name"] = target
    (folder / "playbooks" / f"{target}.yaml").write_text(yaml.safe_dump(book, allow_unicode=True))
    assert playbook_diagnostics(folder / "playbooks" / f"{target}.yaml")[1] == []


def test_a_channel_description_too_long_once_expanded_is_refused(folder: Path,
                                                                 base_text: str) -> None:
    # 1,000 characters: valid in the playbook, too long once {commune} is filled in.
    set_template(folder, "standard", lambda b: b["team"]["channels"][0].update(
        description="{commune} " + "x" * 990))
    path = folder / "inventory.yaml"
    path.write_text(base_text.replace("    name: Aubagne\n", "    name: " + "A" * 40 + "\n"))
    assert problems(path) == [
        f"communes[0].name: a channel description {('A' * 40 + ' ' + 'x' * 16 + '…')!r} would "
        f"be 1031 characters; Microsoft Graph allows at most {CHANNEL_DESCRIPTION} "
        "(channel.md, bound of team.md) with playbook standard; shorten the commune's name or "
        "the playbook's template"
    ]


def test_every_playbook_counts_since_activate_may_pick_any(folder: Path, base_text: str) -> None:
    set_template(folder, "minimal", lambda b: b["team"].update(
        display_name="Cellule de crise cyber – commune de {commune} – " + "x" * 60),
        as_name="long")
    path = folder / "inventory.yaml"
    long_name = "C" * 200  # fine for 'standard' and 'minimal', which the communes use
    path.write_text(base_text.replace("    name: Cassis\n", f"    name: {long_name}\n"))
    (found,) = problems(path)
    assert found.startswith("communes[1].name: the group and Team display name")
    assert "would be 299 characters" in found and "with playbook long;" in found
    (folder / "playbooks" / "long.yaml").unlink()
    load_inventory(path)


def test_a_group_display_name_at_the_limit_is_accepted(folder: Path, base_text: str) -> None:
    template = "Cellule " + "x" * 200 + " {commune}"  # 209 characters and the name
    set_template(folder, "minimal", lambda b: b["team"].update(display_name=template))
    path = folder / "inventory.yaml"
    at_limit = "C" * (GROUP_DISPLAY_NAME - 209)
    path.write_text(base_text.replace("    name: Cassis\n", f"    name: {at_limit}\n"))
    load_inventory(path)
    path.write_text(base_text.replace("    name: Cassis\n", f"    name: {at_limit}C\n"))
    (found,) = problems(path)
    assert found.startswith("communes[1].name: the group and Team display name")
    assert "would be 257 characters; Microsoft Graph allows at most 256" in found


def test_the_upn_domain_is_bounded(folder: Path, base_text: str) -> None:
    domain = "a" * (UPN_DOMAIN - 3) + ".fr"
    path = folder / "inventory.yaml"
    path.write_text(base_text.replace("upn_domain: crise.ampmetropole.fr", f"upn_domain: {domain}"))
    load_inventory(path)
    path.write_text(base_text.replace("upn_domain: crise.ampmetropole.fr",
                                      f"upn_domain: b{domain}"))
    assert problems(path) == [
        "tenant.upn_domain: is 49 characters; a user principal name allows at most 48 after "
        "the '@' (Entra ID username policies)"
    ]


# ---------------------------------------------------------------- invisible characters


@pytest.mark.parametrize(
    "value", ["a\x1bb", "a\x00b", "a\x7fb", "a\x9bb", "a\u202eb", "a\u2066b", "a\u200bb",
              "a\u200db", "a\ufeffb", "a\u2028b", "a\u2029b", "a\u00adb", "a\tb", "a\nb",
              "a\rb", "a\U000e0001b"],
)
def test_control_and_format_characters_are_refused(value: str) -> None:
    assert first_refused(value) == (1, value[1])


def test_spaces_edges_and_description_line_breaks_are_fine() -> None:
    for value in ("Zoé « DGS »", "1\u00a0000", "a\u202fb", "  Aubagne \n", "李 王", "👩‍💻"[0]):
        assert first_refused(value) is None, value
    assert first_refused("ligne 1\nligne 2\ttab", prose=True) is None
    assert first_refused("ligne 1\r\nligne 2", prose=True) == (7, "\r")


def test_a_playbook_with_an_escape_in_a_channel_name_is_refused(tmp_path: Path) -> None:
    text = (PLAYBOOKS / "standard.yaml").read_text(encoding="utf-8")
    text = text.replace("    - name: Technique\n", '    - name: "Tech\\e[8mnique"\n')
    text = text.replace("description: >-\n", "description: |\n")  # line feeds: fine here
    (tmp_path / "standard.yaml").write_text(text, encoding="utf-8")
    _, found = playbook_diagnostics(tmp_path / "standard.yaml")
    assert [str(d).split(": ", 1)[1] for d in found] == [
        "team.channels[2].name: contains the invisible or control character U+001B (ESCAPE) "
        "at character 5: retype the value without it"
    ]


def test_names_are_normalised_to_nfc(write_inventory: Write, base_text: str) -> None:
    decomposed = "He\u0301le\u0300ne"  # "Hélène" typed with combining accents
    inv = load_inventory(write_inventory(base_text.replace("given_name: Jean,",
                                                           f"given_name: {decomposed},")))
    assert inv.commune("aubagne").roster[1].given_name == "Hélène"


# ---------------------------------------------------------------- explicit accounts


def commune(*people: dict[str, str]) -> Commune:
    return Commune.model_validate({
        "id": "aubagne", "name": "Aubagne", "insee": "13005", "address": "Hôtel de Ville",
        "mayor": "M. le Maire",
        "convention": {"deliberation_number": "1", "deliberation_date": "2025-01-01"},
        "correspondent": {"name": "C", "email": "c@aubagne.fr", "phone": "0465710010"},
        "roster": [{"role": "agent", **p} for p in people],
    })


def test_an_explicit_account_is_never_renamed_and_its_clash_is_flagged() -> None:
    jean = {"given_name": "Jean", "surname": "Martin"}
    accounts = roster_accounts(commune(
        {"given_name": "Paul", "surname": "Roux", "account": "jean.martin"},
        jean, jean,
        {"given_name": "Zoé", "surname": "Roux", "account": "jean.martin2"},
        {"given_name": "Léa", "surname": "Roux", "account": "lea.r"},
        {"given_name": "Léo", "surname": "Roux", "account": "lea.r"},
    ), "d.fr")
    # Generated names are numbered among themselves: the explicit account shifts nobody.
    assert [a.mail_nickname for a in accounts] == [
        "jean.martin", "jean.martin", "jean.martin2", "jean.martin2", "lea.r", "lea.r"]
    assert [a.clash for a in accounts] == [1, None, None, 2, None, 4]


def test_an_explicit_account_clash_is_an_error_at_the_account(
    write_inventory: Write, base_text: str
) -> None:
    text = base_text.replace(
        "{given_name: Gérard, surname: Lucciani, role: maire, team_owner: true, laptop: true}",
        "{given_name: Gérard, surname: Lucciani, role: maire, team_owner: true, laptop: true, "
        "account: jean.martin}",
    )
    assert problems(write_inventory(text)) == [
        "communes[0].roster[0].account: user name jean.martin@crise.ampmetropole.fr is also "
        "the name made for communes[0].roster[1] (Jean Martin); an explicit account is never "
        "renamed: choose another one"
    ]


def test_validate_reports_them_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "playbooks").symlink_to(PLAYBOOKS)
    data = SAMPLE.read_text(encoding="utf-8").replace(
        "{given_name: Jean, surname: Martin, role: agent, laptop: true}",
        "{given_name: Jean, surname: Martin, role: agent, laptop: true, account: gerard.lucciani}",
    )
    path = tmp_path / "inventory.yaml"
    path.write_text(data, encoding="utf-8")
    result = CliRunner().invoke(app, ["-i", str(path), "validate"], env={"COLUMNS": "300"},
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "communes[0].roster[5].account: user name gerard.lucciani@crise.ampmetropole.fr " \
        "is also the name made for communes[0].roster[0]" in result.stderr


# ---------------------------------------------------------------- SharePoint folder names


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        ("CON", "reserves"), ("nul.txt", "reserves"), ("Com1", "reserves"), ("LPT9", "reserves"),
        (".lock", "start with '.'"), ("desktop.ini", "reserves"), ("forms", "reserves"),
        ("a_vti_b", "_vti_"), ("~brouillon", "start with '.' or '~'"), ("fin.", "end with '.'"),
        ("a|b", "cannot contain |"), ("x" * 129, "at most 128 characters"),
    ],
)
def test_sharepoint_folder_rules(tmp_path: Path, folder: str, reason: str) -> None:
    data = yaml.safe_load((PLAYBOOKS / "standard.yaml").read_text(encoding="utf-8"))
    data["folders"] = [folder]
    (tmp_path / "standard.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    _, found = playbook_diagnostics(tmp_path / "standard.yaml")
    assert len(found) == 1 and found[0].path == "folders[0]" and reason in found[0].message
