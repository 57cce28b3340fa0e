"""Simulated SharePoint and OneDrive: a group's site and library, each licensed user's OneDrive.

A group's site is provisioned in the background, `profile.site_delay_s` after the group's
creation, and never for a group created without owner; until then `GET /groups/{id}/sites/root`
and `/drive` answer 404 `itemNotFound` (the only documented way to know is polling).

A user's OneDrive exists only for a user licensed for SharePoint, `profile.site_delay_s` after the
licence was assigned; before that, and for an unlicensed user, `GET /users/{id}/drive` answers
404 `ResourceNotFound` ("User's mysite not found.", as reported for the real service: with
application permissions a OneDrive is not provisioned on first access, drive-get.md).

The tenant's root site (`GET /sites/root`, site-get.md: "the tenant root site") and its document
library (`GET /sites/root/drive`, drive-get.md) always exist, as in every Microsoft 365 tenant;
crisiskit keeps its commune leases there (`crisiskit.engine.lease`).

Site, drive and root-folder ids derive from the owner's id, so a drive appears the same after a
restart whether or not anything was written to it. Items are served by `driveitems.py`.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crisiskit.sim import blobs, odata
from crisiskit.sim.driveitems import (
    content_size,
    folder_chain,
    item_id_from,
    item_view,
    put_content,
    serve_item,
)
from crisiskit.sim.errors import invalid_request as invalid
from crisiskit.sim.errors import item_not_found, mysite_not_found, not_found
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

QUOTA = 27487790694400  # 25 TiB, what a group library reports
ONEDRIVE_QUOTA = 1099511627776  # 1 TiB, a OneDrive for Business default

FILES_READ = ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All")
FILES_WRITE = ("Files.ReadWrite.All", "Sites.ReadWrite.All")
# Application permissions per route (site-get, drive-get, drive-list, driveitem-get,
# driveitem-list-children, driveitem-get-content, driveitem-post-children,
# driveitem-put-content, driveitem-update, driveitem-delete), for group libraries and OneDrives
# alike; SharePoint refuses with `accessDenied`.
ITEM_ROOTS = (
    "/groups/{group_id}/drive/{rest:path}",
    "/users/{user_id}/drive/{rest:path}",
    "/drives/{drive_id}/{rest:path}",
)
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/groups/{group_id}/sites/root"): ("Sites.Read.All", "Sites.ReadWrite.All"),
    ("GET", "/groups/{group_id}/drive"): FILES_READ,
    ("GET", "/groups/{group_id}/drives"): FILES_READ,
    ("GET", "/users/{user_id}/drive"): FILES_READ,
    ("GET", "/users/{user_id}/drives"): FILES_READ,
    ("GET", "/drives/{drive_id}"): FILES_READ,
    **{
        (method, template): FILES_READ if method == "GET" else FILES_WRITE
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        for template in ITEM_ROOTS
    },
    # The tenant's root site and its library (site-get.md, drive-get.md).
    ("GET", "/sites/root"): ("Sites.Read.All", "Sites.ReadWrite.All"),
    ("GET", "/sites/root/drive"): FILES_READ,
}
ROOT_SITE = "site:root"  # the key the root site's drive id derives from
DENIED = ("accessDenied", "Either scp or roles claim need to be present in the token.")


def register(router: Router) -> None:
    """Register the SharePoint site, drive and drive item routes on `router`."""
    router.route("GET", "/groups/{group_id}/sites/root")(get_group_site)
    router.route("GET", "/groups/{group_id}/drive")(get_group_drive)
    router.route("GET", "/groups/{group_id}/drives")(list_group_drives)
    router.route("GET", "/users/{user_id}/drive")(get_user_drive)
    router.route("GET", "/users/{user_id}/drives")(list_user_drives)
    router.route("GET", "/drives/{drive_id}")(get_drive)
    router.route("GET", "/sites/root")(get_root_site)
    router.route("GET", "/sites/root/drive")(get_root_drive)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        router.route(method, "/groups/{group_id}/drive/{rest:path}")(group_drive_item)
        router.route(method, "/users/{user_id}/drive/{rest:path}")(user_drive_item)
        router.route(method, "/drives/{drive_id}/{rest:path}")(drive_item)


# ---------------------------------------------------------------- ids, hosts


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _drive_id_for(key: str) -> str:
    return "b!" + base64.urlsafe_b64encode(_digest(f"drive:{key}")).decode().rstrip("=")


def _host_label(sim: Simulator) -> str:
    domains = sim.tenant.verified_domains
    initial = next((d for d in domains if d.endswith(".onmicrosoft.com")), None)
    name = initial.split(".", 1)[0] if initial else (domains[0].split(".", 1)[0] if domains else "")
    return "".join(c for c in name.lower() if c.isalnum()) or "contoso"


def sharepoint_host(sim: Simulator) -> str:
    """Return the tenant's SharePoint host, e.g. `contoso.sharepoint.com`."""
    return f"{_host_label(sim)}.sharepoint.com"


# ---------------------------------------------------------------- provisioning


def site_ready(sim: Simulator, group: dict[str, Any]) -> bool:
    """Tell whether the group's SharePoint site has been provisioned by now."""
    if group.get("_noOwner") or "Unified" not in group.get("groupTypes", []):
        return False
    if sim.now() < float(group.get("_workloadsAt", 0.0)):
        return False  # a restored group's site comes back after `restore_delay_s` (cascade)
    return sim.now() >= float(group.get("_createdAt", 0.0)) + sim.profile.site_delay_s


def sharepoint_licensed_at(user: dict[str, Any]) -> float | None:
    """Return when the user got an enabled SharePoint plan (epoch seconds), or None.

    The licence assignment's own clock (`_licensedAt`, sub-second) is used when the plan came
    with it; `assignedDateTime` (whole seconds) otherwise.
    """
    for plan in user.get("assignedPlans") or []:
        if plan.get("service") == "SharePoint" and plan.get("capabilityStatus") == "Enabled":
            if user.get("_licensedAt") is not None:
                return float(user["_licensedAt"])
            stamp = str(plan.get("assignedDateTime") or "")
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


def onedrive_ready(sim: Simulator, user: dict[str, Any]) -> bool:
    """Tell whether the user's OneDrive exists by now (licensed, past the provisioning delay)."""
    licensed = sharepoint_licensed_at(user)
    return licensed is not None and sim.now() >= licensed + sim.profile.site_delay_s


def _site_web_url(sim: Simulator, group: dict[str, Any]) -> str:
    return f"https://{sharepoint_host(sim)}/sites/{group['mailNickname']}"


def _new_drive(
    sim: Simulator, key: str, owner_key: str, owner_id: str, created: str, fields: dict[str, Any]
) -> dict[str, Any]:
    drive_id = _drive_id_for(key)
    drive = {
        "id": drive_id,
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "description": "",
        **fields,
        owner_key: owner_id,
        "_rootId": item_id_from(_digest(f"root:{key}")),
    }
    sim.tenant.drives[drive_id] = drive
    sim.tenant.drive_items[drive["_rootId"]] = {
        "id": drive["_rootId"],
        "name": "root",
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "webUrl": fields["webUrl"],
        "root": {},
        "_driveId": drive_id,
        "_parentId": None,
        owner_key: owner_id,
        "_path": "",
    }
    return drive


def ensure_drive(sim: Simulator, group: dict[str, Any]) -> dict[str, Any]:
    """Return the group's drive record, creating it (and its root folder) on first use."""
    drive = sim.tenant.drives.get(_drive_id_for(group["id"]))
    if drive is not None:
        return drive
    created = sim.iso(float(group.get("_createdAt", sim.now())) + sim.profile.site_delay_s)
    owner = {"id": group["id"], "displayName": group.get("displayName"), "email": group.get("mail")}
    fields = {
        "name": "Documents",
        "driveType": "documentLibrary",
        "webUrl": _site_web_url(sim, group) + "/Shared%20Documents",
        "owner": {"group": owner},
        "quota": {"deleted": 0, "remaining": QUOTA, "state": "normal", "total": QUOTA, "used": 0},
    }
    return _new_drive(sim, group["id"], "_groupId", group["id"], created, fields)


def ensure_onedrive(sim: Simulator, user: dict[str, Any]) -> dict[str, Any]:
    """Return the user's OneDrive record, creating it (and its root folder) on first use."""
    key = f"onedrive:{user['id']}"
    drive = sim.tenant.drives.get(_drive_id_for(key))
    if drive is not None:
        return drive
    licensed = sharepoint_licensed_at(user) or sim.now()
    created = sim.iso(licensed + sim.profile.site_delay_s)
    upn = str(user.get("userPrincipalName", ""))
    personal = "".join(c if c.isalnum() else "_" for c in upn.lower())
    fields = {
        "name": "OneDrive",
        "driveType": "business",
        "webUrl": f"https://{_host_label(sim)}-my.sharepoint.com/personal/{personal}/Documents",
        "owner": {
            "user": {
                "id": user["id"],
                "displayName": user.get("displayName"),
                "email": user.get("mail") or upn,
            }
        },
        "quota": {
            "deleted": 0,
            "remaining": ONEDRIVE_QUOTA,
            "state": "normal",
            "total": ONEDRIVE_QUOTA,
            "used": 0,
        },
    }
    return _new_drive(sim, key, "_userId", user["id"], created, fields)


def _site_ids(sim: Simulator, key: str) -> str:
    web_id = uuid.UUID(bytes=_digest(f"web:{key}")[:16], version=4)
    site_id = uuid.UUID(bytes=_digest(f"site:{key}")[:16], version=4)
    return f"{sharepoint_host(sim)},{site_id},{web_id}"


def root_drive_id() -> str:
    """Return the id of the root site's library (the same in every simulated tenant)."""
    return _drive_id_for(ROOT_SITE)


def ensure_root_drive(sim: Simulator) -> dict[str, Any]:
    """Return the root site's document library, creating it (and its root) on first use."""
    drive = sim.tenant.drives.get(root_drive_id())
    if drive is not None:
        return drive
    fields = {
        "name": "Documents",
        "driveType": "documentLibrary",
        "webUrl": f"https://{sharepoint_host(sim)}/Shared%20Documents",
        "owner": {"user": {"displayName": "System Account"}},
        "quota": {"deleted": 0, "remaining": QUOTA, "state": "normal", "total": QUOTA, "used": 0},
    }
    return _new_drive(sim, ROOT_SITE, "_siteRoot", "root", sim.iso(0), fields)


def _ready_group(sim: Simulator, group_id: str) -> dict[str, Any]:
    group = sim.get_group(group_id)
    if not site_ready(sim, group):
        raise item_not_found(
            "The requested site was not found. Please check that the site is still accessible."
        )
    return group


def _ready_user(sim: Simulator, user_id: str) -> dict[str, Any]:
    user = sim.get_user(user_id)
    sim.check_replicated(user["id"])
    if not onedrive_ready(sim, user):
        raise mysite_not_found()
    return user


def _drive(sim: Simulator, drive_id: str) -> dict[str, Any]:
    drive = sim.tenant.drives.get(drive_id)
    if drive is None:
        raise item_not_found("The drive could not be found.")
    if drive.get("_siteRoot"):
        return drive
    if drive.get("_userId"):
        user = sim.tenant.users.get(drive["_userId"])
        if user is None or not onedrive_ready(sim, user):
            raise item_not_found("The drive could not be found.")
        return drive
    group = sim.tenant.groups.get(drive.get("_groupId", ""))
    if group is None or not site_ready(sim, group):
        raise item_not_found("The drive could not be found.")
    return drive


def _drive_view(sim: Simulator, req: SimRequest, drive: dict[str, Any]) -> dict[str, Any]:
    view = strip_internal(drive)
    used = sum(
        content_size(i)
        for i in sim.tenant.drive_items.values()
        if i.get("_driveId") == drive["id"] and "file" in i
    )
    view["quota"] = dict(view["quota"], used=used, remaining=view["quota"]["total"] - used)
    return odata.apply_select(view, req.query.get("$select"))


def _drive_response(sim: Simulator, req: SimRequest, drive: dict[str, Any]) -> SimResponse:
    body = {"@odata.context": f"{req.base_url}/$metadata#drives/$entity"}
    body.update(_drive_view(sim, req, drive))
    return json_response(200, body)


# ---------------------------------------------------------------- handlers


def get_group_site(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read a group's root site (`GET /groups/{id}/sites/root`); 404 until provisioned."""
    group = _ready_group(sim, group_id)
    created = sim.iso(float(group.get("_createdAt", sim.now())) + sim.profile.site_delay_s)
    site = {
        "@odata.context": f"{req.base_url}/$metadata#sites/$entity",
        "id": _site_ids(sim, group["id"]),
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "description": group.get("description") or "",
        "displayName": group.get("displayName"),
        "name": group["mailNickname"],
        "webUrl": _site_web_url(sim, group),
        "root": {},
        "siteCollection": {"hostname": sharepoint_host(sim)},
    }
    return json_response(200, odata.apply_select(site, req.query.get("$select")))


def get_root_site(sim: Simulator, req: SimRequest) -> SimResponse:
    """Read the tenant's root site (`GET /sites/root`): always there."""
    site = {
        "@odata.context": f"{req.base_url}/$metadata#sites/$entity",
        "id": _site_ids(sim, ROOT_SITE),
        "createdDateTime": sim.iso(0),
        "lastModifiedDateTime": sim.iso(0),
        "description": "",
        "displayName": "Communication site",
        "name": "",
        "webUrl": f"https://{sharepoint_host(sim)}",
        "root": {},
        "siteCollection": {"hostname": sharepoint_host(sim)},
    }
    return json_response(200, odata.apply_select(site, req.query.get("$select")))


def get_root_drive(sim: Simulator, req: SimRequest) -> SimResponse:
    """Read the root site's document library (`GET /sites/root/drive`)."""
    return _drive_response(sim, req, ensure_root_drive(sim))


def get_group_drive(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read a group's document library (`GET /groups/{id}/drive`); 404 until provisioned."""
    return _drive_response(sim, req, ensure_drive(sim, _ready_group(sim, group_id)))


def list_group_drives(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """List a group's drives (`GET /groups/{id}/drives`): its one document library."""
    drive = ensure_drive(sim, _ready_group(sim, group_id))
    return odata.page(sim, req, [_drive_view(sim, req, drive)], entity_set="drives")


def get_user_drive(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Read a user's OneDrive (`GET /users/{id}/drive`); 404 unless licensed and provisioned."""
    return _drive_response(sim, req, ensure_onedrive(sim, _ready_user(sim, user_id)))


def list_user_drives(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's drives (`GET /users/{id}/drives`): the OneDrive, once provisioned."""
    drive = ensure_onedrive(sim, _ready_user(sim, user_id))
    return odata.page(sim, req, [_drive_view(sim, req, drive)], entity_set="drives")


def get_drive(sim: Simulator, req: SimRequest, drive_id: str) -> SimResponse:
    """Read a drive (`GET /drives/{id}`)."""
    return _drive_response(sim, req, _drive(sim, drive_id))


def group_drive_item(sim: Simulator, req: SimRequest, group_id: str, rest: str) -> SimResponse:
    """Serve `/groups/{id}/drive/...` as its `/drives/{drive-id}/...` equivalent."""
    return serve_item(sim, req, ensure_drive(sim, _ready_group(sim, group_id)), rest)


def user_drive_item(sim: Simulator, req: SimRequest, user_id: str, rest: str) -> SimResponse:
    """Serve `/users/{id}/drive/...` as its `/drives/{drive-id}/...` equivalent."""
    return serve_item(sim, req, ensure_onedrive(sim, _ready_user(sim, user_id)), rest)


def drive_item(sim: Simulator, req: SimRequest, drive_id: str, rest: str) -> SimResponse:
    """Serve every driveItem address form under `/drives/{id}/`."""
    return serve_item(sim, req, _drive(sim, drive_id), rest)


# ---------------------------------------------------------------- seeding


def seed_file(
    sim: Simulator,
    owner: str,
    path: str,
    content: bytes | None,
    *,
    user: bool = False,
    ref: blobs.Ref | None = None,
) -> dict[str, Any]:
    """Store a file (bytes, or generated content `ref`) in a drive, creating missing folders.

    `owner` is a group id or mailNickname (the group's library) or, with `user=True`, a user id
    or userPrincipalName (their OneDrive, which needs a SharePoint licence). `path` is relative
    to the drive's root, e.g. `Main courante/a.txt`; a path ending with `/` creates a folder.
    Provisioning delays are not waited for. Returns the item's Graph JSON.
    """
    if user:
        person = sim.get_user(owner)
        if sharepoint_licensed_at(person) is None:
            raise invalid(f"User '{owner}' has no SharePoint licence, hence no OneDrive.")
        drive = ensure_onedrive(sim, person)
    else:
        record = sim.tenant.groups.get(owner) or next(
            (
                g
                for g in sim.tenant.groups.values()
                if str(g.get("mailNickname", "")).lower() == owner.lower()
            ),
            None,
        )
        if record is None:
            raise not_found(owner)  # no group to seed into
        drive = ensure_drive(sim, record)
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        raise invalid("A file path is required.")
    root = sim.tenant.drive_items[drive["_rootId"]]
    if path.endswith("/"):
        return item_view(sim, folder_chain(sim, root, parts))
    parent = folder_chain(sim, root, parts[:-1])
    item, _ = put_content(sim, parent, parts[-1], content, "replace", ref=ref)
    return item_view(sim, item)
