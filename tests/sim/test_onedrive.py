"""Users' OneDrives, content hashes, large files, ranged downloads and name rules, over loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from simhelp import error_code, licensed_user, plain_user

from crisiskit.sim.blobs import pattern_bytes
from crisiskit.sim.quickxor import quickxor_b64
from crisiskit.sim.server import EmbeddedSimulator

TEXT = {"Content-Type": "text/plain"}


def test_onedrive_exists_site_delay_after_a_sharepoint_licence(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    unlicensed = plain_user(es, http, "sans.licence")
    missing = http.get(f"users/{unlicensed['id']}/drive")
    assert missing.status_code == 404
    assert error_code(missing) == "ResourceNotFound"
    es.set_profile(site_delay_s=0.3)
    user = licensed_user(es, http, "agent.drive")
    assert http.get(f"users/{user['id']}/drive").status_code == 404
    time.sleep(0.35)
    drive = http.get(f"users/{user['userPrincipalName']}/drive")
    assert drive.status_code == 200, drive.text
    body = drive.json()
    assert body["driveType"] == "business"
    assert body["owner"]["user"]["id"] == user["id"]
    assert "-my.sharepoint.com/personal/" in body["webUrl"]
    listed = http.get(f"users/{user['id']}/drives").json()["value"]
    assert [d["id"] for d in listed] == [body["id"]]
    assert http.get(f"drives/{body['id']}").json()["id"] == body["id"]


def test_recursive_children_paging_download_url_and_hashes(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    user = licensed_user(es, http, "agent.tree")
    upn = user["userPrincipalName"]
    files = [
        {
            "user": upn,
            "path": f"Rapports/r{i:03}.txt",
            "contentBase64": base64.b64encode(f"rapport {i}".encode()).decode(),
        }
        for i in range(205)
    ]
    files.append({"user": upn, "path": "Rapports/2026/Annexes/"})
    files.append(
        {
            "user": upn,
            "path": "Rapports/2026/Annexes/plan.pdf",
            "contentBase64": base64.b64encode(b"%PDF").decode(),
        }
    )
    es.seed({"files": files})
    root = http.get(f"users/{user['id']}/drive/root/children").json()["value"]
    assert [i["name"] for i in root] == ["Rapports"]
    first = http.get(f"users/{user['id']}/drive/items/{root[0]['id']}/children").json()
    assert len(first["value"]) == 200  # the default page is 200 items
    rest = http.get(first["@odata.nextLink"]).json()
    names = [i["name"] for i in first["value"] + rest["value"]]
    assert len(names) == 206 and "2026" in names and "@odata.nextLink" not in rest
    one = next(i for i in first["value"] if i["name"] == "r007.txt")
    assert one["file"]["hashes"] == {"quickXorHash": quickxor_b64(b"rapport 7")}
    assert one["parentReference"]["driveType"] == "business"
    assert httpx.get(one["@microsoft.graph.downloadUrl"]).content == b"rapport 7"
    deep = http.get(f"users/{user['id']}/drive/root:/Rapports/2026/Annexes:/children").json()
    assert [i["name"] for i in deep["value"]] == ["plan.pdf"]
    assert deep["value"][0]["size"] == 4
    folder = http.get(f"users/{user['id']}/drive/root:/Rapports/2026").json()
    assert folder["folder"]["childCount"] == 1 and folder["size"] == 4


def test_large_generated_file_stays_out_of_the_tenant_json(tmp_path: Path) -> None:
    state_file = tmp_path / "tenant.json"
    size = 6 * 1024 * 1024 + 123
    with EmbeddedSimulator(state_file=state_file) as es, es.client() as http:
        user = licensed_user(es, http, "agent.gros")
        es.seed(
            {
                "files": [
                    {
                        "user": user["userPrincipalName"],
                        "path": "gros.bin",
                        "size": size,
                        "seed": 42,
                    }
                ]
            }
        )
        item = http.get(f"users/{user['id']}/drive/root:/gros.bin").json()
        expected = pattern_bytes(42, size)
        assert item["size"] == size
        assert item["file"]["hashes"]["quickXorHash"] == quickxor_b64(expected)
        # The state file and /_sim/state hold a reference, not the bytes.
        assert state_file.stat().st_size < 200_000
        assert len(json.dumps(es.state())) < 200_000
        content = httpx.get(item["@microsoft.graph.downloadUrl"]).content
        assert hashlib.sha256(content).digest() == hashlib.sha256(expected).digest()
        uploaded = http.put(
            f"users/{user['id']}/drive/root:/copie.bin:/content", content=expected[:3_000_000]
        )
        assert uploaded.status_code == 201
        assert state_file.stat().st_size < 200_000  # uploaded bytes go beside the state file
        assert list((tmp_path / "tenant.json.blobs").iterdir())
    # Reloaded from the state file, the uploaded content is still there.
    with EmbeddedSimulator(state_file=state_file) as again, again.client() as http:
        copy = http.get(f"users/{user['id']}/drive/root:/copie.bin").json()
        data = httpx.get(copy["@microsoft.graph.downloadUrl"]).content
        assert data == expected[:3_000_000]


def test_content_redirect_ranges_and_conditional_get(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    user = licensed_user(es, http, "agent.range")
    data = bytes(range(256)) * 8  # 2048 bytes
    up = http.put(f"users/{user['id']}/drive/root:/a.bin:/content", content=data)
    assert up.status_code == 201
    item = up.json()
    redirect = http.get(f"users/{user['id']}/drive/items/{item['id']}/content")
    assert redirect.status_code == 302
    url = redirect.headers["Location"]
    part = httpx.get(url, headers={"Range": "bytes=0-1023"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 0-1023/2048"
    assert part.content == data[:1024]
    tail = httpx.get(url, headers={"Range": "bytes=2000-"})
    assert tail.status_code == 206 and tail.content == data[2000:]
    suffix = httpx.get(url, headers={"Range": "bytes=-10"})
    assert suffix.headers["Content-Range"] == "bytes 2038-2047/2048"
    assert httpx.get(url, headers={"Range": "bytes=5000-"}).status_code == 416
    assert httpx.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200  # ignored
    assert httpx.get(url).content == data
    tagged = http.get(
        f"users/{user['id']}/drive/items/{item['id']}/content",
        headers={"If-None-Match": item["eTag"]},
    )
    assert tagged.status_code == 304
    replaced = http.put(f"users/{user['id']}/drive/items/{item['id']}/content", content=b"new")
    assert replaced.json()["eTag"] != item["eTag"]
    stale = http.get(
        f"users/{user['id']}/drive/items/{item['id']}/content",
        headers={"If-None-Match": item["eTag"]},
    )
    assert stale.status_code == 302


def test_corrupted_downloads_on_demand(es: EmbeddedSimulator, http: httpx.Client) -> None:
    user = licensed_user(es, http, "agent.faute")
    item = http.put(f"users/{user['id']}/drive/root:/x.txt:/content", content=b"exact").json()
    es.corrupt_downloads(1)
    bad = httpx.get(
        http.get(f"users/{user['id']}/drive/root:/x.txt").json()["@microsoft.graph.downloadUrl"]
    ).content
    assert bad != b"exact" and len(bad) == 5
    assert quickxor_b64(bad) != item["file"]["hashes"]["quickXorHash"]
    good = httpx.get(
        http.get(f"users/{user['id']}/drive/root:/x.txt").json()["@microsoft.graph.downloadUrl"]
    ).content
    assert good == b"exact"


@pytest.mark.parametrize(
    "name",
    [
        ".",
        "..",
        "CON",
        "lpt9",
        ".lock",
        "desktop.ini",
        "~$brouillon.docx",
        "a_vti_b",
        "x" * 256,
        "trailing.",
        "..hidden",
        "a|b",
        "tab\there",
    ],
)
def test_names_sharepoint_refuses(es: EmbeddedSimulator, http: httpx.Client, name: str) -> None:
    user = licensed_user(es, http, f"agent.{abs(hash(name)) % 10**6}")
    resp = http.post(f"users/{user['id']}/drive/root/children", json={"name": name, "folder": {}})
    assert resp.status_code == 400, name
    assert error_code(resp) == "invalidRequest"


def test_path_rules_dot_segments_and_length(es: EmbeddedSimulator, http: httpx.Client) -> None:
    user = licensed_user(es, http, "agent.path")
    base = f"users/{user['id']}/drive/root:"
    # Percent-encoded, or the HTTP client would resolve the dot segments itself.
    assert http.put(f"{base}/a/%2E%2E/b.txt:/content", content=b"x").status_code == 400
    assert http.get(f"{base}/%2E/a:").status_code == 400
    ok = http.put(f"{base}/{'d' * 200}/{'e' * 190}.txt:/content", content=b"x", headers=TEXT)
    assert ok.status_code == 201
    too_long = http.put(f"{base}/{'d' * 200}/{'f' * 210}.txt:/content", content=b"x")
    assert too_long.status_code == 400  # the decoded path is over 400 characters
    assert http.put(f"{base}/con.txt:/content", content=b"x").status_code == 201  # only bare names


def test_user_drive_cascade(es: EmbeddedSimulator, http: httpx.Client) -> None:
    user = licensed_user(es, http, "agent.purge")
    es.seed({"files": [{"user": user["id"], "path": "a.txt", "contentBase64": "eA=="}]})
    assert http.delete(f"users/{user['id']}").status_code == 204
    assert http.get(f"users/{user['id']}/drive").status_code == 404  # gone with the user
    assert http.post(f"directory/deletedItems/{user['id']}/restore").status_code == 200
    again = http.get(f"users/{user['id']}/drive/root:/a.txt")
    assert again.status_code == 200  # back with the restore
    assert http.delete(f"users/{user['id']}").status_code == 204
    assert http.delete(f"directory/deletedItems/{user['id']}").status_code == 204  # for good
    state: dict[str, Any] = es.state()
    assert not [d for d in state["drives"] if d.get("userId") == user["id"]]
    assert not [i for i in state["driveItems"] if i.get("userId") == user["id"]]


@pytest.mark.parametrize(
    ("start", "end"), [(0, 0), (0, 2**20 - 1), (2**20 - 5, 2**20 + 5), (3 * 2**20 - 1, 10**9)]
)
def test_generated_content_ranges_match_the_whole(start: int, end: int) -> None:
    # Ranges of large generated files are generated block by block, never whole.
    size = 3 * 2**20 + 17
    whole = pattern_bytes(9, size)
    assert pattern_bytes(9, size, start, end) == whole[start : end + 1]
