"""The inventory: load `inventory.yaml`, validate it, and report every problem at once.

    load_inventory(path) -> Inventory           raises InputError (exit 2) with all diagnostics
    check_inventory(path) -> Checked            the same, plus notes (homonyms) for `validate`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crisiskit.errors import Diagnostic, InputError
from crisiskit.inventory.checks import CheckResult, cross_check
from crisiskit.inventory.invisible import invisible_diagnostics
from crisiskit.inventory.loader import (
    Document,
    pydantic_diagnostics,
    read_yaml,
    strip_secret_keys,
)
from crisiskit.inventory.models import (
    AuthMode,
    Commune,
    Contact,
    Convention,
    Devices,
    DeviceStatus,
    Inventory,
    Laptop,
    Person,
    Phone,
    Tenant,
)

__all__ = [
    "AuthMode",
    "Checked",
    "Commune",
    "Contact",
    "Convention",
    "DeviceStatus",
    "Devices",
    "Inventory",
    "Laptop",
    "Person",
    "Phone",
    "Tenant",
    "check_inventory",
    "load_inventory",
]


@dataclass
class Checked:
    """A valid inventory and what its validation found worth saying."""

    inventory: Inventory
    result: CheckResult
    document: Document


def _items(data: Any, key: str, model: Any, doc: Document, bad: set[str]) -> list[tuple[int, Any]]:
    """Validate the items of one list on their own, keeping those that pass, with their index."""
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    kept = []
    for i, item in enumerate(items):
        if any(b == f"{key}[{i}]" or b.startswith(f"{key}[{i}].") for b in bad):
            continue
        try:
            kept.append((i, model.model_validate(item)))
        except ValidationError:
            continue
    return kept


def check_inventory(path: Path, playbooks_dir: Path | None = None) -> Checked:
    """Load and validate the inventory; raise InputError listing every problem found."""
    doc = read_yaml(path, what="inventory")
    if doc.data is None:
        raise InputError(f"{path}: the inventory is empty (see inventory.schema.json)")
    if not isinstance(doc.data, dict):
        raise InputError(
            f"{path}: the inventory must be a mapping with tenant, metropole, communes and "
            f"devices, not a {type(doc.data).__name__}"
        )
    playbooks_dir = playbooks_dir or path.resolve().parent / "playbooks"
    found: list[Diagnostic] = strip_secret_keys(doc)
    found.extend(invisible_diagnostics(doc))
    inventory: Inventory | None = None
    try:
        inventory = Inventory.model_validate(doc.data)
    except ValidationError as exc:
        found.extend(pydantic_diagnostics(doc, exc, root=Inventory))
    if inventory is not None:
        communes = list(enumerate(inventory.communes))
        laptops = list(enumerate(inventory.devices.laptops))
        phones = list(enumerate(inventory.devices.phones))
        domain: str | None = inventory.tenant.upn_domain
    else:
        bad = {d.path for d in found}
        devices = doc.data.get("devices")
        communes = _items(doc.data, "communes", Commune, doc, bad)
        laptops = _items(devices, "laptops", Laptop, doc, {b[8:] for b in bad})
        phones = _items(devices, "phones", Phone, doc, {b[8:] for b in bad})
        try:
            domain = Tenant.model_validate(doc.data.get("tenant")).upn_domain
        except ValidationError:
            domain = None
    result = cross_check(
        doc, communes, laptops, phones, domain=domain, playbooks_dir=playbooks_dir
    )
    found.extend(result.diagnostics)
    if inventory is not None:
        tenant = inventory.tenant
        if tenant.certificate_path is not None and tenant.auth is not AuthMode.certificate:
            found.append(
                doc.diagnostic(
                    "tenant.certificate_path",
                    f"only used with auth: certificate (auth is {tenant.auth.value})",
                )
            )
    if found or inventory is None:
        count = len(found)
        raise InputError(f"{path}: {count} problem{'s' if count != 1 else ''}", found)
    return Checked(inventory=inventory, result=result, document=doc)


def load_inventory(path: Path, playbooks_dir: Path | None = None) -> Inventory:
    """Load and validate the inventory (playbooks are looked up in `playbooks/` beside it)."""
    return check_inventory(path, playbooks_dir).inventory
