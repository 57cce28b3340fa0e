"""SharePoint sites, drives and drive items in the simulator, over loopback."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator

DOMAIN = "crise.example.fr"
GRAPH = "https://graph.microsoft.com/v1.0"


def make_group(http: httpx.Client, nick: str, with_owner: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": f"Cellule {nick}",
        "mailEnabled": True,
        "mailNickname": nick,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
    }
    if with_owner:
        user = http.post(
            "users",
            json={
                "accountEnabled": True,
                "displayName": f"Owner {nick}",
                "mailNickname": f"owner-{nick}",
                "userPrincipalName": f"owner-{nick}@{DOMAIN}",
                "passwordProfile": {"password": "S3cret-pass-1234"},
            },
        )
        assert user.status_code == 201, user.text
        body["owners@odata.bind"] = [f"{GRAPH}/users/{user.json()['id']}"]
    resp = http.post("groups", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@pytest.fixture
def drive_id(http: httpx.Client) -> str:
    group = make_group(http, "crise-drive")
    resp = http.get(f"groups/{group['id']}/drive", params={"$select": "id,webUrl,name"})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def folder(http: httpx.Client, url: str, name: str, behavior: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"name": name, "folder": {}}
    if behavior:
        body["@microsoft.graph.conflictBehavior"] = behavior
    return http.post(url, json=body)


def error_code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


# ---------------------------------------------------------------- provisioning


def test_site_and_drive_404_until_site_delay_has_passed(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    es.set_profile(site_delay_s=0.3)
    group = make_group(http, "crise-site")
    for path in ("sites/root", "drive"):
        resp = http.get(f"groups/{group['id']}/{path}")
        assert resp.status_code == 404
        assert error_code(resp) == "itemNotFound"
    time.sleep(0.35)
    site = http.get(f"groups/{group['id']}/sites/root")
    assert site.status_code == 200
    body = site.json()
    host, site_guid, web_guid = body["id"].split(",")
    assert host.endswith(".sharepoint.com") and len(site_guid) == len(web_guid) == 36
    assert body["webUrl"] == f"https://{host}/sites/crise-site"
    assert body["displayName"] == "Cellule crise-site"
    drive = http.get(f"groups/{group['id']}/drive").json()
    assert drive["driveType"] == "documentLibrary"
    assert drive["name"] == "Documents"
    assert drive["webUrl"].startswith(body["webUrl"])
    assert http.get(f"drives/{drive['id']}").json()["id"] == drive["id"]


def test_owner_less_group_never_gets_a_site(es: EmbeddedSimulator, http: httpx.Client) -> None:
    group = make_group(http, "crise-orphan", with_owner=False)
    es.advance(24 * 3600)
    assert http.get(f"groups/{group['id']}/sites/root").status_code == 404
    assert http.get(f"groups/{group['id']}/drive").status_code == 404


def test_drive_id_is_stable(http: httpx.Client) -> None:
    group = make_group(http, "crise-stable")
    first = http.get(f"groups/{group['id']}/drive").json()["id"]
    assert http.get(f"groups/{group['id']}/drive").json()["id"] == first


# ---------------------------------------------------------------- folders


def test_folder_conflict_behaviours(
    es: EmbeddedSimulator, http: httpx.Client, drive_id: str
) -> None:
    url = f"drives/{drive_id}/root/children"
    created = folder(http, url, "Main courante", "fail")
    assert created.status_code == 201
    item = created.json()
    assert item["folder"] == {"childCount": 0}
    assert item["parentReference"]["driveId"] == drive_id
    assert item["parentReference"]["path"] == f"/drives/{drive_id}/root:"
    clash = folder(http, url, "main courante", "fail")
    assert clash.status_code == 409
    assert error_code(clash) == "nameAlreadyExists"
    default = folder(http, url, "Main courante")
    assert default.status_code == 409  # POST defaults to fail
    renamed = folder(http, url, "Main courante", "rename")
    assert renamed.status_code == 201
    assert renamed.json()["name"] == "Main courante 1"
    inner = folder(http, f"drives/{drive_id}/items/{item['id']}/children", "Jour 1")
    assert inner.status_code == 201
    assert inner.json()["parentReference"]["path"] == f"/drives/{drive_id}/root:/Main courante"
    replaced = folder(http, url, "Main courante", "replace")
    assert replaced.status_code == 201
    assert replaced.json()["id"] != item["id"]
    paths = sorted(i["path"] for i in es.state()["driveItems"] if i["driveId"] == drive_id)
    assert paths == ["", "Main courante", "Main courante 1"]
    bad = folder(http, url, "x", "sometimes")
    assert bad.status_code == 400


def test_children_paths_root_alias_and_paging(http: httpx.Client, drive_id: str) -> None:
    for name in ("A", "B", "C"):
        assert folder(http, f"drives/{drive_id}/items/root/children", name).status_code == 201
    assert folder(http, f"drives/{drive_id}/root:/B:/children", "B1").status_code == 201
    root = http.get(f"drives/{drive_id}/root").json()
    assert root["folder"]["childCount"] == 3
    assert "root" in root
    by_path = http.get(f"drives/{drive_id}/root:/B/B1")
    assert by_path.status_code == 200
    assert by_path.json()["name"] == "B1"
    assert http.get(f"drives/{drive_id}/root:/B/Nope").status_code == 404
    listed = http.get(f"drives/{drive_id}/root:/B:/children").json()["value"]
    assert [i["name"] for i in listed] == ["B1"]
    first = http.get(f"drives/{drive_id}/root/children", params={"$top": "2"}).json()
    assert len(first["value"]) == 2
    rest = http.get(first["@odata.nextLink"]).json()
    assert [i["name"] for i in first["value"] + rest["value"]] == ["A", "B", "C"]
    assert "@odata.nextLink" not in rest


def test_invalid_names_are_refused(http: httpx.Client, drive_id: str) -> None:
    for name in ("a:b", "a*", " lead", ""):
        assert folder(http, f"drives/{drive_id}/root/children", name).status_code == 400


# ---------------------------------------------------------------- files


def test_upload_replace_download_and_delete(
    es: EmbeddedSimulator, http: httpx.Client, drive_id: str
) -> None:
    parent = folder(http, f"drives/{drive_id}/root/children", "Main courante").json()
    url = f"drives/{drive_id}/items/{parent['id']}:/journal.txt:/content"
    first = http.put(url, content=b"20h12 attaque", headers={"Content-Type": "text/plain"})
    assert first.status_code == 201
    item = first.json()
    assert item["file"]["mimeType"] == "text/plain"
    assert item["size"] == 13
    second = http.put(url, content=b"20h15 isolement", headers={"Content-Type": "text/plain"})
    assert second.status_code == 200
    assert second.json()["id"] == item["id"]
    refused = http.put(
        url + "?@microsoft.graph.conflictBehavior=fail",
        content=b"x",
        headers={"Content-Type": "text/plain"},
    )
    assert refused.status_code == 409
    redirect = http.get(f"drives/{drive_id}/items/{item['id']}/content")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert "/_sim/download/" in location
    # The pre-authenticated URL needs no Authorization header.
    assert httpx.get(location).content == b"20h15 isolement"
    assert httpx.get(location.rsplit("/", 1)[0] + "/forged").status_code == 401
    by_path = http.get(f"drives/{drive_id}/root:/Main courante/journal.txt:/content")
    assert by_path.status_code == 302
    assert http.delete(f"drives/{drive_id}/items/{item['id']}").status_code == 204
    assert http.get(f"drives/{drive_id}/items/{item['id']}").status_code == 404
    assert httpx.get(location).status_code == 404


def test_upload_by_path_creates_missing_folders(
    es: EmbeddedSimulator, http: httpx.Client, drive_id: str
) -> None:
    resp = http.put(
        f"drives/{drive_id}/root:/Exports/2026/rapport.pdf:/content",
        content=b"%PDF-1.4",
        headers={"Content-Type": "application/pdf"},
    )
    assert resp.status_code == 201
    assert resp.json()["file"]["mimeType"] == "application/pdf"
    assert resp.json()["parentReference"]["path"] == f"/drives/{drive_id}/root:/Exports/2026"
    paths = {i["path"] for i in es.state()["driveItems"] if i["driveId"] == drive_id}
    assert {"Exports", "Exports/2026", "Exports/2026/rapport.pdf"} <= paths


def test_group_drive_aliases(http: httpx.Client) -> None:
    group = make_group(http, "crise-alias")
    resp = folder(http, f"groups/{group['id']}/drive/root/children", "Direct")
    assert resp.status_code == 201
    listed = http.get(f"groups/{group['id']}/drive/root/children").json()["value"]
    assert [i["name"] for i in listed] == ["Direct"]


def test_seed_files_through_control_api(es: EmbeddedSimulator, http: httpx.Client) -> None:
    group = make_group(http, "crise-seed")
    es.seed(
        {
            "files": [
                {
                    "group": "crise-seed",
                    "path": "Main courante/a.txt",
                    "contentBase64": base64.b64encode(b"hello").decode(),
                }
            ]
        }
    )
    drive = http.get(f"groups/{group['id']}/drive").json()
    item = http.get(f"drives/{drive['id']}/root:/Main courante/a.txt").json()
    assert item["size"] == 5
    seeded = [i for i in es.state()["driveItems"] if i["path"] == "Main courante/a.txt"]
    assert seeded[0]["groupId"] == group["id"]


def test_download_needs_no_token_while_graph_does() -> None:
    with EmbeddedSimulator(token="s3cret") as es:
        denied = httpx.get(f"{es.base_url}/subscribedSkus")
        assert denied.status_code == 401
        with es.client() as http:
            group = make_group(http, "crise-token")
            drive = http.get(f"groups/{group['id']}/drive").json()
            up = http.put(
                f"drives/{drive['id']}/root:/a.txt:/content",
                content=b"ok",
                headers={"Content-Type": "text/plain"},
            )
            redirect = http.get(f"drives/{drive['id']}/items/{up.json()['id']}/content")
        assert httpx.get(redirect.headers["Location"]).content == b"ok"


def test_nothing_can_be_created_under_a_file(http: httpx.Client, drive_id: str) -> None:
    text = {"Content-Type": "text/plain"}
    up = http.put(f"drives/{drive_id}/root:/a.txt:/content", content=b"x", headers=text).json()
    under = http.put(
        f"drives/{drive_id}/items/{up['id']}:/b.txt:/content",
        content=b"y",
        headers={"Content-Type": "text/plain"},
    )
    assert under.status_code == 400
    assert folder(http, f"drives/{drive_id}/items/{up['id']}/children", "F").status_code == 400
