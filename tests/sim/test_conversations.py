"""Group conversations: threads, posts, attachments, the group mailbox's delay, over loopback."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from simhelp import create_group, error_code, licensed_user

from crisiskit.sim.server import EmbeddedSimulator

NOTE = base64.b64encode(b"compte rendu").decode()


@pytest.fixture
def group(es: EmbeddedSimulator, http: httpx.Client) -> dict[str, Any]:
    owner = licensed_user(es, http, "owner.conv")
    return create_group(http, "cellule-conv", owner["id"])


def _seed(es: EmbeddedSimulator, group: dict[str, Any], topic: str, posts: list[Any]) -> str:
    return str(
        es.seed(
            {"conversations": [{"group": group["mailNickname"], "topic": topic, "posts": posts}]}
        )["conversations"][0]
    )


def test_threads_posts_and_attachments(
    es: EmbeddedSimulator, http: httpx.Client, group: dict[str, Any]
) -> None:
    old = _seed(
        es,
        group,
        "Ancien",
        [{"from": "a@x.fr", "body": "vieux", "receivedDateTime": "2026-11-01T08:00:00Z"}],
    )
    thread_id = _seed(
        es,
        group,
        "Point presse",
        [
            {
                "from": "Préfet <prefet@pref.gouv.fr>",
                "body": "Premier",
                "receivedDateTime": "2026-11-26T08:00:00Z",
            },
            {
                "from": "Maire <maire@aubagne.fr>",
                "body": "<p>Réponse</p>",
                "bodyType": "html",
                "receivedDateTime": "2026-11-26T09:00:00Z",
                "attachments": [{"name": "cr.txt", "contentBase64": NOTE}],
            },
        ],
    )
    g = f"groups/{group['id']}"
    threads = http.get(f"{g}/threads").json()["value"]
    assert [t["id"] for t in threads] == [thread_id, old]  # newest first
    assert threads[0]["topic"] == "Point presse" and threads[0]["hasAttachments"] is True
    assert threads[0]["uniqueSenders"] == ["Préfet", "Maire"]
    assert threads[0]["lastDeliveredDateTime"] == "2026-11-26T09:00:00Z"
    one = http.get(f"{g}/threads/{thread_id}").json()
    assert one["isLocked"] is False
    posts = http.get(f"{g}/threads/{thread_id}/posts").json()["value"]
    assert [p["body"]["contentType"] for p in posts] == ["html", "html"]
    assert posts[0]["sender"]["emailAddress"]["address"] == "prefet@pref.gouv.fr"
    assert posts[1]["from"]["emailAddress"]["address"] == group["mail"]
    assert posts[1]["hasAttachments"] is True and "@odata.etag" in posts[1]
    text = http.get(
        f"{g}/threads/{thread_id}/posts", headers={"Prefer": 'outlook.body-content-type="text"'}
    )
    assert text.json()["value"][1]["body"]["content"].strip() == "Réponse"
    assert text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    post = http.get(
        f"{g}/threads/{thread_id}/posts/{posts[1]['id']}", params={"$expand": "attachments"}
    ).json()
    assert base64.b64decode(post["attachments"][0]["contentBytes"]) == b"compte rendu"
    # post-list-attachments: application permissions are not supported ($expand is the way in).
    attachments = f"{g}/threads/{thread_id}/posts/{posts[1]['id']}/attachments"
    refused = http.get(attachments)
    assert refused.status_code == 403 and error_code(refused) == "ErrorAccessDenied"
    es.set_roles([], token="admin", app_only=False)
    with es.client("admin") as admin:
        listed = admin.get(attachments).json()
    assert [a["name"] for a in listed["value"]] == ["cr.txt"]
    conversations = http.get(f"{g}/conversations").json()["value"]
    assert len(conversations) == 2 and conversations[0]["topic"] == "Point presse"
    conv = conversations[0]["id"]
    assert http.get(f"{g}/conversations/{conv}").json()["hasAttachments"] is True
    via = http.get(f"{g}/conversations/{conv}/threads").json()["value"]
    assert [t["id"] for t in via] == [thread_id]
    deep = http.get(f"{g}/conversations/{conv}/threads/{thread_id}/posts").json()["value"]
    assert len(deep) == 2
    assert http.get(f"{g}/threads/nope").status_code == 404


def test_group_mailbox_appears_after_the_mailbox_delay(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    es.set_profile(mailbox_delay_s=0.3)
    owner = licensed_user(es, http, "owner.late")
    group = create_group(http, "cellule-late", owner["id"])
    early = http.get(f"groups/{group['id']}/threads")
    assert early.status_code == 404
    assert early.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    time.sleep(0.35)
    assert http.get(f"groups/{group['id']}/threads").json()["value"] == []


def test_threads_hide_with_the_group_and_purge_with_it(
    es: EmbeddedSimulator, http: httpx.Client, group: dict[str, Any]
) -> None:
    _seed(
        es,
        group,
        "Sujet",
        [
            {
                "from": "a@x.fr",
                "body": "x",
                "attachments": [{"name": "a.txt", "contentBase64": NOTE}],
            }
        ],
    )
    g = f"groups/{group['id']}"
    assert http.delete(g).status_code == 204
    assert http.get(f"{g}/threads").status_code == 404
    hidden = es.state()  # stashed with the deleted group, not served
    assert not hidden["threads"] and not hidden["posts"] and not hidden["attachments"]
    assert http.post(f"directory/deletedItems/{group['id']}/restore").status_code == 200
    assert len(http.get(f"{g}/threads").json()["value"]) == 1
    assert http.delete(g).status_code == 204
    es.set_roles([], token="admin", app_only=False)  # purging a group is delegated only
    with es.client("admin") as admin:
        assert admin.delete(f"directory/deletedItems/{group['id']}").status_code == 204
    state = es.state()
    assert not state["threads"] and not state["posts"] and not state["attachments"]
    assert not state["deletedItems"]


def test_a_conversation_needs_posts_with_senders(
    es: EmbeddedSimulator, group: dict[str, Any]
) -> None:
    with pytest.raises(RuntimeError, match="at least one post"):
        _seed(es, group, "vide", [])
    with pytest.raises(RuntimeError, match="sender"):
        _seed(es, group, "anonyme", [{"body": "x"}])
