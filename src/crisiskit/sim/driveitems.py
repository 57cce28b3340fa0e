"""Drive items of the simulated SharePoint and OneDrive: folders, files, names, content, downloads.

Items are addressed as OneDrive does: `/drives/{d}/root`, `/drives/{d}/items/{id}`, optionally
followed by `:/relative/path:` and then `/children` or `/content`. A file's bytes live in the
content store (`blobs.py`) and the item keeps a reference (`_blob`); its `file.hashes` carries the
QuickXorHash of those bytes, the only hash SharePoint and OneDrive for Business report (hashes
resource: sha1/sha256/crc32 "are not available" there).

Names follow the rules Microsoft documents for OneDrive and SharePoint: the reserved characters
`" * : < > ? / \\ |`, no leading or trailing space, no `.` or `..`, a folder neither begins with
`..` nor ends with `.` (OneDrive API docs, misc/path-encoding.md); reserved names `.lock`, `CON`,
`PRN`, `AUX`, `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, `desktop.ini`, names starting with `~$`, names
containing `_vti_`, and a decoded path of at most 400 characters ("Restrictions and limitations
in OneDrive and SharePoint", Microsoft support, not in the Graph reference); at most 255
characters per name.

Every item carries an `eTag` (metadata and content) and a `cTag` (content), both changing with each
version. A write (`PUT .../content`, `PATCH`, `DELETE`) sent with `if-match` applies only when one
of the tags it names is the item's current eTag or cTag (or `*` and the item exists); otherwise
412 `resourceModified` and nothing changes (driveitem-update.md, driveitem-delete.md; the 412 and
`resourceModified` of the OneDrive API's error responses). `PUT .../content` takes
`@microsoft.graph.conflictBehavior` in the query string, default `replace` (driveItem resource:
"the default for PUT is replace"); with `fail` an existing name answers 409 `nameAlreadyExists`.

Downloads (`GET .../content` → 302 to a pre-authenticated URL with `Range` support) are served
by `downloads.py`.
"""

from __future__ import annotations

import json
import mimetypes
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from crisiskit.sim import blobs, odata
from crisiskit.sim.downloads import download_url, none_match
from crisiskit.sim.errors import SimError, item_not_found, segment_not_found
from crisiskit.sim.errors import invalid_request as invalid
from crisiskit.sim.errors import name_already_exists as name_clash
from crisiskit.sim.quickxor import quickxor_b64
from crisiskit.sim.router import (
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

DOWNLOAD_TTL_S = 300.0  # pre-authenticated download URLs are short-lived ("a few minutes")
NAME_FORBIDDEN = set('"*:<>?/\\|')
RESERVED_NAMES = (
    {".lock", "con", "prn", "aux", "nul", "desktop.ini"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)
MAX_NAME = 255
MAX_PATH = 400
CONFLICT = "@microsoft.graph.conflictBehavior"
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_ETAGS = re.compile(r'"[^"]*"|\*')


# ---------------------------------------------------------------- ids, names


def new_item_id(sim: Simulator) -> str:
    return "01" + "".join(sim.rng.choice(_B32) for _ in range(32))


def item_id_from(raw: bytes) -> str:
    return "01" + "".join(_B32[b % 32] for b in raw[:32])


def check_name(name: Any, *, folder: bool) -> str:
    """Return `name` if OneDrive and SharePoint accept it for an item, else raise the 400."""
    bad = (
        not isinstance(name, str)
        or not name.strip()
        or name != name.strip()
        or len(name) > MAX_NAME
        or name in (".", "..")
        or any(c in NAME_FORBIDDEN or ord(c) < 32 for c in name)
        or name.lower() in RESERVED_NAMES
        or name.startswith("~$")
        or "_vti_" in name.lower()
        or (folder and (name.startswith("..") or name.endswith(".")))
    )
    if bad:
        raise invalid(f"The provided name '{name}' is not valid for a drive item.")
    return str(name)


def check_path_length(path: str) -> None:
    if len(path) > MAX_PATH:
        raise invalid(f"The path is {len(path)} characters long; at most {MAX_PATH} are allowed.")


# ---------------------------------------------------------------- tree and views


Tree = dict[str, list[dict[str, Any]]]


def children(sim: Simulator, parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in sim.tenant.drive_items.values() if i.get("_parentId") == parent["id"]]


def tree_of(sim: Simulator, drive_id: str) -> Tree:
    """Index a drive's items by parent id, once per request (listings stay linear)."""
    tree: Tree = {}
    for i in sim.tenant.drive_items.values():
        if i.get("_driveId") == drive_id and i.get("_parentId"):
            tree.setdefault(i["_parentId"], []).append(i)
    return tree


def _size(tree: Tree, item: dict[str, Any]) -> int:
    if "file" in item:
        return blobs.size(item.get("_blob"))
    return sum(_size(tree, c) for c in tree.get(item["id"], []))


def content_size(item: dict[str, Any]) -> int:
    return blobs.size(item.get("_blob"))


def item_view(
    sim: Simulator, item: dict[str, Any], tree: Tree | None = None, req: SimRequest | None = None
) -> dict[str, Any]:
    """Return a driveItem as Graph sends it (files carry `@microsoft.graph.downloadUrl`)."""
    drive = sim.tenant.drives[item["_driveId"]]
    if tree is None:
        tree = tree_of(sim, drive["id"])
    view = strip_internal(item)
    version = int(item.get("_version", 1))
    view["size"] = _size(tree, item)
    view["eTag"] = f'"{{{item["id"]}}},{version}"'
    view["cTag"] = f'"c:{{{item["id"]}}},{version}"'
    if "file" in item and req is not None:
        view = {"@microsoft.graph.downloadUrl": download_url(sim, req, item), **view}
    if "file" not in item:
        view["folder"] = {"childCount": len(tree.get(item["id"], []))}
    drive_type = drive.get("driveType", "documentLibrary")
    if item["_parentId"] is None:
        view["parentReference"] = {"driveId": drive["id"], "driveType": drive_type}
        return view
    parent_path = item["_path"].rpartition("/")[0]
    view["parentReference"] = {
        "driveId": drive["id"],
        "driveType": drive_type,
        "id": item["_parentId"],
        "path": f"/drives/{drive['id']}/root:" + (f"/{parent_path}" if parent_path else ""),
    }
    view["webUrl"] = f"{drive['webUrl']}/{quote(item['_path'])}"
    return view


def tags_of(item: dict[str, Any]) -> set[str]:
    """Return the item's current eTag and cTag, as `item_view` shows them."""
    version = int(item.get("_version", 1))
    return {f'"{{{item["id"]}}},{version}"', f'"c:{{{item["id"]}}},{version}"'}


def check_if_match(req: SimRequest, item: dict[str, Any] | None) -> None:
    """Refuse a write whose `if-match` names none of the item's current tags (412)."""
    raw = req.headers.get("if-match")
    if raw is None:
        return
    sent = set(_ETAGS.findall(raw))
    if not sent:
        raise invalid("ETag header is malformed. ETags must be quoted strings.")
    if item is not None and ("*" in sent or sent & tags_of(item)):
        return
    raise SimError(412, "resourceModified", "ETag does not match the current item's value.")


def find_path(sim: Simulator, base: dict[str, Any], path: str) -> dict[str, Any] | None:
    """Return the item at `path` below `base`, or None when any part of it is missing."""
    item: dict[str, Any] | None = base
    for part in [p for p in path.split("/") if p]:
        item = find_child(sim, item, part) if item is not None else None
    return item


def find_child(sim: Simulator, parent: dict[str, Any], name: str) -> dict[str, Any] | None:
    lowered = name.lower()
    return next((c for c in children(sim, parent) if c["name"].lower() == lowered), None)


def walk(sim: Simulator, base: dict[str, Any], path: str) -> dict[str, Any]:
    item = base
    for part in [p for p in path.split("/") if p]:
        if part in (".", ".."):
            raise invalid("The provided path is not valid: '.' and '..' segments are refused.")
        child = find_child(sim, item, part)
        if child is None:
            raise item_not_found("The resource could not be found.")
        item = child
    return item


# ---------------------------------------------------------------- writes


def _free_name(sim: Simulator, parent: dict[str, Any], name: str, is_file: bool) -> str:
    stem, dot, ext = name.rpartition(".") if is_file and "." in name[1:] else (name, "", "")
    n = 1
    while True:
        candidate = f"{stem} {n}{dot}{ext}"
        if find_child(sim, parent, candidate) is None:
            return candidate
        n += 1


def remove_tree(sim: Simulator, item: dict[str, Any]) -> None:
    for child in children(sim, item):
        remove_tree(sim, child)
    sim.tenant.drive_items.pop(item["id"], None)


def conflict_behavior(req: SimRequest, body: dict[str, Any] | None, default: str) -> str:
    value = (body or {}).get(CONFLICT) or req.query.get(CONFLICT) or default
    if value not in ("fail", "replace", "rename"):
        raise invalid(f"Invalid value '{value}' for {CONFLICT}.")
    return str(value)


def _new_item(
    sim: Simulator, parent: dict[str, Any], name: str, extra: dict[str, Any]
) -> dict[str, Any]:
    stamp = sim.iso()
    path = f"{parent['_path']}/{name}" if parent["_path"] else name
    check_path_length(path)
    item: dict[str, Any] = {
        "id": new_item_id(sim),
        "name": name,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "createdBy": {"application": {"displayName": "crisiskit"}},
        **extra,
        "_driveId": parent["_driveId"],
        "_parentId": parent["id"],
        "_path": path,
    }
    for owner in ("_groupId", "_userId"):
        if parent.get(owner):
            item[owner] = parent[owner]
    sim.tenant.drive_items[item["id"]] = item
    return item


def create_folder(
    sim: Simulator, parent: dict[str, Any], name: str, behavior: str
) -> dict[str, Any]:
    """Create a folder under `parent` honouring the conflict behaviour (fail|rename|replace)."""
    check_name(name, folder=True)
    if "file" in parent:
        raise invalid("Cannot create an item under a file.")
    existing = find_child(sim, parent, name)
    if existing is not None:
        if behavior == "fail":
            raise name_clash(name)
        if behavior == "rename":
            name = _free_name(sim, parent, name, is_file=False)
        else:
            remove_tree(sim, existing)
    return _new_item(sim, parent, name, {"folder": {"childCount": 0}})


def folder_chain(sim: Simulator, base: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """Walk `parts` from `base`, creating the missing folders (path-based uploads do this)."""
    item = base
    for part in parts:
        child = find_child(sim, item, check_name(part, folder=True))
        if child is None:
            child = create_folder(sim, item, part, "fail")
        elif "file" in child:
            raise SimError(409, "nameAlreadyExists", f"A file named '{part}' is in the way.")
        item = child
    return item


def file_facet(name: str, ref: blobs.Ref, data: bytes | None, sim: Simulator) -> dict[str, Any]:
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    content = data if data is not None else blobs.read(sim, ref)
    return {"mimeType": mime, "hashes": {"quickXorHash": quickxor_b64(content)}}


def put_content(
    sim: Simulator,
    parent: dict[str, Any],
    name: str,
    data: bytes | None,
    behavior: str,
    ref: blobs.Ref | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a file under `parent` (bytes, or an existing content reference); (item, created)."""
    name = check_name(name, folder=False)
    if "file" in parent:
        raise invalid("Cannot create an item under a file.")
    if ref is None:
        ref = blobs.put(sim, data or b"")
    facet = file_facet(name, ref, data, sim)
    existing = find_child(sim, parent, name)
    if existing is not None:
        if behavior == "fail" or ("file" not in existing and behavior == "replace"):
            raise name_clash(name)
        if behavior == "replace":
            existing.update(
                file=facet,
                _blob=ref,
                _version=int(existing.get("_version", 1)) + 1,
                lastModifiedDateTime=sim.iso(),
            )
            return existing, False
        name = _free_name(sim, parent, name, is_file=True)
    item = _new_item(sim, parent, name, {"file": facet, "_blob": ref, "_version": 1})
    return item, True


def raw_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


# ---------------------------------------------------------------- addressing and handlers


def parse_rest(rest: str) -> tuple[str | None, str, str]:
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
        raise segment_not_found(rest)
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
        raise segment_not_found(tail)
    return item_id, path, tail


def serve_item(sim: Simulator, req: SimRequest, drive: dict[str, Any], rest: str) -> SimResponse:
    """Serve every driveItem address form of a ready drive: item, `children`, `content`."""
    item_id, path, tail = parse_rest(rest)
    if item_id is None or item_id.lower() == "root":
        base = sim.tenant.drive_items[drive["_rootId"]]
    else:
        found = sim.tenant.drive_items.get(item_id)
        if found is None or found["_driveId"] != drive["id"]:
            raise item_not_found()
        base = found
    method = req.method.upper()
    ctx = f"{req.base_url}/$metadata#drives('{drive['id']}')/items/$entity"
    if tail == "content" and method == "PUT":
        if not path:
            if "file" not in base:
                raise invalid("Content can only be uploaded to a file.")
            check_if_match(req, base)
            parent = sim.tenant.drive_items[base["_parentId"]]
            item, created = put_content(sim, parent, base["name"], raw_bytes(req.body), "replace")
        else:
            *folders, name = path.split("/")
            if any(p in (".", "..") for p in path.split("/")):
                raise invalid("The provided path is not valid: '.' and '..' segments are refused.")
            check_if_match(req, find_path(sim, base, path))
            parent = folder_chain(sim, base, folders)
            behavior = conflict_behavior(req, None, "replace")
            item, created = put_content(sim, parent, name, raw_bytes(req.body), behavior)
        return json_response(
            201 if created else 200, {"@odata.context": ctx, **item_view(sim, item)}
        )
    target = walk(sim, base, path)
    if tail == "children":
        if method == "GET":
            return _list_children(sim, req, drive, target)
        if method == "POST":
            return _post_child(sim, req, drive, target)
    elif tail == "content":
        if method == "GET":
            return _redirect_download(sim, req, target)
    elif method == "GET":
        view = odata.apply_select(item_view(sim, target, req=req), req.query.get("$select"))
        return json_response(200, {"@odata.context": ctx, **view})
    elif method == "DELETE":
        if target["_parentId"] is None:
            raise SimError(403, "accessDenied", "The root folder cannot be deleted.")
        check_if_match(req, target)
        remove_tree(sim, target)
        return no_content()
    elif method == "PATCH":
        check_if_match(req, target)
        return _patch_item(sim, req, target)
    raise SimError(405, "invalidRequest", f"The HTTP method '{method}' is not allowed here.")


def _list_children(
    sim: Simulator, req: SimRequest, drive: dict[str, Any], folder: dict[str, Any]
) -> SimResponse:
    if "file" in folder:
        return odata.page(sim, req, [], entity_set=f"drives('{drive['id']}')/items")
    tree = tree_of(sim, drive["id"])
    kids = sorted(tree.get(folder["id"], []), key=lambda i: str(i["name"]).lower())
    items = [item_view(sim, c, tree, req) for c in kids]
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
    if "folder" not in body:
        raise invalid("Only folders can be created with POST; upload files with PUT .../content.")
    name = check_name(body.get("name"), folder=True)
    behavior = conflict_behavior(req, body, "fail")
    item = create_folder(sim, parent, name, behavior)
    ctx = f"{req.base_url}/$metadata#drives('{drive['id']}')/items/$entity"
    return json_response(201, {"@odata.context": ctx, **item_view(sim, item)})


def _patch_item(sim: Simulator, req: SimRequest, item: dict[str, Any]) -> SimResponse:
    body = req.body if isinstance(req.body, dict) else {}
    if item["_parentId"] is None:
        raise SimError(403, "accessDenied", "The root folder cannot be changed.")
    if "name" in body and body["name"] != item["name"]:
        name = check_name(body["name"], folder="file" not in item)
        parent = sim.tenant.drive_items[item["_parentId"]]
        clash = find_child(sim, parent, name)
        if clash is not None and clash["id"] != item["id"]:
            raise name_clash(name)
        old_prefix = item["_path"]
        new_path = f"{parent['_path']}/{name}" if parent["_path"] else name
        check_path_length(new_path)
        for other in sim.tenant.drive_items.values():
            if other.get("_driveId") == item["_driveId"] and other["_path"].startswith(
                old_prefix + "/"
            ):
                other["_path"] = new_path + other["_path"][len(old_prefix) :]
        item.update(name=name, _path=new_path, lastModifiedDateTime=sim.iso())
    return json_response(200, item_view(sim, item))


def _redirect_download(sim: Simulator, req: SimRequest, item: dict[str, Any]) -> SimResponse:
    if "file" not in item:
        raise item_not_found("The item is a folder; it has no content.")
    view = item_view(sim, item)
    if none_match(req, {view["eTag"], view["cTag"]}):
        return SimResponse(status=304)
    return SimResponse(status=302, headers={"Location": download_url(sim, req, item)})
