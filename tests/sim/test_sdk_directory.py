"""msgraph-sdk's GraphServiceClient against the simulator: users, licences, deleted items."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from simhelp import DOMAIN, close_sdk_client


def run(factory, scenario) -> Any:
    async def main() -> Any:
        client = factory()
        try:
            return await scenario(client)
        finally:
            await close_sdk_client(client)

    return asyncio.run(main())


def new_user(local: str, usage_location: str | None = "FR") -> Any:
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    return User(
        account_enabled=True,
        display_name=local.title(),
        mail_nickname=local,
        user_principal_name=f"{local}@{DOMAIN}",
        usage_location=usage_location,
        password_profile=PasswordProfile(password="Xy!23456789abc"),
    )


def test_sdk_users_lifecycle(sim, graph_client_factory):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    async def scenario(client) -> dict[str, Any]:
        created = await client.users.post(new_user("sdk.one"))
        by_upn = await client.users.by_user_id(f"sdk.one@{DOMAIN}").get()
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="startswith(userPrincipalName,'sdk.')", select=["id", "usageLocation"]
        )
        listed = await client.users.get(RequestConfiguration(query_parameters=query))
        from msgraph.generated.models.user import User

        await client.users.by_user_id(created.id).patch(User(job_title="Maire"))
        patched = await client.users.by_user_id(created.id).get()
        return {"created": created, "by_upn": by_upn, "listed": listed, "patched": patched}

    out = run(graph_client_factory, scenario)
    assert out["created"].id and out["by_upn"].id == out["created"].id
    assert [u.usage_location for u in out["listed"].value] == ["FR"]
    assert out["patched"].job_title == "Maire"


def test_sdk_errors_carry_graph_codes(sim, graph_client_factory):
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    async def scenario(client) -> list[Any]:
        await client.users.post(new_user("sdk.dup"))
        errors = []
        for call in (
            client.users.post(new_user("sdk.dup")),
            client.users.by_user_id("nobody@" + DOMAIN).get(),
        ):
            try:
                await call
            except ODataError as exc:
                errors.append((exc.response_status_code, exc.error.code))
        return errors

    assert run(graph_client_factory, scenario) == [
        (400, "Request_BadRequest"),
        (404, "Request_ResourceNotFound"),
    ]


def test_sdk_advanced_query_with_consistency_level(sim, graph_client_factory):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    async def scenario(client) -> tuple[int, Any]:
        from msgraph.generated.models.user import User

        user = await client.users.post(new_user("sdk.adv"))
        await client.users.by_user_id(user.id).patch(User(employee_type="crisis"))
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="employeeType eq 'crisis'", count=True
        )
        try:
            await client.users.get(RequestConfiguration(query_parameters=query))
            refused = 0
        except ODataError as exc:
            refused = exc.response_status_code
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("ConsistencyLevel", "eventual")
        return refused, await client.users.get(config)

    refused, page = run(graph_client_factory, scenario)
    assert refused == 400
    assert page.odata_count == 1 and page.value[0].user_principal_name == f"sdk.adv@{DOMAIN}"


def test_sdk_licences_and_subscribed_skus(sim, graph_client_factory):
    from msgraph.generated.models.assigned_license import AssignedLicense
    from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
        AssignLicensePostRequestBody,
    )

    async def scenario(client) -> tuple[Any, Any, Any]:
        skus = await client.subscribed_skus.get()
        sku = skus.value[0]
        user = await client.users.post(new_user("sdk.lic"))
        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=sku.sku_id, disabled_plans=[])],
            remove_licenses=[],
        )
        licensed = await client.users.by_user_id(user.id).assign_license.post(body)
        after = await client.subscribed_skus.by_subscribed_sku_id(sku.id).get()
        return sku, licensed, after

    sku, licensed, after = run(graph_client_factory, scenario)
    assert sku.prepaid_units.enabled == 250 and sku.sku_part_number == "O365_BUSINESS_PREMIUM"
    assert any(p.service_plan_name.startswith("EXCHANGE") for p in sku.service_plans)
    assert licensed.id
    assert after.consumed_units == sku.consumed_units + 1


def test_sdk_deleted_items_restore(sim, graph_client_factory):
    async def scenario(client) -> tuple[Any, Any, Any]:
        user = await client.users.post(new_user("sdk.del"))
        await client.users.by_user_id(user.id).delete()
        deleted = await client.directory.deleted_items.graph_user.get()
        restored = await client.directory.deleted_items.by_directory_object_id(
            user.id
        ).restore.post()
        back = await client.users.by_user_id(user.id).get()
        return deleted, restored, back

    deleted, restored, back = run(graph_client_factory, scenario)
    assert [u.user_principal_name for u in deleted.value] == [f"sdk.del@{DOMAIN}"]
    assert restored.id == back.id


@pytest.mark.parametrize("top", [2])
def test_sdk_pages_with_next_link(sim, graph_client_factory, top):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    async def scenario(client) -> list[str]:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=top)
        page = await client.users.get(RequestConfiguration(query_parameters=query))
        names = [u.user_principal_name for u in page.value]
        while page.odata_next_link:
            page = await client.users.with_url(page.odata_next_link).get()
            names += [u.user_principal_name for u in page.value]
        return names

    names = run(graph_client_factory, scenario)
    assert sorted(names) == sorted(u["userPrincipalName"] for u in sim.state()["users"])
