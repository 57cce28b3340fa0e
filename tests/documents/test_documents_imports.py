"""The PDF and signature libraries load only when a PDF is written or signed."""

from __future__ import annotations

import pytest
from doc_helpers import REPO

from cliprobe import run_probe

HEAVY = ("typst", "pyhanko", "pyhanko_certvalidator", "mdit_py_plugins", "pypdf")
SAMPLE = str(REPO / "inventory.yaml")


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-i", SAMPLE, "validate"], ["-i", SAMPLE, "conventions", "--due"],
     ["convention", "variables"], ["convention", "render", "--help"]],
    ids=lambda a: " ".join(x for x in a if not x.startswith("/")),
)
def test_commands_that_write_no_pdf_do_not_load_the_pdf_stack(args: list[str]) -> None:
    done, modules = run_probe(args)
    assert done.returncode == 0, done.stderr
    assert "crisiskit.cli" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
