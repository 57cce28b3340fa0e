"""Onboarding credentials: Temporary Access Passes and the MFA mobile phone method."""

from __future__ import annotations

from crisiskit.resources.base import Req


def list_taps(rid: str, user_id: str) -> Req:
    return Req(rid, "GET", f"/users/{user_id}/authentication/temporaryAccessPassMethods")


def create_tap(rid: str, user_id: str, lifetime_minutes: int, usable_once: bool) -> Req:
    """Build a TAP create; a new pass replaces the user's previous one, so it never duplicates."""
    body = {"lifetimeInMinutes": lifetime_minutes, "isUsableOnce": usable_once}
    return Req(
        rid,
        "POST",
        f"/users/{user_id}/authentication/temporaryAccessPassMethods",
        body,
        {"Content-Type": "application/json"},
    )


def list_phones(rid: str, user_id: str) -> Req:
    return Req(rid, "GET", f"/users/{user_id}/authentication/phoneMethods")


def create_phone(rid: str, user_id: str, number: str) -> Req:
    body = {"phoneNumber": number, "phoneType": "mobile"}
    return Req(
        rid,
        "POST",
        f"/users/{user_id}/authentication/phoneMethods",
        body,
        {"Content-Type": "application/json"},
    )


def update_phone(rid: str, user_id: str, method_id: str, number: str) -> Req:
    body = {"phoneNumber": number, "phoneType": "mobile"}
    return Req(
        rid,
        "PATCH",
        f"/users/{user_id}/authentication/phoneMethods/{method_id}",
        body,
        {"Content-Type": "application/json"},
    )
