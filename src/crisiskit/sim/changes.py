"""The change feed of users and groups, read by delta queries (user-delta, group-delta).

Every change to a user or a group takes the next sequence number; a delta token is a position
in that sequence. Objects are remembered by their last change (a delta round returns an object's
current state once, however often it changed); membership changes are kept in order, so that a
group's `members@delta` can say who was added and who was removed. This module imports no
family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

# Membership changes kept for members@delta; beyond this, the oldest quarter is forgotten so a
# weeks-long exercise does not grow memory without bound (a delta round older than what is
# kept then misses those membership changes, not the groups' own changes).
MEMBER_LOG_MAX = 100_000


def note(sim: Simulator, kind: str, obj_id: str) -> int:
    """Record a change to a user or group; return its sequence number."""
    t = sim.tenant
    t.change_seq += 1
    t.changes[obj_id] = {"seq": t.change_seq, "kind": kind}
    return t.change_seq


def note_membership(
    sim: Simulator, group_id: str, rel: str, member_id: str, *, removed: bool
) -> None:
    """Record that `member_id` joined or left a group's members (or owners)."""
    seq = note(sim, "group", group_id)
    log = sim.tenant.member_changes
    log.append([seq, group_id, rel, member_id, removed])
    if len(log) > MEMBER_LOG_MAX:
        del log[: MEMBER_LOG_MAX // 4]
