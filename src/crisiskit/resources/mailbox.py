"""Mailbox readiness probe."""

from __future__ import annotations

from crisiskit.resources.base import Req

NOT_READY = "MailboxNotEnabledForRESTAPI"


def probe(rid: str, user_id: str) -> Req:
    """Read mailboxSettings: 404 MailboxNotEnabledForRESTAPI until Exchange has provisioned it."""
    return Req(rid, "GET", f"/users/{user_id}/mailboxSettings")
