"""Input files that are not regular files: refused in one line, exit 2, before any read.

A named pipe would hang the reader, /dev/zero would fill memory, a loop of links used to raise
RuntimeError out of pathlib: each is checked through the real CLI, the pipe and the device in
a subprocess under a timeout, so that a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.errors import InputError
from crisiskit.inputs import read_capped
from crisiskit.inventory import load_inventory
from crisiskit.inventory.loader import MAX_BYTES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"


def cli_subprocess(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRISISKIT_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "crisiskit", *args],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )


def one_line_refusal(stderr: str, expected: str) -> None:
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [f"error: {expected}"], stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "playbooks").symlink_to(REPO / "playbooks")
    return tmp_path


def test_a_named_pipe_as_inventory_is_refused_at_once(folder: Path) -> None:
    fifo = folder / "inventory.yaml"
    os.mkfifo(fifo)
    for args in (["validate"], ["activate", "aubagne", "--sandbox", "--yes"]):
        res = cli_subprocess("-i", str(fifo), *args, home=folder / "home")
        assert res.returncode == 2, res
        one_line_refusal(res.stderr, f"{fifo}: is a named pipe (FIFO), not an inventory "
                                     "(a regular file)")
    assert not (folder / "home").exists()  # refused before anything was created


def test_dev_zero_as_inventory_neither_hangs_nor_fills_memory(folder: Path) -> None:
    link = folder / "inventory.yaml"
    link.symlink_to("/dev/zero")
    res = cli_subprocess("-i", str(link), "validate", home=folder / "home")
    assert res.returncode == 2, res
    one_line_refusal(res.stderr, f"{link}: is a character device, not an inventory "
                                 "(a regular file)")
    res = cli_subprocess("-i", "/dev/zero", "validate", home=folder / "home")
    assert res.returncode == 2
    one_line_refusal(res.stderr, "/dev/zero: is a character device, not an inventory "
                                 "(a regular file)")


runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)


def test_a_loop_of_links_as_inventory_is_one_line(folder: Path) -> None:
    loop = folder / "inventory.yaml"
    loop.symlink_to(folder / "other.yaml")
    (folder / "other.yaml").symlink_to(loop)
    for args in (["validate"], ["conventions"], ["plan", "aubagne", "--sandbox"]):
        result = run("-i", str(loop), *args)
        assert result.exit_code == 2, result.output
        one_line_refusal(result.stderr, f"{loop}: a loop of symbolic links, not an inventory")


def test_a_folder_or_a_socket_as_inventory_is_one_line(folder: Path) -> None:
    result = run("-i", str(folder), "validate")
    assert result.exit_code == 2
    one_line_refusal(result.stderr, f"{folder}: is a folder, not an inventory")
    path = folder / "s.yaml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        result = run("-i", str(path), "validate")
    assert result.exit_code == 2
    one_line_refusal(result.stderr, f"{path}: is a socket, not an inventory (a regular file)")


def test_a_link_to_a_regular_inventory_is_fine(folder: Path) -> None:
    link = folder / "inventory.yaml"
    link.symlink_to(SAMPLE)
    result = run("-i", str(link), "validate")
    assert result.exit_code == 0, result.output
    assert "valid: 11 communes" in result.stdout


def test_a_named_pipe_among_the_playbooks_is_reported_not_read(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    for book in (REPO / "playbooks").glob("*.yaml"):
        shutil.copy(book, tmp_path / "playbooks" / book.name)
    os.mkfifo(tmp_path / "playbooks" / "piped.yaml")
    shutil.copy(SAMPLE, tmp_path / "inventory.yaml")
    result = run("-i", str(tmp_path / "inventory.yaml"), "validate")
    assert result.exit_code == 2
    assert (f"{tmp_path / 'playbooks' / 'piped.yaml'}: is a named pipe (FIFO), not a playbook"
            in result.stderr)
    (tmp_path / "playbooks" / "piped.yaml").unlink()
    (tmp_path / "playbooks" / "piped.yaml").symlink_to(tmp_path / "playbooks" / "piped.yaml")
    result = run("-i", str(tmp_path / "inventory.yaml"), "plan", "aubagne", "--sandbox",
                 "--playbook", "piped")
    assert result.exit_code == 2
    one_line_refusal(result.stderr, f"{tmp_path / 'playbooks' / 'piped.yaml'}: a loop of "
                                    "symbolic links, not a playbook")


def test_the_size_cap_holds_on_the_bytes_read_not_the_size_on_disk() -> None:
    """A pipe has no size on disk: the reader stops after the cap, whatever is written."""
    read_fd, write_fd = os.pipe()
    stop = threading.Event()

    def flood() -> None:
        block = b"a: b\n" * 4096
        try:
            while not stop.is_set():
                os.write(write_fd, block)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    try:
        assert read_capped(read_fd, 3 * 1024 * 1024) is None
    finally:
        stop.set()
        os.close(read_fd)
        writer.join(timeout=10)
        os.close(write_fd)
    small_read, small_write = os.pipe()
    os.write(small_write, b"tenant: {}\n")
    os.close(small_write)
    assert read_capped(small_read, 100) == b"tenant: {}\n"
    os.close(small_read)


def test_a_file_growing_past_the_cap_after_the_check_is_refused(tmp_path: Path,
                                                                 monkeypatch: Any) -> None:
    """The size on disk said small; the bytes read say otherwise: the read cap decides."""
    path = tmp_path / "inventory.yaml"
    path.write_bytes(b"#" * 10)
    real_fstat = os.fstat

    def grown(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        if info.st_size == 10:  # grow the file between the checks and the read
            with path.open("ab") as fh:
                fh.truncate(MAX_BYTES + 10)
        return info

    monkeypatch.setattr(os, "fstat", grown)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert str(caught.value) == f"{path}: inventory holds more than the 10 MB limit"
