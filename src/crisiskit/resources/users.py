"""User accounts: natural key the UPN; ours when the directory extension tag names the commune.

    read:    by_upn, by_id, tagged (the commune's tag, plain `eq`), parse → ObservedUser
    create:  POST /users, enabled, tagged, usageLocation set; found again by UPN
    update:  PATCH /users/{id} (repeatable)
    disable: PATCH accountEnabled=false, confirmed by consecutive reads saying so
    revoke:  POST /users/{id}/revokeSignInSessions (repeating it revokes nothing more)
    delete:  DELETE /users/{id} (soft delete), confirmed by consecutive 404s
    purge:   DELETE /directory/deletedItems/{id} once listed there (`recycle`), permanent
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id
from crisiskit.resources import recycle
from crisiskit.resources.base import (
    Confirm,
    Create,
    Found,
    Resource,
    Write,
    delete,
    get,
    gone,
    ident,
    is_duplicate_in_directory,
    patch,
    post,
    q,
    seg,
)
from crisiskit.secrets import Secret

KIND = "user"
FIELDS = "id,userPrincipalName,displayName,usageLocation,assignedLicenses,accountEnabled"

_ALPHABET = string.ascii_letters + string.digits + "!#%*+-=?@^_"


@dataclass
class ObservedUser:
    id: str
    upn: str
    display_name: str
    usage_location: str | None
    account_enabled: bool
    sku_ids: set[str]
    tag: str | None


def parse(body: Mapping[str, Any], tag: str) -> ObservedUser:
    """Return the user an answer describes, as the diff needs it."""
    return ObservedUser(
        id=str(body.get("id")),
        upn=str(body.get("userPrincipalName") or "").lower(),
        display_name=str(body.get("displayName") or ""),
        usage_location=body.get("usageLocation"),
        account_enabled=bool(body.get("accountEnabled", True)),
        sku_ids={str(x.get("skuId")) for x in body.get("assignedLicenses") or [] if x},
        tag=body.get(tag),
    )


def by_upn(upn: str, tag: str) -> Request:
    """Read one user by UPN (its natural key), with the properties the diff needs."""
    return get(f"/users/{seg(upn)}?$select={FIELDS},{tag}")


def by_id(user_id: str, tag: str) -> Request:
    return get(f"/users/{user_id}?$select={FIELDS},{tag}")


def tagged(tag: str, commune: str) -> Request:
    """List the users carrying this commune's tag (a directory extension: plain `eq` works)."""
    return get(f"/users?$filter={tag}%20eq%20'{q(commune)}'&$select={FIELDS},{tag}&$top=999")


def new_password() -> Secret:
    """Generate a strong random password; nobody ever sees it (onboarding is by TAP)."""
    while True:
        value = "".join(secrets.choice(_ALPHABET) for _ in range(24))
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
            and any(not c.isalnum() for c in value)
        ):
            return Secret(value)


@dataclass(frozen=True)
class UserCreate:
    """Everything `POST /users` sends, but the password (generated at each send, never kept)."""

    upn: str
    mail_nickname: str
    display_name: str
    given_name: str
    surname: str
    usage_location: str
    tag: str  # the directory extension property
    commune: str  # its value


@dataclass(frozen=True)
class UserUpdate:
    user: Id
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserTarget:
    """The user a disable, revoke, delete or purge acts on."""

    user: Id


def create_request(p: UserCreate) -> Request:
    """Build the POST /users request: enabled, tagged, usage location set for the licence."""
    body: dict[str, Any] = {
        "accountEnabled": True,
        "displayName": p.display_name,
        "givenName": p.given_name,
        "surname": p.surname,
        "mailNickname": p.mail_nickname,
        "userPrincipalName": p.upn,
        "usageLocation": p.usage_location,
        "passwordProfile": {"password": new_password(), "forceChangePasswordNextSignIn": True},
        p.tag: p.commune,
    }
    return post("/users", body)


def _found(answer: GraphResponse, p: UserCreate) -> Found | None:
    user_id = answer.json().get("id")
    if not user_id:
        return None
    return Found(str(user_id), ours=answer.json().get(p.tag) == p.commune)


def _enabled_read(p: UserTarget) -> Request:
    return get(f"/users/{ident(p.user)}?$select=id,accountEnabled")


def _disabled(answer: GraphResponse, p: UserTarget) -> bool:
    return answer.status == 200 and answer.json().get("accountEnabled") is False


def _gone_read(p: UserTarget) -> Request:
    return get(f"/users/{ident(p.user)}?$select=id")


def revoke_request(p: UserTarget) -> Request:
    """Build `revokeSignInSessions`: invalidates refresh tokens; repeating it is harmless."""
    return post(f"/users/{ident(p.user)}/revokeSignInSessions", None, idempotent=True)


RESOURCE = Resource(
    KIND,
    {
        "create": Create(
            request=create_request,
            lookup=lambda p: by_upn(p.upn, p.tag),
            found=_found,
            duplicate=is_duplicate_in_directory,
        ),
        "update": Write(lambda p: patch(f"/users/{ident(p.user)}", dict(p.changes))),
        "disable": Write(
            lambda p: patch(f"/users/{ident(p.user)}", {"accountEnabled": False}),
            confirm=Confirm(_enabled_read, _disabled, "still enabled on some replicas; rerun"),
        ),
        "revoke": Write(revoke_request),
        "delete": Write(
            lambda p: delete(f"/users/{ident(p.user)}"),
            gone_is_done=True,
            confirm=Confirm(_gone_read, gone, "deleted, but still readable; rerun to confirm"),
        ),
        "purge": recycle.purge,
    },
)
