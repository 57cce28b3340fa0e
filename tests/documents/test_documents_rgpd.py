"""The GDPR record: what is processed, and only the security measures the code implements."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from doc_helpers import REPO, assert_well_formed_html, pdf_text
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.documents import measures
from crisiskit.documents.measures import REGISTRY, Measure, MeasureContext, active_measures
from crisiskit.documents.rgpd import load_playbooks, record_document
from crisiskit.inventory import load_inventory

TODAY = date(2026, 12, 1)


def setup() -> tuple[object, dict]:
    inventory = load_inventory(REPO / "inventory.yaml")
    return inventory, load_playbooks(inventory, REPO / "playbooks")


def test_every_declared_measure_names_code_that_exists() -> None:
    assert len(REGISTRY) >= 7
    for m in REGISTRY:
        assert m.implemented_by, m.key
        assert measures.implemented(m), m.key


def test_the_record_lists_the_implemented_measures_with_the_configurations_values() -> None:
    inventory, playbooks = setup()
    md = record_document(inventory, playbooks, TODAY).markdown  # type: ignore[arg-type]
    for title in ("Tenant de crise isolé", "Journal d’audit chaîné",
                  "Authentification forte sur le téléphone prêté",
                  "Fichiers d’identifiants lisibles par l’opérateur seul"):
        assert f"**{title}.**" in md, title
    assert "valable 8\u00a0heures" in md  # the shipped playbooks' pass lifetime
    assert "le mode 0600" in md  # read from the credentials module's FILE_MODE
    for part in ("sous-traitant", "Microsoft Ireland Operations Limited", "Finalités",
                 "Transferts hors de l’Union européenne", "30 jours de suppression réversible",
                 "| Aubagne | `13005` |", "agents de la commune", "données de connexion"):
        assert part in md, part
    # Communes whose convention is not in force are not controllers of the processing.
    assert "| Istres |" not in md and "| Vitrolles |" not in md


def test_a_measure_leaves_the_record_when_its_declaration_or_code_goes() -> None:
    inventory, playbooks = setup()
    context = MeasureContext(inventory, list(playbooks.values()))  # type: ignore[arg-type]
    keys = [m.key for m, _ in active_measures(context)]
    assert "journal-chaine" in keys
    without = [m for m in REGISTRY if m.key != "journal-chaine"]
    assert "journal-chaine" not in [m.key for m, _ in active_measures(context, without)]
    chain = next(m for m in REGISTRY if m.key == "journal-chaine")
    gone = Measure(chain.key, chain.title, ("crisiskit.state.audit:no_such_function",),
                   chain.describe)
    assert active_measures(context, [gone]) == []
    missing_module = Measure("bail", "Bail du tenant", ("crisiskit.state.lease:TenantLease",),
                             lambda ctx: "jamais imprimé")
    assert active_measures(context, [missing_module]) == []


def test_a_measure_follows_the_playbooks_in_use() -> None:
    inventory, playbooks = setup()
    no_phones = [p.model_copy(update={"register_phone": False}) for p in playbooks.values()]
    keys = [m.key for m, _ in active_measures(MeasureContext(inventory, no_phones))]  # type: ignore[arg-type]
    assert "mfa-telephone" not in keys and "tap" in keys
    once = [p.model_copy(update={"tap": p.tap.model_copy(update={"lifetime_minutes": 60,
                                                                   "usable_once": True})})
            for p in playbooks.values()]
    context = MeasureContext(inventory, once)  # type: ignore[arg-type]
    texts = {m.key: t for m, t in active_measures(context)}
    assert "valable 1\u00a0heure, à usage unique" in texts["tap"]


def test_cli_writes_the_record_in_three_formats(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["-i", str(REPO / "inventory.yaml"), "--home",
                                      str(tmp_path), "--output", "json", "rgpd", "record",
                                      "--to", str(tmp_path / "registre")])
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert sorted(files) == ["html", "md", "pdf"]
    assert_well_formed_html(Path(files["html"]).read_text(encoding="utf-8"))
    text = pdf_text(Path(files["pdf"]).read_bytes())
    assert "Registre des activités de traitement" in text and "13005" in text
    # The one fact the inventory cannot hold yet is a visible blank, with a warning.
    assert "durée de conservation du journal d'audit" in result.stderr


def test_the_tenant_lease_is_a_measure_of_the_record() -> None:
    inventory, playbooks = setup()
    context = MeasureContext(inventory, list(playbooks.values()))  # type: ignore[arg-type]
    texts = {m.key: t for m, t in active_measures(context)}
    assert "bail dans le tenant" in texts["bail-tenant"]
    assert "3\u00a0minutes par défaut" in texts["bail-tenant"]  # read from engine.lease.TTL_S
    lease = next(m for m in REGISTRY if m.key == "bail-tenant")
    assert "crisiskit.engine.tenantlock:TenantLock" in lease.implemented_by
