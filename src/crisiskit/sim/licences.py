"""Simulated licences: the tenant's subscriptions and licence assignment to users and groups.

Behaviour follows the Graph v1.0 reference (subscribedsku-list, subscribedsku-get,
user-assignlicense, user-list-licensedetails, group-assignlicense) and GRAPH.md: both arrays
required, a usage location before any licence, a seat per user and SKU, the documented wording
when none is left. Seat accounting is in `seats`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata, replication
from crisiskit.sim.errors import bad_request, not_found
from crisiskit.sim.objects import group_for, user_for, user_view
from crisiskit.sim.permissions import GROUP_WRITE, USER_READ
from crisiskit.sim.router import Router, SimRequest, SimResponse, json_response, strip_internal
from crisiskit.sim.seats import (
    apply_group_licences,
    grant_plans,
    remove_group_licences,
    sku_by_id,
    sku_has_exchange,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

SKU_READ = (
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
# Application permissions per route (subscribedsku-list, subscribedsku-get, user-assignlicense,
# user-list-licensedetails, group-assignlicense).
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/subscribedSkus"): SKU_READ,
    ("GET", "/subscribedSkus/{sku_id}"): SKU_READ,
    ("POST", "/users/{user_id}/assignLicense"): (
        "LicenseAssignment.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("GET", "/users/{user_id}/licenseDetails"): ("LicenseAssignment.Read.All", *USER_READ),
    ("POST", "/groups/{group_id}/assignLicense"): ("LicenseAssignment.ReadWrite.All", *GROUP_WRITE),
}


def register(router: Router) -> None:
    """Register the licence routes on `router`."""
    router.route("GET", "/subscribedSkus")(list_skus)
    router.route("GET", "/subscribedSkus/{sku_id}")(get_sku)
    router.route("POST", "/users/{user_id}/assignLicense")(assign_license)
    router.route("GET", "/users/{user_id}/licenseDetails")(license_details)
    router.route("POST", "/groups/{group_id}/assignLicense")(assign_group_license)


def assign_license(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Add or remove licences (`POST /users/{id}/assignLicense`) → 200 with the user."""
    user = user_for(sim, user_id)
    body = req.body
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("addLicenses"), list)
        or not isinstance(body.get("removeLicenses"), list)
    ):
        raise bad_request(
            "Invalid value specified for property 'addLicenses' or 'removeLicenses': both are "
            "required (use an empty array)."
        )
    add: list[tuple[dict[str, Any], list[str]]] = []
    for lic in body["addLicenses"]:
        sku = sku_by_id(sim, lic.get("skuId")) if isinstance(lic, dict) else None
        if sku is None:
            value = lic.get("skuId") if isinstance(lic, dict) else lic
            raise bad_request(f"License {value} does not correspond to a valid company License.")
        disabled = lic.get("disabledPlans") or []
        if not isinstance(disabled, list):
            raise bad_request("Invalid value specified for property 'disabledPlans'.")
        add.append((sku, [str(d) for d in disabled]))
    remove = []
    for sku_id in body["removeLicenses"]:
        sku = sku_by_id(sim, sku_id)
        if sku is None:
            raise bad_request(f"License {sku_id} does not correspond to a valid company License.")
        if not any(a["skuId"] == sku["skuId"] for a in user["assignedLicenses"]):
            raise bad_request(f"User does not have a corresponding license {sku_id}.")
        remove.append(sku)
    if add and not user.get("usageLocation"):
        raise bad_request(
            "License assignment cannot be done for user with invalid usage location."
        )
    for sku, _ in add:
        already = any(a["skuId"] == sku["skuId"] for a in user["assignedLicenses"])
        free = sku["prepaidUnits"]["enabled"] - sku["consumedUnits"]
        if not already and free <= 0:
            raise bad_request(
                f"Subscription with SKU {sku['skuId']} does not have any available licenses."
            )
    replication.before_write(sim, "user", user["id"])
    for sku in remove:
        user["assignedLicenses"] = [
            a for a in user["assignedLicenses"] if a["skuId"] != sku["skuId"]
        ]
        sku["consumedUnits"] = max(0, sku["consumedUnits"] - 1)
        plan_ids = {p["servicePlanId"] for p in sku.get("servicePlans", [])}
        user["assignedPlans"] = [
            p for p in user["assignedPlans"] if p["servicePlanId"] not in plan_ids
        ]
    for sku, disabled in add:
        existing = [a for a in user["assignedLicenses"] if a["skuId"] == sku["skuId"]]
        if existing:
            existing[0]["disabledPlans"] = disabled
        else:
            user["assignedLicenses"].append({"skuId": sku["skuId"], "disabledPlans": disabled})
            sku["consumedUnits"] += 1
        grant_plans(sim, user, sku, disabled)
        if sku_has_exchange(sku, disabled) and not user.get("_licensedAt"):
            user["_licensedAt"] = sim.now()
            if not user.get("mail"):
                user["mail"] = user["userPrincipalName"]
                user["proxyAddresses"] = [f"SMTP:{user['userPrincipalName']}"]
    return json_response(200, user_view(req, user))


def license_details(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's licences with their service plans (`GET /users/{id}/licenseDetails`)."""
    user = user_for(sim, user_id)
    items = []
    for lic in user.get("assignedLicenses") or []:
        sku = sku_by_id(sim, lic["skuId"])
        if sku is None:
            continue
        items.append(
            {
                "id": f"{sku['skuId']}",
                "skuId": sku["skuId"],
                "skuPartNumber": sku["skuPartNumber"],
                "servicePlans": [
                    {**p, "provisioningStatus": "Disabled"}
                    if p["servicePlanId"] in lic.get("disabledPlans", [])
                    else p
                    for p in sku.get("servicePlans", [])
                ],
            }
        )
    return odata.page(sim, req, items, entity_set=f"users('{user['id']}')/licenseDetails")


def list_skus(sim: Simulator, req: SimRequest) -> SimResponse:
    """List the tenant's subscriptions (`GET /subscribedSkus`) with their seat counts."""
    items = [strip_internal(s) for s in sim.tenant.skus.values()]
    select = odata.selected(req)
    items = [odata.apply_select(s, select) for s in items]
    return json_response(
        200,
        {"@odata.context": odata.context_url(req, "subscribedSkus", select), "value": items},
    )


def get_sku(sim: Simulator, req: SimRequest, sku_id: str) -> SimResponse:
    """Read one subscription (`GET /subscribedSkus/{tenantId_skuId}`)."""
    for sku in sim.tenant.skus.values():
        if sku["id"].lower() == sku_id.lower() or sku["skuId"].lower() == sku_id.lower():
            view = odata.apply_select(strip_internal(sku), odata.selected(req))
            context = f"{req.base_url}/$metadata#subscribedSkus/$entity"
            return json_response(200, {"@odata.context": context, **view})
    raise not_found(sku_id)


def assign_group_license(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Assign licences to a group (`POST /groups/{id}/assignLicense`) → 202; members follow."""
    group = group_for(sim, group_id)
    body = req.body if isinstance(req.body, dict) else {}
    if "addLicenses" not in body or "removeLicenses" not in body:
        raise bad_request("Both addLicenses and removeLicenses are required.")
    add = body["addLicenses"] or []
    remove = [str(s).lower() for s in body["removeLicenses"] or []]
    skus = {k.lower(): k for k in sim.tenant.skus}
    for lic in add:
        sku = str(lic.get("skuId", "")).lower() if isinstance(lic, dict) else ""
        if sku not in skus:
            raise bad_request(f"License {lic} does not correspond to a valid company License.")
    members = [sim.tenant.users[u] for u in group["_members"] if u in sim.tenant.users]
    replication.before_write(sim, "group", group["id"])
    for user in members:
        remove_group_licences(sim, group, user)
    kept = [a for a in group["assignedLicenses"] if str(a["skuId"]).lower() not in remove]
    for lic in add:
        sku_id = skus[str(lic["skuId"]).lower()]
        kept = [a for a in kept if a["skuId"] != sku_id]
        kept.append({"skuId": sku_id, "disabledPlans": list(lic.get("disabledPlans") or [])})
    group["assignedLicenses"] = kept
    for user in members:
        apply_group_licences(sim, group, user)
    view = {k: group.get(k) for k in ("id", "createdDateTime", "groupTypes", "securityEnabled")}
    view["assignedLicenses"] = kept
    location = f"{req.base_url}/directoryObjects/{group['id']}/Microsoft.DirectoryServices.Group"
    return json_response(202, view, {"Location": location})
