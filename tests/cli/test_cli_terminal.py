"""An interactive activation in a real pseudo-terminal, its byte stream rendered by a terminal
emulator (pyte): the prompt names the target, and the final screen holds each phase's line
once, no stale progress bar, no wait left behind."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

pyte = pytest.importorskip("pyte")

REPO = Path(__file__).resolve().parents[2]
COLUMNS, LINES = 110, 200  # tall: nothing scrolls away, the final screen is the transcript
BAR = re.compile(r"━{4,}.*\d+/\d+")


class Terminal:
    """crisiskit in a pseudo-terminal of COLUMNS x LINES, read into a pyte screen."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        pid, fd = pty.fork()
        if pid == 0:  # the child: crisiskit itself
            os.chdir(cwd)
            os.execve(sys.executable,
                      [sys.executable, "-c", "from crisiskit.cli import main; main()", *args],
                      env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self.code: int | None = None

    def read_until(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared:\n{self.text()}")
            if not self._pump(0.2):
                raise AssertionError(f"{text!r} never appeared before the end:\n{self.text()}")

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self._pump(0.2):
            if time.monotonic() > deadline:
                raise AssertionError("crisiskit did not end:\n" + self.text())
        _, status = os.waitpid(self.pid, 0)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def _pump(self, seconds: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        self.raw += chunk
        self.stream.feed(chunk)
        return True

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip()

    def lines(self) -> list[str]:
        return [line for line in self.text().splitlines() if line.strip()]


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CRISISKIT_", "COLUMNS", "LINES", "TTY_", "FORCE_"))}
    return {**env, "CRISISKIT_HOME": str(home), "TERM": "xterm-256color", "USER": "operator",
            **(extra or {})}


def _assert_clean(lines: list[str]) -> None:
    assert [line for line in lines if BAR.search(line)] == [], "a progress bar was left behind"
    assert [line for line in lines if "waiting for" in line] == []
    phases = [line for line in lines if re.match(r"^[A-Z][A-Za-z ]+: ", line)]
    repeated = sorted({p for p in phases if phases.count(p) > 1})
    assert repeated == [], f"printed twice: {repeated}"


def test_an_interactive_activation_leaves_a_clean_final_screen(tmp_path: Path) -> None:
    args = ["-i", str(REPO / "inventory.yaml"), "activate", "aubagne", "--sandbox"]
    term = Terminal(args, _env(tmp_path / "home"), tmp_path)
    term.read_until("? [y/n] (n):")
    screen = term.lines()
    assert screen[0] == "Plan: activate aubagne (playbook standard)"
    assert screen[1].startswith("Target: the simulated sandbox tenant (")
    assert screen[-1].startswith("Apply this plan to aubagne in the simulated sandbox tenant?")
    assert screen[-2].startswith("Temporary Access Passes") or "Summary: to create" in " ".join(
        screen[-3:])
    term.send(b"y\r")
    assert term.wait() == 0, term.text()
    final = term.lines()
    _assert_clean(final)
    start = final.index(next(x for x in final if x.startswith("Apply this plan")))
    run = final[start + 1:]
    assert run[0] == "Accounts: 12 created"
    for phase in ("Licences: 12 assigned", "Mailboxes: 12 ready",
                  "Temporary Access Passes: 12 issued", "Phone methods: 8 registered",
                  "Group: created", "Members: 15 added", "Team: created, 3 channels created",
                  "SharePoint: drive ready, 4 folders created"):
        assert phase in run
    done = next(i for i, x in enumerate(run) if x.startswith("Done: aubagne activated"))
    # The ten phases, one line each (the handover's, naming a folder, may wrap onto the next
    # lines), then the outcome: no bar, no stale or duplicated line in between.
    names = ("Accounts", "Licences", "Mailboxes", "Temporary Access Passes", "Phone methods",
             "Group", "Members", "Team", "SharePoint", "Handover")
    starts = [x.split(": ", 1)[0] for x in run[:done] if x.split(": ", 1)[0] in names]
    assert sorted(starts) == sorted(names), run[:done]
    handover = next(i for i, x in enumerate(run) if x.startswith("Handover: "))
    wrapped = [i for i, x in enumerate(run[:done]) if x.split(": ", 1)[0] not in names]
    assert all(handover < i <= handover + 2 for i in wrapped), run[:done]
    assert any(x.startswith("Credentials file (mode 0600, hand over in person): ")
               for x in run[-3:])


def test_ctrl_c_at_the_prompt_changes_nothing_and_exits_130(tmp_path: Path) -> None:
    args = ["-i", str(REPO / "inventory.yaml"), "activate", "pertuis", "--sandbox"]
    term = Terminal(args, _env(tmp_path / "home"), tmp_path)
    term.read_until("? [y/n] (n):")
    term.send(b"\x03")
    assert term.wait() == 130
    assert term.lines()[-1] == "Interrupted before anything was changed."
    assert [p for p in (tmp_path / "home").rglob("*") if p.is_file() and p.parent.name ==
            "pertuis"] == []
    from crisiskit.state import Store

    with Store.open(tmp_path / "home") as store:
        assert store.runs("pertuis") == [] and store.open_loans() == []


def test_ctrl_c_during_a_wait_says_what_was_done_and_how_to_resume(
    tmp_path: Path, sample_inventory
) -> None:
    from crisiskit.sim.server import EmbeddedSimulator

    # The realistic profile: the Team's provisioning and the mailboxes take seconds.
    with EmbeddedSimulator(sample_inventory, profile="realistic", seed=3) as sim:
        env = _env(tmp_path / "home", {"CRISISKIT_GRAPH_URL": sim.base_url,
                                       "CRISISKIT_GRAPH_TOKEN": "t"})
        args = ["-i", str(REPO / "inventory.yaml"), "activate", "pertuis"]
        term = Terminal(args, env, tmp_path)
        term.read_until("? [y/n] (n):")
        term.send(b"y\r")
        term.read_until("waiting for Microsoft Teams to finish provisioning")
        term.send(b"\x03")
        assert term.wait() == 130, term.text()
    final = term.lines()
    _assert_clean(final)
    assert "^C" not in term.text()
    start = max(i for i, line in enumerate(final) if line.startswith("Interrupted after "))
    last = " ".join(final[start:])  # the one line, as wrapped at the terminal's width
    assert "(not finished: " in last and "Team 0/2" in last
    assert "everything done is journaled: rerun `crisiskit -i " in last
    assert last.endswith("activate pertuis` to resume.")
    assert "Team: stopped, 0 of 2 done" in final, "\n".join(final)
    # Interrupted after the handover point: the provisional sheet is written at once.
    sheet = tmp_path / "home" / "outputs" / "pertuis" / "fiche-de-remise.md"
    assert "Kit en cours de préparation" in sheet.read_text("utf-8")

