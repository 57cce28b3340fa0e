"""Seed a simulated tenant: from an inventory at start, or from a `POST /_sim/seed` payload.

A seeded tenant looks like the Métropole's crisis tenant before any crisis: its verified domains,
the directory extension crisiskit tags its objects with (registered on the app), the licence SKU
with 250 seats, and a few pre-existing objects that crisiskit must never touch (decoys):

- users `jean.martin.dsi@<domain>` (a name close to roster entries), `accueil.crise@<domain>`,
  `svc-sauvegarde@<domain>` and `admin@<tenant>.onmicrosoft.com` (another domain), none tagged;
- groups `crise-aubagne-old` ("Cellule de crise – Aubagne (archive)", a Microsoft 365 group with
  a name close to a crisis team), `dsi-metropole` (a security group) and `tous-les-agents`.

Decoys are created through the same handlers as Graph requests, and backdated by 30 days, so
they are as valid and as old as real pre-existing objects.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from crisiskit.sim import seedworkloads as workloads
from crisiskit.sim.errors import SimError
from crisiskit.sim.router import SimRequest, SimResponse
from crisiskit.sim.tenant import Tenant

if TYPE_CHECKING:
    from crisiskit.inventory.models import Inventory
    from crisiskit.sim.core import Simulator

SEATS = 250
# Well-known ids (Microsoft's licensing service plan reference) for the plans crisiskit needs.
SKU_IDS = {
    "O365_BUSINESS_PREMIUM": "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
    "O365_BUSINESS_ESSENTIALS": "3b555118-da6a-4418-894f-7df1e2096870",
    "ENTERPRISEPACK": "6fd2c87f-b296-42f0-b197-1e91e994b900",
    "STANDARDPACK": "18181a46-0d4e-45cd-891e-60aabd171b4e",
    "SPE_E3": "05e9a617-0261-4cee-bb44-138d3ef5d965",
}
SERVICE_PLANS = [
    ("EXCHANGE_S_STANDARD", "9aaf7827-d63c-4b61-89c3-182f06f82e5c"),
    ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
    ("SHAREPOINTSTANDARD", "c7699d2e-19aa-44de-8edf-1736da088ca1"),
    ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
    ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
]
DEFAULT_DOMAIN = "crise.example.fr"
DEFAULT_SKU = "O365_BUSINESS_PREMIUM"
DECOY_AGE_S = 30 * 86400.0
DEFAULT_PASSWORD = "Decoy-" + "x" * 12  # decoys never sign in; Graph requires a password


def extension_name(client_id: str, name: str = "crisiskitCommune") -> str:
    """Return a directory extension's property name: `extension_{appId without dashes}_{name}`."""
    return f"extension_{client_id.replace('-', '')}_{name}"


def initial_domain(domain: str) -> str:
    """Return the tenant's `*.onmicrosoft.com` domain derived from its custom domain."""
    label = "".join(c for c in domain.split(".fr")[0] if c.isalnum()) or "contoso"
    return f"{label[:27]}.onmicrosoft.com"


def sku(tenant: Tenant, part_number: str, seats: int = SEATS) -> dict[str, Any]:
    """Return a subscribedSku with `seats` enabled seats and the plans crisiskit relies on."""
    sku_id = SKU_IDS.get(part_number) or str(uuid.uuid5(uuid.NAMESPACE_DNS, part_number))
    return {
        "id": f"{tenant.tenant_id}_{sku_id}",
        "accountId": tenant.tenant_id,
        "accountName": tenant.display_name,
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": 0,
        "prepaidUnits": {"enabled": seats, "lockedOut": 0, "suspended": 0, "warning": 0},
        "servicePlans": [
            {
                "servicePlanId": plan_id,
                "servicePlanName": name,
                "provisioningStatus": "Success",
                "appliesTo": "User",
            }
            for name, plan_id in SERVICE_PLANS
        ],
        "skuId": sku_id,
        "skuPartNumber": part_number,
        "subscriptionIds": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant.tenant_id}/{sku_id}"))],
    }


def seed_tenant(sim: Simulator, inventory: Inventory | None, seats: int = SEATS) -> None:
    """Seed domains, extension, SKU (`seats` seats) and decoys from `inventory` (or generic)."""
    t = sim.tenant
    if inventory is not None:
        tenant = inventory.tenant
        t.tenant_id = str(tenant.tenant_id)
        t.display_name = tenant.display_name
        domain, part, client_id = tenant.upn_domain, tenant.sku_part_number, str(tenant.client_id)
    else:
        domain, part = DEFAULT_DOMAIN, DEFAULT_SKU
        client_id = "00000000-0000-0000-0000-0000000000c1"
    onmicrosoft = initial_domain(domain)
    t.verified_domains = [domain, onmicrosoft]
    t.extension_properties = [extension_name(client_id)]
    record = sku(t, part, seats)
    t.skus = {record["skuId"]: record}
    add_decoys(sim, domain, onmicrosoft)


def _call(sim: Simulator, method: str, path: str, body: Any) -> SimResponse:
    """Run one Graph request through the handlers, without logging it; raise on error."""
    req = SimRequest(method=method, path=path, body=body, base_url="http://127.0.0.1/v1.0")
    found = sim.router.match(method, path)
    if found is None:
        raise ValueError(f"the simulator has no route for {method} {path}")
    route, params = found
    try:
        return route.handler(sim, req, **params)
    except SimError as err:
        raise ValueError(f"{method} {path}: {err.code}: {err.message}") from None


def _backdate(sim: Simulator, obj: dict[str, Any], age_s: float) -> None:
    when = sim.now() - age_s
    obj["_createdAt"] = when
    if obj.get("createdDateTime"):
        obj["createdDateTime"] = sim.iso(when)
    sim.tenant.written_at.pop(obj["id"], None)
    sim.tenant.replicas.pop(obj["id"], None)  # as old as that: every replica has it


def create_user(sim: Simulator, spec: dict[str, Any], age_s: float = DECOY_AGE_S) -> dict[str, Any]:
    """Create a user from a partial Graph body (defaults filled in); return the stored user."""
    if not isinstance(spec, dict) or not isinstance(spec.get("userPrincipalName"), str):
        raise ValueError("each seeded user needs a userPrincipalName")
    upn = spec["userPrincipalName"]
    body = {
        "accountEnabled": True,
        "displayName": upn.split("@")[0],
        "mailNickname": upn.split("@")[0],
        "passwordProfile": {"password": DEFAULT_PASSWORD, "forceChangePasswordNextSignIn": True},
        **spec,
    }
    resp = _call(sim, "POST", "/users", body)
    user = sim.tenant.users[resp.body["id"]]
    _backdate(sim, user, age_s)
    return user


def _ref(sim: Simulator, who: str) -> str:
    return sim.get_user(who)["id"] if "@" in who else who


def create_group(
    sim: Simulator, spec: dict[str, Any], age_s: float = DECOY_AGE_S
) -> dict[str, Any]:
    """Create a group from a partial body; `members`/`owners` are UPNs or ids."""
    if not isinstance(spec, dict) or not isinstance(spec.get("displayName"), str):
        raise ValueError("each seeded group needs a displayName")
    spec = dict(spec)
    members = [_ref(sim, m) for m in spec.pop("members", [])]
    owners = [_ref(sim, m) for m in spec.pop("owners", [])]
    unified = "Unified" in spec.get("groupTypes", ["Unified"])
    body = {
        "mailEnabled": unified,
        "securityEnabled": not unified,
        "groupTypes": ["Unified"] if unified else [],
        "visibility": "Private" if unified else None,
        "mailNickname": spec.get("mailNickname")
        or "".join(c for c in spec["displayName"].lower() if c.isalnum())[:60],
        **spec,
        "members@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{m}" for m in members],
        "owners@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{m}" for m in owners],
    }
    body = {k: v for k, v in body.items() if v is not None}
    resp = _call(sim, "POST", "/groups", body)
    group = sim.tenant.groups[resp.body["id"]]
    _backdate(sim, group, age_s)
    return group


def add_decoys(sim: Simulator, domain: str, onmicrosoft: str) -> None:
    """Create the pre-existing users and groups described in this module's docstring."""
    jm = create_user(
        sim,
        {
            "userPrincipalName": f"jean.martin.dsi@{domain}",
            "displayName": "Jean Martin (DSI Métropole)",
            "givenName": "Jean",
            "surname": "Martin",
            "jobTitle": "DSI",
            "usageLocation": "FR",
        },
    )
    accueil = create_user(
        sim,
        {"userPrincipalName": f"accueil.crise@{domain}", "displayName": "Accueil cellule de crise"},
    )
    create_user(
        sim,
        {"userPrincipalName": f"svc-sauvegarde@{domain}", "displayName": "Compte de sauvegarde"},
    )
    admin = create_user(
        sim,
        {"userPrincipalName": f"admin@{onmicrosoft}", "displayName": "Administrateur du tenant"},
    )
    create_group(
        sim,
        {
            "displayName": "Cellule de crise – Aubagne (archive)",
            "mailNickname": "crise-aubagne-old",
            "description": "Exercice 2023, archivé",
            "owners": [admin["id"]],
            "members": [jm["id"], accueil["id"]],
        },
    )
    create_group(
        sim,
        {
            "displayName": "DSI Métropole",
            "mailNickname": "dsi-metropole",
            "groupTypes": [],
            "members": [jm["id"]],
        },
    )
    create_group(
        sim,
        {
            "displayName": "Tous les agents",
            "mailNickname": "tous-les-agents",
            "owners": [admin["id"]],
            "members": [accueil["id"]],
        },
    )


def apply_seed(sim: Simulator, payload: Any) -> dict[str, Any]:
    """Add the objects of a `POST /_sim/seed` payload (schema: `crisiskit.sim.control`).

    Returns the ids created, per kind. Raises ValueError naming the first bad entry.
    """
    kinds = ("users", "groups", *workloads.KINDS)
    if not isinstance(payload, dict):
        raise ValueError(f"expected a JSON object with any of: {', '.join(kinds)}")
    unknown = set(payload) - set(kinds)
    if unknown:
        raise ValueError(f"unknown seed keys: {sorted(unknown)}; known: {', '.join(kinds)}")
    created: dict[str, list[str]] = {kind: [] for kind in kinds if kind in payload}
    for i, spec in enumerate(payload.get("users") or []):
        try:
            created["users"].append(create_user(sim, spec, age_s=0.0)["id"])
        except ValueError as exc:
            raise ValueError(f"users[{i}]: {exc}") from None
    for i, spec in enumerate(payload.get("groups") or []):
        try:
            created["groups"].append(create_group(sim, spec, age_s=0.0)["id"])
        except (ValueError, SimError) as exc:
            raise ValueError(f"groups[{i}]: {exc}") from None
    for kind in workloads.KINDS:
        if kind in payload:
            created[kind] = workloads.apply(sim, kind, payload[kind])
    return created
