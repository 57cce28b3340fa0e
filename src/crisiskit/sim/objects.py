"""Directory objects shared by several families: their Graph views, lookups and group links.

Users and groups are read by the users, groups, members, deleted-items and Teams families; the
shapes Graph gives them (default properties, the form a member takes in a list) and the one way
to add a member or owner (with its group-based licences) live here, so that no family imports
another. This module imports no family.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from crisiskit.sim import changes, odata, replication
from crisiskit.sim.errors import bad_request, insufficient_privileges, not_found, object_conflict
from crisiskit.sim.router import SimRequest, strip_internal
from crisiskit.sim.seats import apply_group_licences, remove_group_licences

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

# Properties `GET /users/{id}` returns without $select (user resource, "default" properties).
USER_DEFAULTS = (
    "businessPhones displayName givenName jobTitle mail mobilePhone officeLocation "
    "preferredLanguage surname userPrincipalName id"
).split()
# Properties of a user listed under a group's members or owners (group-list-members).
MEMBER_USER_DEFAULTS = (
    "id accountEnabled businessPhones displayName givenName jobTitle mail mobilePhone "
    "officeLocation preferredLanguage surname userPrincipalName"
).split()
# Properties `GET /groups/{id}` returns without $select (group resource, "default" properties).
GROUP_DEFAULTS = (
    "id deletedDateTime classification createdDateTime description displayName "
    "expirationDateTime groupTypes isAssignableToRole mail mailEnabled mailNickname "
    "membershipRule membershipRuleProcessingState onPremisesDomainName "
    "onPremisesLastSyncDateTime onPremisesNetBiosName onPremisesSamAccountName "
    "onPremisesSecurityIdentifier onPremisesSyncEnabled preferredDataLocation preferredLanguage "
    "proxyAddresses renewedDateTime resourceBehaviorOptions resourceProvisioningOptions "
    "securityEnabled securityIdentifier theme visibility onPremisesProvisioningErrors "
    "serviceProvisioningErrors"
).split()
UPN_LOCAL = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")
MAX_LINKS = 20
BIND_URL = re.compile(
    r"/(?:users|directoryObjects|groups)(?:/|\(')([0-9A-Za-z-]+)(?:'\))?(?:/[\w.]*)?/?$",
    re.IGNORECASE,
)
ALREADY_EXIST = (
    "One or more added object references already exist for the following modified "
    "properties: '{prop}'."
)
DO_NOT_EXIST = (
    "One or more added object references do not exist for the following modified "
    "properties: '{prop}'."
)


# ---------------------------------------------------------------- views


def user_view(req: SimRequest, user: dict[str, Any], *, entity: bool = True) -> dict[str, Any]:
    """Return the Graph JSON of a user: `$select`ed properties, else the default ones."""
    select = odata.selected(req)
    view = odata.apply_select(strip_internal(user), select, USER_DEFAULTS)
    if entity:
        view = {"@odata.context": odata.context_url(req, "users", select) + "/$entity", **view}
    return view


def group_view(group: dict[str, Any], select: str | None = None) -> dict[str, Any]:
    """Return a group as Graph sends it: default properties, or exactly `$select`."""
    public = strip_internal(group)
    if select:
        return odata.apply_select(public, select)
    return {k: public.get(k) for k in GROUP_DEFAULTS if k in public}


def member_view(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a directory object as listed under a group's members or owners."""
    public = strip_internal(obj)
    if "userPrincipalName" in public:
        view: dict[str, Any] = {"@odata.type": "#microsoft.graph.user"}
        view.update({k: public.get(k) for k in MEMBER_USER_DEFAULTS})
        return view
    view = {"@odata.type": "#microsoft.graph.group"}
    view.update({k: public.get(k) for k in GROUP_DEFAULTS if k in public})
    return view


def is_user(obj: dict[str, Any]) -> bool:
    return "userPrincipalName" in obj


# ---------------------------------------------------------------- lookups


def user_for(sim: Simulator, user_id: str) -> dict[str, Any]:
    """Return the stored user (id or UPN), 404 if absent or (by chance) not replicated yet."""
    user = sim.get_user(user_id)
    sim.check_replicated(user["id"])
    return user


def group_for(sim: Simulator, group_id: str, *, replicated: bool = True) -> dict[str, Any]:
    """Return the stored group, 404 if absent (or, by chance, if written too recently)."""
    group = sim.get_group(group_id)
    if replicated:
        sim.check_replicated(group["id"])
    return group


def refuse_if_unmanageable(group: dict[str, Any]) -> None:
    """Refuse changes to a group created app-only without owner (documented: not modifiable)."""
    if group.get("_noOwner"):
        raise insufficient_privileges()


def bind_target_id(url: Any, prop: str) -> str:
    """Return the object id a `@odata.bind` / `@odata.id` URL points to, or raise 400."""
    if isinstance(url, str):
        m = BIND_URL.search(url.split("?", 1)[0])
        if m:
            return m.group(1)
    raise bad_request(f"Invalid URL format specified in @odata.bind for {prop}", target=prop)


def resolve_binds(sim: Simulator, urls: Any, prop: str) -> list[str]:
    """Resolve a list of bind URLs to existing directory object ids (404 for an unknown one)."""
    if not isinstance(urls, list):
        raise bad_request(f"Property '{prop}@odata.bind' must be a collection of URLs.")
    ids: list[str] = []
    for url in urls:
        object_id = bind_target_id(url, prop)
        obj = sim.directory_object(object_id)
        if obj is None:
            raise not_found(object_id)
        ids.append(obj["id"])
    return ids


def check_upn(sim: Simulator, upn: Any, self_id: str | None = None) -> str:
    """Validate a userPrincipalName (verified domain, allowed characters, unique)."""
    if not isinstance(upn, str) or upn.count("@") != 1:
        raise bad_request("Property userPrincipalName is invalid.", target="userPrincipalName")
    local, domain = upn.split("@")
    if not local or len(upn) > 113 or not UPN_LOCAL.match(local) or local.startswith("."):
        raise bad_request("Property userPrincipalName is invalid.", target="userPrincipalName")
    if local.endswith(".") or ".." in local:
        raise bad_request("Property userPrincipalName is invalid.", target="userPrincipalName")
    if domain.lower() not in {d.lower() for d in sim.tenant.verified_domains}:
        raise bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one "
            "of the verified domain names in your organization.",
            target="userPrincipalName",
        )
    other = sim.user_by_upn(upn)
    if other is not None and other["id"] != self_id:
        raise object_conflict("userPrincipalName")
    return upn


# ---------------------------------------------------------------- members and owners


def check_can_add(sim: Simulator, group: dict[str, Any], rel: str, ids: list[str]) -> None:
    """Refuse links that exist already, or (by chance) to objects a replica has not seen yet."""
    if len(set(ids)) != len(ids) or any(i in group[f"_{rel}"] for i in ids):
        raise bad_request(ALREADY_EXIST.format(prop=rel))
    young = sim.is_young(group["id"]) or any(sim.is_young(i) for i in ids)
    if young and sim.rng.random() < sim.profile.replication_404_rate:
        # Eventual consistency: the replica serving the write has not seen the group or user yet.
        raise bad_request(DO_NOT_EXIST.format(prop=rel))


def link(sim: Simulator, group: dict[str, Any], rel: str, object_id: str) -> None:
    """Add a member or owner; a new member receives the licences the group carries."""
    replication.before_write(sim, "group", group["id"])
    group[f"_{rel}"].append(object_id)
    changes.note_membership(sim, group["id"], rel, object_id, removed=False)
    if rel == "members" and object_id in sim.tenant.users:
        apply_group_licences(sim, group, sim.tenant.users[object_id])


def unlink(sim: Simulator, group: dict[str, Any], rel: str, object_id: str) -> None:
    """Remove a member or owner; a member loses the licences it held through the group."""
    replication.before_write(sim, "group", group["id"])
    group[f"_{rel}"].remove(object_id)
    changes.note_membership(sim, group["id"], rel, object_id, removed=True)
    if rel == "members" and object_id in sim.tenant.users:
        remove_group_licences(sim, group, sim.tenant.users[object_id])


def links(
    sim: Simulator, group: dict[str, Any], rel: str, kind: str | None
) -> list[dict[str, Any]]:
    """Return the live members (or owners) of a group, optionally only users or groups."""
    objs: list[dict[str, Any]] = []
    for object_id in group[f"_{rel}"]:
        obj = sim.directory_object(object_id)
        if obj is None:
            continue
        if kind == "user" and not is_user(obj) or kind == "group" and is_user(obj):
            continue
        objs.append(obj)
    return objs
