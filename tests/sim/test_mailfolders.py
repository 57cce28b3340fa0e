"""Mail folders, per-folder messages, bodies, etags, attachments and MIME, over loopback."""

from __future__ import annotations

import base64
import email
from email import policy
from typing import Any

import httpx
import pytest
from simhelp import licensed_user

from crisiskit.sim.server import EmbeddedSimulator

PDF = base64.b64encode(b"%PDF-1.4 rapport").decode()


@pytest.fixture
def user(es: EmbeddedSimulator, http: httpx.Client) -> dict[str, Any]:
    return licensed_user(es, http, "agent.mail")


def _seed(es: EmbeddedSimulator, user: dict[str, Any], **extra: Any) -> str:
    spec = {
        "user": user["userPrincipalName"],
        "subject": "Point",
        "from": "COD <cod@pref.fr>",
        "body": "Réunion <20h> & suite",
        **extra,
    }
    return str(es.seed({"messages": [spec]})["messages"][0])


def _all(http: httpx.Client, url: str, **params: str) -> list[dict[str, Any]]:
    page = http.get(url, params=params).json()
    items = list(page["value"])
    while "@odata.nextLink" in page:
        page = http.get(page["@odata.nextLink"]).json()
        items += page["value"]
    return items


def test_well_known_folders_paged_by_ten_and_usable_as_ids(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    for name in ("Projets", "Sinistre", "Zeta"):
        _seed(es, user, folder=name)
    first = http.get(f"users/{user['id']}/mailFolders").json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first  # 8 well-known + 3
    names = [f["displayName"] for f in _all(http, f"users/{user['id']}/mailFolders")]
    assert len(names) == 11
    assert {
        "Boîte de réception",
        "Éléments envoyés",
        "Éléments supprimés",
        "Brouillons",
        "Archive",
    } <= set(names)
    inbox = http.get(f"users/{user['id']}/mailFolders/inbox").json()
    assert inbox["displayName"] == "Boîte de réception"
    by_id = http.get(f"users/{user['id']}/mailFolders/{inbox['id']}").json()
    assert by_id["id"] == inbox["id"]
    for well_known in ("sentitems", "deleteditems", "drafts", "archive", "SentItems"):
        assert http.get(f"users/{user['id']}/mailFolders/{well_known}").status_code == 200
    root = http.get(f"users/{user['id']}/mailFolders/msgfolderroot").json()
    assert inbox["parentFolderId"] == root["id"]
    assert http.get(f"users/{user['id']}/mailFolders/clutter").status_code == 404
    settings = http.get(f"users/{user['id']}/mailboxSettings").json()
    archive = http.get(f"users/{user['id']}/mailFolders/archive").json()
    assert settings["archiveFolder"] == archive["id"]


def test_child_folders_recursive_and_messages_per_folder(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    deep = _seed(es, user, folder="inbox/Sinistre/Assurances", isRead=True)
    _seed(es, user, folder="inbox/Sinistre")
    top = _seed(es, user)
    sent = _seed(es, user, folder="sentitems", **{"from": None, "to": "cod@pref.fr"})
    base = f"users/{user['id']}/mailFolders"
    kids = http.get(f"{base}/inbox/childFolders").json()["value"]
    assert [k["displayName"] for k in kids] == ["Sinistre"]
    assert kids[0]["childFolderCount"] == 1 and kids[0]["totalItemCount"] == 1
    grand = http.get(f"{base}/inbox/childFolders/{kids[0]['id']}/childFolders").json()["value"]
    assert [g["displayName"] for g in grand] == ["Assurances"]
    assert grand[0]["unreadItemCount"] == 0 and grand[0]["totalItemCount"] == 1
    path = f"{base}/inbox/childFolders/{kids[0]['id']}/childFolders/{grand[0]['id']}"
    assert [m["id"] for m in http.get(f"{path}/messages").json()["value"]] == [deep]
    assert [m["id"] for m in http.get(f"{base}/{grand[0]['id']}/messages").json()["value"]] == [
        deep
    ]
    assert [m["id"] for m in http.get(f"{base}/inbox/messages").json()["value"]] == [top]
    sent_list = http.get(f"{base}/sentitems/messages").json()["value"]
    assert [m["id"] for m in sent_list] == [sent]
    assert sent_list[0]["from"]["emailAddress"]["address"] == user["userPrincipalName"]
    assert len(_all(http, f"users/{user['id']}/messages")) == 4  # every folder at once
    wrong = http.get(f"{base}/sentitems/messages/{top}")
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "ErrorItemNotFound"
    assert http.get(f"{base}/inbox/childFolders/{grand[0]['id']}").status_code == 404


def test_hidden_folders_only_when_asked(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    from crisiskit.sim import mailbox

    sim = es.simulator
    with sim.lock:
        mailbox.create_folder(
            sim, user["id"], mailbox.folder_id(user["id"], "msgfolderroot"), "Caché", hidden=True
        )
    base = f"users/{user['id']}/mailFolders"
    assert "Caché" not in [f["displayName"] for f in _all(http, base)]
    hidden = _all(http, base, includeHiddenFolders="true")
    assert [f["isHidden"] for f in hidden if f["displayName"] == "Caché"] == [True]


def test_paging_top_and_select_keep_id_and_etag(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.seed(
        {
            "messages": [
                {
                    "user": user["id"],
                    "from": "a@b.fr",
                    "subject": f"m{i}",
                    "receivedDateTime": f"2026-11-26T10:{i:02d}:00Z",
                }
                for i in range(25)
            ]
        }
    )
    base = f"users/{user['id']}/mailFolders/inbox/messages"
    first = http.get(base).json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first  # default page: 10
    assert first["value"][0]["subject"] == "m24"  # newest first
    picked = http.get(base, params={"$top": "1000", "$select": "subject"}).json()
    assert len(picked["value"]) == 25 and "@odata.nextLink" not in picked
    assert set(picked["value"][0]) == {"@odata.etag", "id", "subject"}
    assert http.get(base, params={"$top": "1001"}).status_code == 400
    assert [m["subject"] for m in _all(http, base, **{"$top": "7"})] == [
        f"m{i}" for i in range(24, -1, -1)
    ]


def test_html_body_unless_text_is_preferred(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    mid = _seed(es, user)
    url = f"users/{user['id']}/messages/{mid}"
    html = http.get(url)
    assert html.json()["body"]["contentType"] == "html"
    assert "Réunion &lt;20h&gt; &amp; suite" in html.json()["body"]["content"]
    assert "Preference-Applied" not in html.headers
    text = http.get(url, headers={"Prefer": 'outlook.body-content-type="text"'})
    assert text.json()["body"] == {"contentType": "text", "content": "Réunion <20h> & suite"}
    assert text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    listed = http.get(
        f"users/{user['id']}/mailFolders/inbox/messages",
        headers={"Prefer": 'outlook.body-content-type="text"'},
    )
    assert listed.json()["value"][0]["body"]["contentType"] == "text"
    assert listed.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    assert html.json()["@odata.etag"] == f'W/"{html.json()["changeKey"]}"'


def test_attachments_and_mime_with_them(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    mid = _seed(
        es,
        user,
        attachments=[
            {"name": "rapport.pdf", "contentBase64": PDF},
            {"name": "gros.bin", "size": 300_000, "seed": 3},
        ],
        cc=["Maire <maire@aubagne.fr>"],
        bodyType="html",
        body="<p>Voir <b>PJ</b></p>",
    )
    plain = _seed(es, user)
    msg = http.get(f"users/{user['id']}/messages/{mid}").json()
    assert msg["hasAttachments"] is True
    assert http.get(f"users/{user['id']}/messages/{plain}").json()["hasAttachments"] is False
    atts = http.get(f"users/{user['id']}/messages/{mid}/attachments").json()["value"]
    assert [a["name"] for a in atts] == ["rapport.pdf", "gros.bin"]
    pdf = atts[0]
    assert pdf["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert pdf["contentType"] == "application/pdf" and pdf["size"] == 16
    assert base64.b64decode(pdf["contentBytes"]) == b"%PDF-1.4 rapport"
    one = http.get(f"users/{user['id']}/messages/{mid}/attachments/{pdf['id']}").json()
    assert one["id"] == pdf["id"]
    raw = http.get(
        f"users/{user['id']}/mailFolders/inbox/messages/{mid}/attachments/{pdf['id']}/$value"
    )
    assert raw.content == b"%PDF-1.4 rapport"
    assert raw.headers["Content-Type"] == "application/pdf"
    mime = http.get(f"users/{user['id']}/messages/{mid}/$value")
    assert mime.headers["Content-Type"] == "text/plain"  # message-get.md's example
    again = http.get(f"users/{user['id']}/mailFolders/inbox/messages/{mid}/$value")
    assert again.content == mime.content  # deterministic
    parsed = email.message_from_bytes(mime.content, policy=policy.default)
    assert parsed["Cc"].addresses[0].addr_spec == "maire@aubagne.fr"
    assert parsed["Message-ID"] == msg["internetMessageId"]
    files = {p.get_filename(): p.get_content() for p in parsed.iter_attachments()}
    assert files["rapport.pdf"] == b"%PDF-1.4 rapport"
    assert len(files["gros.bin"]) == 300_000
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and "<b>PJ</b>" in html.get_content()
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None and "Voir PJ" in text.get_content()


def test_seeding_errors_name_the_entry(es: EmbeddedSimulator, user: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError, match="messages\\[0\\].*sender"):
        es.seed({"messages": [{"user": user["id"], "subject": "x"}]})
    with pytest.raises(RuntimeError, match="attachments\\[0\\]"):
        es.seed(
            {
                "messages": [
                    {
                        "user": user["id"],
                        "from": "a@b.fr",
                        "attachments": [{"name": "x", "contentBase64": "!!"}],
                    }
                ]
            }
        )


def test_a_messages_mime_is_rendered_once_and_again_after_a_change(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crisiskit.sim import mailbox

    mid = _seed(es, user, attachments=[{"name": "pj.bin", "size": 2_000, "seed": 1}])
    renders: list[str] = []
    render = mailbox._render_mime

    def counted(sim: Any, message: dict[str, Any], attachments: Any) -> bytes:
        renders.append(message["id"])
        return render(sim, message, attachments)

    monkeypatch.setattr(mailbox, "_render_mime", counted)
    first = http.get(f"users/{user['id']}/messages/{mid}/$value").content
    assert http.get(f"users/{user['id']}/messages/{mid}/$value").content == first
    assert renders == []  # rendered when it was seeded, as Exchange has it ready
    es.simulator.tenant.messages[mid]["subject"] = "Point modifié"
    changed = http.get(f"users/{user['id']}/messages/{mid}/$value").content
    assert renders == [mid] and b"modifi=C3=A9" in changed and changed != first
