"""Communes made up for exercises at scale: `generated: {communes: N}` in a scenario.

    with_generated(inventory, spec) -> Inventory    the inventory plus simu-01 … simu-N

Each generated commune is a valid inventory entry (a convention in force, a correspondent, a
roster of `spec.roster` people: a mayor and a DGS owning the Team, then a DSI and agents) and
lends no device, so the Métropole's stock never limits how many are hit at once. Names are a
pure function of N, so a scenario is the same on every run; the department code 99 keeps their
INSEE codes apart from real communes.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from crisiskit.inventory.models import Commune, Contact, Convention, Inventory, Person

if TYPE_CHECKING:
    from crisiskit.exercise.scenario import Generated

_GIVEN = ("Camille", "Dominique", "Claude", "Sacha", "Alix", "Maxime", "Morgan", "Lou")
_ROLES = ("maire", "dgs", "dsi")


def generated_commune(n: int, roster: int, playbook: str) -> Commune:
    """Return the generated commune number `n` (1-based)."""
    label = f"{n:02d}"
    people = []
    for j in range(roster):
        role = _ROLES[j] if j < len(_ROLES) else "agent"
        people.append(Person(
            given_name=_GIVEN[j % len(_GIVEN)],
            surname=f"Simu{label}-{j + 1}",
            role=role,
            team_owner=j < 2,
        ))
    return Commune(
        id=f"simu-{label}",
        name=f"Commune simulée {label}",
        insee=f"99{n:03d}",
        address=f"{n} place de la Mairie, 13{n:03d} Commune simulée {label}",
        mayor=f"{people[0].given_name} {people[0].surname}",
        convention=Convention(
            deliberation_number=f"SIMU-{label}",
            deliberation_date=date(2025, 1, 15),
            signature_date=date(2025, 2, 1),
            notification_date=date(2025, 2, 15),
        ),
        correspondent=Contact(
            name=f"Correspondant {label}", email=f"dsi@simu-{label}.example.fr",
            phone="04 65 71 00 99",
        ),
        playbook=playbook,
        roster=people,
    )


def with_generated(inventory: Inventory, spec: Generated) -> Inventory:
    """Return `inventory` with the generated communes appended (the file is never touched)."""
    extra = [generated_commune(n, spec.roster, spec.playbook) for n in range(1, spec.communes + 1)]
    return inventory.model_copy(update={"communes": [*inventory.communes, *extra]})
