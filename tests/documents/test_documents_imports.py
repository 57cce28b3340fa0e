"""The PDF and signature libraries load only when a PDF is written or signed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from doc_helpers import REPO

PROBE = """
import json, sys
sys.argv = ["crisiskit", *json.loads(sys.argv[1])]
try:
    from crisiskit.cli import main
    main()
except SystemExit as exc:
    code = exc.code or 0
print("\\nMODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
HEAVY = ("typst", "pyhanko", "pyhanko_certvalidator", "mdit_py_plugins", "pypdf")
SAMPLE = str(REPO / "inventory.yaml")


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-i", SAMPLE, "validate"], ["-i", SAMPLE, "conventions", "--due"],
     ["convention", "variables"], ["convention", "render", "--help"]],
    ids=lambda a: " ".join(x for x in a if not x.startswith("/")),
)
def test_commands_that_write_no_pdf_do_not_load_the_pdf_stack(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True,
                          text=True, timeout=60, check=False)
    modules = json.loads(done.stderr.rsplit("MODULES=", 1)[1])
    assert "crisiskit.cli" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
