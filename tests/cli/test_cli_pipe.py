"""Output into a closed pipe (`crisiskit ... | head -1`) changes neither the exit code nor
stderr: no traceback, no "Broken pipe", no "Exception ignored"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"
CRISISKIT = [sys.executable, "-c", "from crisiskit.cli import main; main()"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISKIT_")}
    return {**env, "CRISISKIT_HOME": str(home), "COLUMNS": "100"}


@pytest.mark.parametrize(
    "args",
    [
        ("inventory", "devices"),
        ("--output", "json", "inventory", "devices"),
        ("schema",),
        ("--help",),
        ("conventions", "--at", "2026-11-26"),
    ],
    ids=" ".join,
)
def test_a_reader_that_goes_away_changes_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    # The reader closes its end before crisiskit writes a byte: the first write meets EPIPE.
    process = subprocess.Popen(
        [*CRISISKIT, "-i", str(SAMPLE), *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=_env(tmp_path), cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, err
    assert err == ""


def test_piped_into_head_one_line_exit_code_and_stderr_unchanged(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    command = " ".join([*(f"'{a}'" for a in CRISISKIT), "-i", str(SAMPLE), "--output", "json",
                        "audit", "export"])
    # Enough entries that the export outgrows the pipe's buffer once `head` has gone.
    from crisiskit.state import Store

    with Store.open(tmp_path / "home") as store:
        for i in range(3000):
            store.audit_append("ops", "aubagne", "test.entry", f"target {i}", "ok",
                               details={"padding": "x" * 80})
    script = f"{command} | head -1 > first.txt; echo ${{PIPESTATUS[0]}} > code.txt"
    done = subprocess.run([bash, "-c", script], env=_env(tmp_path / "home"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.stderr == ""
    assert (tmp_path / "code.txt").read_text().strip() == "0"
    assert json.loads((tmp_path / "first.txt").read_text())["seq"] == 1


def test_a_failing_command_keeps_its_own_exit_code_into_a_closed_pipe(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CRISISKIT, "-i", str(tmp_path / "none.yaml"), "validate"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=_env(tmp_path), cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 2
    assert err.strip().endswith("no such inventory") and "Traceback" not in err


def test_sim_serve_first_line_is_json_with_output_json(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CRISISKIT, "-i", str(SAMPLE), "sim", "serve", "--port", "0", "--output", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path), cwd=tmp_path,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["base_url"].startswith("http://127.0.0.1:")
        assert first["base_url"].endswith("/v1.0") and first["control_url"].endswith("/_sim/")
    finally:
        process.terminate()
        process.wait(timeout=30)
