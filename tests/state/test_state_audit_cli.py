"""`crisiskit audit show|verify|export` through the real CLI over a real state database."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.secrets import Secret
from crisiskit.state import Store


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--home", str(home), *args],
                                env={"COLUMNS": "200"}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with Store.open(home) as s:
        for i in range(1, 8):
            s.audit_append("alice", "aubagne" if i % 2 else "istres", "create_user",
                           f"user{i}@crise.example", "created", request_id=f"req-{i}",
                           details={"graph_id": f"id-{i}", "nom": "Lefèvre"})
    return home


def test_show_prints_a_table_of_the_latest_entries(home: Path) -> None:
    code, out, _ = run(home, "audit", "show", "--limit", "3")
    assert code == 0
    assert "user7@crise.example" in out and "req-5" in out
    assert "user4@crise.example" not in out
    assert "last 3 of 7 entries" in out


def test_show_filters_by_commune_and_gives_json(home: Path) -> None:
    code, out, _ = run(home, "--output", "json", "audit", "show", "--commune", "istres")
    assert code == 0
    data = json.loads(out)
    assert [e["seq"] for e in data] == [2, 4, 6]
    assert data[0]["details"] == {"graph_id": "id-2", "nom": "Lefèvre"}
    # The global --output works after the command too, and the commune in any case.
    code, out, _ = run(home, "audit", "show", "-c", "ISTRES", "--limit", "0", "--output", "json")
    assert [e["seq"] for e in json.loads(out)] == [2, 4, 6]


def test_verify_intact_chain(home: Path) -> None:
    code, out, _ = run(home, "audit", "verify")
    assert (code, out.strip()) == (0, "audit chain intact: 7 entries")
    code, out, _ = run(home, "--output", "json", "audit", "verify")
    assert json.loads(out) == {"intact": True, "entries": 7, "problems": []}


def test_verify_tampered_chain_exits_1_listing_each_problem(home: Path) -> None:
    conn = sqlite3.connect(home / "state.db", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("UPDATE audit SET operator = 'mallory' WHERE seq = 2")
    conn.execute("DELETE FROM audit WHERE seq = 7")
    conn.close()
    code, out, err = run(home, "audit", "verify")
    assert code == 1
    assert "audit chain broken: 2 problems in 6 entries" in err
    assert "entry 2: content does not match its hash (edited)" in out
    assert "entries 7..7 missing at the end of the chain (deleted)" in out


def test_export_writes_json_lines_to_stdout_and_to_a_0600_file(home: Path,
                                                               tmp_path: Path) -> None:
    code, out, _ = run(home, "audit", "export", "--commune", "aubagne")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in lines] == [1, 3, 5, 7]
    assert all(len(e["hash"]) == 64 for e in lines)
    target = tmp_path / "export" / "audit.jsonl"
    code, out, err = run(home, "audit", "export", "--file", str(target))
    assert code == 0 and out == ""
    assert f"exported 7 audit entries to {target}" in err
    assert len(target.read_text(encoding="utf-8").splitlines()) == 7
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    code, _, err = run(home, "audit", "export", "--file", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_commands_on_a_home_without_state(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    # A missing database is not an intact chain (issue 9): exit 3, one sentence.
    code, out, err = run(home, "audit", "verify")
    assert (code, out) == (3, "")
    assert err.startswith(f"error: no state database at {home / 'state.db'}: there is no "
                          "audit chain to verify"), err
    assert "restore it from your backup" in err
    assert run(home, "audit", "export")[:2] == (0, "")
    assert run(home, "--output", "json", "audit", "show")[:2] == (0, "[]\n")
    assert not (home / "state.db").exists()  # reading never creates state


def test_an_emptied_database_beside_earlier_outputs_is_not_intact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open(home):
        pass
    assert run(home, "audit", "verify")[:2] == (0, "audit chain intact: 0 entries\n")
    outputs = home / "outputs" / "aubagne"
    outputs.mkdir(parents=True)
    (outputs / "credentials.csv").write_text("upn,display_name\n", encoding="utf-8")
    code, _, err = run(home, "audit", "verify")
    assert code == 3 and "holds no audit entry, but this home holds the outputs" in err
    assert "outputs/aubagne/credentials.csv" in err


def test_database_from_a_newer_crisiskit_is_a_clear_error(home: Path) -> None:
    conn = sqlite3.connect(home / "state.db")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    conn.commit()
    conn.close()
    code, _, err = run(home, "audit", "verify")
    assert code == 1 and "newer crisiskit" in err and "Traceback" not in err


def test_no_secret_can_reach_the_exported_log(home: Path) -> None:
    with Store.open(home) as s, pytest.raises(ValueError):
        s.audit_append("alice", "aubagne", "issue_tap", "u@x", "ok",
                       details={"pass": Secret("Tap-Value-123")})
    _, out, _ = run(home, "audit", "export")
    assert "Tap-Value-123" not in out and len(out.splitlines()) == 7


def test_verify_checks_anchors_given_on_the_command_line(home: Path) -> None:
    with Store.open(home) as s:
        digest = s.audit_entries()[3].hash
    spaced = " ".join(digest[i:i + 4] for i in range(0, 16, 4))
    assert run(home, "audit", "verify", "--anchor", f"4:{spaced}")[0] == 0
    code, out, _ = run(home, "audit", "verify", "--anchor", f"4:{digest}",
                       "--anchor", "5:" + "f" * 16)
    assert code == 1
    assert "anchor 5: hash differs from the one recorded (rewritten)" in out
    code, _, err = run(home, "audit", "verify", "--anchor", "4:xyz")
    assert code == 2 and "--anchor" in err


def test_show_shortens_graph_ids_but_export_keeps_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    guid = "4fbaecc0-eae2-425e-8233-9e23dff3334b"
    with Store.open(home) as s:
        s.audit_append("alice", "aubagne", "graph.POST", f"/teams/{guid}/channels", "201",
                       request_id="a02bdc06-27be-49c0-b9a4-88aff8c89227")
    _, out, _ = run(home, "audit", "show")
    assert "/teams/4fbaecc0…/channels" in out and "a02bdc06…" in out and guid not in out
    _, out, _ = run(home, "audit", "export")
    assert json.loads(out)["target"] == f"/teams/{guid}/channels"
