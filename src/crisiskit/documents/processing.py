"""What the service processes, derived from what crisiskit provisions (Article 11, GDPR Art. 30).

One description feeds both the convention's Article 11 check boxes and the register-of-
processing entry, so the two can never disagree with each other or with the code: each flag is
computed from the playbooks and rosters crisiskit actually acts on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune
    from crisiskit.playbooks import Playbook

ELECTED_ROLES = frozenset({"maire", "adjoint", "conseiller_municipal", "elu"})


@dataclass(frozen=True)
class Processing:
    """The Article 11 facts, as booleans (True: the service processes it)."""

    # Categories of data.
    data_identity: bool  # surname, given name of each crisis account's holder
    data_professional: bool  # function in the crisis cell, professional mobile number
    data_identifiers: bool  # account (UPN), directory ids, temporary access passes
    data_connection_logs: bool  # the crisis tenant's sign-in and audit logs; crisiskit's audit
    data_location: bool
    data_sensitive: bool  # GDPR Article 9 data
    data_nir: bool  # French social security number
    data_financial: bool
    # Categories of data subjects.
    subjects_agents: bool  # the commune's agents on the crisis roster
    subjects_elected: bool  # elected officials on the roster (the mayor, deputies)
    subjects_operators: bool  # the Métropole's operators, named in the audit log
    subjects_public: bool  # citizens (the tool keeps no file about them)
    # Supports of the processing.
    support_email: bool  # Exchange Online mailboxes
    support_storage: bool  # SharePoint storage (the crisis group's site and folders)
    support_videoconference: bool  # Microsoft Teams (the crisis Team)
    # The Métropole's role: processor on behalf of the commune (controller).
    metropole_processor: bool = True
    metropole_controller: bool = False

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


def processing_for(communes: Iterable[tuple[Commune, Playbook]]) -> Processing:
    """Return what is processed for these communes with their playbooks (any: True)."""
    pairs = list(communes)
    accounts = [
        (person, book)
        for commune, book in pairs
        for person in commune.roster
        if book.includes(str(person.role))
    ]
    return Processing(
        data_identity=bool(accounts),
        data_professional=bool(accounts),
        data_identifiers=bool(accounts),
        data_connection_logs=bool(accounts),
        data_location=False,
        data_sensitive=False,
        data_nir=False,
        data_financial=False,
        subjects_agents=any(str(p.role) not in ELECTED_ROLES for p, _ in accounts),
        subjects_elected=any(str(p.role) in ELECTED_ROLES for p, _ in accounts),
        subjects_operators=True,
        subjects_public=False,
        support_email=bool(accounts),
        support_storage=any(b.team is not None or bool(b.folders) for _, b in accounts),
        support_videoconference=any(b.team is not None for _, b in accounts),
    )


def data_categories(p: Processing) -> list[str]:
    """Return the categories of personal data processed, in French."""
    return [label for flag, label in (
        (p.data_identity, "état civil : nom et prénom des titulaires des comptes de crise"),
        (p.data_professional, "vie professionnelle : fonction dans la cellule de crise, numéro "
                              "du téléphone mobile prêté"),
        (p.data_identifiers, "identifiants : compte Microsoft 365 (UPN), identifiants de "
                             "l'annuaire, codes d'accès temporaires (à durée de validité "
                             "limitée)"),
        (p.data_connection_logs, "données de connexion : journaux de connexion et d'audit du "
                                 "tenant de crise, journal d'audit de crisiskit"),
    ) if flag]


def data_subjects(p: Processing) -> list[str]:
    """Return the categories of data subjects, in French."""
    return [label for flag, label in (
        (p.subjects_agents, "agents de la commune membres de la cellule de crise"),
        (p.subjects_elected, "élus de la commune membres de la cellule de crise"),
        (p.subjects_operators, "agents de la Métropole opérant le service (journal d'audit)"),
        (p.subjects_public, "usagers"),
    ) if flag]


def supports(p: Processing) -> list[str]:
    """Return the supports of the processing, in French."""
    return [label for flag, label in (
        (p.support_email, "messagerie électronique (Exchange Online)"),
        (p.support_storage, "stockage documentaire (SharePoint Online)"),
        (p.support_videoconference, "visioconférence et messagerie d'équipe (Microsoft Teams)"),
    ) if flag]
