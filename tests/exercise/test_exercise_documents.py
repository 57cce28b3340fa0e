"""The pieces of the exercise report that are not the run: images in documents, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crisiskit.documents.markup import to_html, to_typst
from crisiskit.exercise.report import duration_fr, offset_fr

SAMPLE = Path(__file__).resolve().parents[2] / "inventory.yaml"
PNG = b"\x89PNG\r\n\x1a\nfake"


def test_an_image_the_document_carries_is_embedded_and_any_other_is_its_text() -> None:
    markdown = "![La chronologie](chronologie.png)\n\n![Autre](ailleurs.png)\n"
    page = to_html(markdown, {"chronologie.png": PNG})
    assert '<img class="figure" alt="La chronologie" src="data:image/png;base64,' in page
    assert "ailleurs.png" not in page and "Autre" in page
    typst = to_typst(markdown, {"chronologie.png": PNG})
    assert '#image("/chronologie.png", width: 100%)' in typst
    assert '#"Autre"' in typst
    # Without images (every other document), an image is only its text, as before.
    assert "<img" not in to_html(markdown)


def test_an_image_name_cannot_reach_outside_the_compilation_root() -> None:
    typst = to_typst("![x](../../etc/passwd.png)\n", {"../../etc/passwd.png": PNG})
    assert "#image" not in typst


def test_durations_and_offsets_in_french() -> None:
    assert duration_fr(12) == "12 s"
    assert duration_fr(250) == "4 min 10 s"
    assert duration_fr(3900) == "1 h 05 min"
    assert offset_fr(None) == "–"
    assert offset_fr(3 * 3600 + 125) == "T+3 h 02 min"
    assert offset_fr(125) == "T+2 min 05 s"


PROBE = """
import json, sys
sys.argv = ["crisiskit", *json.loads(sys.argv[1])]
code = 0
try:
    from crisiskit.cli import main
    main()
except SystemExit as exc:
    code = exc.code or 0
print("\\nMODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def test_validating_a_scenario_loads_neither_graph_nor_the_plotting_library() -> None:
    args = ["-i", str(SAMPLE), "exercise", "validate", "rancongiciel-aubagne"]
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stderr.rsplit("MODULES=", 1)[1])
    heavy = [m for m in modules
             if m.split(".")[0].startswith(("msgraph", "kiota_", "azure", "matplotlib"))]
    assert heavy == [] and "crisiskit.exercise.scenario" in modules
