"""The real msgraph-sdk GraphServiceClient on what round two added: delta queries,
revokeSignInSessions, restores, advanced query rules and application-role refusals."""

from __future__ import annotations

import asyncio
from typing import Any

from simhelp import DOMAIN, close_sdk_client
from test_sdk_directory import new_user


def run(factory, scenario, token: str | None = None) -> Any:
    async def main() -> Any:
        client = factory(token=token)
        try:
            return await scenario(client)
        finally:
            await close_sdk_client(client)

    return asyncio.run(main())


def test_sdk_user_and_group_delta_rounds(sim, graph_client_factory):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.group import Group
    from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder

    async def round_of(builder, first) -> tuple[list[Any], str]:
        page = await first
        items = list(page.value or [])
        while page.odata_next_link:
            page = await builder.with_url(page.odata_next_link).get()
            items += page.value or []
        return items, page.odata_delta_link

    async def scenario(client) -> dict[str, Any]:
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            select=["displayName", "jobTitle"]
        )
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("Prefer", "odata.maxpagesize=2")
        first, link = await round_of(client.users.delta, client.users.delta.get(config))
        created = await client.users.post(new_user("sdk.delta"))
        again, _ = await round_of(client.users.delta, client.users.delta.with_url(link).get())
        groups, glink = await round_of(client.groups.delta, client.groups.delta.get())
        owner = f"https://graph.microsoft.com/v1.0/users/{created.id}"
        group = Group(
            display_name="SDK delta",
            mail_enabled=True,
            mail_nickname="sdk-delta",
            security_enabled=False,
            group_types=["Unified"],
            additional_data={"owners@odata.bind": [owner], "members@odata.bind": [owner]},
        )
        made = await client.groups.post(group)
        changed, _ = await round_of(client.groups.delta, client.groups.delta.with_url(glink).get())
        return {"first": first, "again": again, "created": created, "groups": groups,
                "changed": changed, "made": made}

    out = run(graph_client_factory, scenario)
    assert {u.id for u in out["first"]} == {u["id"] for u in sim.state()["users"]} - {
        out["created"].id
    }
    assert [u.id for u in out["again"]] == [out["created"].id]
    assert out["again"][0].display_name == "Sdk.Delta"
    assert out["groups"]
    (group,) = [g for g in out["changed"] if g.id == out["made"].id]
    members = group.additional_data["members@delta"]  # the SDK keeps it as additional data
    assert [str(m["id"]) for m in members] == [out["created"].id]


def test_sdk_revoke_restore_and_refusals(sim, graph_client_factory):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    sim.set_roles(["User.Read.All"], token="reader")

    async def scenario(client) -> dict[str, Any]:
        user = await client.users.post(new_user("sdk.revoke"))
        revoked = await client.users.by_user_id(user.id).revoke_sign_in_sessions.post()
        await client.users.by_user_id(user.id).delete()
        deleted = client.directory.deleted_items.by_directory_object_id(user.id)
        restored = await deleted.restore.post()
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="endswith(userPrincipalName,'@" + DOMAIN + "')", count=True
        )
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("ConsistencyLevel", "eventual")
        advanced = await client.users.get(config)
        errors = []
        try:
            await client.users.get(RequestConfiguration(query_parameters=query))
        except ODataError as exc:
            errors.append((exc.response_status_code, exc.error.code))
        return {"revoked": revoked, "restored": restored, "advanced": advanced, "errors": errors}

    async def reader(client) -> Any:
        try:
            await client.users.post(new_user("sdk.refused"))
        except ODataError as exc:
            return (exc.response_status_code, exc.error.code)
        return None

    out = run(graph_client_factory, scenario)
    assert out["revoked"].value is True
    assert out["restored"].id
    assert out["advanced"].odata_count == len(out["advanced"].value) >= 1
    assert out["errors"] == [(400, "Request_UnsupportedQuery")]
    assert run(graph_client_factory, reader, token="reader") == (403, "Authorization_RequestDenied")
