"""Delta queries for users and groups: `/users/delta`, `/groups/delta` (user-delta, group-delta).

A round starts without a token: every current object, paged with `@odata.nextLink`
(`$skiptoken`), the last page carrying `@odata.deltaLink` (`$deltatoken`). The deltaLink's
round returns the objects changed since, in their current state (the selected properties, or
the default ones), a soft-deleted one as `{"id", "@removed": {"reason": "changed"}}` (it can
be restored), a purged one with reason `deleted`; a group's `members@delta` lists the members
added and, with `@removed`, those removed (delta-query-overview). Query parameters are given
once, in the first request, and carried in the tokens (`$select`, `$filter=id eq ...` for at
most 50 ids). Tokens are opaque: base64 of the round's position in the change feed (`changes`).

Choices where the pages are silent: pages hold 100 objects unless `Prefer:
odata.maxpagesize=N` asks for fewer; `Prefer: return=minimal` is accepted and the full selected
properties are returned (allowed by the page: "the header only affects the set of properties
included"); delta reads the directory's current state, not a lagging replica.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crisiskit.sim import odata
from crisiskit.sim.errors import SimError, bad_request
from crisiskit.sim.objects import GROUP_DEFAULTS, USER_DEFAULTS
from crisiskit.sim.permissions import GROUP_READ, USER_READ
from crisiskit.sim.router import Router, SimRequest, SimResponse, json_response, strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

PAGE = 100
MAX_IDS = 50
KINDS = {"users": "user", "groups": "group"}
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/users/delta"): USER_READ,
    ("GET", "/groups/delta"): GROUP_READ,
}
_ID_CLAUSE = re.compile(r"^\s*id\s+eq\s+'([0-9A-Za-z-]+)'\s*$", re.IGNORECASE)


def register(router: Router) -> None:
    """Register the delta routes on `router` (before `/users/{id}` and `/groups/{id}`)."""
    router.route("GET", "/users/delta")(lambda sim, req: delta(sim, req, "users"))
    router.route("GET", "/groups/delta")(lambda sim, req: delta(sim, req, "groups"))


# ---------------------------------------------------------------- tokens


def _encode(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, collection: str, sim: Simulator) -> dict[str, Any]:
    """Read a `$skiptoken` / `$deltatoken`; 400 when it is not one of this collection's."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        valid = (
            isinstance(state, dict)
            and state.get("c") == collection
            and all(isinstance(state.get(k), int) and state[k] >= 0 for k in ("s", "u", "o"))
            and state["s"] <= state["u"] <= sim.tenant.change_seq
            and isinstance(state.get("init"), bool)
            and (state.get("sel") is None or isinstance(state["sel"], str))
            and (state.get("ids") is None or isinstance(state["ids"], list))
        )
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        valid = False
    if not valid:
        raise bad_request("Badly formed delta token.")
    return dict(state)


def _ids_filter(req: SimRequest) -> list[str] | None:
    raw = req.query.get("$filter")
    if raw is None:
        return None
    ids: list[str] = []
    for part in re.split(r"\s+or\s+", raw.strip(), flags=re.IGNORECASE):
        m = _ID_CLAUSE.match(part)
        if m is None:
            raise SimError(
                400,
                "Request_UnsupportedQuery",
                "Delta queries support only $filter=id eq '{id}' (or several, joined by or).",
            )
        ids.append(m.group(1).lower())
    if len(ids) > MAX_IDS:
        raise bad_request(f"A delta query can track at most {MAX_IDS} objects by id.")
    return ids


def _page_size(req: SimRequest) -> int:
    m = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", req.headers.get("prefer", ""))
    return max(1, min(PAGE, int(m.group(1)))) if m else PAGE


# ---------------------------------------------------------------- views


def _view(obj: dict[str, Any], collection: str, select: list[str] | None) -> dict[str, Any]:
    defaults = USER_DEFAULTS if collection == "users" else GROUP_DEFAULTS
    names = [s for s in select if s.lower() not in ("members", "owners")] if select else None
    public = strip_internal(obj)
    view = odata.apply_select(public, names or None, defaults)
    view["id"] = obj["id"]  # always returned
    # "If the property has never been set before it will not be included in the response."
    return {k: v for k, v in view.items() if v is not None or (select and k in select)}


def _links_wanted(collection: str, select: list[str] | None) -> list[str]:
    if collection != "groups":
        return []
    if not select:
        return ["members"]
    return [r for r in ("members", "owners") if r in {s.lower() for s in select}]


def _member_entry(sim: Simulator, member_id: str, removed: bool) -> dict[str, Any]:
    kind = "group" if member_id in sim.tenant.groups else "user"
    entry: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{kind}", "id": member_id}
    if removed:
        entry["@removed"] = {"reason": "deleted"}
    return entry


def _link_changes(
    sim: Simulator, group_id: str, rel: str, since: int, until: int
) -> list[dict[str, Any]]:
    latest: dict[str, bool] = {}
    for seq, gid, r, member, removed in sim.tenant.member_changes:
        if since < seq <= until and gid == group_id and r == rel:
            latest[member] = bool(removed)
    return [_member_entry(sim, m, removed) for m, removed in latest.items()]


def _item(
    sim: Simulator, collection: str, obj_id: str, state: dict[str, Any], initial: bool
) -> dict[str, Any]:
    select = odata.selected_from(state.get("sel"))
    live = getattr(sim.tenant, collection).get(obj_id)
    if live is None:
        reason = "changed" if obj_id in sim.tenant.deleted else "deleted"
        return {"id": obj_id, "@removed": {"reason": reason}}
    item = _view(live, collection, select)
    for rel in _links_wanted(collection, select):
        if initial:
            entries = [_member_entry(sim, m, False) for m in live.get(f"_{rel}", [])]
        else:
            entries = _link_changes(sim, obj_id, rel, state["s"], state["u"])
        if entries:
            item[f"{rel}@delta"] = entries
    return item


def _ids(sim: Simulator, collection: str, state: dict[str, Any]) -> list[str]:
    kind = KINDS[collection]
    wanted = {i.lower() for i in state["ids"]} if state.get("ids") is not None else None
    if state["init"]:  # the first round: everything that exists
        ids = sorted(getattr(sim.tenant, collection))
    else:
        changed = [
            (c["seq"], obj_id)
            for obj_id, c in sim.tenant.changes.items()
            if c.get("kind") == kind and state["s"] < c["seq"] <= state["u"]
        ]
        ids = [obj_id for _, obj_id in sorted(changed)]
    return [i for i in ids if wanted is None or i.lower() in wanted]


# ---------------------------------------------------------------- handler


def delta(sim: Simulator, req: SimRequest, collection: str) -> SimResponse:
    """Serve one page of a delta round for users or groups."""
    skip, token = req.query.get("$skiptoken"), req.query.get("$deltatoken")
    if skip is not None:
        state = _decode(skip, collection, sim)
    elif token is not None:
        # A new round: what changed between the end of the previous one and now.
        state = {**_decode(token, collection, sim), "u": sim.tenant.change_seq, "o": 0}
        state["init"] = False
    else:
        state = {
            "c": collection,
            "init": True,
            "s": 0,
            "u": sim.tenant.change_seq,
            "o": 0,
            "sel": req.query.get("$select"),
            "ids": _ids_filter(req),
        }
    ids = _ids(sim, collection, state)
    size, offset = _page_size(req), state["o"]
    items = [
        _item(sim, collection, i, state, state["init"]) for i in ids[offset : offset + size]
    ]
    base = f"{req.base_url}/{collection}/delta"
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/$metadata#{collection}"}
    if offset + size < len(ids):
        nxt = {**state, "o": offset + size}
        body["@odata.nextLink"] = f"{base}?$skiptoken={quote(_encode(nxt))}"
    else:
        done = {**state, "s": state["u"], "o": 0, "init": False}
        body["@odata.deltaLink"] = f"{base}?$deltatoken={quote(_encode(done))}"
    body["value"] = items
    return json_response(200, body)
