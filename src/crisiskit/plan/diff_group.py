"""The group half of the activation's diff: the group, its members, its Team, its SharePoint.

A new kit's group is created with its Team by one `POST /teams` (the owners and the first
members and the channels in the same body), then tagged and named; a group that exists (a
kit made by `POST /groups` before) is kept, and gets its Team from the group if it has none.
Waits are steps of their own (action `wait`): the Team's operation, the group's site; what
needs them (folders, the channels) comes after.

    group ──┬─> memberships        bound in the create (≤ 20), the rest by PATCH of ≤ 20
            ├─> team wait ──> channels (checked; created if missing)
            └─> drive wait ──> folders
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from crisiskit.plan.builder import StepBuilder
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.model import Id, Ref
from crisiskit.plan.observe import Observed
from crisiskit.resources.channels import ChannelCreate, ChannelInCreate
from crisiskit.resources.drives import DriveWait, FolderCreate
from crisiskit.resources.groups import MAX_BINDS, GroupCreate
from crisiskit.resources.memberships import MembershipAdd
from crisiskit.resources.teamcreate import MAX_MEMBERS, GroupAdopt, TeamGroupCreate
from crisiskit.resources.teams import TeamCreate, TeamWait

TeamPath = Literal["scratch", "group"]
DRIVE_KEY = "Documents"
UserId = Callable[..., Id]  # uid(upn, optional=False): the id, or a Ref to its create


@dataclass(frozen=True)
class Bounds:
    """The bounds of this plan's waits (seconds; 0 when the run does not wait)."""

    mailbox_s: float
    team_s: float
    drive_s: float


@dataclass
class GroupPlan:
    """How the plan gets the group: its id (or a Ref), and what its create binds."""

    gid: Id
    step_id: str
    scratch: bool = False  # created with its Team by POST /teams in this plan
    created: Id | None = None  # its createdDateTime (or a Ref to it)
    owners_bound: set[str] = field(default_factory=set)
    members_bound: set[str] = field(default_factory=set)


def group(
    b: StepBuilder,
    kit: DesiredKit,
    observed: Observed,
    conflicted: set[str],
    uid: UserId,
    team_path: TeamPath,
) -> GroupPlan | None:
    """Add the group's step; return how the rest reaches it (None: it is not ours)."""
    g = kit.group
    assert g is not None
    key = g.mail_nickname
    found = observed.group
    if found is None and observed.lookalikes:
        b.add("group", "conflict", key, detail="; ".join(observed.lookalikes))
        return None
    if found is None:
        owners = [u for u in g.owners if u not in conflicted]
        rest = [u for u in g.members if u not in conflicted and u not in owners]
        if kit.team is not None and team_path == "scratch":
            bound_owners = owners[:MAX_MEMBERS]
            bound_members = rest[: MAX_MEMBERS - len(bound_owners)]
            payload: GroupCreate | TeamGroupCreate = TeamGroupCreate(
                nickname=key,
                display_name=g.display_name,
                description=g.description,
                tag=kit.tag,
                commune=kit.commune_id,
                graph_root=kit.graph_root,
                owners=tuple(uid(u, optional=True) for u in bound_owners),
                members=tuple(uid(u, optional=True) for u in bound_members),
                channels=tuple((c.name, c.description) for c in kit.team.channels),
            )
            detail = f"{g.display_name}, with its Team (POST /teams)"
        else:
            bound_owners = owners[:MAX_BINDS]
            room = MAX_BINDS - len(bound_owners)
            bound_members = [u for u in g.members if u not in conflicted][:room]
            payload = GroupCreate(
                nickname=key,
                display_name=g.display_name,
                description=g.description,
                tag=kit.tag,
                commune=kit.commune_id,
                graph_root=kit.graph_root,
                owners=tuple(uid(u, optional=True) for u in bound_owners),
                members=tuple(uid(u, optional=True) for u in bound_members),
            )
            detail = g.display_name
        s = b.add("group", "create", key, payload, detail=detail)
        # An owner given the owner role in the Team's create is a member as well.
        members_bound = set(bound_members) | (
            set(bound_owners) if isinstance(payload, TeamGroupCreate) else set()
        )
        return GroupPlan(
            Ref(s.id), s.id, scratch=isinstance(payload, TeamGroupCreate),
            created=Ref(s.id, "createdDateTime", optional=True),
            owners_bound=set(bound_owners), members_bound=members_bound,
        )
    if found.tag not in (None, kit.commune_id) or (found.tag is None and not found.adopt):
        owner = f"tagged for {found.tag!r}" if found.tag else "not created by crisiskit"
        b.add("group", "conflict", key, detail=f"a group exists, {owner}", graph_id=found.id)
        return None
    if found.adopt:
        s = b.add(
            "group", "update", key,
            GroupAdopt(found.id, key, kit.tag, kit.commune_id, found.adopt),
            detail=f"adopt {found.display_name!r} ({found.adopt}): tag it, set its nickname",
            graph_id=found.id,
        )
        return GroupPlan(Ref(s.id), s.id, created=found.created)
    s = b.add("group", "present", key, detail=g.display_name, graph_id=found.id)
    return GroupPlan(found.id, s.id, created=found.created)


def memberships(
    b: StepBuilder,
    kit: DesiredKit,
    observed: Observed,
    conflicted: set[str],
    ours: dict[str, str],
    gp: GroupPlan,
) -> None:
    """Add one step per owner and member: bound in the create, present, or added."""
    g = kit.group
    assert g is not None
    found = observed.group if observed.group is not None and not gp.scratch else None
    current = {"owner": found.owners, "member": found.members} if found else {}
    bound = {"owner": gp.owners_bound, "member": gp.members_bound}
    for role, upns in (("owner", g.owners), ("member", g.members)):
        for upn in upns:
            if upn in conflicted:
                continue
            key = f"{role}:{upn}"
            existing = ours.get(upn)
            if existing is not None and existing in current.get(role, set()):
                b.add("membership", "present", key)
                continue
            member: Id = existing if existing is not None else Ref(f"user:{upn}")
            payload = MembershipAdd(
                group=gp.gid,
                member=member,
                role="owner" if role == "owner" else "member",
                graph_root=kit.graph_root,
                in_group_create=upn in bound[role],
            )
            b.add("membership", "create", key, payload)


def team(
    b: StepBuilder, kit: DesiredKit, observed: Observed, gp: GroupPlan, bounds: Bounds
) -> None:
    """Add the Team's step (present, wait for it, or create it from the group), and channels."""
    t = kit.team
    assert t is not None
    found = observed.group if not gp.scratch else None
    team_id: Id
    with_team = False  # the channels were sent in the Team's create
    if observed.team_id is not None:
        b.add("team", "present", t.display_name, graph_id=observed.team_id)
        team_id = observed.team_id
    elif gp.scratch or (found is not None and ("Team" in found.provisioning or found.adopt)):
        # Created with the group (this plan, or an earlier run): wait for its operation.
        operation = Ref(gp.step_id, "operation", optional=True) if gp.scratch else None
        s = b.add(
            "team", "wait", t.display_name,
            TeamWait(gp.gid, operation, bounds.team_s, gp.created),
            detail="wait for the Team's provisioning",
        )
        team_id, with_team = Ref(s.id), True
    else:
        payload = TeamCreate(gp.gid, kit.graph_root, bounds.team_s, gp.created)
        s = b.add("team", "create", t.display_name, payload, detail="from the group")
        team_id = Ref(s.id)
    for ch in t.channels:
        cid = observed.channels.get(ch.name.lower())
        if cid is not None:
            b.add("channel", "present", ch.name, graph_id=cid)
        elif with_team:
            b.add("channel", "create", ch.name, ChannelInCreate(team_id, ch.name, ch.description),
                  detail="sent with the Team's create")
        else:
            b.add("channel", "create", ch.name, ChannelCreate(team_id, ch.name, ch.description))


def sharepoint(
    b: StepBuilder, kit: DesiredKit, observed: Observed, gp: GroupPlan, bounds: Bounds
) -> None:
    """Add the wait for the group's drive (unless observed) and its folders."""
    drive_id: Id
    if observed.drive_id is not None:
        b.add("drive", "present", DRIVE_KEY, graph_id=observed.drive_id)
        drive_id = observed.drive_id
    else:
        s = b.add(
            "drive", "wait", DRIVE_KEY, DriveWait(gp.gid, bounds.drive_s, gp.created),
            detail="wait for the group's site",
        )
        drive_id = Ref(s.id)
    for name in kit.folders:
        fid = observed.folders.get(name.lower())
        if fid is not None:
            b.add("folder", "present", name, graph_id=fid)
        else:
            b.add("folder", "create", name, FolderCreate(drive_id, name))
