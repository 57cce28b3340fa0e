"""msgraph-sdk's GraphServiceClient against the simulator: groups, teams, SharePoint,
authentication methods and mailboxes, each family driven through the real SDK over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from simhelp import DOMAIN, close_sdk_client

GRAPH = "https://graph.microsoft.com/v1.0"


def run(factory: Callable[..., Any], scenario: Callable[[Any], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        client = factory()
        try:
            return await scenario(client)
        finally:
            await close_sdk_client(client)

    return asyncio.run(main())


async def new_user(client: Any, local: str) -> Any:
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    return await client.users.post(
        User(
            account_enabled=True,
            display_name=local.title(),
            mail_nickname=local,
            user_principal_name=f"{local}@{DOMAIN}",
            usage_location="FR",
            password_profile=PasswordProfile(password="Xy!23456789abc"),
        )
    )


async def new_group(client: Any, nick: str, owner_id: str) -> Any:
    from msgraph.generated.models.group import Group

    return await client.groups.post(
        Group(
            display_name=f"Cellule de crise {nick}",
            mail_enabled=True,
            mail_nickname=nick,
            security_enabled=False,
            group_types=["Unified"],
            visibility="Private",
            additional_data={"owners@odata.bind": [f"{GRAPH}/users/{owner_id}"]},
        )
    )


async def odata_code(awaitable: Awaitable[Any]) -> tuple[int, str]:
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    try:
        await awaitable
    except ODataError as exc:
        return exc.response_status_code, exc.error.code
    raise AssertionError("expected an ODataError")


def test_sdk_groups(sim: Any, graph_client_factory: Callable[..., Any]) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.reference_create import ReferenceCreate

    async def scenario(client: Any) -> dict[str, Any]:
        owner = await new_user(client, "sdk.owner")
        member = await new_user(client, "sdk.member")
        group = await new_group(client, "crise-sdk", owner.id)
        got = await client.groups.by_group_id(group.id).get()
        query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
            filter="mailNickname eq 'crise-sdk'", select=["id", "mail"]
        )
        listed = await client.groups.get(RequestConfiguration(query_parameters=query))
        await client.groups.by_group_id(group.id).members.ref.post(
            ReferenceCreate(odata_id=f"{GRAPH}/directoryObjects/{member.id}")
        )
        duplicate = await odata_code(
            client.groups.by_group_id(group.id).members.ref.post(
                ReferenceCreate(odata_id=f"{GRAPH}/directoryObjects/{member.id}")
            )
        )
        members = await client.groups.by_group_id(group.id).members.get()
        await client.groups.by_group_id(group.id).patch(Group(description="Main courante"))
        patched = await client.groups.by_group_id(group.id).get()
        clash = await odata_code(new_group(client, "crise-sdk", owner.id))
        await client.groups.by_group_id(group.id).delete()
        gone = await odata_code(client.groups.by_group_id(group.id).get())
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["got"].mail == f"crise-sdk@{DOMAIN}"
    assert out["got"].group_types == ["Unified"]
    assert [g.id for g in out["listed"].value] == [out["group"].id]
    assert [m.id for m in out["members"].value] == [out["member"].id]
    assert out["duplicate"] == (400, "Request_BadRequest")
    assert out["patched"].description == "Main courante"
    assert out["clash"] == (400, "Request_BadRequest")
    assert out["gone"] == (404, "Request_ResourceNotFound")


def test_sdk_teams(sim: Any, graph_client_factory: Callable[..., Any]) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.channel import Channel
    from msgraph.generated.models.team import Team
    from msgraph.generated.models.team_member_settings import TeamMemberSettings
    from msgraph.generated.teams.item.channels.channels_request_builder import (
        ChannelsRequestBuilder,
    )

    # Long enough that the reads just after the POST see the operation unfinished even on a
    # loaded machine (0.2 s was not, under three test workers).
    sim.set_profile(team_op_s=2.0)

    async def scenario(client: Any) -> dict[str, Any]:
        owner = await new_user(client, "sdk.maire")
        put_group = await new_group(client, "crise-put", owner.id)
        put_team = await client.groups.by_group_id(put_group.id).team.put(
            Team(member_settings=TeamMemberSettings(allow_delete_channels=False))
        )
        conflict = await odata_code(client.groups.by_group_id(put_group.id).team.put(Team()))
        channel = await client.teams.by_team_id(put_group.id).channels.post(
            Channel(display_name="Main courante", description="Journal")
        )
        same_name = await odata_code(
            client.teams.by_team_id(put_group.id).channels.post(
                Channel(display_name="main courante")
            )
        )
        query = ChannelsRequestBuilder.ChannelsRequestBuilderGetQueryParameters(
            filter="displayName eq 'Main courante'"
        )
        found = await client.teams.by_team_id(put_group.id).channels.get(
            RequestConfiguration(query_parameters=query)
        )
        post_group = await new_group(client, "crise-post", owner.id)
        posted = await client.teams.post(
            Team(
                additional_data={
                    "template@odata.bind": f"{GRAPH}/teamsTemplates('standard')",
                    "group@odata.bind": f"{GRAPH}/groups('{post_group.id}')",
                }
            )
        )
        ops = [o for o in sim.state()["operations"] if o["targetResourceId"] == post_group.id]
        op_builder = client.teams.by_team_id(post_group.id).operations
        early = await op_builder.by_teams_async_operation_id(ops[0]["id"]).get()
        before = await odata_code(client.teams.by_team_id(post_group.id).get())
        for _ in range(400):
            op = await op_builder.by_teams_async_operation_id(ops[0]["id"]).get()
            if op.status.value == "succeeded":
                break
            await asyncio.sleep(0.02)
        team = await client.teams.by_team_id(post_group.id).get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["put_team"].id == out["put_group"].id
    assert out["put_team"].member_settings.allow_delete_channels is False
    assert out["conflict"] == (409, "Conflict")
    assert out["channel"].id.startswith("19:")
    assert out["same_name"] == (400, "NameAlreadyExists")
    assert [c.id for c in out["found"].value] == [out["channel"].id]
    assert out["posted"] is None  # 202, empty body
    assert out["early"].status.value in ("notStarted", "inProgress")
    assert out["before"][0] == 404
    assert out["op"].status.value == "succeeded"
    assert out["op"].target_resource_id == out["post_group"].id
    assert out["team"].id == out["post_group"].id


def test_sdk_sharepoint(sim: Any, graph_client_factory: Callable[..., Any]) -> None:
    from msgraph.generated.models.drive_item import DriveItem
    from msgraph.generated.models.folder import Folder

    sim.set_profile(site_delay_s=60)

    async def scenario(client: Any) -> dict[str, Any]:
        owner = await new_user(client, "sdk.dsi")
        group = await new_group(client, "crise-sp", owner.id)
        not_yet = await odata_code(client.groups.by_group_id(group.id).drive.get())
        sim.advance(61)
        site = await client.groups.by_group_id(group.id).sites.by_site_id("root").get()
        drive = await client.groups.by_group_id(group.id).drive.get()
        root = client.drives.by_drive_id(drive.id).items.by_drive_item_id("root")
        folder = await root.children.post(
            DriveItem(
                name="Main courante",
                folder=Folder(),
                additional_data={"@microsoft.graph.conflictBehavior": "fail"},
            )
        )
        clash = await odata_code(
            root.children.post(
                DriveItem(
                    name="Main courante",
                    folder=Folder(),
                    additional_data={"@microsoft.graph.conflictBehavior": "fail"},
                )
            )
        )
        renamed = await root.children.post(
            DriveItem(
                name="Main courante",
                folder=Folder(),
                additional_data={"@microsoft.graph.conflictBehavior": "rename"},
            )
        )
        items = client.drives.by_drive_id(drive.id).items
        uploaded = await items.by_drive_item_id(f"{folder.id}:/journal.txt:").content.put(
            b"20h12 alerte"
        )
        children = await items.by_drive_item_id(folder.id).children.get()
        content = await items.by_drive_item_id(uploaded.id).content.get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["not_yet"] == (404, "itemNotFound")
    assert out["site"].web_url.endswith("/sites/crise-sp")
    assert out["drive"].drive_type == "documentLibrary"
    assert out["folder"].folder.child_count == 0
    assert out["clash"] == (409, "nameAlreadyExists")
    assert out["renamed"].name == "Main courante 1"
    assert out["uploaded"].size == 12
    assert [c.name for c in out["children"].value] == ["journal.txt"]
    assert out["content"] == b"20h12 alerte"  # the SDK followed the 302 to the download URL


def test_sdk_authentication_methods(sim: Any, graph_client_factory: Callable[..., Any]) -> None:
    from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
    from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod
    from msgraph.generated.models.temporary_access_pass_authentication_method import (
        TemporaryAccessPassAuthenticationMethod,
    )

    async def scenario(client: Any) -> dict[str, Any]:
        user = await new_user(client, "sdk.agent")
        auth = client.users.by_user_id(user.id).authentication
        tap = await auth.temporary_access_pass_methods.post(
            TemporaryAccessPassAuthenticationMethod(lifetime_in_minutes=480, is_usable_once=False)
        )
        listed = await auth.temporary_access_pass_methods.get()
        one = await auth.temporary_access_pass_methods.by_temporary_access_pass_authentication_method_id(  # noqa: E501
            tap.id
        ).get()
        too_long = await odata_code(
            auth.temporary_access_pass_methods.post(
                TemporaryAccessPassAuthenticationMethod(lifetime_in_minutes=50000)
            )
        )
        phone = await auth.phone_methods.post(
            PhoneAuthenticationMethod(
                phone_number="+33 612345678", phone_type=AuthenticationPhoneType.Mobile
            )
        )
        bad_phone = await odata_code(
            auth.phone_methods.post(
                PhoneAuthenticationMethod(
                    phone_number="0612345678", phone_type=AuthenticationPhoneType.Office
                )
            )
        )
        methods = await auth.methods.get()
        return locals()

    out = run(graph_client_factory, scenario)
    secret = out["tap"].temporary_access_pass
    assert secret and len(secret) >= 8
    assert out["tap"].is_usable is True
    assert [m.temporary_access_pass for m in out["listed"].value] == [None]
    assert out["one"].temporary_access_pass is None
    assert out["too_long"] == (400, "badRequest")
    assert out["phone"].id == "3179e48a-750b-4051-897c-87b9720928f7"
    assert out["bad_phone"] == (400, "badRequest")
    assert len(out["methods"].value) == 3
    stored = [m for m in sim.state()["authenticationMethods"] if m["id"] == out["tap"].id]
    assert stored[0]["temporaryAccessPass"] == secret


@pytest.mark.parametrize("delay", [0.0, 300.0])
def test_sdk_mailbox(sim: Any, graph_client_factory: Callable[..., Any], delay: float) -> None:
    from msgraph.generated.models.assigned_license import AssignedLicense
    from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
        AssignLicensePostRequestBody,
    )

    sim.set_profile(mailbox_delay_s=delay)
    sku = sim.state()["subscribedSkus"][0]["skuId"]

    async def scenario(client: Any) -> dict[str, Any]:
        user = await new_user(client, "sdk.mail")
        builder = client.users.by_user_id(user.id)
        unlicensed = await odata_code(builder.mailbox_settings.get())
        await builder.assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=sku, disabled_plans=[])], remove_licenses=[]
            )
        )
        waiting = None
        if delay:
            waiting = await odata_code(builder.mailbox_settings.get())
            sim.advance(delay + 1)
        settings = await builder.mailbox_settings.get()
        sim.seed(
            {
                "messages": [
                    {
                        "user": user.id,
                        "subject": "Point de situation",
                        "from": "cod@bouches-du-rhone.gouv.fr",
                        "body": "Réunion à 22h.",
                    }
                ]
            }
        )
        messages = await builder.messages.get()
        mime = await builder.messages.by_message_id(messages.value[0].id).content.get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["unlicensed"] == (404, "MailboxNotEnabledForRESTAPI")
    if delay:
        assert out["waiting"] == (404, "MailboxNotEnabledForRESTAPI")
    assert out["settings"].time_zone
    assert [m.subject for m in out["messages"].value] == ["Point de situation"]
    assert b"Subject: Point de situation" in out["mime"]
