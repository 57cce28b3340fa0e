"""The group's SharePoint drive and its folders."""

from __future__ import annotations

from crisiskit.resources.base import Req


def get_group_drive(rid: str, group_id: str) -> Req:
    return Req(rid, "GET", f"/groups/{group_id}/drive?$select=id,webUrl,name")


def list_root_children(rid: str, drive_id: str) -> Req:
    return Req(rid, "GET", f"/drives/{drive_id}/root/children?$select=id,name,folder&$top=999")


def create_folder(rid: str, drive_id: str, name: str) -> Req:
    """Build a folder create that fails on a clash (409 nameAlreadyExists) rather than renaming."""
    body = {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}
    return Req(
        rid, "POST", f"/drives/{drive_id}/root/children", body, {"Content-Type": "application/json"}
    )
