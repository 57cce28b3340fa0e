"""Commands that do not talk to Microsoft Graph never import msgraph, kiota or azure."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliprobe import run_probe

SAMPLE = Path(__file__).resolve().parents[2] / "inventory.yaml"
FORBIDDEN = ("msgraph", "msgraph_core", "kiota_", "azure")



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
    done, modules = run_probe(args)
    assert done.returncode == 0, done.stderr
    heavy = [m for m in modules if m.split(".")[0].startswith(FORBIDDEN)]
    assert heavy == []
    assert "crisiskit.cli" in modules  # the probe really ran the CLI


def test_help_does_not_even_load_pydantic_models() -> None:
    done, modules = run_probe(["--help"])
    assert done.returncode == 0, done.stderr
    assert "crisiskit.inventory.models" not in modules
    assert "phonenumbers" not in modules
