"""Users and licences: reads, create payloads, natural-key lookups."""

from __future__ import annotations

import secrets
import string
from typing import Any

from crisiskit.resources.base import Req, q, seg
from crisiskit.secrets import Secret

USER_FIELDS = "id,userPrincipalName,displayName,usageLocation,assignedLicenses,accountEnabled"

_ALPHABET = string.ascii_letters + string.digits + "!#%*+-=?@^_"


def list_skus(rid: str) -> Req:
    return Req(rid, "GET", "/subscribedSkus")


def get_user(rid: str, upn: str, tag: str) -> Req:
    """Read one user by UPN (its natural key), with the properties the diff needs."""
    return Req(rid, "GET", f"/users/{seg(upn)}?$select={USER_FIELDS},{tag}")


def users_tagged(rid: str, tag: str, commune_id: str) -> Req:
    """List the users carrying this commune's tag (a directory extension: plain `eq` works)."""
    return Req(
        rid,
        "GET",
        f"/users?$filter={tag}%20eq%20'{q(commune_id)}'&$select={USER_FIELDS},{tag}&$top=999",
    )


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


def create_user(
    rid: str,
    *,
    upn: str,
    mail_nickname: str,
    display_name: str,
    given_name: str,
    surname: str,
    usage_location: str,
    tag: str,
    commune_id: str,
) -> Req:
    """Build the POST /users request: enabled, tagged, usage location set for the licence."""
    body: dict[str, Any] = {
        "accountEnabled": True,
        "displayName": display_name,
        "givenName": given_name,
        "surname": surname,
        "mailNickname": mail_nickname,
        "userPrincipalName": upn,
        "usageLocation": usage_location,
        "passwordProfile": {"password": new_password(), "forceChangePasswordNextSignIn": True},
        tag: commune_id,
    }
    return Req(rid, "POST", "/users", body, {"Content-Type": "application/json"})


def update_user(rid: str, user_id: str, changes: dict[str, Any]) -> Req:
    return Req(rid, "PATCH", f"/users/{user_id}", changes, {"Content-Type": "application/json"})


def assign_licence(rid: str, user_id: str, sku_id: str) -> Req:
    """Assign one SKU directly; assigning a held licence again is a no-op, so retry is safe."""
    body = {"addLicenses": [{"skuId": sku_id, "disabledPlans": []}], "removeLicenses": []}
    return Req(
        rid, "POST", f"/users/{user_id}/assignLicense", body, {"Content-Type": "application/json"}
    )


def is_duplicate(code: str, message: str) -> bool:
    """Tell whether a create failed because the natural key is already taken."""
    return code == "Request_BadRequest" and "already exists" in message
