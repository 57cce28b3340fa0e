"""Cascades for the workload data that hangs off a user or a group.

Mail folders, messages' attachments, a OneDrive, events, calendars and contacts hang off a
user; conversations (threads, posts, their attachments), group events and channel messages
(through the group's team) hang off a group. All of it is keyed by the owner's id and read only
through a live owner, so a soft delete hides it and a restore brings it back with nothing to do;
a purge (the owner deleted for good) must drop it: that is what these two functions do, for the
lead's cascade module to call after the directory object itself is purged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crisiskit.sim import (
    calendars,
    channelmessages,
    contacts,
    conversations,
    drive,
    mailfolders,
    outlook,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator


def purge_user_data(sim: Simulator, user_id: str) -> None:
    """Drop a purged user's folders, attachments, OneDrive, calendars, events and contacts.

    (Its messages and authentication methods are dropped by `Simulator.purge` already.)
    """
    t = sim.tenant
    t.messages = {k: m for k, m in t.messages.items() if m.get("_userId") != user_id}
    mailfolders.purge_user_folders(sim, user_id)
    outlook.purge_owner(sim, user_id)
    drive.purge_user_drive(sim, user_id)
    calendars.purge_owner_calendars(sim, user_id)
    contacts.purge_user_contacts(sim, user_id)


def purge_group_data(sim: Simulator, group_id: str) -> None:
    """Drop a purged group's conversations, events and its team's channel messages.

    (Its team, channels, drive and items are in the deleted record's stash, which
    `groups.purge_group` drops with it.)
    """
    conversations.purge_group_conversations(sim, group_id)
    calendars.purge_owner_calendars(sim, group_id)
    channelmessages.purge_team_messages(sim, group_id)
