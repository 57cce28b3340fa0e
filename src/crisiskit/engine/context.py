"""What an operation is given: the commune's setup and the services it runs on.

    Setup     inventory, commune, playbook, home (paths of the commune's outputs)
    Context   setup, state store, the Graph client, clock, wait scale, consistency rules,
              operator, commune lock

The core builds none of these services itself and reads no environment variable: the CLI
(`crisiskit.cli.wiring`) opens the store, the lock and the Graph client (the tenant, the
sandbox simulator or a static endpoint) and passes them in. Several operations of one process
(an exercise, `activate A B C`) get contexts that share one Graph client, hence one throttling
limiter: `dataclasses.replace(ctx, setup=other)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.clock import SYSTEM, Clock
from crisiskit.graph.consistency import RULES, Consistency

if TYPE_CHECKING:
    from crisiskit.engine.run import CommuneLock
    from crisiskit.graph import Graph
    from crisiskit.inventory.models import Commune, Inventory
    from crisiskit.plan.desired import DesiredKit, OpenLoan
    from crisiskit.playbooks import Playbook
    from crisiskit.state.api import StateStore


@dataclass(frozen=True)
class Setup:
    """One commune's inventory entry and playbook, and where its documents go."""

    inventory: Inventory
    commune: Commune
    playbook: Playbook
    home: Path
    signer: Any | None = None  # signs every PDF written (--sign-with): crisiskit.documents.sign

    @property
    def outputs(self) -> Path:
        return self.home / "outputs" / self.commune.id

    @property
    def credentials_path(self) -> Path:
        return self.outputs / "credentials.csv"


def load_setup(
    inventory_path: Path, playbooks_dir: Path, home: Path, commune_id: str, playbook: str | None
) -> Setup:
    """Load and check the inventory, the commune and its playbook (InputError: exit 2)."""
    return load_setups(inventory_path, playbooks_dir, home, [commune_id], playbook)[0]


def load_setups(
    inventory_path: Path,
    playbooks_dir: Path,
    home: Path,
    commune_ids: Sequence[str],
    playbook: str | None,
    *,
    inventory: Inventory | None = None,
) -> list[Setup]:
    """Load and check the inventory once, then each commune and its playbook, in order.

    One inventory for every commune of the command (`activate A B C`, `status`): checking it
    again per commune cost a tenth of a second each before anything started. It is immutable
    (frozen models), so the setups share it. `inventory`: one the caller already loaded.
    """
    from crisiskit.inventory import load_inventory
    from crisiskit.playbooks import load_playbook

    if inventory is None:
        inventory = load_inventory(inventory_path)
    setups = []
    for commune_id in commune_ids:
        commune = inventory.commune(commune_id)
        book = load_playbook(playbook or commune.playbook, playbooks_dir)
        setups.append(Setup(inventory, commune, book, home))
    return setups


@dataclass(frozen=True)
class Context:
    """Everything one operation on one commune runs with (see the module docstring)."""

    setup: Setup
    store: StateStore
    graph: Graph
    lock: CommuneLock
    operator: str = "unknown"
    clock: Clock = SYSTEM
    wait_scale: float = 1.0  # factor on documented waits (rehearsals on a scaled simulator)
    rules: Consistency = RULES

    @property
    def commune(self) -> str:
        return self.setup.commune.id


def open_loans(store: StateStore) -> list[OpenLoan]:
    """Return every open loan, as the desired state needs it."""
    from crisiskit.plan.desired import OpenLoan

    return [
        OpenLoan(lo.commune, lo.device_kind, lo.asset_tag, lo.upn)  # type: ignore[arg-type]
        for lo in store.open_loans()
    ]


def desired(
    setup: Setup, store: StateStore, now: datetime, reserved: frozenset[str] = frozenset()
) -> DesiredKit:
    """Compute the commune's desired kit, keeping the devices already lent to it.

    Devices held (to wipe, lost, …) and those `reserved` by other activations in progress
    are never allocated.
    """
    from crisiskit.plan.desired import desired_kit

    return desired_kit(
        setup.inventory, setup.commune, setup.playbook, open_loans(store), now,
        held=frozenset(store.device_holds()) | reserved,
    )

