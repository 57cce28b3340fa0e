"""Commands that do not talk to Microsoft Graph never import msgraph, kiota or azure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "inventory.yaml"
FORBIDDEN = ("msgraph", "msgraph_core", "kiota_", "azure")

# Run the real console entry point in a fresh interpreter, then list what it imported.
PROBE = """
import json, sys
sys.argv = ["crisiskit", *json.loads(sys.argv[1])]
code = 0
try:
    from crisiskit.cli import main
    main()
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
print("\\nMODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-i", str(SAMPLE), "validate"],
        ["-i", str(SAMPLE), "conventions"],
        ["-i", str(SAMPLE), "inventory", "communes"],
        ["-i", str(SAMPLE), "inventory", "devices"],
        ["schema"],
    ],
    ids=lambda a: " ".join(x for x in a if not x.startswith("/")),
)
def test_no_graph_library_is_imported(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stderr.rsplit("MODULES=", 1)[1])
    heavy = [m for m in modules if m.split(".")[0].startswith(FORBIDDEN)]
    assert heavy == []
    assert "crisiskit.cli" in modules  # the probe really ran the CLI


def test_help_does_not_even_load_pydantic_models() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["--help"])],
        capture_output=True, text=True, timeout=60, check=False,
    )
    modules = json.loads(done.stderr.rsplit("MODULES=", 1)[1])
    assert "crisiskit.inventory.models" not in modules
    assert "phonenumbers" not in modules
