"""End to end: `activate` writes the sheet (md, html, pdf) and the slips; passes go nowhere else."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

import pytest
from doc_helpers import REPO, assert_unbroken, assert_well_formed_html, pdf_text
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.documents.credentials import read_credentials
from crisiskit.documents.typography import french_datetime
from crisiskit.inventory import load_inventory
from crisiskit.inventory.naming import roster_accounts
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Store


def test_activation_documents_and_where_passes_go(
    sim: EmbeddedSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader

    home = tmp_path / "home"
    env = {"CRISISKIT_HOME": str(home), "CRISISKIT_GRAPH_URL": sim.base_url,
           "CRISISKIT_GRAPH_TOKEN": "documents-tests", "CRISISKIT_WAIT_SCALE": "0.01",
           "USER": "test-operator"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    args = ["-i", str(REPO / "inventory.yaml"), "activate", "aubagne", "--yes"]
    first = runner.invoke(app, args, env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.stderr
    out = home / "outputs" / "aubagne"
    names = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in out.iterdir()}
    assert names == {"credentials.csv": 0o600, "fiches-premiere-connexion.pdf": 0o600,
                     "fiche-de-remise.md": 0o644, "fiche-de-remise.html": 0o644,
                     "fiche-de-remise.pdf": 0o644}

    rows = read_credentials(out / "credentials.csv")
    passes = {r.upn: r.temporary_access_pass.reveal() for r in rows}
    assert len(passes) == 12
    slips = PdfReader(out / "fiches-premiere-connexion.pdf")
    assert len(slips.pages) == 12
    for page in slips.pages:
        text = page.extract_text()
        (upn,) = [u for u in passes if u in text]
        assert text.count(passes[upn]) == 1

    inventory = load_inventory(REPO / "inventory.yaml")
    upns = [a.upn.lower() for a in roster_accounts(inventory.commune("aubagne"),
                                                   inventory.tenant.upn_domain)]
    sheet_pdf = pdf_text((out / "fiche-de-remise.pdf").read_bytes())
    assert "Aubagne" in sheet_pdf and "13005" in sheet_pdf
    assert_unbroken(sheet_pdf, upns + ["AMP-PC-0001", "AMP-TEL-0001", "353918110542012"])
    assert_well_formed_html((out / "fiche-de-remise.html").read_text(encoding="utf-8"))

    # A rerun that changes nothing leaves every document as it is (a signed sheet stays).
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    same = runner.invoke(app, args, env=env, catch_exceptions=False)
    assert same.exit_code == 0, same.stderr
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()} == before
    assert "Handover sheet unchanged, nothing it says has changed" in same.stdout

    # A rerun after a fact the sheet prints changed (the town hall's address): a new edition,
    # whose activation time is still the first run's.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "playbooks").symlink_to(REPO / "playbooks")
    text = (REPO / "inventory.yaml").read_text(encoding="utf-8")
    old_address = "Hôtel de Ville, Esplanade Charles de Gaulle, 13400 Aubagne"
    assert old_address in text
    (moved / "inventory.yaml").write_text(
        text.replace(old_address, "Mairie annexe, 1 rue de la Paix, 13400 Aubagne"), "utf-8"
    )
    second = runner.invoke(app, ["-i", str(moved / "inventory.yaml"), *args[2:]], env=env,
                           catch_exceptions=False)
    assert second.exit_code == 0, second.stderr
    assert "Handover sheet: " in second.stdout
    with Store.open(home) as store:
        finished = [r.finished_at for r in store.runs("aubagne") if r.outcome == "ok"]
    first_end = datetime.fromisoformat(min(f for f in finished if f))
    md = (out / "fiche-de-remise.md").read_text(encoding="utf-8")
    assert "**Nouvelle édition**" in md
    assert f"| Activation du kit | {french_datetime(first_end)} |" in md
    assert "Mairie annexe" in md
    assert "/home" not in md and str(home) not in md  # no operator-local path

    # Passes: in the credentials file and the slips' PDF, nowhere else.
    texts = [first.stdout, first.stderr, same.stdout, same.stderr, second.stdout, second.stderr,
             sheet_pdf,
             pdf_text((out / "fiche-de-remise.pdf").read_bytes())]
    for path in home.rglob("*"):
        if path.is_file() and "sandbox" not in path.parts and path.name not in (
                "credentials.csv", "fiches-premiere-connexion.pdf") and path.suffix != ".pdf":
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    for tap in passes.values():
        assert all(tap not in t for t in texts)
