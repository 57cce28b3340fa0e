"""The CLI of the foundation: exit codes, JSON purity, help text, the shipped schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from crisiskit import __version__
from crisiskit.cli import app
from crisiskit.inventory.schema import schema_text

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"
BROKEN = Path(__file__).resolve().parent / "broken"

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def test_validate_the_sample() -> None:
    result = run("-i", str(SAMPLE), "validate")
    assert result.exit_code == 0, result.output
    assert "valid: 11 communes, 37 roster entries, 44 laptops, 44 phones" in result.stdout
    assert (
        "homonym: aubagne: roster[5] Jean Martin → jean.martin2@crise.ampmetropole.fr "
        "(homonym of roster[2])" in result.stdout
    )
    assert result.stderr == ""


def test_validate_json_is_pure_json() -> None:
    result = run("-i", str(SAMPLE), "--output", "json", "validate")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert (data["communes"], data["laptops"], data["phones"]) == (11, 44, 44)
    assert data["playbooks"] == ["minimal", "standard"]
    assert data["homonyms"] == [
        {"commune": "aubagne", "roster_index": 5, "name": "Jean Martin",
         "upn": "jean.martin2@crise.ampmetropole.fr", "homonym_of": 2}
    ]


def test_the_inventory_can_come_from_the_environment() -> None:
    result = run("validate", env={"CRISISKIT_INVENTORY": str(SAMPLE)})
    assert result.exit_code == 0 and "valid: 11 communes" in result.stdout


def _broken_copy(tmp_path: Path, name: str) -> Path:
    (tmp_path / "playbooks").symlink_to(REPO / "playbooks")
    path = tmp_path / name
    path.write_bytes((BROKEN / name).read_bytes())
    return path


def test_an_invalid_inventory_exits_2_with_every_location_on_stderr(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "09-imei.yaml")
    result = run("-i", str(path), "validate")
    assert result.exit_code == 2
    assert result.stdout == ""
    expected = (BROKEN / "09-imei.expected").read_text().replace("09-imei.yaml", str(path))
    lines = result.stderr.splitlines()
    assert lines[:-1] == expected.splitlines()
    assert lines[-1] == "error: 3 problems; nothing was changed"


def test_an_invalid_inventory_in_json_keeps_stdout_json(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "04-duplicate-commune-id.yaml")
    result = run("-i", str(path), "--output", "json", "validate")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data == {
        "valid": False,
        "problems": [
            {"file": str(path), "line": 32, "col": 9, "path": "communes[1].id",
             "message": "duplicate commune id 'aubagne' (first at communes[0].id, line 14)"}
        ],
    }
    assert "communes[1].id" in result.stderr


def test_a_one_line_refusal_in_json_is_json_too(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = run("-i", str(missing), "--output", "json", "validate")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "valid": False,
        "problems": [{"file": None, "line": None, "col": None, "path": "",
                      "message": f"{missing}: no such inventory"}],
    }
    assert result.stderr == f"error: {missing}: no such inventory\n"


def test_validate_also_checks_every_playbook(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    for name in ("standard", "minimal"):
        text = (REPO / "playbooks" / f"{name}.yaml").read_text(encoding="utf-8")
        (tmp_path / "playbooks" / f"{name}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "playbooks" / "extra.yaml").write_text("name: extra\n", encoding="utf-8")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_bytes(SAMPLE.read_bytes())
    result = run("-i", str(inventory), "validate")
    assert result.exit_code == 2
    assert f"{tmp_path}/playbooks/extra.yaml:1:1: description: required field is missing" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-i", "/nonexistent/inventory.yaml", "validate"),
         "error: /nonexistent/inventory.yaml: no such inventory"),
        (("-i", str(BROKEN / "18-empty.yaml"), "validate"), "the inventory is empty"),
        (("-i", str(BROKEN / "17-yaml-syntax.yaml"), "validate"), "YAML syntax error"),
        (("-i", "/nonexistent/inventory.yaml", "conventions"), "no such inventory"),
        (("-i", str(SAMPLE), "conventions", "--at", "2026-02-30"),
         "error: --at: '2026-02-30' is not a date (expected YYYY-MM-DD)"),
        (("-i", str(SAMPLE), "inventory", "devices", "--status", "stolen"), "stolen"),
        (("-i", str(SAMPLE), "--output", "yaml", "validate"), "yaml"),
        (("-i", str(SAMPLE), "frobnicate"), "frobnicate"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_conventions_at_a_date() -> None:
    result = run("-i", str(SAMPLE), "--output", "json", "conventions", "--at", "2026-11-26")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["at"] == "2026-11-26"
    rows = {r["commune"]: r for r in data["conventions"]}
    assert rows["aubagne"] == {
        "commune": "aubagne", "name": "Aubagne", "status": "active",
        "next_renewal": "2027-01-01", "max_end": "2033-03-10", "termination_effective": None,
    }
    assert rows["la-ciotat"]["status"] == "terminating"
    assert rows["la-ciotat"]["termination_effective"] == "2027-01-15"
    assert rows["vitrolles"]["status"] == "pending"
    assert rows["istres"]["status"] == "expired"
    assert rows["gemenos"]["status"] == "terminated"


def test_conventions_as_a_table() -> None:
    result = run("-i", str(SAMPLE), "conventions", "--at", "2027-02-01")
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "la-ciotat" in x)
    assert "terminated" in line and "2027-01-15" in line


def test_inventory_communes() -> None:
    result = run("-i", str(SAMPLE), "--output", "json", "inventory", "communes")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 11
    assert rows[0] | {"convention": "?"} == {
        "id": "aubagne", "name": "Aubagne", "insee": "13005", "playbook": "standard",
        "roster": 12, "convention": "?",
    }
    table = run("-i", str(SAMPLE), "inventory", "communes")
    assert table.exit_code == 0 and "Aix-en-Provence" in table.stdout


@pytest.mark.parametrize(
    ("filters", "count"),
    [((), 88), (("--kind", "laptop"), 44), (("--kind", "phone"), 44),
     (("--status", "maintenance"), 3), (("--status", "retired", "--kind", "phone"), 2)],
)
def test_inventory_devices_filters(filters: tuple[str, ...], count: int, tmp_path: Path) -> None:
    result = run("-i", str(SAMPLE), "--home", str(tmp_path), "--output", "json", "inventory",
                 "devices", *filters)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    rows = data["devices"]
    assert len(rows) == count
    if "--status" in filters:
        assert {r["state"] for r in rows} == {filters[filters.index("--status") + 1]}
    assert sum(data["counts"].values()) == (44 if "--kind" in filters else 88)


def test_schema_command_prints_the_shipped_schema() -> None:
    result = run("schema")
    assert result.exit_code == 0
    shipped = (REPO / "inventory.schema.json").read_text(encoding="utf-8")
    assert result.stdout == shipped == schema_text()
    schema = json.loads(shipped)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"tenant", "metropole"}


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"crisiskit {__version__}"


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    # Typer vendors its own click: recognise groups by what they hold.
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from _commands(command, (*prefix, name))
    else:
        yield prefix


def _all_commands() -> list[tuple[str, ...]]:
    return list(_commands(typer.main.get_command(app)))


def test_the_foundation_commands_exist() -> None:
    assert {("validate",), ("conventions",), ("schema",), ("inventory", "communes"),
            ("inventory", "devices")} <= set(_all_commands())


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help"
    result = run(*path, "--help")
    assert result.exit_code == 0
    first_line = " ".join(command.help.strip().splitlines()[0].split())
    assert first_line in " ".join(result.stdout.split())

