"""The tenant's root site and conditional writes on drive items (what a commune lease needs).

Reference pages: site-get.md (`/sites/root`, the tenant root site), drive-get.md (a site's
library), driveitem-put-content.md and the driveItem resource (`@microsoft.graph.conflictBehavior`
in the query string, default `replace`), driveitem-update.md and driveitem-delete.md (`if-match`
→ 412 Precondition Failed), the OneDrive error responses (412, `resourceModified`).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator

OCTETS = {"Content-Type": "application/octet-stream"}


def error_code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


@pytest.fixture
def root_drive(http: httpx.Client) -> str:
    resp = http.get("sites/root/drive")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["driveType"] == "documentLibrary"
    return str(body["id"])


def test_root_site_and_its_library_always_exist(http: httpx.Client) -> None:
    site = http.get("sites/root")
    assert site.status_code == 200, site.text
    host, site_id, web_id = site.json()["id"].split(",")
    assert host.endswith(".sharepoint.com") and len(site_id) == len(web_id) == 36
    assert site.json()["webUrl"] == f"https://{host}"
    drive = http.get("sites/root/drive").json()
    # The same library by id, stable across calls.
    assert http.get(f"drives/{drive['id']}").json()["id"] == drive["id"]
    assert http.get("sites/root/drive").json()["id"] == drive["id"]


def test_put_by_path_with_fail_creates_once_then_409(http: httpx.Client, root_drive: str) -> None:
    url = f"drives/{root_drive}/root:/crisiskit-leases/aubagne.json:/content"
    fail = {"@microsoft.graph.conflictBehavior": "fail"}
    first = http.put(url, params=fail, content=b"one", headers=OCTETS)
    assert first.status_code == 201, first.text
    assert first.json()["eTag"] and first.json()["cTag"]
    again = http.put(url, params=fail, content=b"two", headers=OCTETS)
    assert again.status_code == 409 and error_code(again) == "nameAlreadyExists"
    # Nothing changed: the content is still the first one.
    assert http.get(url, follow_redirects=True).content == b"one"
    # Without the parameter a PUT replaces (the documented default), a new version.
    replaced = http.put(url, content=b"three", headers=OCTETS)
    assert replaced.status_code == 200
    assert replaced.json()["eTag"] != first.json()["eTag"]


def test_if_match_on_put_content(http: httpx.Client, root_drive: str) -> None:
    url = f"drives/{root_drive}/root:/leases/x.json:/content"
    created = http.put(url, content=b"v1", headers=OCTETS).json()
    etag, ctag = created["eTag"], created["cTag"]
    stale = http.put(url, content=b"v2", headers={**OCTETS, "If-Match": '"{0},9"'})
    assert stale.status_code == 412 and error_code(stale) == "resourceModified"
    assert http.get(url, follow_redirects=True).content == b"v1"
    fresh = http.put(url, content=b"v2", headers={**OCTETS, "If-Match": etag})
    assert fresh.status_code == 200, fresh.text
    # The old tag no longer matches; the cTag of the current version does.
    assert http.put(url, content=b"v3", headers={**OCTETS, "If-Match": etag}).status_code == 412
    assert http.put(url, content=b"v3", headers={**OCTETS, "If-Match": ctag}).status_code == 412
    current = fresh.json()["cTag"]
    assert http.put(url, content=b"v3", headers={**OCTETS, "If-Match": current}).status_code == 200
    # By id too.
    item = http.get(f"drives/{root_drive}/root:/leases/x.json").json()
    by_id = f"drives/{root_drive}/items/{item['id']}/content"
    assert http.put(by_id, content=b"v4", headers={**OCTETS, "If-Match": etag}).status_code == 412
    assert http.put(by_id, content=b"v4", headers={**OCTETS, "If-Match": "*"}).status_code == 200


def test_if_match_on_an_absent_item_is_412_and_creates_nothing(
    http: httpx.Client, root_drive: str
) -> None:
    url = f"drives/{root_drive}/root:/nowhere/x.json:/content"
    resp = http.put(url, content=b"v1", headers={**OCTETS, "If-Match": "*"})
    assert resp.status_code == 412
    assert http.get(f"drives/{root_drive}/root:/nowhere").status_code == 404


def test_malformed_if_match_is_a_400(http: httpx.Client, root_drive: str) -> None:
    url = f"drives/{root_drive}/root:/x.json:/content"
    http.put(url, content=b"v1", headers=OCTETS)
    resp = http.put(url, content=b"v2", headers={**OCTETS, "If-Match": "no-quotes"})
    assert resp.status_code == 400 and error_code(resp) == "invalidRequest"


def test_if_match_on_delete_and_patch(http: httpx.Client, root_drive: str) -> None:
    path = f"drives/{root_drive}/root:/leases/y.json"
    first = http.put(f"{path}:/content", content=b"v1", headers=OCTETS).json()
    second = http.put(f"{path}:/content", content=b"v2", headers=OCTETS).json()
    gone = http.delete(path, headers={"If-Match": first["eTag"]})
    assert gone.status_code == 412 and error_code(gone) == "resourceModified"
    renamed = http.patch(path, json={"name": "z.json"}, headers={"If-Match": first["eTag"]})
    assert renamed.status_code == 412
    assert http.get(path).status_code == 200
    assert http.delete(path, headers={"If-Match": second["eTag"]}).status_code == 204
    assert http.get(path).status_code == 404


def test_answers_are_dated_on_the_simulated_clock(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    before = parsedate_to_datetime(http.get("sites/root").headers["date"])
    es.advance(3600)
    after = parsedate_to_datetime(http.get("sites/root").headers["date"])
    assert 3590 <= (after - before).total_seconds() <= 3700
    # One Date header, not uvicorn's as well.
    assert len(http.get("sites/root").headers.get_list("date")) == 1
