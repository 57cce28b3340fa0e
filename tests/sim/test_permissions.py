"""Application roles: what a token may call, in each workload's words, and how tests set them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from simhelp import create_group, create_user, error_code

from crisiskit.sim.permissions import DEFAULT_ROLES
from crisiskit.sim.server import EmbeddedSimulator, build_router

REPO = Path(__file__).resolve().parents[2]


def test_every_registered_route_declares_its_application_permissions():
    router = build_router()
    assert router.undeclared() == []
    # ...and a declared table names only routes that exist (no stale entry).
    from crisiskit.sim.server import FAMILIES

    registered = {(r.method, r.template) for r in router.routes}
    for family in FAMILIES:
        stale = set(family.PERMISSIONS) - registered
        assert not stale, f"{family.__name__}: {sorted(stale)}"


def test_a_route_without_a_declaration_is_refused_not_served():
    from crisiskit.sim.errors import SimError
    from crisiskit.sim.permissions import Principal, check

    with pytest.raises(SimError) as err:
        check(None, Principal.application(["Directory.ReadWrite.All"]))
    assert err.value.status == 403
    check(None, None)  # the simulator's own calls (seeding) are not checked


def test_default_roles_are_the_readme_least_privilege_list():
    text = (REPO / "README.md").read_text()
    section = text.split("## Pointing crisiskit at a real tenant", 1)[1].split("\n2. ", 1)[0]
    listed = set(re.findall(r"`([A-Za-z-]+\.[A-Za-z.-]+)`", section))
    # Names quoted only to say why they are not needed.
    listed -= {"Group.Create", "GroupMember.ReadWrite.All"}
    assert listed == set(DEFAULT_ROLES)


def test_an_unknown_token_holds_the_default_roles(sim: EmbeddedSimulator):
    sim.reset()
    sim.set_roles(list(DEFAULT_ROLES))
    with sim.client("anything") as http:
        me = create_user(http, "role.default")
        assert http.get(f"users/{me['id']}").status_code == 200
        # Listing every authentication method (authentication-list-methods) needs
        # UserAuthenticationMethod.Read.All, which the least-privilege set does not hold.
        resp = http.get(f"users/{me['id']}/authentication/methods")
        assert resp.status_code == 403
        assert error_code(resp) == "accessDenied"
        assert http.get(f"users/{me['id']}/authentication/phoneMethods").status_code == 200


def test_a_call_no_held_role_allows_gets_the_directory_403(sim: EmbeddedSimulator):
    sim.set_roles(["User.Read.All"])
    with sim.client() as http:
        assert http.get("users").status_code == 200
        resp = http.post("users", json={"displayName": "x"})
        assert resp.status_code == 403
        assert error_code(resp) == "Authorization_RequestDenied"
        assert resp.json()["error"]["message"] == (
            "Insufficient privileges to complete the operation."
        )


@pytest.mark.parametrize(
    "path,code",
    [
        ("teams/00000000-0000-0000-0000-000000000001", "Forbidden"),
        ("drives/b!x/root/children", "accessDenied"),
        ("users/nobody@x/mailboxSettings", "ErrorAccessDenied"),
        ("users/nobody@x/authentication/phoneMethods", "accessDenied"),
        ("groups", "Authorization_RequestDenied"),
    ],
)
def test_each_workload_refuses_in_its_own_words(sim: EmbeddedSimulator, path: str, code: str):
    sim.set_roles(["Mail.Send"])  # holds nothing any of these accept
    with sim.client() as http:
        resp = http.get(path)
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == code


def test_purging_a_deleted_group_is_refused_to_any_app_only_token(sim: EmbeddedSimulator):
    with sim.client() as http:
        owner = create_user(http, "purge.owner")
        group = create_group(http, "purge-me", owner["id"])
        assert http.delete(f"groups/{group['id']}").status_code == 204
        user = create_user(http, "purge.user")
        assert http.delete(f"users/{user['id']}").status_code == 204
        # The fixture's token holds every application permission there is: still refused.
        refused = http.delete(f"directory/deletedItems/{group['id']}")
        assert refused.status_code == 403
        assert error_code(refused) == "Authorization_RequestDenied"
        # A deleted user can be purged app-only with User.DeleteRestore.All.
        sim.set_roles(["User.DeleteRestore.All"], token="teardown")
        with sim.client("teardown") as teardown:
            assert teardown.delete(f"directory/deletedItems/{user['id']}").status_code == 204
            assert teardown.delete(f"directory/deletedItems/{group['id']}").status_code == 403
    sim.set_roles([], token="admin", app_only=False)
    with sim.client("admin") as admin:
        assert admin.delete(f"directory/deletedItems/{group['id']}").status_code == 204


def test_user_update_needs_the_role_of_each_property(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "role.patch")
    sim.set_roles(["User.EnableDisableAccount.All", "User.Read.All"], token="day2")
    with sim.client("day2") as http:
        assert http.patch(f"users/{user['id']}", json={"accountEnabled": False}).status_code == 204
        resp = http.patch(f"users/{user['id']}", json={"jobTitle": "Maire"})
        assert resp.status_code == 403
        # A mixed body needs the broader role too: nothing is applied.
        both = http.patch(f"users/{user['id']}", json={"accountEnabled": True, "jobTitle": "x"})
        assert both.status_code == 403
        got = http.get(f"users/{user['id']}?$select=accountEnabled,jobTitle").json()
        assert got["accountEnabled"] is False and got["jobTitle"] is None


def test_adding_members_by_patch_needs_only_groupmember_but_other_changes_need_group(
    sim: EmbeddedSimulator,
):
    with sim.client() as http:
        owner = create_user(http, "role.owner")
        member = create_user(http, "role.member")
        group = create_group(http, "role-members", owner["id"])
    sim.set_roles(["GroupMember.ReadWrite.All"], token="members")
    bind = {"members@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{member['id']}"]}
    with sim.client("members") as http:
        assert http.patch(f"groups/{group['id']}", json=bind).status_code == 204
        assert http.patch(f"groups/{group['id']}", json={"description": "x"}).status_code == 403
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{member['id']}"}
        # Owners are group-post-owners: Group.ReadWrite.All only.
        assert http.post(f"groups/{group['id']}/owners/$ref", json=ref).status_code == 403


def test_sub_requests_of_a_batch_are_checked_one_by_one(sim: EmbeddedSimulator):
    sim.set_roles(["User.Read.All"])
    with sim.client() as http:
        resp = http.post(
            "$batch",
            json={
                "requests": [
                    {"id": "1", "method": "GET", "url": "/users"},
                    {"id": "2", "method": "GET", "url": "/groups"},
                ]
            },
        )
    assert resp.status_code == 200
    statuses = {r["id"]: r["status"] for r in resp.json()["responses"]}
    assert statuses == {"1": 200, "2": 403}


def test_reset_forgets_roles_set_by_a_test(sim: EmbeddedSimulator):
    sim.set_roles(["User.Read.All"], token="temp")
    sim.set_roles(["User.Read.All"])
    sim.reset()
    tokens = httpx.get(sim.root_url + "/_sim/tokens").json()
    assert tokens["tokens"] == {}
    assert set(tokens["default"]["roles"]) == set(build_router().grants())  # the fixture's


def test_control_api_refuses_bad_role_bodies_with_400(sim: EmbeddedSimulator):
    for body in ({"roles": "User.Read.All"}, {"roles": [1]}, {"appOnly": "yes"}, [], {"x": 1}):
        resp = httpx.put(sim.root_url + "/_sim/tokens", json=body)
        assert resp.status_code == 400, body


def test_sim_serve_token_and_roles_options():
    cmd = [
        sys.executable, "-m", "crisiskit", "-i", str(REPO / "inventory.yaml"), "sim", "serve",
        "--port", "0", "--token", "T0k", "--roles", "User.Read.All, Group.Read.All",
        "--seats", "7",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        good = {"Authorization": "Bearer T0k"}
        assert httpx.get(base + "/users", headers=good).status_code == 200
        assert httpx.get(base + "/groups", headers=good).status_code == 200
        denied = httpx.post(base + "/users", headers=good, json={})
        assert denied.status_code == 403
        other = httpx.get(base + "/users", headers={"Authorization": "Bearer other"})
        assert other.status_code == 401
        profile = httpx.get(base.replace("/v1.0", "/_sim/profile")).json()
        assert list(profile["seats"].values()) == [7]
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
