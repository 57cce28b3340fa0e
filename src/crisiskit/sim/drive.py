"""Simulated SharePoint: a Microsoft 365 group's site and document library (drive), its items.

A group's site is provisioned in the background, `profile.site_delay_s` after the group's
creation, and never for a group created without owner; until then `GET /groups/{id}/sites/root`
and `/drive` answer 404 `itemNotFound` (the only documented way to know is polling). Site, drive
and root-folder ids derive from the group id, so a drive appears the same after a restart
whether or not anything was written to it.

Items are addressed as OneDrive does: `/drives/{d}/root`, `/drives/{d}/items/{id}`, optionally
followed by `:/relative/path:` and then `/children` or `/content`. Downloads answer 302 to a
short-lived URL under `/_sim/download/{token}` that needs no Authorization header (`download`).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from crisiskit.sim import odata
from crisiskit.sim.errors import SimError, item_not_found
from crisiskit.sim.errors import invalid_request as invalid
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

QUOTA = 27487790694400  # 25 TiB, what a group library reports
DOWNLOAD_TTL_S = 300.0  # pre-authenticated download URLs are short-lived
NAME_FORBIDDEN = set('"*:<>?/\\|')
CONFLICT = "@microsoft.graph.conflictBehavior"
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Download tokens live in memory only: a restarted simulator has forgotten them, like an expired
# pre-authenticated URL.
_TOKENS: weakref.WeakKeyDictionary[Simulator, dict[str, tuple[str, float]]] = (
    weakref.WeakKeyDictionary()
)

FILES_READ = ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All")
FILES_WRITE = ("Files.ReadWrite.All", "Sites.ReadWrite.All")
# Application permissions per route (site-get, drive-get, drive-list, driveitem-get,
# driveitem-list-children, driveitem-post-children, driveitem-put-content, driveitem-update,
# driveitem-delete); SharePoint refuses with `accessDenied`.
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/groups/{group_id}/sites/root"): ("Sites.Read.All", "Sites.ReadWrite.All"),
    ("GET", "/groups/{group_id}/drive"): FILES_READ,
    ("GET", "/groups/{group_id}/drives"): FILES_READ,
    ("GET", "/drives/{drive_id}"): FILES_READ,
    **{
        (method, template): FILES_READ if method == "GET" else FILES_WRITE
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        for template in ("/groups/{group_id}/drive/{rest:path}", "/drives/{drive_id}/{rest:path}")
    },
}
DENIED = ("accessDenied", "Either scp or roles claim need to be present in the token.")


def register(router: Router) -> None:
    """Register the SharePoint site, drive and drive item routes on `router`."""
    router.route("GET", "/groups/{group_id}/sites/root")(get_group_site)
    router.route("GET", "/groups/{group_id}/drive")(get_group_drive)
    router.route("GET", "/groups/{group_id}/drives")(list_group_drives)
    router.route("GET", "/drives/{drive_id}")(get_drive)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        router.route(method, "/groups/{group_id}/drive/{rest:path}")(group_drive_item)
        router.route(method, "/drives/{drive_id}/{rest:path}")(drive_item)


# ---------------------------------------------------------------- errors, ids


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _item_id_from(raw: bytes) -> str:
    return "01" + "".join(_B32[b % 32] for b in raw[:32])


def _new_item_id(sim: Simulator) -> str:
    return "01" + "".join(sim.rng.choice(_B32) for _ in range(32))


def _drive_id_for(group_id: str) -> str:
    return "b!" + base64.urlsafe_b64encode(_digest(f"drive:{group_id}")).decode().rstrip("=")


def sharepoint_host(sim: Simulator) -> str:
    """Return the tenant's SharePoint host, e.g. `contoso.sharepoint.com`."""
    domains = sim.tenant.verified_domains
    initial = next((d for d in domains if d.endswith(".onmicrosoft.com")), None)
    name = initial.split(".", 1)[0] if initial else (domains[0].split(".", 1)[0] if domains else "")
    name = "".join(c for c in name.lower() if c.isalnum()) or "contoso"
    return f"{name}.sharepoint.com"


# ---------------------------------------------------------------- site and drive provisioning


def site_ready(sim: Simulator, group: dict[str, Any]) -> bool:
    """Tell whether the group's SharePoint site has been provisioned by now."""
    if group.get("_noOwner") or "Unified" not in group.get("groupTypes", []):
        return False
    if sim.now() < float(group.get("_workloadsAt", 0.0)):
        return False  # a restored group's site comes back after `restore_delay_s` (cascade)
    return sim.now() >= float(group.get("_createdAt", 0.0)) + sim.profile.site_delay_s


def _site_web_url(sim: Simulator, group: dict[str, Any]) -> str:
    return f"https://{sharepoint_host(sim)}/sites/{group['mailNickname']}"


def ensure_drive(sim: Simulator, group: dict[str, Any]) -> dict[str, Any]:
    """Return the group's drive record, creating it (and its root folder) on first use."""
    drive_id = _drive_id_for(group["id"])
    drive = sim.tenant.drives.get(drive_id)
    if drive is not None:
        return drive
    created = sim.iso(float(group.get("_createdAt", sim.now())) + sim.profile.site_delay_s)
    web = _site_web_url(sim, group) + "/Shared%20Documents"
    drive = {
        "id": drive_id,
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "description": "",
        "name": "Documents",
        "driveType": "documentLibrary",
        "webUrl": web,
        "owner": {
            "group": {
                "id": group["id"],
                "displayName": group.get("displayName"),
                "email": group.get("mail"),
            }
        },
        "quota": {"deleted": 0, "remaining": QUOTA, "state": "normal", "total": QUOTA, "used": 0},
        "_groupId": group["id"],
        "_rootId": _item_id_from(_digest(f"root:{group['id']}")),
    }
    sim.tenant.drives[drive_id] = drive
    root = {
        "id": drive["_rootId"],
        "name": "root",
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "webUrl": web,
        "root": {},
        "_driveId": drive_id,
        "_parentId": None,
        "_groupId": group["id"],
        "_path": "",
    }
    sim.tenant.drive_items[root["id"]] = root
    return drive


def _ready_group(sim: Simulator, group_id: str) -> dict[str, Any]:
    group = sim.tenant.groups.get(group_id)
    if group is None:
        raise SimError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{group_id}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    if not site_ready(sim, group):
        raise item_not_found(
            "The requested site was not found. Please check that the site is still accessible."
        )
    return group


def _drive(sim: Simulator, drive_id: str) -> dict[str, Any]:
    drive = sim.tenant.drives.get(drive_id)
    if drive is None:
        raise item_not_found("The drive could not be found.")
    group = sim.tenant.groups.get(drive["_groupId"])
    if group is None or not site_ready(sim, group):
        raise item_not_found("The drive could not be found.")
    return drive


def _drive_view(sim: Simulator, req: SimRequest, drive: dict[str, Any]) -> dict[str, Any]:
    view = strip_internal(drive)
    used = sum(
        _content_size(i)
        for i in sim.tenant.drive_items.values()
        if i.get("_driveId") == drive["id"] and "file" in i
    )
    view["quota"] = dict(view["quota"], used=used, remaining=view["quota"]["total"] - used)
    return odata.apply_select(view, req.query.get("$select"))


def get_group_site(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read a group's root site (`GET /groups/{id}/sites/root`); 404 until provisioned."""
    group = _ready_group(sim, group_id)
    web_id = uuid.UUID(bytes=_digest(f"web:{group['id']}")[:16], version=4)
    site_id = uuid.UUID(bytes=_digest(f"site:{group['id']}")[:16], version=4)
    created = sim.iso(float(group.get("_createdAt", sim.now())) + sim.profile.site_delay_s)
    site = {
        "@odata.context": f"{req.base_url}/$metadata#sites/$entity",
        "id": f"{sharepoint_host(sim)},{site_id},{web_id}",
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


def get_group_drive(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read a group's document library (`GET /groups/{id}/drive`); 404 until provisioned."""
    drive = ensure_drive(sim, _ready_group(sim, group_id))
    body = {"@odata.context": f"{req.base_url}/$metadata#drives/$entity"}
    body.update(_drive_view(sim, req, drive))
    return json_response(200, body)


def list_group_drives(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """List a group's drives (`GET /groups/{id}/drives`): its one document library."""
    drive = ensure_drive(sim, _ready_group(sim, group_id))
    return odata.page(sim, req, [_drive_view(sim, req, drive)], entity_set="drives")


def get_drive(sim: Simulator, req: SimRequest, drive_id: str) -> SimResponse:
    """Read a drive (`GET /drives/{id}`)."""
    body = {"@odata.context": f"{req.base_url}/$metadata#drives/$entity"}
    body.update(_drive_view(sim, req, _drive(sim, drive_id)))
    return json_response(200, body)


# ---------------------------------------------------------------- items


def _children(sim: Simulator, parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in sim.tenant.drive_items.values() if i.get("_parentId") == parent["id"]]


Tree = dict[str, list[dict[str, Any]]]


def _tree(sim: Simulator, drive_id: str) -> Tree:
    """Index a drive's items by parent id, once per request (listings stay linear)."""
    tree: Tree = {}
    for i in sim.tenant.drive_items.values():
        if i.get("_driveId") == drive_id and i.get("_parentId"):
            tree.setdefault(i["_parentId"], []).append(i)
    return tree


def _content_size(item: dict[str, Any]) -> int:
    encoded = str(item.get("_content", ""))
    return len(encoded) * 3 // 4 - encoded[-2:].count("=")


def _size(tree: Tree, item: dict[str, Any]) -> int:
    if "file" in item:
        return _content_size(item)
    return sum(_size(tree, c) for c in tree.get(item["id"], []))


def item_view(sim: Simulator, item: dict[str, Any], tree: Tree | None = None) -> dict[str, Any]:
    """Return a driveItem as Graph sends it."""
    drive = sim.tenant.drives[item["_driveId"]]
    if tree is None:
        tree = _tree(sim, drive["id"])
    view = strip_internal(item)
    view["size"] = _size(tree, item)
    view["eTag"] = f'"{{{item["id"]}}},1"'
    if "file" not in item:
        view["folder"] = {"childCount": len(tree.get(item["id"], []))}
    if item["_parentId"] is None:
        view["parentReference"] = {"driveId": drive["id"], "driveType": "documentLibrary"}
        return view
    parent_path = item["_path"].rpartition("/")[0]
    view["parentReference"] = {
        "driveId": drive["id"],
        "driveType": "documentLibrary",
        "id": item["_parentId"],
        "path": f"/drives/{drive['id']}/root:" + (f"/{parent_path}" if parent_path else ""),
    }
    view["webUrl"] = f"{drive['webUrl']}/{quote(item['_path'])}"
    return view


def _find_child(sim: Simulator, parent: dict[str, Any], name: str) -> dict[str, Any] | None:
    lowered = name.lower()
    return next((c for c in _children(sim, parent) if c["name"].lower() == lowered), None)


def _walk(sim: Simulator, base: dict[str, Any], path: str) -> dict[str, Any]:
    item = base
    for part in [p for p in path.split("/") if p]:
        child = _find_child(sim, item, part)
        if child is None:
            raise item_not_found("The resource could not be found.")
        item = child
    return item


def _check_name(name: Any) -> str:
    if (
        not isinstance(name, str)
        or not name.strip()
        or name != name.strip()
        or any(c in NAME_FORBIDDEN for c in name)
        or len(name) > 255
    ):
        raise invalid(f"The provided name '{name}' is not valid for a drive item.")
    return name


def _free_name(sim: Simulator, parent: dict[str, Any], name: str, is_file: bool) -> str:
    stem, dot, ext = name.rpartition(".") if is_file and "." in name[1:] else (name, "", "")
    n = 1
    while True:
        candidate = f"{stem} {n}{dot}{ext}"
        if _find_child(sim, parent, candidate) is None:
            return candidate
        n += 1


def _remove_tree(sim: Simulator, item: dict[str, Any]) -> None:
    for child in _children(sim, item):
        _remove_tree(sim, child)
    sim.tenant.drive_items.pop(item["id"], None)


def _conflict_behavior(req: SimRequest, body: dict[str, Any] | None, default: str) -> str:
    value = (body or {}).get(CONFLICT) or req.query.get(CONFLICT) or default
    if value not in ("fail", "replace", "rename"):
        raise invalid(f"Invalid value '{value}' for {CONFLICT}.")
    return str(value)


def _new_item(
    sim: Simulator, parent: dict[str, Any], name: str, extra: dict[str, Any]
) -> dict[str, Any]:
    stamp = sim.iso()
    path = f"{parent['_path']}/{name}" if parent["_path"] else name
    item: dict[str, Any] = {
        "id": _new_item_id(sim),
        "name": name,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "createdBy": {"application": {"displayName": "crisiskit"}},
        **extra,
        "_driveId": parent["_driveId"],
        "_parentId": parent["id"],
        "_groupId": parent["_groupId"],
        "_path": path,
    }
    sim.tenant.drive_items[item["id"]] = item
    return item


def create_folder(
    sim: Simulator, parent: dict[str, Any], name: str, behavior: str
) -> dict[str, Any]:
    """Create a folder under `parent` honouring the conflict behaviour (fail|rename|replace)."""
    if "file" in parent:
        raise invalid("Cannot create an item under a file.")
    existing = _find_child(sim, parent, name)
    if existing is not None:
        if behavior == "fail":
            raise SimError(
                409, "nameAlreadyExists", f"The specified item name already exists. Name: {name}"
            )
        if behavior == "rename":
            name = _free_name(sim, parent, name, is_file=False)
        else:
            _remove_tree(sim, existing)
    return _new_item(sim, parent, name, {"folder": {"childCount": 0}})


def _folder_chain(sim: Simulator, base: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """Walk `parts` from `base`, creating the missing folders (path-based uploads do this)."""
    item = base
    for part in parts:
        child = _find_child(sim, item, _check_name(part))
        if child is None:
            child = create_folder(sim, item, part, "fail")
        elif "file" in child:
            raise SimError(409, "nameAlreadyExists", f"A file named '{part}' is in the way.")
        item = child
    return item


def put_content(
    sim: Simulator, parent: dict[str, Any], name: str, data: bytes, behavior: str
) -> tuple[dict[str, Any], bool]:
    """Store a small file under `parent`; return (item, created)."""
    name = _check_name(name)
    if "file" in parent:
        raise invalid("Cannot create an item under a file.")
    existing = _find_child(sim, parent, name)
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    content = base64.b64encode(data).decode()
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    file_facet = {"mimeType": mime, "hashes": {"sha256Hash": digest}}
    if existing is not None:
        if behavior == "fail" or ("file" not in existing and behavior == "replace"):
            raise SimError(
                409, "nameAlreadyExists", f"The specified item name already exists. Name: {name}"
            )
        if behavior == "replace":
            existing.update(file=file_facet, _content=content, lastModifiedDateTime=sim.iso())
            return existing, False
        name = _free_name(sim, parent, name, is_file=True)
    item = _new_item(sim, parent, name, {"file": file_facet, "_content": content})
    return item, True


def _raw_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    import json

    return json.dumps(body).encode()


def _parse_rest(rest: str) -> tuple[str | None, str, str]:
    """Split `root|items/{id}[:/{path}[:]][/children|/content]` → (item id|None, path, tail)."""
    rest = unquote(rest)
    if rest.lower().startswith("root"):
        item_id, remainder = None, rest[4:]
    elif rest.lower().startswith("items/"):
        body = rest[6:]
        cut = min((i for i in (body.find(":"), body.find("/")) if i >= 0), default=len(body))
        item_id, remainder = body[:cut], body[cut:]
        if not item_id:
            raise invalid("An item id is required.")
    else:
        raise SimError(400, "BadRequest", f"Resource not found for the segment '{rest}'.")
    path = ""
    if remainder.startswith(":"):
        inner = remainder[1:]
        end = inner.find(":")
        if end < 0:
            path, remainder = inner, ""
        else:
            path, remainder = inner[:end], inner[end + 1 :]
        path = path.strip("/")
    tail = remainder.strip("/").lower()
    if tail not in ("", "children", "content"):
        raise SimError(400, "BadRequest", f"Resource not found for the segment '{tail}'.")
    return item_id, path, tail


def group_drive_item(sim: Simulator, req: SimRequest, group_id: str, rest: str) -> SimResponse:
    """Serve `/groups/{id}/drive/...` as its `/drives/{drive-id}/...` equivalent."""
    drive = ensure_drive(sim, _ready_group(sim, group_id))
    return drive_item(sim, req, drive["id"], rest)


def drive_item(sim: Simulator, req: SimRequest, drive_id: str, rest: str) -> SimResponse:
    """Serve every driveItem address form: item, `children`, `content`, by id or by path."""
    drive = _drive(sim, drive_id)
    item_id, path, tail = _parse_rest(rest)
    if item_id is None or item_id.lower() == "root":
        base = sim.tenant.drive_items[drive["_rootId"]]
    else:
        found = sim.tenant.drive_items.get(item_id)
        if found is None or found["_driveId"] != drive["id"]:
            raise item_not_found()
        base = found
    method = req.method.upper()
    if tail == "content" and method == "PUT":
        if not path:
            if "file" not in base:
                raise invalid("Content can only be uploaded to a file.")
            item, created = put_content(
                sim, _parent_of(sim, base), base["name"], _raw_bytes(req.body), "replace"
            )
        else:
            *folders, name = path.split("/")
            parent = _folder_chain(sim, base, folders)
            behavior = _conflict_behavior(req, None, "replace")
            item, created = put_content(sim, parent, name, _raw_bytes(req.body), behavior)
        ctx = f"{req.base_url}/$metadata#drives('{drive['id']}')/items/$entity"
        body = {"@odata.context": ctx, **item_view(sim, item)}
        return json_response(201 if created else 200, body)
    target = _walk(sim, base, path)
    if tail == "children":
        if method == "GET":
            return _list_children(sim, req, drive, target)
        if method == "POST":
            return _post_child(sim, req, drive, target)
    elif tail == "content":
        if method == "GET":
            return _redirect_download(sim, req, target)
    elif method == "GET":
        ctx = f"{req.base_url}/$metadata#drives('{drive['id']}')/items/$entity"
        view = odata.apply_select(item_view(sim, target), req.query.get("$select"))
        return json_response(200, {"@odata.context": ctx, **view})
    elif method == "DELETE":
        if target["_parentId"] is None:
            raise SimError(403, "accessDenied", "The root folder cannot be deleted.")
        _remove_tree(sim, target)
        return no_content()
    elif method == "PATCH":
        return _patch_item(sim, req, target)
    raise SimError(405, "invalidRequest", f"The HTTP method '{method}' is not allowed here.")


def _parent_of(sim: Simulator, item: dict[str, Any]) -> dict[str, Any]:
    return sim.tenant.drive_items[item["_parentId"]]


def _list_children(
    sim: Simulator, req: SimRequest, drive: dict[str, Any], folder: dict[str, Any]
) -> SimResponse:
    if "file" in folder:
        return odata.page(sim, req, [], entity_set=f"drives('{drive['id']}')/items")
    tree = _tree(sim, drive["id"])
    items = [item_view(sim, c, tree) for c in tree.get(folder["id"], [])]
    expr = req.query.get("$filter")
    if expr:
        predicate = odata.parse_filter(expr)
        items = [i for i in items if predicate(i)]
    items = odata.order_by(req, items)
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    ctx = f"drives('{drive['id']}')/items('{folder['id']}')/children"
    return odata.page(sim, req, items, default_top=200, max_top=999, entity_set=ctx)


def _post_child(
    sim: Simulator, req: SimRequest, drive: dict[str, Any], parent: dict[str, Any]
) -> SimResponse:
    body = req.body if isinstance(req.body, dict) else {}
    name = _check_name(body.get("name"))
    if "folder" not in body:
        raise invalid("Only folders can be created with POST; upload files with PUT .../content.")
    behavior = _conflict_behavior(req, body, "fail")
    item = create_folder(sim, parent, name, behavior)
    ctx = f"{req.base_url}/$metadata#drives('{drive['id']}')/items/$entity"
    return json_response(201, {"@odata.context": ctx, **item_view(sim, item)})


def _patch_item(sim: Simulator, req: SimRequest, item: dict[str, Any]) -> SimResponse:
    body = req.body if isinstance(req.body, dict) else {}
    if item["_parentId"] is None:
        raise SimError(403, "accessDenied", "The root folder cannot be changed.")
    if "name" in body and body["name"] != item["name"]:
        name = _check_name(body["name"])
        parent = _parent_of(sim, item)
        clash = _find_child(sim, parent, name)
        if clash is not None and clash["id"] != item["id"]:
            raise SimError(
                409, "nameAlreadyExists", f"The specified item name already exists. Name: {name}"
            )
        old_prefix = item["_path"]
        new_path = f"{parent['_path']}/{name}" if parent["_path"] else name
        for other in sim.tenant.drive_items.values():
            if other.get("_driveId") == item["_driveId"] and other["_path"].startswith(
                old_prefix + "/"
            ):
                other["_path"] = new_path + other["_path"][len(old_prefix) :]
        item.update(name=name, _path=new_path, lastModifiedDateTime=sim.iso())
    return json_response(200, item_view(sim, item))


# ---------------------------------------------------------------- downloads


def _redirect_download(sim: Simulator, req: SimRequest, item: dict[str, Any]) -> SimResponse:
    if "file" not in item:
        raise item_not_found("The item is a folder; it has no content.")
    token = "".join(sim.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40))
    _TOKENS.setdefault(sim, {})[token] = (item["id"], time.monotonic() + DOWNLOAD_TTL_S)
    root = req.base_url.rsplit("/v1.0", 1)[0]
    return SimResponse(status=302, headers={"Location": f"{root}/_sim/download/{token}"})


def download(sim: Simulator, token: str) -> SimResponse:
    """Serve a pre-authenticated download URL (`GET /_sim/download/{token}`): no auth needed."""
    tokens = _TOKENS.get(sim, {})
    entry = tokens.get(token)
    if entry is None or time.monotonic() > entry[1]:
        tokens.pop(token, None)
        raise SimError(401, "unauthenticated", "The download URL is invalid or has expired.")
    item = sim.tenant.drive_items.get(entry[0])
    if item is None or "file" not in item:
        raise item_not_found("The item no longer exists.")
    return SimResponse(
        status=200,
        raw=base64.b64decode(item.get("_content", "")),
        content_type=str(item["file"].get("mimeType", "application/octet-stream")),
    )


# ---------------------------------------------------------------- seeding (control API)


def seed_file(sim: Simulator, group: str, path: str, content: bytes) -> dict[str, Any]:
    """Store a file in a group's library, creating missing folders (for `POST /_sim/seed`).

    `group` is a group id or mailNickname; `path` is relative to the library root, e.g.
    `Main courante/a.txt`. The site's provisioning delay is not waited for. Returns the item.
    """
    record = sim.tenant.groups.get(group) or next(
        (
            g
            for g in sim.tenant.groups.values()
            if str(g.get("mailNickname", "")).lower() == group.lower()
        ),
        None,
    )
    if record is None:
        raise SimError(404, "Request_ResourceNotFound", f"No group '{group}' to seed a file into.")
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        raise invalid("A file path is required.")
    drive = ensure_drive(sim, record)
    root = sim.tenant.drive_items[drive["_rootId"]]
    parent = _folder_chain(sim, root, parts[:-1])
    item, _ = put_content(sim, parent, parts[-1], content, "replace")
    return item_view(sim, item)
