"""The crisis Microsoft 365 group: lookup by mailNickname, create payload, member binds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crisiskit.resources.base import Req, q

MAX_BINDS = 20  # owner+member links in one create or one PATCH (GRAPH.md)
GROUP_FIELDS = "id,displayName,mailNickname,visibility,assignedLicenses,createdDateTime"


def bind_url(graph_root: str, object_id: str) -> str:
    return f"{graph_root}/directoryObjects/{object_id}"


def find_by_nickname(rid: str, nickname: str, tag: str) -> Req:
    return Req(
        rid,
        "GET",
        f"/groups?$filter=mailNickname%20eq%20'{q(nickname)}'&$select={GROUP_FIELDS},{tag}",
    )


def list_members(rid: str, group_id: str) -> Req:
    return Req(rid, "GET", f"/groups/{group_id}/members?$select=id&$top=999")


def list_owners(rid: str, group_id: str) -> Req:
    return Req(rid, "GET", f"/groups/{group_id}/owners?$select=id&$top=999")


def create_group(
    rid: str,
    *,
    nickname: str,
    display_name: str,
    description: str,
    tag: str,
    commune_id: str,
    owner_urls: Sequence[str],
    member_urls: Sequence[str],
) -> Req:
    """Build the POST /groups request: private, Unified, tagged, with ≤ 20 links in total."""
    assert len(owner_urls) + len(member_urls) <= MAX_BINDS
    body: dict[str, Any] = {
        "displayName": display_name,
        "description": description,
        "mailEnabled": True,
        "mailNickname": nickname,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
        "visibility": "Private",
        tag: commune_id,
    }
    if owner_urls:
        body["owners@odata.bind"] = list(owner_urls)
    if member_urls:
        body["members@odata.bind"] = list(member_urls)
    return Req(rid, "POST", "/groups", body, {"Content-Type": "application/json"})


def add_members(rid: str, group_id: str, member_urls: Sequence[str]) -> Req:
    """Build a PATCH adding ≤ 20 members at once (all-or-nothing on the service side)."""
    assert len(member_urls) <= MAX_BINDS
    return Req(
        rid,
        "PATCH",
        f"/groups/{group_id}",
        {"members@odata.bind": list(member_urls)},
        {"Content-Type": "application/json"},
    )


def add_owner(rid: str, group_id: str, url: str) -> Req:
    return Req(
        rid,
        "POST",
        f"/groups/{group_id}/owners/$ref",
        {"@odata.id": url},
        {"Content-Type": "application/json"},
    )


def assign_licence(rid: str, group_id: str, sku_id: str) -> Req:
    body = {"addLicenses": [{"skuId": sku_id, "disabledPlans": []}], "removeLicenses": []}
    return Req(
        rid, "POST", f"/groups/{group_id}/assignLicense", body, {"Content-Type": "application/json"}
    )


def is_duplicate(code: str, message: str) -> bool:
    return code == "Request_BadRequest" and "already exists" in message
