"""Builders for tests/sim/data/graph-examples-directory.json (replayed by test_conformance.py).

Each builder creates what its example refers to and returns (method, url, body, headers).
Delta examples document a first page with an `@odata.nextLink`: the builders track two objects
(`$filter=id eq`) one per page (`Prefer: odata.maxpagesize=1`), so there is a next page.
"""

from __future__ import annotations

from typing import Any

from conformance import EVENTUAL, Build, Ctx
from simhelp import DOMAIN, create_group, create_user

FULL = {
    "businessPhones": ["+33 491000000"],
    "givenName": "Sample",
    "surname": "Vance",
    "jobTitle": "Product Marketing Manager",
    "mobilePhone": "+33 612345678",
    "officeLocation": "18/2111",
    "preferredLanguage": "fr-FR",
    "usageLocation": "FR",
}


def _full_user(ctx: Ctx, local: str) -> dict[str, Any]:
    user = create_user(ctx.c, local, **FULL)
    lic = {"addLicenses": [{"skuId": ctx.sku["skuId"]}], "removeLicenses": []}
    assert ctx.c.post(f"users/{user['id']}/assignLicense", json=lic).status_code == 200
    return user


def _two_users(ctx: Ctx) -> str:
    ids = [_full_user(ctx, f"delta.{i}")["id"] for i in (1, 2)]
    return " or ".join(f"id eq '{i}'" for i in ids)


def _two_groups(ctx: Ctx) -> str:
    other = create_group(
        ctx.c,
        "delta-other",
        ctx.owner["id"],
        description="Seconde cellule",
        **{"members@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{ctx.member['id']}"]},
    )
    assert ctx.c.patch(f"groups/{ctx.group['id']}", json={"description": "Cellule"}).status_code
    return f"id eq '{ctx.group['id']}' or id eq '{other['id']}'"


def _page1(prefer: str = "") -> dict[str, str]:
    return {"Prefer": ", ".join(p for p in ("odata.maxpagesize=1", prefer) if p)}


def _deleted_full_user(ctx: Ctx, local: str) -> str:
    user = _full_user(ctx, local)
    assert ctx.c.delete(f"users/{user['id']}").status_code == 204
    return str(user["id"])


SUPPORTED: dict[str, Build] = {
    "user_delta": lambda ctx: ("GET", f"users/delta?$filter={_two_users(ctx)}", None, _page1()),
    "user_delta_select": lambda ctx: (
        "GET",
        f"users/delta?$select=displayName,jobTitle,mobilePhone&$filter={_two_users(ctx)}",
        None,
        _page1(),
    ),
    "user_delta_minimal": lambda ctx: (
        "GET",
        f"users/delta?$select=displayName,jobTitle,mobilePhone&$filter={_two_users(ctx)}",
        None,
        _page1("return=minimal"),
    ),
    "group_delta": lambda ctx: ("GET", f"groups/delta?$filter={_two_groups(ctx)}", None, _page1()),
    "group_delta_with_select": lambda ctx: (
        "GET",
        f"groups/delta?$select=displayName,description,mailNickname&$filter={_two_groups(ctx)}",
        None,
        _page1(),
    ),
    # The page's example is /me (delegated); app-only, the user is named.
    "user_revokesigninsessionss": lambda ctx: (
        "POST",
        f"users/{ctx.member['id']}/revokeSignInSessions",
        None,
        {},
    ),
    "restore_directory_deleteditem": lambda ctx: (
        "POST",
        f"directory/deletedItems/{ctx.deleted_group()}/restore",
        None,
        {},
    ),
    "restore_directory_deleteditem_autoreconcileproxyconflict": lambda ctx: (
        "POST",
        f"directory/deleteditems/{_deleted_full_user(ctx, 'restore.auto')}/restore",
        {"autoReconcileProxyConflict": True},
        {},
    ),
    "restore_directory_deleteditem_newUserPrincipalName": lambda ctx: (
        "POST",
        f"directory/deleteditems/{_deleted_full_user(ctx, 'restore.renamed')}/restore",
        {"newUserPrincipalName": f"johndoe@{DOMAIN}"},
        {},
    ),
    # Users may be purged app-only with User.DeleteRestore.All; groups may not (see deleted.py).
    "delete_directory_deleteditem": lambda ctx: (
        "DELETE",
        f"directory/deletedItems/{ctx.deleted_user()}",
        None,
        {},
    ),
    "get_users_count_missing_advancedqueryparams": lambda ctx: ("GET", "users/$count", None, {}),
    # Applications are not simulated; the rule is the same for every directory object
    # ("For directory objects, $search works only in advanced queries").
    "get_applications_missing_advancedqueryparams": lambda ctx: (
        "GET",
        'users?$search="displayName:Browser"',
        None,
        {},
    ),
    # The page's examples use /beta; the rule is documented for both versions.
    "get_users_missing_advancedqueryparams": lambda ctx: (
        "GET",
        "users?$filter=endsWith(userPrincipalName,'%23EXT%23@contoso.com')",
        None,
        {},
    ),
    "get_groups_missing_advancedqueryparams": lambda ctx: (
        "GET",
        "groups?$filter=createdDateTime ge 2021-11-01&$count=true",
        None,
        EVENTUAL,
    ),
    "get_users_silent_fail": lambda ctx: ("GET", "users?$count=true", None, {}),
    "aad_advanced_queries_get_users_not_acountenabled": lambda ctx: (
        "GET",
        "users?$filter=accountEnabled ne true&$count=true",
        None,
        EVENTUAL,
    ),
    # The page elides the URLs ("..."); any four reads in its order, each on the previous.
    "json-batching-sequencing": lambda ctx: (
        "POST",
        "$batch",
        {
            "requests": [
                {"id": "1", "method": "GET", "url": "/users?$top=1"},
                {"id": "2", "dependsOn": ["1"], "method": "GET", "url": "/groups?$top=1"},
                {"id": "4", "dependsOn": ["2"], "method": "GET", "url": "/subscribedSkus"},
                {"id": "3", "dependsOn": ["4"], "method": "GET", "url": "/users?$top=2"},
            ]
        },
        {},
    ),
}
SKIPPED: dict[str, str] = {}
IGNORED_KEYS: dict[str, set[str]] = {}
