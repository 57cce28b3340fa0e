"""The group's SharePoint drive, and its top-level folders.

Drive (kind `drive`, natural key its name "Documents"):
    read:    of_group (GET /groups/{id}/drive)
    wait:    nothing can create it: SharePoint provisions it in the background after the
             group. Waited for (404 until ready; only that answer is worth waiting for) until
             it is `ready`, or past its bound (`crisiskit.resources.waiting`: undocumented,
             60 min after the group) `pending`.

Folder (kind `folder`, natural key its name, case-insensitive):
    read:    root_children (folders only)
    create:  POST /drives/{id}/root/children with conflictBehavior "fail" (409 on a clash,
             never a renamed copy); found again among the root's children
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Create, Found, Resource, Session, get, ident, post
from crisiskit.resources.waiting import SITE, SITE_BOUND_S, Waiter, note, parse_time

DRIVE = "drive"
FOLDER = "folder"
PHASE = "sharepoint"
SITE_WAIT = "for SharePoint to provision the group's site"  # told to the operator meanwhile


@dataclass(frozen=True)
class DriveWait:
    """Wait for the drive of `group`, created `since` (ISO; None: now), up to `bound_s`."""

    group: Id
    bound_s: float = SITE_BOUND_S  # 0: look once (activate --no-wait)
    since: Id | None = None


@dataclass(frozen=True)
class FolderCreate:
    drive: Id
    name: str


def of_group(group_id: str) -> Request:
    return get(f"/groups/{group_id}/drive?$select=id,webUrl,name")


def root_children(drive_id: str) -> Request:
    return get(f"/drives/{drive_id}/root/children?$select=id,name,folder&$top=999")


async def wait(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        await _wait_one(session, s)


async def _wait_one(session: Session, step: Step) -> None:
    p: DriveWait = step.payload
    gid = ident(p.group)
    waiter = Waiter(session, SITE, p.bound_s, parse_time(ident(p.since)) if p.since else None)
    while True:
        a = (await session.send({"drive": of_group(gid)}))["drive"]
        if a.status == 200 and a.json().get("id"):
            values = {"id": str(a.json()["id"])}
            if a.json().get("webUrl"):
                values["webUrl"] = str(a.json()["webUrl"])
            session.done(step, values=values, request_id=a.request_id, status="ready")
            return
        # Only "not provisioned yet" (404) is worth waiting for: the Graph door has already
        # retried no-answers and 5xx on this GET.
        if a.status != 404:
            session.failed(step, a)
            return
        if waiter.remaining() <= 0:
            why = f"the group's SharePoint site is still provisioning ({waiter.progress()})"
            session.pending(step, why)
            return
        note(session, DRIVE, step.key, PHASE, f"{SITE_WAIT} (up to {waiter.bound()})")
        await waiter.pause(a)


def create_folder_request(p: FolderCreate) -> Request:
    """Build a folder create that fails on a clash (409 nameAlreadyExists) rather than renaming."""
    body = {"name": p.name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}
    return post(f"/drives/{ident(p.drive)}/root/children", body)


def folder_named(answer: GraphResponse, p: FolderCreate) -> Found | None:
    for f in answer.values():
        if str(f.get("name", "")).lower() == p.name.lower() and "folder" in f:
            return Found(str(f.get("id")))
    return None


DRIVE_RESOURCE = Resource(DRIVE, {"wait": wait})
FOLDER_RESOURCE = Resource(
    FOLDER,
    {
        "create": Create(
            request=create_folder_request,
            lookup=lambda p: root_children(ident(p.drive)),
            found=folder_named,
            duplicate=lambda a: a.status == 409,
        )
    },
)
