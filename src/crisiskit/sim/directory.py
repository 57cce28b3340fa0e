"""Simulated directory: users, licences (subscribedSkus, assignLicense), deleted items.

Behaviour follows the Graph v1.0 reference (user-post-users, user-get, user-list, user-update,
user-delete, user-assignlicense, subscribedsku-get, directory-deleteditems-*) and GRAPH.md:
UPN rules and verified domains, default versus `$select`ed properties, basic versus advanced
queries, seat accounting, soft delete and restore.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata
from crisiskit.sim.core import not_found
from crisiskit.sim.router import (
    Router,
    SimError,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

USER_DEFAULTS = (
    "businessPhones displayName givenName jobTitle mail mobilePhone officeLocation "
    "preferredLanguage surname userPrincipalName id"
).split()
USER_WRITABLE = set(
    (
        "accountEnabled ageGroup aboutMe birthday businessPhones city companyName "
        "consentProvidedForMinor country department displayName employeeId employeeType "
        "employeeHireDate employeeLeaveDateTime employeeOrgData faxNumber givenName hireDate "
        "identities interests jobTitle mail mailNickname mobilePhone mySite officeLocation "
        "onPremisesExtensionAttributes onPremisesImmutableId otherMails passwordPolicies "
        "passwordProfile pastProjects postalCode preferredDataLocation preferredLanguage "
        "preferredName responsibilities schools showInAddressList skills state streetAddress "
        "surname usageLocation userPrincipalName userType"
    ).split()
)
REQUIRED = ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile")
# Filterable plainly (directory); anything else needs an advanced query.
BASIC_FILTER = {
    "id",
    "userprincipalname",
    "mail",
    "mailnickname",
    "displayname",
    "givenname",
    "surname",
    "accountenabled",
    "usagelocation",
    "usertype",
    "jobtitle",
    "department",
    "companyname",
    "othermails",
    "proxyaddresses",
    "identities",
    "createddatetime",
    "externaluserstate",
    "employeeid",
    "city",
    "country",
    "state",
    "officelocation",
    "preferredlanguage",
    "assignedlicenses",
    "imaddresses",
}
PLAIN_ORDERBY = {"displayname", "userprincipalname"}
BASIC_OPERATORS = {"eq", "startswith", "and", "or", "in", "any", "ge", "le"}
UPN_LOCAL = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")
NICKNAME_FORBIDDEN = set('@()\\[]";:<>, ')
EXT_ATTRS = [f"extensionAttribute{i}" for i in range(1, 16)]
DELETED_TYPES = {
    "microsoft.graph.user": "user",
    "microsoft.graph.group": "group",
    "microsoft.graph.application": None,
    "microsoft.graph.serviceprincipal": None,
    "microsoft.graph.administrativeunit": None,
    "microsoft.graph.device": None,
}


def register(router: Router) -> None:
    """Register the directory routes on `router`."""
    router.route("GET", "/me")(me)
    router.route("GET", "/me/{rest:path}")(me)
    router.route("POST", "/users")(create_user)
    router.route("GET", "/users")(list_users)
    router.route("GET", "/users/$count")(count_users)
    router.route("GET", "/users/{user_id}")(get_user)
    router.route("PATCH", "/users/{user_id}")(update_user)
    router.route("DELETE", "/users/{user_id}")(delete_user)
    router.route("POST", "/users/{user_id}/assignLicense")(assign_license)
    router.route("GET", "/users/{user_id}/licenseDetails")(license_details)
    router.route("GET", "/subscribedSkus")(list_skus)
    router.route("GET", "/subscribedSkus/{sku_id}")(get_sku)
    router.route("GET", "/directory/deletedItems")(deleted_without_cast)
    router.route("POST", "/directory/deletedItems/getUserOwnedObjects", write=False)(
        user_owned_deleted
    )
    router.route("GET", "/directory/deletedItems/{cast}/$count")(count_deleted)
    router.route("GET", "/directory/deletedItems/{item_id}")(get_deleted)
    router.route("POST", "/directory/deletedItems/{item_id}/restore")(restore_deleted)
    router.route("DELETE", "/directory/deletedItems/{item_id}")(purge_deleted)


def bad_request(
    message: str, target: str | None = None, code: str = "Request_BadRequest"
) -> SimError:
    details = [{"code": "InvalidValue", "message": message, "target": target}] if target else None
    return SimError(400, code, message, details=details)


def me(sim: Simulator, req: SimRequest, rest: str = "") -> SimResponse:
    """Refuse `/me`: there is no signed-in user with application permissions."""
    raise SimError(
        400, "BadRequest", "/me request is only valid with delegated authentication flow."
    )


# ---------------------------------------------------------------- users


def user_view(
    sim: Simulator, req: SimRequest, user: dict[str, Any], *, entity: bool = True
) -> dict[str, Any]:
    """Return the Graph JSON of a user: `$select`ed properties, else the default ones."""
    select = odata.selected(req)
    view = odata.apply_select(strip_internal(user), select, USER_DEFAULTS)
    if entity:
        view = {"@odata.context": odata.context_url(req, "users", select) + "/$entity", **view}
    return view


def _user_for(sim: Simulator, user_id: str) -> dict[str, Any]:
    user = sim.get_user(user_id)
    sim.check_replicated(user["id"])
    return user


def _check_upn(sim: Simulator, upn: Any, self_id: str | None = None) -> str:
    if not isinstance(upn, str) or upn.count("@") != 1:
        raise bad_request("Property userPrincipalName is invalid.", "userPrincipalName")
    local, domain = upn.split("@")
    if not local or len(upn) > 113 or not UPN_LOCAL.match(local) or local.startswith("."):
        raise bad_request("Property userPrincipalName is invalid.", "userPrincipalName")
    if local.endswith(".") or ".." in local:
        raise bad_request("Property userPrincipalName is invalid.", "userPrincipalName")
    if domain.lower() not in {d.lower() for d in sim.tenant.verified_domains}:
        raise bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one "
            "of the verified domain names in your organization.",
            "userPrincipalName",
        )
    other = sim.user_by_upn(upn)
    if other is not None and other["id"] != self_id:
        raise SimError(
            400,
            "Request_BadRequest",
            "Another object with the same value for property userPrincipalName already "
            "exists.",
            details=[
                {
                    "code": "ObjectConflict",
                    "message": "Another object with the same value for property "
                    "userPrincipalName already exists.",
                    "target": "userPrincipalName",
                }
            ],
        )
    return upn


def _check_nickname(nickname: Any) -> None:
    if (
        not isinstance(nickname, str)
        or not nickname
        or len(nickname) > 64
        or not nickname.isascii()
        or any(c in NICKNAME_FORBIDDEN for c in nickname)
    ):
        raise bad_request(
            "Invalid value specified for property 'mailNickname' of resource 'User'.",
            "mailNickname",
        )


def _check_properties(sim: Simulator, body: dict[str, Any]) -> None:
    """Refuse properties a user does not have (directory extensions must be registered)."""
    registered = {p.lower() for p in sim.tenant.extension_properties}
    for key in body:
        if key.startswith("@odata.") or key in USER_WRITABLE:
            continue
        if key.lower().startswith("extension_"):
            if key.lower() in registered:
                continue
            raise bad_request(
                f"Property '{key}' does not exist as a declared property or extension property."
            )
        raise bad_request(f"Invalid property '{key}'.")
    attrs = body.get("onPremisesExtensionAttributes")
    if attrs is not None:
        if not isinstance(attrs, dict) or any(k not in EXT_ATTRS for k in attrs):
            raise bad_request(
                "Invalid value specified for property 'onPremisesExtensionAttributes'."
            )
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise bad_request(
            "Invalid value specified for property 'accountEnabled'.", "accountEnabled"
        )
    if "usageLocation" in body and body["usageLocation"] is not None:
        loc = body["usageLocation"]
        if not isinstance(loc, str) or len(loc) != 2 or not loc.isalpha():
            raise bad_request(
                "Invalid value specified for property 'usageLocation' of resource 'User'.",
                "usageLocation",
            )


def _registered_name(sim: Simulator, key: str) -> str:
    for name in sim.tenant.extension_properties:
        if name.lower() == key.lower():
            return name
    return key


def new_user(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Build a stored user from a validated creation body."""
    now = sim.now()
    user: dict[str, Any] = {
        "id": sim.new_id(),
        "businessPhones": [],
        "displayName": None,
        "givenName": None,
        "jobTitle": None,
        "mail": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": None,
        "userPrincipalName": None,
        "accountEnabled": True,
        "mailNickname": None,
        "usageLocation": None,
        "employeeType": None,
        "employeeId": None,
        "department": None,
        "companyName": None,
        "userType": "Member",
        "createdDateTime": sim.iso(now),
        "deletedDateTime": None,
        "otherMails": [],
        "proxyAddresses": [],
        "imAddresses": [],
        "assignedLicenses": [],
        "assignedPlans": [],
        "provisionedPlans": [],
        "passwordProfile": None,
        "onPremisesExtensionAttributes": dict.fromkeys(EXT_ATTRS),
        "onPremisesSyncEnabled": None,
        "_createdAt": now,
        "_licensedAt": None,
    }
    _apply(sim, user, body)
    return user


def _apply(sim: Simulator, user: dict[str, Any], body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        if key == "passwordProfile":
            # Graph never returns the password; neither is it kept here.
            continue
        if key == "onPremisesExtensionAttributes":
            merged = dict(user.get("onPremisesExtensionAttributes") or {})
            merged.update(value or {})
            user[key] = merged
            continue
        if key.lower().startswith("extension_"):
            key = _registered_name(sim, key)
        user[key] = value


def create_user(sim: Simulator, req: SimRequest) -> SimResponse:
    """Create a user (`POST /users`) → 201 with the default properties."""
    body = req.body
    if not isinstance(body, dict):
        raise SimError(400, "BadRequest", "Empty Payload. JSON content expected.")
    _check_properties(sim, body)
    for prop in REQUIRED:
        if body.get(prop) in (None, ""):
            raise bad_request(
                f"Invalid value specified for property '{prop}' of resource 'User'.", prop
            )
    profile = body["passwordProfile"]
    if not isinstance(profile, dict) or not profile.get("password"):
        raise bad_request(
            "Invalid value specified for property 'passwordProfile' of resource 'User'.",
            "passwordProfile",
        )
    _check_nickname(body["mailNickname"])
    _check_upn(sim, body["userPrincipalName"])
    user = new_user(sim, body)
    sim.tenant.users[user["id"]] = user
    sim.index_user(user)
    sim.touch(user["id"])
    view = odata.apply_select(strip_internal(user), None, USER_DEFAULTS)
    return json_response(
        201,
        {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **view},
        {"Location": f"{req.base_url}/directoryObjects/{user['id']}"},
    )


def get_user(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Read a user by id or userPrincipalName (`GET /users/{id|upn}`)."""
    user = _user_for(sim, user_id)
    return json_response(200, user_view(sim, req, user))


def update_user(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Update a user (`PATCH /users/{id}`) → 204; validated first, applied all at once."""
    user = _user_for(sim, user_id)
    body = req.body
    if not isinstance(body, dict):
        raise SimError(400, "BadRequest", "Empty Payload. JSON content expected.")
    _check_properties(sim, body)
    if "id" in body:
        raise bad_request("Property 'id' is read-only and cannot be set.", "id")
    if "userPrincipalName" in body:
        _check_upn(sim, body["userPrincipalName"], self_id=user["id"])
    if "mailNickname" in body:
        _check_nickname(body["mailNickname"])
    for prop in ("displayName", "accountEnabled"):
        if prop in body and body[prop] in (None, ""):
            raise bad_request(f"Invalid value specified for property '{prop}'.", prop)
    _apply(sim, user, body)
    if "userPrincipalName" in body:
        sim.invalidate_upns()
    sim.touch(user["id"])
    return no_content()


def delete_user(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Soft-delete a user (`DELETE /users/{id}`) → 204; restorable from deleted items."""
    user = _user_for(sim, user_id)
    sim.soft_delete_user(user["id"])
    return no_content()


def _user_filter(req: SimRequest) -> tuple[odata.Filter | None, bool]:
    """Parse `$filter` and tell whether the query as a whole is an advanced one."""
    raw = req.query.get("$filter")
    flt = odata.parse_filter(raw) if raw else None
    advanced = False
    if flt is not None:
        for prop in flt.properties:
            head = prop.split("/")[0].lower()
            if head not in BASIC_FILTER and not head.startswith("extension_"):
                advanced = True
        if flt.operators - BASIC_OPERATORS:
            advanced = True
    orderby = req.query.get("$orderby", "").strip().split(" ")[0].lower()
    if "$search" in req.query or (orderby and orderby not in PLAIN_ORDERBY):
        advanced = True
    if odata.wants_count(req):
        advanced = True
    return flt, advanced


def _matching_users(sim: Simulator, req: SimRequest) -> list[dict[str, Any]]:
    flt, advanced = _user_filter(req)
    if advanced:
        odata.require_advanced(req, "This query")
    live: list[dict[str, Any]] = list(sim.tenant.users.values())
    if advanced:
        # Advanced queries read an index that lags behind the directory (GRAPH.md): objects
        # written within the replication window are not in it yet.
        live = [u for u in live if not sim.is_young(u["id"])]
    users = [strip_internal(u) for u in live]
    if flt is not None:
        users = [u for u in users if flt(u)]
    search = req.query.get("$search")
    if search:
        users = [u for u in users if _search(u, search)]
    return odata.order_by(req, users)


def _search(obj: dict[str, Any], expr: str) -> bool:
    """Evaluate `$search="prop:word" OR "prop:word"` (token prefix match, case-insensitive)."""
    clauses = re.findall(r'"([^"]*)"', expr)
    if not clauses:
        raise SimError(400, "Request_BadRequest", "Invalid $search query.")
    for clause in clauses:
        prop, _, word = clause.partition(":")
        value = str(obj.get(prop) or "").lower()
        if any(tok.startswith(word.lower()) for tok in re.split(r"[\s._@-]+", value)):
            return True
    return False


def list_users(sim: Simulator, req: SimRequest) -> SimResponse:
    """List users (`GET /users`) with `$filter`, `$search`, `$select`, `$top` and paging."""
    users = _matching_users(sim, req)
    select = odata.selected(req)
    items = [odata.apply_select(u, select, USER_DEFAULTS) for u in users]
    return odata.page(sim, req, items, entity_set="users")


def count_users(sim: Simulator, req: SimRequest) -> SimResponse:
    """Count users (`GET /users/$count`): only as an advanced query, as text."""
    if not odata.is_eventual(req):
        raise SimError(400, "Request_BadRequest", "$count is not currently supported.")
    flt, _ = _user_filter(req)
    users = [strip_internal(u) for u in sim.tenant.users.values()]
    count = sum(1 for u in users if flt is None or flt(u))
    return SimResponse(status=200, raw=str(count).encode(), content_type="text/plain")


# ---------------------------------------------------------------- licences


def _sku_has_exchange(sku: dict[str, Any], disabled: list[str]) -> bool:
    off = {str(d).lower() for d in disabled}
    return any(
        str(p.get("servicePlanName", "")).upper().startswith("EXCHANGE")
        and str(p.get("servicePlanId", "")).lower() not in off
        for p in sku.get("servicePlans", [])
    )


def _sku_by_id(sim: Simulator, sku_id: Any) -> dict[str, Any] | None:
    wanted = str(sku_id).lower()
    for key, sku in sim.tenant.skus.items():
        if key.lower() == wanted:
            return sku
    return None


def assign_license(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Add or remove licences (`POST /users/{id}/assignLicense`) → 200 with the user."""
    user = _user_for(sim, user_id)
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
        sku = _sku_by_id(sim, lic.get("skuId")) if isinstance(lic, dict) else None
        if sku is None:
            value = lic.get("skuId") if isinstance(lic, dict) else lic
            raise bad_request(f"License {value} does not correspond to a valid company License.")
        disabled = lic.get("disabledPlans") or []
        if not isinstance(disabled, list):
            raise bad_request("Invalid value specified for property 'disabledPlans'.")
        add.append((sku, [str(d) for d in disabled]))
    remove = []
    for sku_id in body["removeLicenses"]:
        sku = _sku_by_id(sim, sku_id)
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
        _grant_plans(sim, user, sku, disabled)
        if _sku_has_exchange(sku, disabled) and not user.get("_licensedAt"):
            user["_licensedAt"] = sim.now()
            if not user.get("mail"):
                user["mail"] = user["userPrincipalName"]
                user["proxyAddresses"] = [f"SMTP:{user['userPrincipalName']}"]
    sim.touch(user["id"])
    return json_response(200, user_view(sim, req, user))


def _grant_plans(
    sim: Simulator, user: dict[str, Any], sku: dict[str, Any], disabled: list[str]
) -> None:
    off = {d.lower() for d in disabled}
    have = {p["servicePlanId"] for p in user["assignedPlans"]}
    for plan in sku.get("servicePlans", []):
        if plan["servicePlanId"].lower() in off or plan["servicePlanId"] in have:
            continue
        name = str(plan.get("servicePlanName", ""))
        service = (
            "exchange"
            if name.upper().startswith("EXCHANGE")
            else "SharePoint"
            if name.upper().startswith("SHAREPOINT")
            else "TeamspaceAPI"
            if name.upper().startswith("TEAMS")
            else name
        )
        user["assignedPlans"].append(
            {
                "assignedDateTime": sim.iso(),
                "capabilityStatus": "Enabled",
                "service": service,
                "servicePlanId": plan["servicePlanId"],
            }
        )


def license_details(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's licences with their service plans (`GET /users/{id}/licenseDetails`)."""
    user = _user_for(sim, user_id)
    items = []
    for lic in user.get("assignedLicenses") or []:
        sku = _sku_by_id(sim, lic["skuId"])
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


# ---------------------------------------------------------------- deleted items


def _deleted_view(req: SimRequest, entry: dict[str, Any]) -> dict[str, Any]:
    from crisiskit.sim.groups import GROUP_DEFAULTS

    kind = entry.get("_kind", "user")
    view = {k: v for k, v in entry.items() if not k.startswith("_") and k != "@odata.type"}
    default = USER_DEFAULTS + ["deletedDateTime"] if kind == "user" else GROUP_DEFAULTS
    view = odata.apply_select(view, odata.selected(req), default)
    return {"@odata.type": f"#microsoft.graph.{kind}", **view}


def deleted_without_cast(sim: Simulator, req: SimRequest) -> SimResponse:
    """Refuse `GET /directory/deletedItems` without a type cast, as Graph does."""
    raise SimError(
        400,
        "Request_BadRequest",
        "The request URI is not valid: a type cast such as microsoft.graph.user or "
        "microsoft.graph.group is required on deletedItems.",
    )


def _deleted_of(sim: Simulator, req: SimRequest, cast: str) -> list[dict[str, Any]]:
    kind = DELETED_TYPES.get(cast.lower(), "?")
    if kind == "?":
        raise SimError(400, "Request_BadRequest", f"Unsupported type cast '{cast}'.")
    entries = [d for d in sim.tenant.deleted.values() if kind and d.get("_kind") == kind]
    items = [_deleted_view(req, d) for d in entries]
    raw = req.query.get("$filter")
    if raw:
        flt = odata.parse_filter(raw)
        items = [i for i in items if flt(i)]
    if "$orderby" in req.query or odata.wants_count(req) or "$search" in req.query:
        odata.require_advanced(req, "This query")
    return odata.order_by(req, items)


def get_deleted(sim: Simulator, req: SimRequest, item_id: str) -> SimResponse:
    """Read one deleted item, or list a type cast (`.../deletedItems/microsoft.graph.user`)."""
    if item_id.lower().startswith("graph."):
        # msgraph-sdk writes the cast with the namespace alias: `/deletedItems/graph.user`.
        item_id = "microsoft." + item_id
    if item_id.lower().startswith("microsoft.graph."):
        items = _deleted_of(sim, req, item_id)
        entity_set = "users" if item_id.lower().endswith(".user") else "groups"
        if item_id.lower().endswith(".group"):
            entity_set = "groups"
        return odata.page(sim, req, items, entity_set=entity_set)
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    view = _deleted_view(req, entry)
    return json_response(
        200, {"@odata.context": f"{req.base_url}/$metadata#directoryObjects/$entity", **view}
    )


def count_deleted(sim: Simulator, req: SimRequest, cast: str) -> SimResponse:
    """Count deleted items of a type (advanced query only)."""
    if not odata.is_eventual(req):
        raise SimError(400, "Request_BadRequest", "$count is not currently supported.")
    cast = "microsoft." + cast if cast.lower().startswith("graph.") else cast
    kind = DELETED_TYPES.get(cast.lower())
    count = sum(1 for d in sim.tenant.deleted.values() if kind and d.get("_kind") == kind)
    return SimResponse(status=200, raw=str(count).encode(), content_type="text/plain")


def restore_deleted(sim: Simulator, req: SimRequest, item_id: str) -> SimResponse:
    """Restore a deleted user or group → 200; 400 if its UPN or mailNickname was reused."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    if entry.get("_kind") == "group":
        groups: Any = importlib.import_module("crisiskit.sim.groups")
        view = groups.restore_group(sim, entry)
        kind = "group"
    else:
        restored = sim.restore(item_id)
        view = odata.apply_select(strip_internal(restored), None, USER_DEFAULTS)
        kind = "user"
    view = {k: v for k, v in view.items() if k not in ("@odata.context", "@odata.type")}
    return json_response(
        200,
        {
            "@odata.context": f"{req.base_url}/$metadata#directoryObjects/$entity",
            "@odata.type": f"#microsoft.graph.{kind}",
            **view,
        },
    )


def purge_deleted(sim: Simulator, req: SimRequest, item_id: str) -> SimResponse:
    """Delete a deleted item permanently (`DELETE /directory/deletedItems/{id}`) → 204."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    if entry.get("_kind") == "group":
        groups: Any = importlib.import_module("crisiskit.sim.groups")
        groups.purge_group(sim, item_id)
        sim.tenant.written_at.pop(item_id, None)
    else:
        sim.purge(item_id)
    return no_content()


def user_owned_deleted(sim: Simulator, req: SimRequest) -> SimResponse:
    """List deleted groups a user owned (`POST /directory/deletedItems/getUserOwnedObjects`)."""
    body = req.body if isinstance(req.body, dict) else {}
    user_id, kind = body.get("userId"), str(body.get("type", "")).lower()
    if not user_id or kind not in ("group", "application", "serviceprincipal"):
        raise bad_request("Both userId and type (Group, Application, ...) are required.")
    items = [
        _deleted_view(req, d)
        for d in sim.tenant.deleted.values()
        if d.get("_kind") == kind and user_id in (d.get("_owners") or [])
    ]
    return json_response(200, {"value": items})
