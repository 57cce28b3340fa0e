"""The pieces of the exercise report that are not the run: images in documents, imports."""

from __future__ import annotations

from pathlib import Path

from cliprobe import run_probe
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




def test_validating_a_scenario_loads_neither_graph_nor_the_plotting_library() -> None:
    args = ["-i", str(SAMPLE), "exercise", "validate", "rancongiciel-aubagne"]
    done, modules = run_probe(args)
    assert done.returncode == 0, done.stderr
    heavy = [m for m in modules
             if m.split(".")[0].startswith(("msgraph", "kiota_", "azure", "matplotlib"))]
    assert heavy == [] and "crisiskit.exercise.scenario" in modules
