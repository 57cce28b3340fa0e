"""Run the real console entry point in a fresh interpreter; list the modules it imported.

    done, modules = run_probe(["-i", "inventory.yaml", "validate"])

`crisiskit.cli.main` ends the process with `os._exit` (no interpreter teardown), so the probe
lists `sys.modules` at that very exit, then exits with the command's own status.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, os, sys
sys.argv = ["crisiskit", *json.loads(sys.argv[1])]
exit_now = os._exit
def report_then_exit(code):
    sys.stdout.flush()
    print("\\nMODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
    sys.stderr.flush()
    exit_now(code)
os._exit = report_then_exit
from crisiskit.cli import main
main()
"""


def run_probe(args: list[str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `crisiskit ARGS`; return the finished process and the modules it had imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert "MODULES=" in done.stderr, f"the probe did not reach the exit:\n{done.stderr}"
    modules: list[str] = json.loads(done.stderr.rsplit("MODULES=", 1)[1])
    return done, modules
