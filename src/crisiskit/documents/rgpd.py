"""The register-of-processing entry for the service (GDPR Article 30), in French.

The Métropole processes the crisis cells' data on behalf of each commune (Article 11 of the
convention): it is the processor, each commune the controller, and Microsoft, the cloud
editor, a subsequent processor. What is processed comes from `processing` (the playbooks and
rosters crisiskit acts on); the security measures from `measures` (the code that implements
them). Facts the inventory does not hold print as blanks, listed in a warning.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from crisiskit.documents import processing as proc
from crisiskit.documents.measures import MeasureContext, active_measures
from crisiskit.documents.render import Document, fact, identity_of, render
from crisiskit.documents.typography import duration

if TYPE_CHECKING:
    from crisiskit.inventory.models import Inventory
    from crisiskit.playbooks import Playbook

TEMPLATE = "registre-rgpd.md.j2"
STEM = "registre-traitement-kit-crise"
SOFT_DELETE_DAYS = 30  # Entra ID keeps deleted users and groups restorable for 30 days
SUBPROCESSOR = "Microsoft Ireland Operations Limited (Microsoft 365 : Entra ID, Exchange Online, " \
    "SharePoint Online, Microsoft Teams)"


def load_playbooks(inventory: Inventory, playbooks_dir: Path) -> dict[str, Playbook]:
    """Load every playbook the inventory's communes use (InputError: exit 2)."""
    from crisiskit.playbooks import load_playbook

    return {
        name: load_playbook(name, playbooks_dir)
        for name in sorted({c.playbook for c in inventory.communes})
    }


def record_document(
    inventory: Inventory, playbooks: dict[str, Playbook], today: date
) -> Document:
    """Render the register entry for the service as it is configured today."""
    from crisiskit.conventions import status_at

    pairs = [(c, playbooks[c.playbook]) for c in inventory.communes]
    processing = proc.processing_for(pairs)
    measures = active_measures(MeasureContext(inventory, list(playbooks.values())))
    controllers = []
    for commune in inventory.communes:
        state = status_at(commune.convention, today)
        if state.in_force:
            controllers.append({"commune": commune, "status": state.status.value})
    lifetimes = sorted({p.tap.lifetime_minutes for p in playbooks.values()})
    m = inventory.metropole
    context = {
        "today": today,
        "metropole": {
            "service": fact(getattr(m, "service", None), "metropole.service"),
            "address": fact(getattr(m, "address", None), "metropole.address"),
            "dpo_email": fact(getattr(m, "dpo_email", None), "metropole.dpo_email"),
            "contact": m,
        },
        "controllers": controllers,
        "subprocessor": SUBPROCESSOR,
        "data_categories": proc.data_categories(processing),
        "data_subjects": proc.data_subjects(processing),
        "supports": proc.supports(processing),
        "soft_delete_days": SOFT_DELETE_DAYS,
        "tap_max": duration(lifetimes[-1]) if lifetimes else None,
        "audit_retention": fact(None, "durée de conservation du journal d'audit"),
        "measures": [{"title": mm.title, "text": text} for mm, text in measures],
    }
    return render(
        TEMPLATE,
        context,
        identity=identity_of(m),
        title="Registre des activités de traitement – Kit de crise cyber",
        footer="Registre des activités de traitement (article 30 du RGPD) – kit de crise cyber",
    )
