"""The state store against a real SQLite file: runs, steps, object journal, loans, durability."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiskit.errors import PreconditionFailed
from crisiskit.secrets import Secret
from crisiskit.state import LoanConflict, StateError, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "home") as s:
        yield s


def test_open_creates_database_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open(home) as s:
        assert s.path == home / "state.db"
        assert s.path.exists()
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        s.audit_append("alice", "aubagne", "x", "y", "ok")
        # The database holds names and loans: neither it nor its WAL files are world-readable.
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600, name


def test_runs_and_steps_round_trip(store: Store) -> None:
    run_id = store.start_run("aubagne", "activate", "alice", playbook="standard")
    assert store.add_step(run_id, "accounts", "user", "jean.dupont@x", "create", "done", "u1") == 1
    assert store.add_step(run_id, "accounts", "user", "marie@x", "create", "failed",
                          detail={"status": 503}) == 2
    store.finish_run(run_id, "succeeded", {"created": 2})
    run = store.run(run_id)
    assert run is not None
    assert (run.commune, run.kind, run.operator, run.playbook) == (
        "aubagne", "activate", "alice", "standard")
    assert run.outcome == "succeeded" and run.finished_at is not None
    assert run.summary == {"created": 2}
    assert run.pid == os.getpid()
    steps = store.steps(run_id)
    assert [(s.seq, s.key, s.status, s.graph_id) for s in steps] == [
        (1, "jean.dupont@x", "done", "u1"),
        (2, "marie@x", "failed", None),
    ]
    assert steps[1].detail == '{"status":503}'
    assert store.unfinished_runs("aubagne") == []


def test_step_of_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(StateError, match="no run 42"):
        store.add_step(42, "p", "k", "key", "create", "done")
    with pytest.raises(StateError, match="no run 42"):
        store.finish_run(42, "failed")


def test_secrets_are_refused_in_step_detail_and_run_summary(store: Store) -> None:
    run_id = store.start_run("aubagne", "activate", "alice")
    with pytest.raises(ValueError, match="secret"):
        store.add_step(run_id, "tap", "tap", "u", "create", "done",
                       detail={"tap": Secret("hunter2hunter2")})
    with pytest.raises(ValueError, match="secret"):
        store.finish_run(run_id, "succeeded", {"passes": [Secret("hunter2hunter2")]})
    assert store.steps(run_id) == []
    raw = (store.path).read_bytes() + Path(f"{store.path}-wal").read_bytes()
    assert b"hunter2hunter2" not in raw


def test_unfinished_runs_are_the_killed_ones(store: Store) -> None:
    done = store.start_run("aubagne", "activate", "alice")
    store.finish_run(done, "succeeded")
    killed = store.start_run("aubagne", "activate", "alice")
    store.start_run("istres", "activate", "alice")
    assert [r.id for r in store.unfinished_runs("aubagne")] == [killed]
    assert [r.id for r in store.runs("aubagne")] == [killed, done]
    assert len(store.runs(limit=1)) == 1


def test_object_journal_is_keyed_by_commune_kind_and_natural_key(store: Store) -> None:
    run_id = store.start_run("aubagne", "activate", "alice")
    store.record_object(run_id, "aubagne", "user", "jean@x", "id-1")
    store.record_object(run_id, "aubagne", "user", "jean@x", "id-1")  # replay: no-op
    store.record_object(run_id, "aubagne", "group", "crise-aubagne", "g-1")
    store.record_object(run_id, "istres", "user", "jean@x", "id-9")
    assert [(o.kind, o.natural_key, o.graph_id) for o in store.objects("aubagne")] == [
        ("group", "crise-aubagne", "g-1"),
        ("user", "jean@x", "id-1"),
    ]
    assert [o.graph_id for o in store.objects("aubagne", "user")] == ["id-1"]
    # Recreated after a deletion: the new id replaces the old one.
    store.record_object(run_id, "aubagne", "user", "jean@x", "id-2")
    assert store.object_id("aubagne", "user", "jean@x") == "id-2"
    assert store.forget_object("aubagne", "user", "jean@x") is True
    assert store.forget_object("aubagne", "user", "jean@x") is False
    assert store.object_id("aubagne", "user", "jean@x") is None
    assert store.object_id("istres", "user", "jean@x") == "id-9"


def test_loans_are_idempotent_and_exclusive(store: Store) -> None:
    run_id = store.start_run("aubagne", "activate", "alice")
    first = store.add_loan(run_id, "aubagne", "laptop", "PC-001", "jean@x")
    again = store.add_loan(run_id, "aubagne", "laptop", "PC-001", "jean@x")
    assert again == first
    assert len(store.open_loans("aubagne")) == 1
    with pytest.raises(LoanConflict, match="PC-001 is already lent to jean@x"):
        store.add_loan(run_id, "aubagne", "laptop", "PC-001", "marie@x")
    with pytest.raises(LoanConflict):
        store.add_loan(run_id, "istres", "laptop", "PC-001", "jean@x")
    assert issubclass(LoanConflict, PreconditionFailed)
    # Another commune cannot return it: it is not part of that commune's kit.
    with pytest.raises(LoanConflict, match="not to istres"):
        store.return_loan("istres", "PC-001")
    returned = store.return_loan("aubagne", "PC-001")
    assert returned is not None and returned.returned_at is not None and not returned.is_open
    assert store.return_loan("aubagne", "PC-001") is None
    assert store.open_loans() == []
    # Returned, the asset can be lent again; history is kept.
    store.add_loan(run_id, "istres", "laptop", "PC-001", "paul@y")
    assert [(loan.commune, loan.is_open) for loan in store.loans()] == [
        ("aubagne", False), ("istres", True)]
    assert store.open_loans("istres")[0].upn == "paul@y"


def test_database_refuses_two_open_loans_of_one_asset_even_bypassing_the_api(
    store: Store,
) -> None:
    store.add_loan(None, "aubagne", "phone", "TEL-1", "jean@x")
    with pytest.raises(sqlite3.IntegrityError):
        store._conn.execute(
            "INSERT INTO loans (commune, device_kind, asset_tag, upn, loaned_at)"
            " VALUES ('istres', 'phone', 'TEL-1', 'x@y', 'now')"
        )


def test_bad_device_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="laptop"):
        store.add_loan(None, "aubagne", "tablet", "T-1", "jean@x")  # type: ignore[arg-type]


def test_transaction_groups_writes_and_rolls_back_on_error(store: Store) -> None:
    run_id = store.start_run("aubagne", "activate", "alice")
    with pytest.raises(RuntimeError), store.transaction():
        store.record_object(run_id, "aubagne", "user", "a@x", "id-a")
        store.add_step(run_id, "accounts", "user", "a@x", "create", "done", "id-a")
        raise RuntimeError("crash between the two writes")
    assert store.objects("aubagne") == [] and store.steps(run_id) == []
    with store.transaction():
        store.record_object(run_id, "aubagne", "user", "a@x", "id-a")
        store.add_step(run_id, "accounts", "user", "a@x", "create", "done", "id-a")
    assert len(store.objects("aubagne")) == 1 and len(store.steps(run_id)) == 1


def test_times_are_utc_iso_from_the_clock(tmp_path: Path) -> None:
    moment = datetime(2026, 3, 1, 2, 30, tzinfo=UTC) + timedelta(microseconds=5)
    with Store.open(tmp_path, clock=lambda: moment) as s:
        run_id = s.start_run("aubagne", "activate", "alice")
        run = s.run(run_id)
        assert run is not None and run.started_at == "2026-03-01T02:30:00.000005+00:00"


def test_concurrent_writers_in_threads_and_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open(home) as s:
        run_id = s.start_run("aubagne", "activate", "alice")
        script = (
            "import sys; from crisiskit.state import Store\n"
            "with Store.open(sys.argv[1]) as s:\n"
            "    for i in range(40):\n"
            "        s.audit_append('bob', 'istres', 'step', f'p{i}', 'ok')\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script, str(home)])

        def worker(n: int) -> None:
            for i in range(40):
                s.add_step(run_id, "p", "k", f"{n}-{i}", "create", "done")
                s.audit_append("alice", "aubagne", "step", f"t{n}-{i}", "ok")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert child.wait(timeout=30) == 0
        assert [st.seq for st in s.steps(run_id)] == list(range(1, 121))
        assert s.audit_count() == 160
        assert s.audit_verify() == []


def test_sigkill_mid_run_leaves_whole_rows_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = (
        "import sys; from crisiskit.state import Store\n"
        "s = Store.open(sys.argv[1])\n"
        "run = s.start_run('aubagne', 'activate', 'alice')\n"
        "print('ready', flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    with s.transaction():\n"
        "        s.record_object(run, 'aubagne', 'user', f'u{i}', f'id{i}')\n"
        "        s.add_step(run, 'accounts', 'user', f'u{i}', 'create', 'done', f'id{i}')\n"
        "    s.audit_append('alice', 'aubagne', 'create', f'u{i}', 'ok')\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(home)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    with Store.open(home) as s:
        while s.audit_count() < 50 and datetime.now(UTC) < deadline:
            threading.Event().wait(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    with Store.open(home) as s:
        objects = {o.natural_key for o in s.objects("aubagne")}
        steps = {st.key for st in s.steps(s.runs("aubagne")[0].id)}
        assert len(objects) >= 50
        assert objects == steps  # grouped writes: both or neither
        assert s.audit_verify() == []
        assert len(s.unfinished_runs("aubagne")) == 1


def test_a_write_blocked_past_the_busy_timeout_is_a_clear_error(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        run_id = s.start_run("aubagne", "activate", "alice")
        other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
        try:
            with Store.open(tmp_path, busy_timeout_ms=100) as blocked:
                # Retried a few times, then one sentence; never SQLite's "database is locked".
                with pytest.raises(StateError, match="stayed busy for") as busy:
                    blocked.add_step(run_id, "p", "k", "key", "create", "done")
                assert "database is locked" not in str(busy.value)
                # Reads still work in WAL mode, and nothing half-written is left.
                assert blocked.steps(run_id) == []
                assert not blocked._conn.in_transaction
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert s.add_step(run_id, "p", "k", "key", "create", "done") == 1
