"""Small helpers for the simulator's own tests (HTTP over loopback, objects to create)."""

from __future__ import annotations

from typing import Any

import httpx

DOMAIN = "crise.ampmetropole.fr"


def user_body(local: str, **extra: Any) -> dict[str, Any]:
    """Return a valid `POST /users` body for `local@DOMAIN`."""
    return {
        "accountEnabled": True,
        "displayName": local.replace(".", " ").title(),
        "mailNickname": local,
        "userPrincipalName": f"{local}@{DOMAIN}",
        "passwordProfile": {"password": "Xy!23456789abc", "forceChangePasswordNextSignIn": True},
        **extra,
    }


def create_user(client: httpx.Client, local: str, **extra: Any) -> dict[str, Any]:
    resp = client.post("users", json=user_body(local, **extra))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def create_group(
    client: httpx.Client, nickname: str, owner_id: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "displayName": f"Groupe {nickname}",
        "mailEnabled": True,
        "mailNickname": nickname,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
        "visibility": "Private",
        "owners@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{owner_id}"],
        **extra,
    }
    resp = client.post("groups", json=body)
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


def error_code(resp: httpx.Response) -> str:
    """Return the Graph error code of a response, asserting the standard error shape."""
    body = resp.json()
    error = body["error"]
    assert set(error) >= {"code", "message", "innerError"}, body
    assert error["innerError"]["request-id"] == resp.headers["request-id"]
    return str(error["code"])


def plain_user(es: Any, client: httpx.Client, local: str, **extra: Any) -> dict[str, Any]:
    """Create `local@<the simulator's first verified domain>`, unlicensed."""
    body = user_body(local, usageLocation="FR", **extra)
    body["userPrincipalName"] = f"{local}@{es.state()['verifiedDomains'][0]}"
    resp = client.post("users", json=body)
    assert resp.status_code == 201, resp.text
    user: dict[str, Any] = resp.json()
    return user


def licensed_user(es: Any, client: httpx.Client, local: str, **extra: Any) -> dict[str, Any]:
    """Create `local@<the simulator's domain>` with the tenant's SKU (mailbox, OneDrive)."""
    user = plain_user(es, client, local, **extra)
    sku = es.state()["subscribedSkus"][0]["skuId"]
    lic = {"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}
    assert client.post(f"users/{user['id']}/assignLicense", json=lic).status_code == 200
    return user


async def close_sdk_client(client: Any) -> None:
    """Close a GraphServiceClient's HTTP client and its connection pool.

    msgraph-core's AsyncGraphTransport has no aclose(): closing the httpx client alone leaves
    the pool's sockets open until the garbage collector finds them (a ResourceWarning in
    whatever test runs then), the trap `crisiskit.graph.connect` avoids the same way.
    """
    http = client.request_adapter._http_client
    await http.aclose()
    inner = getattr(http._transport, "transport", None)
    if inner is not None:
        await inner.aclose()
