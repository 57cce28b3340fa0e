"""The convention: the Métropole's template filled in, sandboxed, strict, blanks never invented."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from doc_helpers import IDENTITY, REPO, assert_well_formed_html, pdf_text
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.documents.convention import VARIABLES, convention_context, render_convention
from crisiskit.documents.processing import processing_for
from crisiskit.errors import InputError
from crisiskit.inventory import load_inventory
from crisiskit.playbooks import load_playbook

EXAMPLE = REPO / "docs" / "convention-exemple.md.j2"
TODAY = date(2026, 12, 1)


def context_for(commune_id: str, inventory_path: Path = REPO / "inventory.yaml",
                **playbook_changes: object) -> dict:
    inventory = load_inventory(inventory_path)
    commune = inventory.commune(commune_id)
    book = load_playbook(commune.playbook, REPO / "playbooks").model_copy(update=playbook_changes)
    return convention_context(inventory, commune, processing_for([(commune, book)]), TODAY)


def render(template: Path, context: dict):  # type: ignore[no-untyped-def]
    return render_convention(template, context, identity=IDENTITY, title="Convention",
                             footer="Convention")


def _flatten(value: object, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {n for k, v in value.items() for n in _flatten(v, f"{prefix}{k}.")}
    return {prefix.rstrip(".")}


def test_every_variable_is_documented_and_every_documented_one_exists() -> None:
    assert _flatten(context_for("aubagne")) == {v.name for v in VARIABLES}


def test_the_example_is_filled_with_the_communes_facts() -> None:
    document = render(EXAMPLE, context_for("aubagne"))
    md = re.sub(r"[ \n]+", " ", document.markdown)
    for expected in [
        "**Commune d’Aubagne** (code INSEE `13005`), Hôtel de Ville, Esplanade Charles de Gaulle",
        "représentée par son maire, Gérard Lucciani",
        "n° `DEL-2025-014` du 30\u00a0janvier 2025",
        "le 10\u00a0mars 2025",  # notification (Article 7: in force from then)
        "jusqu’au 31\u00a0décembre 2025",  # end of the first period
        "au plus tard le 9\u00a0mars 2033",  # notification + 8 years - 1 day
        "| Pour la commune | Sophie Aïssaoui | `sophie.aissaoui@aubagne.fr` |",
        "☒ sous-traitant",
        "☐ responsable de traitement",
        "☒ identifiants", "☒ données de connexion", "☐ données de localisation",
        "☒ agents de la commune", "☒ élus de la commune", "☐ usagers",
        "☒ messagerie électronique", "☒ stockage SharePoint", "☒ visioconférence",
        "représentée par Hélène Marchal",
    ]:
        assert expected in md, expected
    assert document.missing == ()
    assert_well_formed_html(document.html())
    text = pdf_text(document.pdf())
    assert "Aubagne" in text and "13005" in text and "DEL-2025-014" in text


def test_check_boxes_follow_what_the_playbook_provisions() -> None:
    # A playbook without Team or folders: no videoconference, no SharePoint storage.
    md = render(EXAMPLE, context_for("aubagne", team=None, folders=[])).markdown
    assert "☐ stockage SharePoint" in md and "☐ visioconférence" in md
    assert "☒ messagerie électronique" in md
    # Only the mayor, the DGS and the DSI (Marseille's minimal playbook): elected and agents.
    md = render(EXAMPLE, context_for("marseille", roles=["maire"])).markdown
    assert "☒ élus de la commune" in md and "☐ agents de la commune" in md


def test_missing_facts_are_blanks_and_listed(tmp_path: Path) -> None:
    source = (REPO / "inventory.yaml").read_text(encoding="utf-8")
    for key in ("service", "address", "signatory", "signatory_title", "dpo_email"):
        source = "\n".join(
            line for line in source.splitlines() if not line.startswith(f"  {key}:"))
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(source + "\n", encoding="utf-8")
    shutil.copytree(REPO / "playbooks", tmp_path / "playbooks")
    document = render(EXAMPLE, context_for("vitrolles", inventory))  # signed, not notified
    assert set(document.missing) == {
        "convention.notification_date", "convention.first_period_end", "convention.last_day",
        "metropole.signatory", "metropole.signatory_title", "metropole.service",
        "metropole.address",
    }
    assert "prend effet à sa notification, le \\_\\_\\_\\_\\_\\_\\_\\_" in document.markdown
    assert "représentée par \\_\\_\\_\\_\\_\\_\\_\\_," in document.markdown


def test_an_unknown_variable_names_its_file_and_line(tmp_path: Path) -> None:
    template = tmp_path / "modele.md.j2"
    template.write_text(
        "# Convention\n\nCommune : {{ commune.name }}\n\nMaire : {{ commune.maire }}\n",
        encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{template}:5: unknown variable commune.maire "
                                         r"\(crisiskit convention variables lists them\)"):
        render(template, context_for("aubagne"))
    template.write_text("ligne 1\n{{ inconnu }}\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{template}:2: unknown variable inconnu"):
        render(template, context_for("aubagne"))


def test_syntax_errors_and_sandbox_escapes_are_input_errors(tmp_path: Path) -> None:
    template = tmp_path / "modele.md.j2"
    template.write_text("a\nb\n{% if %}\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{template}:3: template syntax error"):
        render(template, context_for("aubagne"))
    template.write_text("x\n{{ commune.__class__.__mro__[1].__subclasses__() }}\n",
                        encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{template}:2: "):
        render(template, context_for("aubagne"))
    template.write_text("{% include '/etc/passwd' %}\n", encoding="utf-8")
    with pytest.raises(InputError, match="passwd"):
        render(template, context_for("aubagne"))


def test_cli_renders_writes_and_warns(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["-i", str(REPO / "inventory.yaml"), "--home", str(tmp_path),
                                 "--output", "json", "convention", "render", "vitrolles",
                                 "--template", str(EXAMPLE), "--format", "md,pdf"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(data["files"]) == ["md", "pdf"]
    assert Path(data["files"]["pdf"]).parent == tmp_path / "outputs" / "vitrolles"
    assert "convention.notification_date" in data["blanks"]
    assert "warning: facts the inventory does not hold" in result.stderr

    bad = tmp_path / "bad.md.j2"
    bad.write_text("{{ nope }}\n", encoding="utf-8")
    result = runner.invoke(app, ["-i", str(REPO / "inventory.yaml"), "--home", str(tmp_path),
                                 "convention", "render", "aubagne", "--template", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:1: unknown variable nope" in result.stderr
    assert "Traceback" not in result.output

    result = runner.invoke(app, ["-i", str(REPO / "inventory.yaml"), "convention", "render",
                                 "aubagne", "--template", str(EXAMPLE), "--format", "docx"])
    assert result.exit_code == 2 and "docx is not a format" in result.stderr

    listed = runner.invoke(app, ["--output", "json", "convention", "variables"])
    assert listed.exit_code == 0
    names = {v["name"] for v in json.loads(listed.stdout)["variables"]}
    assert {"commune.insee", "article11.support_videoconference"} <= names
