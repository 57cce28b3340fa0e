"""Simulated directory users: create, read, list, count, update, delete.

Behaviour follows the Graph v1.0 reference (user-post-users, user-get, user-list, user-update,
user-delete) and GRAPH.md: UPN rules and verified domains, default versus `$select`ed
properties, basic versus advanced queries. Deleting a user is `cascade.delete_user`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import cascade, odata, queryrules, replication, userprops
from crisiskit.sim.errors import SimError, bad_request, empty_payload
from crisiskit.sim.objects import USER_DEFAULTS, check_upn, user_for, user_view
from crisiskit.sim.permissions import USER_READ, require
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

REQUIRED = ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile")
NICKNAME_FORBIDDEN = set('@()\\[]";:<>, ')

# Application permissions per route (user-get, user-list, user-post-users, user-update,
# user-delete). PATCH refines by property in `update_user`.
UPDATE_ANY = ("User.ReadWrite.All", "Directory.ReadWrite.All")
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/me"): USER_READ,
    ("GET", "/me/{rest:path}"): USER_READ,
    ("POST", "/users"): ("User.ReadWrite.All", "Directory.ReadWrite.All"),
    ("GET", "/users"): USER_READ,
    ("GET", "/users/$count"): USER_READ,
    ("GET", "/users/{user_id}"): USER_READ,
    ("PATCH", "/users/{user_id}"): (
        "User.ReadWrite.All",
        "User.EnableDisableAccount.All",
        "User.ManageIdentities.All",
        "Directory.ReadWrite.All",
    ),
    ("DELETE", "/users/{user_id}"): ("User.DeleteRestore.All", "User.ReadWrite.All"),
    ("POST", "/users/{user_id}/revokeSignInSessions"): (
        "User.RevokeSessions.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
}


def register(router: Router) -> None:
    """Register the user routes on `router`."""
    router.route("GET", "/me")(me)
    router.route("GET", "/me/{rest:path}")(me)
    router.route("POST", "/users")(create_user)
    router.route("GET", "/users")(list_users)
    router.route("GET", "/users/$count")(count_users)
    router.route("GET", "/users/{user_id}")(get_user)
    router.route("PATCH", "/users/{user_id}")(update_user)
    router.route("DELETE", "/users/{user_id}")(delete_user)
    router.route("POST", "/users/{user_id}/revokeSignInSessions")(revoke_sessions)


def me(sim: Simulator, req: SimRequest, rest: str = "") -> SimResponse:
    """Refuse `/me`: there is no signed-in user with application permissions."""
    raise SimError(
        400, "BadRequest", "/me request is only valid with delegated authentication flow."
    )


# ---------------------------------------------------------------- users


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
            target="mailNickname",
        )


def _check_properties(sim: Simulator, body: dict[str, Any]) -> None:
    """Refuse properties a user does not have (directory extensions must be registered)."""
    registered = {p.lower() for p in sim.tenant.extension_properties}
    for key in body:
        if key.startswith("@odata."):
            continue
        if key in userprops.WRITABLE:
            userprops.check_value(key, body[key])
            continue
        if key.lower().startswith("extension_"):
            if key.lower() in registered:
                userprops.check_extension(key, body[key])
                continue
            raise bad_request(
                f"Property '{key}' does not exist as a declared property or extension property."
            )
        raise bad_request(f"Invalid property '{key}'.")
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise bad_request(
            "Invalid value specified for property 'accountEnabled'.", target="accountEnabled"
        )
    if "usageLocation" in body and body["usageLocation"] is not None:
        loc = body["usageLocation"]
        if not isinstance(loc, str) or len(loc) != 2 or not loc.isalpha():
            raise bad_request(
                "Invalid value specified for property 'usageLocation' of resource 'User'.",
                target="usageLocation",
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
        "onPremisesExtensionAttributes": dict.fromkeys(userprops.EXT_ATTRS),
        "onPremisesSyncEnabled": None,
        "signInSessionsValidFromDateTime": sim.iso(now),
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
        raise empty_payload()
    _check_properties(sim, body)
    for prop in REQUIRED:
        if body.get(prop) in (None, ""):
            raise bad_request(
                f"Invalid value specified for property '{prop}' of resource 'User'.", target=prop
            )
    profile = body["passwordProfile"]
    if not isinstance(profile, dict) or not profile.get("password"):
        raise bad_request(
            "Invalid value specified for property 'passwordProfile' of resource 'User'.",
            target="passwordProfile",
        )
    _check_nickname(body["mailNickname"])
    check_upn(sim, body["userPrincipalName"])
    user = new_user(sim, body)
    replication.before_write(sim, "user", user["id"])
    sim.tenant.users[user["id"]] = user
    sim.index_user(user)
    view = odata.apply_select(strip_internal(user), None, USER_DEFAULTS)
    return json_response(
        201,
        {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **view},
        {"Location": f"{req.base_url}/directoryObjects/{user['id']}"},
    )


def get_user(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Read a user by id or userPrincipalName (`GET /users/{id|upn}`), maybe stale."""
    user = replication.read_user(sim, user_id)
    return json_response(200, user_view(req, user))


def update_user(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Update a user (`PATCH /users/{id}`) → 204; validated first, applied all at once."""
    user = user_for(sim, user_id)
    body = req.body
    if not isinstance(body, dict):
        raise empty_payload()
    _check_properties(sim, body)
    _require_update_roles(req, body)
    if "id" in body:
        raise bad_request("Property 'id' is read-only and cannot be set.", target="id")
    if "userPrincipalName" in body:
        check_upn(sim, body["userPrincipalName"], self_id=user["id"])
    if "mailNickname" in body:
        _check_nickname(body["mailNickname"])
    for prop in ("displayName", "accountEnabled"):
        if prop in body and body[prop] in (None, ""):
            raise bad_request(f"Invalid value specified for property '{prop}'.", target=prop)
    replication.before_write(sim, "user", user["id"])
    _apply(sim, user, body)
    if "userPrincipalName" in body:
        sim.invalidate_upns()
    return no_content()


def _require_update_roles(req: SimRequest, body: dict[str, Any]) -> None:
    """Apply user-update's finer rules: accountEnabled alone may be changed with
    User.EnableDisableAccount.All, identities with User.ManageIdentities.All; anything else
    needs User.ReadWrite.All (or Directory.ReadWrite.All)."""
    rest = set(body) - {"accountEnabled", "identities"}
    if rest:
        require(req.principal, ("User.ReadWrite.All", "Directory.ReadWrite.All"))
    if "accountEnabled" in body:
        require(req.principal, ("User.EnableDisableAccount.All", *UPDATE_ANY))
    if "identities" in body:
        require(req.principal, ("User.ManageIdentities.All", *UPDATE_ANY))


def revoke_sessions(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Invalidate the user's refresh tokens and session cookies (`revokeSignInSessions`) → 200.

    `signInSessionsValidFromDateTime` moves to now: a session issued before it no longer
    counts (`signin.sign_in`); the answer is `{"value": true}` (user-revokesigninsessions).
    """
    user = user_for(sim, user_id)
    replication.before_write(sim, "user", user["id"])
    user["signInSessionsValidFromDateTime"] = sim.iso()
    user["_sessionsValidFrom"] = sim.now()
    return json_response(
        200, {"@odata.context": f"{req.base_url}/$metadata#Edm.Boolean", "value": True}
    )


def delete_user(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Soft-delete a user (`DELETE /users/{id}`) → 204; restorable from deleted items."""
    user = user_for(sim, user_id)
    cascade.delete_user(sim, user["id"])
    return no_content()


def _matching_users(
    sim: Simulator, req: SimRequest, query: queryrules.Query
) -> list[dict[str, Any]]:
    # A list is served by a replica that may lag behind the latest writes; advanced queries
    # read an index that always does (GRAPH.md).
    live = replication.listing(sim, "users", index=query.advanced)
    users = [strip_internal(u) for u in live]
    if query.filter is not None:
        users = [u for u in users if query.filter(u)]
    search = req.query.get("$search")
    if search:
        users = [u for u in users if odata.search_matches(u, search)]
    return odata.order_by(req, users)


def list_users(sim: Simulator, req: SimRequest) -> SimResponse:
    """List users (`GET /users`) with `$filter`, `$search`, `$select`, `$top` and paging."""
    query = queryrules.directory_query(req, "User")
    users = _matching_users(sim, req, query)
    select = odata.selected(req)
    items = [odata.apply_select(u, select, USER_DEFAULTS) for u in users]
    return odata.page(sim, req, items, entity_set="users", count=query.count)


def count_users(sim: Simulator, req: SimRequest) -> SimResponse:
    """Count users (`GET /users/$count`): only as an advanced query, as text."""
    queryrules.require_count_segment(req)
    query = queryrules.directory_query(req, "User")
    return odata.text(str(len(_matching_users(sim, req, query))))
