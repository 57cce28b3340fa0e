"""msgraph-sdk's GraphServiceClient against the simulator's workload families: mail folders and
attachments, OneDrive content, group conversations, calendars, contacts, channel messages, bulk
team members and a team created from scratch, each driven once through the real SDK."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from simhelp import close_sdk_client, create_group, licensed_user

from crisiskit.sim.quickxor import quickxor_b64

GRAPH = "https://graph.microsoft.com/v1.0"


def run(factory: Callable[..., Any], scenario: Callable[[Any], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        client = factory()
        try:
            return await scenario(client)
        finally:
            await close_sdk_client(client)

    return asyncio.run(main())


@pytest.fixture
def crew(sim: Any) -> dict[str, Any]:
    """Two licensed users, a group with its team, and seeded workload data."""
    with sim.client() as http:
        owner = licensed_user(sim, http, "sdk.owner")
        agent = licensed_user(sim, http, "sdk.agent")
        group = create_group(http, "sdk-cellule", owner["id"])
        assert http.put(f"groups/{group['id']}/team", json={}).status_code == 201
    sim.seed(
        {
            "messages": [
                {
                    "user": owner["id"],
                    "folder": "inbox/Sinistre",
                    "subject": "Sinistre",
                    "from": "Assureur <a@assur.fr>",
                    "body": "Dossier 42",
                    "attachments": [
                        {
                            "name": "pv.txt",
                            "contentBase64": base64.b64encode(b"proces-verbal").decode(),
                        }
                    ],
                }
            ],
            "files": [
                {
                    "user": owner["id"],
                    "path": "Notes/jour1.txt",
                    "contentBase64": base64.b64encode(b"jour 1").decode(),
                }
            ],
            "conversations": [
                {
                    "group": group["id"],
                    "topic": "Consignes",
                    "posts": [{"from": "Préfet <p@pref.fr>", "body": "Confinement"}],
                }
            ],
            "events": [{"user": owner["id"], "subject": "Point", "start": "2026-11-26T08:00:00Z"}],
            "contacts": [
                {
                    "user": owner["id"],
                    "displayName": "Astreinte ENEDIS",
                    "emailAddresses": ["astreinte@enedis.fr"],
                }
            ],
            "channelMessages": [
                {
                    "team": group["id"],
                    "from": owner["id"],
                    "body": "Début",
                    "replies": [{"from": agent["id"], "body": "Reçu"}],
                }
            ],
        }
    )
    return {"owner": owner, "agent": agent, "group": group}


def test_sdk_mail_folders_messages_attachments_and_mime(
    crew: dict[str, Any], graph_client_factory: Callable[..., Any]
) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
        MessagesRequestBuilder,
    )

    owner = crew["owner"]["id"]

    async def scenario(client: Any) -> dict[str, Any]:
        user = client.users.by_user_id(owner)
        folders = await user.mail_folders.get()
        inbox = user.mail_folders.by_mail_folder_id("inbox")
        children = await inbox.child_folders.get()
        child = inbox.child_folders.by_mail_folder_id1(children.value[0].id)
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            top=5, select=["subject", "body", "hasAttachments"]
        )
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("Prefer", 'outlook.body-content-type="text"')
        messages = await child.messages.get(config)
        message = messages.value[0]
        attachments = await user.messages.by_message_id(message.id).attachments.get()
        mime = await user.messages.by_message_id(message.id).content.get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert len(out["folders"].value) == 8
    assert out["children"].value[0].display_name == "Sinistre"
    assert out["message"].subject == "Sinistre" and out["message"].has_attachments is True
    assert out["message"].body.content == "Dossier 42"
    assert out["attachments"].value[0].content_bytes == b"proces-verbal"
    assert b"proces-verbal" not in out["mime"] and b"pv.txt" in out["mime"]  # base64 in MIME


def test_sdk_onedrive_children_and_content(
    crew: dict[str, Any], graph_client_factory: Callable[..., Any]
) -> None:
    owner = crew["owner"]["id"]

    async def scenario(client: Any) -> dict[str, Any]:
        drive = await client.users.by_user_id(owner).drive.get()
        items = client.drives.by_drive_id(drive.id).items
        root = await items.by_drive_item_id("root").children.get()
        notes = await items.by_drive_item_id(root.value[0].id).children.get()
        content = await items.by_drive_item_id(notes.value[0].id).content.get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["drive"].drive_type == "business"
    item = out["notes"].value[0]
    assert item.name == "jour1.txt" and out["content"] == b"jour 1"
    assert item.file.hashes.quick_xor_hash == quickxor_b64(b"jour 1")
    assert item.additional_data["@microsoft.graph.downloadUrl"].startswith("http://127.0.0.1")


def test_sdk_conversations_events_and_contacts(
    sim: Any, crew: dict[str, Any], graph_client_factory: Callable[..., Any]
) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
        CalendarViewRequestBuilder,
    )

    owner, group = crew["owner"]["id"], crew["group"]["id"]

    async def scenario(client: Any) -> dict[str, Any]:
        threads = await client.groups.by_group_id(group).threads.get()
        thread = client.groups.by_group_id(group).threads.by_conversation_thread_id(
            threads.value[0].id
        )
        posts = await thread.posts.get()
        events = await client.users.by_user_id(owner).events.get()
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time="2026-11-26T00:00:00Z", end_date_time="2026-11-27T00:00:00Z"
        )
        view = await client.users.by_user_id(owner).calendar_view.get(
            RequestConfiguration(query_parameters=query)
        )
        contacts = await client.users.by_user_id(owner).contacts.get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["threads"].value[0].topic == "Consignes"
    assert out["posts"].value[0].sender.email_address.address == "p@pref.fr"
    assert [e.subject for e in out["events"].value] == ["Point"]
    assert [e.subject for e in out["view"].value] == ["Point"]
    assert out["contacts"].value[0].email_addresses[0].address == "astreinte@enedis.fr"


def test_sdk_channel_messages_and_bulk_members(
    sim: Any, crew: dict[str, Any], graph_client_factory: Callable[..., Any]
) -> None:
    from msgraph.generated.models.aad_user_conversation_member import AadUserConversationMember
    from msgraph.generated.teams.item.members.add.add_post_request_body import (
        AddPostRequestBody,
    )

    group = crew["group"]["id"]
    with sim.client() as http:
        extra = licensed_user(sim, http, "sdk.renfort")

    async def scenario(client: Any) -> dict[str, Any]:
        team = client.teams.by_team_id(group)
        channels = await team.channels.get()
        general = team.channels.by_channel_id(channels.value[0].id)
        messages = await general.messages.get()
        replies = await general.messages.by_chat_message_id(messages.value[0].id).replies.get()
        added = await team.members.add.post(
            AddPostRequestBody(
                values=[
                    AadUserConversationMember(
                        roles=[],
                        additional_data={"user@odata.bind": f"{GRAPH}/users('{extra['id']}')"},
                    )
                ]
            )
        )
        members = await team.members.get()
        return locals()

    out = run(graph_client_factory, scenario)
    assert out["messages"].value[0].body.content == "Début"
    assert out["replies"].value[0].body.content == "Reçu"
    assert out["added"].value[0].user_id == extra["id"]
    assert extra["id"] in {m.user_id for m in out["members"].value}


def test_sdk_team_from_scratch(sim: Any, graph_client_factory: Callable[..., Any]) -> None:
    from msgraph.generated.models.aad_user_conversation_member import AadUserConversationMember
    from msgraph.generated.models.channel import Channel
    from msgraph.generated.models.team import Team
    from msgraph.generated.models.team_visibility_type import TeamVisibilityType

    with sim.client() as http:
        owner = licensed_user(sim, http, "sdk.scratch")

    async def scenario(client: Any) -> Any:
        return await client.teams.post(
            Team(
                display_name="Cellule SDK",
                description="Créée d'un coup",
                visibility=TeamVisibilityType.Private,
                members=[
                    AadUserConversationMember(
                        roles=["owner"],
                        additional_data={"user@odata.bind": f"{GRAPH}/users('{owner['id']}')"},
                    )
                ],
                channels=[Channel(display_name="Main courante")],
                additional_data={"template@odata.bind": f"{GRAPH}/teamsTemplates('standard')"},
            )
        )

    assert run(graph_client_factory, scenario) is None  # 202, empty body
    state = sim.state()
    group = next(g for g in state["groups"] if g["displayName"] == "Cellule SDK")
    assert group["owners"] == [owner["id"]] and group["mailNickname"] == "CelluleSDK"
    names = {c["displayName"] for c in state["channels"] if c["teamId"] == group["id"]}
    assert names == {"General", "Main courante"}
