"""The audit hash chain: appends, secrets refused, and every kind of tampering detected."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisiskit.secrets import Secret
from crisiskit.state import GENESIS_HASH, Store


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _fill(home: Path, n: int = 5) -> None:
    with Store.open(home) as s:
        for i in range(1, n + 1):
            s.audit_append("alice", "aubagne" if i % 2 else "istres", "create_user",
                           f"user{i}@x", "ok", request_id=f"req-{i}",
                           details={"n": i, "état": "créé"})


@pytest.fixture
def tamper(home: Path) -> Iterator[sqlite3.Connection]:
    """Open the database as a deliberate tamperer would: raw SQL, append-only triggers off."""
    _fill(home)
    conn = sqlite3.connect(home / "state.db", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    yield conn
    conn.close()


def _verify(home: Path) -> list[str]:
    with Store.open(home) as s:
        return s.audit_verify()


def test_chain_links_each_entry_to_the_previous(home: Path) -> None:
    with Store.open(home) as s:
        assert s.audit_verify() == []
        first = s.audit_append("alice", "aubagne", "activate", "aubagne", "started")
        second = s.audit_append("alice", "aubagne", "create_user", "jean@x", "created",
                                request_id="r-1", details={"graph_id": "u1"})
        assert (first.seq, second.seq) == (1, 2)
        assert first.prev_hash == GENESIS_HASH
        assert second.prev_hash == first.hash
        body = {"seq": 2, "at": second.at, "operator": "alice", "commune": "aubagne",
                "action": "create_user", "target": "jean@x", "outcome": "created",
                "request_id": "r-1", "details": {"graph_id": "u1"}, "prev_hash": first.hash}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert second.hash == hashlib.sha256(canonical.encode()).hexdigest()
        assert s.audit_entries() == [first, second]
        assert s.audit_verify() == []


def test_entries_filter_by_commune_and_limit_keeps_the_latest(home: Path) -> None:
    _fill(home, 7)
    with Store.open(home) as s:
        assert [e.seq for e in s.audit_entries("aubagne")] == [1, 3, 5, 7]
        assert [e.seq for e in s.audit_entries("aubagne", limit=2)] == [5, 7]
        assert [e.seq for e in s.audit_entries(limit=3)] == [5, 6, 7]
        assert s.audit_entries()[0].details == {"n": 1, "état": "créé"}
        assert s.audit_entries()[0].to_json()["request_id"] == "req-1"


@pytest.mark.parametrize(
    "details",
    [
        {"tap": Secret("S3cr3t-pass")},
        {"nested": {"deeper": [1, Secret("S3cr3t-pass")]}},
        {"tuple": ("a", Secret("S3cr3t-pass"))},
    ],
)
def test_a_secret_anywhere_in_details_is_refused(home: Path, details: dict) -> None:
    with Store.open(home) as s:
        with pytest.raises(ValueError, match="secret"):
            s.audit_append("alice", "aubagne", "issue_tap", "jean@x", "ok", details=details)
        assert s.audit_count() == 0
    assert b"S3cr3t" not in (home / "state.db").read_bytes()


def test_a_secret_as_a_field_is_refused(home: Path) -> None:
    with Store.open(home) as s, pytest.raises(ValueError, match="secret"):
        s.audit_append("alice", "aubagne", "issue_tap", Secret("S3cr3t"), "ok")  # type: ignore[arg-type]


def test_non_json_details_are_refused(home: Path) -> None:
    with Store.open(home) as s, pytest.raises(ValueError, match="JSON"):
        s.audit_append("alice", "aubagne", "x", "y", "ok", details={"when": object()})


def test_crisiskit_itself_cannot_edit_or_delete_entries(home: Path) -> None:
    _fill(home)
    conn = sqlite3.connect(home / "state.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET outcome = 'failed' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 2")
    conn.close()
    assert _verify(home) == []


def test_edited_entry_is_detected(home: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("UPDATE audit SET outcome = 'failed' WHERE seq = 3")
    assert _verify(home) == ["entry 3: content does not match its hash (edited)"]


def test_edited_details_are_detected(home: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("""UPDATE audit SET details_json = '{"n":2,"état":"supprimé"}' WHERE seq = 2""")
    assert _verify(home) == ["entry 2: content does not match its hash (edited)"]


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(
    home: Path, tamper: sqlite3.Connection
) -> None:
    from crisiskit.state.audit import entry_hash

    row = tamper.execute("SELECT * FROM audit WHERE seq = 2").fetchone()
    seq, at, op, commune, action, target, _outcome, rid, details, prev, _h = row
    forged = entry_hash(seq=seq, at=at, operator=op, commune=commune, action=action,
                        target=target, outcome="failed", request_id=rid,
                        details=json.loads(details), prev_hash=prev)
    tamper.execute("UPDATE audit SET outcome = 'failed', hash = ? WHERE seq = 2", (forged,))
    problems = _verify(home)
    assert problems and problems[0].startswith("entry 3: does not follow the previous entry")


def test_deleted_middle_entry_is_detected(home: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("DELETE FROM audit WHERE seq = 3")
    problems = _verify(home)
    assert "entry 3 missing before entry 4 (deleted)" in problems
    assert any(p.startswith("entry 4: does not follow") for p in problems)


def test_deleted_first_entries_are_detected(home: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("DELETE FROM audit WHERE seq <= 2")
    assert "entries 1..2 missing before entry 3 (deleted)" in _verify(home)


def test_deleted_tail_is_detected_and_stays_detected_after_new_appends(
    home: Path, tamper: sqlite3.Connection
) -> None:
    tamper.execute("DELETE FROM audit WHERE seq >= 4")
    assert _verify(home) == ["entries 4..5 missing at the end of the chain (deleted)"]
    with Store.open(home) as s:
        new = s.audit_append("alice", "aubagne", "x", "y", "ok")
        assert new.seq == 6  # continues from the head: the gap stays visible
    assert "entries 4..5 missing before entry 6 (deleted)" in _verify(home)


def test_everything_deleted_is_detected(home: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("DELETE FROM audit")
    assert _verify(home) == ["all entries are missing: the head records entry 5 (deleted)"]


def test_inserted_entry_is_detected(home: Path, tamper: sqlite3.Connection) -> None:
    # Make room for a forged entry between 2 and 3 by shifting the rest of the chain.
    tamper.execute("UPDATE audit SET seq = seq + 100 WHERE seq >= 3")
    tamper.execute("UPDATE audit SET seq = seq - 99 WHERE seq >= 103")
    last = tamper.execute("SELECT hash FROM audit WHERE seq = 2").fetchone()[0]
    tamper.execute(
        "INSERT INTO audit VALUES (3, '2026-01-01T00:00:00+00:00', 'mallory', 'aubagne',"
        " 'delete_user', 'jean@x', 'ok', NULL, '{}', ?, 'f00d')", (last,))
    problems = _verify(home)
    assert "entry 3: content does not match its hash (edited)" in problems
    assert any(p.startswith("entry 4: does not follow") for p in problems)


def test_appended_outside_crisiskit_is_detected(home: Path, tamper: sqlite3.Connection) -> None:
    last = tamper.execute("SELECT hash FROM audit WHERE seq = 5").fetchone()[0]
    tamper.execute(
        "INSERT INTO audit VALUES (6, '2026-01-01T00:00:00+00:00', 'mallory', 'aubagne',"
        " 'x', 'y', 'ok', NULL, '{}', ?, 'f00d')", (last,))
    problems = _verify(home)
    assert "entry 6: content does not match its hash (edited)" in problems
    assert "entries 6..6 were added outside crisiskit (head is 5)" in problems


def test_deleted_head_record_is_detected(home: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("DELETE FROM audit_head")
    assert _verify(home) == ["the chain's head record is missing (tampered)"]


def _rewrite_whole_chain(home: Path, tamper: sqlite3.Connection) -> None:
    """Forge the log end to end, hashes and head included (the undetectable-alone case)."""
    from crisiskit.state.audit import entry_hash

    prev = GENESIS_HASH
    rows = tamper.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    for seq, at, op, commune, action, target, outcome, rid, details, _p, _h in rows:
        forged_op = "mallory" if seq == 2 else op
        digest = entry_hash(seq=seq, at=at, operator=forged_op, commune=commune, action=action,
                            target=target, outcome=outcome, request_id=rid,
                            details=json.loads(details), prev_hash=prev)
        tamper.execute("UPDATE audit SET operator = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                       (forged_op, prev, digest, seq))
        prev = digest
    tamper.execute("UPDATE audit_head SET hash = ?", (prev,))


def test_whole_chain_rewrite_needs_an_anchor_to_be_detected(
    home: Path, tamper: sqlite3.Connection
) -> None:
    with Store.open(home) as s:
        head = s.audit_head()
        anchor = (3, s.audit_entries()[2].hash[:16])
        assert s.audit_verify([anchor]) == []
    assert head is not None and head[0] == 5
    _rewrite_whole_chain(home, tamper)
    # Without a secret key, a complete rewrite is self-consistent: verify alone passes...
    assert _verify(home) == []
    # ...but an anchor written down earlier (the handover sheet prints one) catches it.
    with Store.open(home) as s:
        assert s.audit_verify([anchor]) == [
            "anchor 3: hash differs from the one recorded (rewritten)"]
        assert s.audit_verify([(9, "0" * 16)]) == ["anchor 9: no such entry (deleted)"]
        with pytest.raises(ValueError, match="16 to 64"):
            s.audit_verify([(3, "abc")])
