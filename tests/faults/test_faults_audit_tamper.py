"""Tamper with the audit trail of a real activation; `crisiskit audit verify` must notice."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import child_env, run_cli
from faultruns import Activation

PROBLEM = re.compile(
    r"tamper|modif|edit|alter|broken|mismatch|missing|delet|insert|invalid|chain|does not match",
    re.IGNORECASE,
)

Tamper = Callable[[sqlite3.Connection, int], int]


def _unlock(con: sqlite3.Connection) -> None:
    # A tamperer with the file drops the append-only triggers first.
    con.execute("DROP TRIGGER IF EXISTS audit_no_update")
    con.execute("DROP TRIGGER IF EXISTS audit_no_delete")


def edit_outcome(con: sqlite3.Connection, seq: int) -> int:
    _unlock(con)
    con.execute("UPDATE audit SET outcome = 'ok' || outcome WHERE seq = ?", (seq,))
    return seq


def edit_target(con: sqlite3.Connection, seq: int) -> int:
    _unlock(con)
    con.execute("UPDATE audit SET target = 'someone.else@example.org' WHERE seq = ?", (seq,))
    return seq


def delete_middle(con: sqlite3.Connection, seq: int) -> int:
    _unlock(con)
    con.execute("DELETE FROM audit WHERE seq = ?", (seq,))
    return seq


def delete_last(con: sqlite3.Connection, seq: int) -> int:
    _unlock(con)
    last = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
    con.execute("DELETE FROM audit WHERE seq = ?", (last,))
    return int(last)


def append_forged(con: sqlite3.Connection, seq: int) -> int:
    """Append an entry that chains onto the last hash but was not written by crisiskit."""
    row = con.execute("SELECT * FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    cols = [d[0] for d in con.execute("SELECT * FROM audit LIMIT 0").description]
    forged = dict(zip(cols, row, strict=True))
    forged.update(seq=row[0] + 1, prev_hash=forged["hash"], hash="f" * 64, action="forged")
    con.execute(
        f"INSERT INTO audit ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
        [forged[c] for c in cols],
    )
    return int(forged["seq"])


def insert_middle(con: sqlite3.Connection, seq: int) -> int:
    """Shift the entries after `seq` by one and slip a copy of entry `seq` into the gap."""
    _unlock(con)
    cols = [d[0] for d in con.execute("SELECT * FROM audit LIMIT 0").description]
    con.execute("CREATE TEMP TABLE shifted AS SELECT * FROM audit WHERE seq > ?", (seq,))
    con.execute("DELETE FROM audit WHERE seq > ?", (seq,))
    con.execute("UPDATE shifted SET seq = seq + 1")
    con.execute(f"INSERT INTO audit SELECT {','.join(cols)} FROM shifted")
    row = con.execute("SELECT * FROM audit WHERE seq = ?", (seq,)).fetchone()
    copy = dict(zip(cols, row, strict=True))
    copy["seq"] = seq + 1
    con.execute(
        f"INSERT INTO audit ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
        [copy[c] for c in cols],
    )
    return seq + 1


@pytest.fixture
def audited_home(tmp_path: Path, reference: Activation) -> Path:
    """Return a copy of the reference activation's home, free to tamper with."""
    home = tmp_path / "home"
    shutil.copytree(reference.home, home, ignore=shutil.ignore_patterns("*.lock"))
    return home


def verify(home: Path, reference: Activation) -> tuple[int, str]:
    env = child_env(home, reference.inventory)
    res = run_cli(["audit", "verify"], env, timeout=60)
    return res.returncode, res.stdout + res.stderr


def test_untouched_audit_verifies(audited_home: Path, reference: Activation) -> None:
    code, out = verify(audited_home, reference)
    assert code == 0, out
    n = sqlite3.connect(audited_home / "state.db").execute("SELECT count(*) FROM audit")
    assert n.fetchone()[0] > 10, "the activation audited almost nothing"


@pytest.mark.parametrize(
    "tamper",
    [edit_outcome, edit_target, delete_middle, delete_last, append_forged, insert_middle],
    ids=lambda f: f.__name__,
)
def test_tampered_audit_is_detected(
    audited_home: Path, reference: Activation, tamper: Tamper
) -> None:
    con = sqlite3.connect(audited_home / "state.db", isolation_level=None)
    try:
        count = con.execute("SELECT count(*) FROM audit").fetchone()[0]
        target = count // 2
        con.execute("BEGIN")
        where = tamper(con, target)
        con.execute("COMMIT")
    finally:
        con.close()
    code, out = verify(audited_home, reference)
    assert code != 0, f"`audit verify` accepted a log after {tamper.__name__}:\n{out}"
    assert PROBLEM.search(out), f"`audit verify` does not say what is wrong:\n{out}"
    near = {str(where - 1), str(where), str(where + 1)}
    assert any(re.search(rf"\b{n}\b", out) for n in near), (
        f"`audit verify` does not name entry {where}:\n{out}"
    )
