"""State file: survives kill -9 of `crisiskit sim serve`; a corrupt or foreign file is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from simhelp import user_body

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventory.yaml"
DEADLINE_S = 20.0


def start(state: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crisiskit",
            "-i",
            str(INVENTORY),
            "sim",
            "serve",
            "--port",
            "0",
            "--state",
            str(state),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http://"):
        proc.kill()
        _, err = proc.communicate(timeout=DEADLINE_S)
        raise AssertionError(f"no base URL, got {line!r}: {err}")
    return proc, line


@pytest.mark.slow
def test_acknowledged_write_survives_kill_9(tmp_path):
    state = tmp_path / "sim.json"
    proc, url = start(state)
    try:
        headers = {"Authorization": "Bearer t"}
        resp = httpx.post(f"{url}/users", json=user_body("durable.one"), headers=headers)
        assert resp.status_code == 201
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=DEADLINE_S)
    proc, url = start(state)
    try:
        again = httpx.get(
            f"{url}/users/durable.one@crise.ampmetropole.fr", headers={"Authorization": "Bearer t"}
        )
        assert again.status_code == 200 and again.json()["id"] == resp.json()["id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0  # SIGTERM is a clean shutdown
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{ half a file", "not valid JSON"),
        (json.dumps({"users": []}), "not a crisiskit simulator state file"),
        (json.dumps({"format": "crisiskit-sim-state", "version": 99, "tenant": {}}), "version"),
    ],
)
def test_corrupt_or_foreign_state_is_refused_and_left_alone(tmp_path, content, reason):
    state = tmp_path / "sim.json"
    state.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "crisiskit", "sim", "serve", "--port", "0", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert reason in proc.stderr and str(state) in proc.stderr
    assert state.read_text() == content


def test_bad_profile_is_an_input_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "crisiskit", "sim", "serve", "--empty", "--profile", "chaos"],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "chaos" in proc.stderr


def test_sigint_stops_the_server_cleanly(tmp_path):
    proc, url = start(tmp_path / "s.json", "--empty")
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + DEADLINE_S
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.returncode == 0
    proc.communicate(timeout=DEADLINE_S)
    assert os.path.exists(tmp_path / "s.json")


def test_loopback_detection():
    from crisiskit.sim.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_scale_and_profile_options_apply(tmp_path):
    # Tests bind loopback only: the non-loopback warning is covered by is_loopback above.
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "crisiskit", "sim", "serve", "--empty", "--host", "127.0.0.1",
            "--port", "0", "--profile", "realistic", "--scale", "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        knobs = httpx.get(url.replace("/v1.0", "/_sim/profile")).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=DEADLINE_S)
    assert url.startswith("http://127.0.0.1:")
    assert "warning" not in err
    assert knobs["scale"] == 0.5 and knobs["name"] == "realistic"
    assert proc.returncode == 0


def test_a_batch_of_writes_is_saved_once_before_it_is_answered(tmp_path, monkeypatch):
    from crisiskit.sim import core
    from crisiskit.sim.server import EmbeddedSimulator

    saves: list[int] = []
    real_save = core.save_tenant

    def counting_save(tenant, path):  # the edge here is the disk: count the writes to it
        saves.append(len(tenant.users))
        real_save(tenant, path)

    monkeypatch.setattr(core, "save_tenant", counting_save)
    state = tmp_path / "sim.json"
    with EmbeddedSimulator(state_file=state, empty=True) as es:
        es.simulator.tenant.verified_domains.append("crise.ampmetropole.fr")
        requests = [
            {
                "id": str(i),
                "method": "POST",
                "url": "/users",
                "body": user_body(f"batch.{i}"),
                "headers": {"Content-Type": "application/json"},
            }
            for i in range(5)
        ]
        saves.clear()  # the initial save at start-up is not the batch's
        with es.client() as http:
            resp = http.post("$batch", json={"requests": requests})
        assert resp.status_code == 200
        assert [r["status"] for r in resp.json()["responses"]] == [201] * 5
        # Saved once, with all five users, before the answer reached us.
        assert saves == [len(es.simulator.tenant.users)]
        on_disk = json.loads(state.read_text())["tenant"]["users"]
        assert {u["userPrincipalName"] for u in on_disk.values()} >= {
            f"batch.{i}@crise.ampmetropole.fr" for i in range(5)
        }
