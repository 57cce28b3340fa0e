"""Hostile input to the simulator: a Graph-style 400, never a 500; bounded names; passes
kept on disk only as hashes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from simhelp import create_group, create_user, error_code, user_body

from crisiskit.sim.server import EmbeddedSimulator

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"displayName": ' * 2000 + b"1" + b"}" * 2000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"accountEnabled": true, "displayName": NaN}',
        b'{"displayName": Infinity}',
        b'{"displayName": -Infinity}',
        b'{"displayName": 1e999}',
        b'{"displayName": "\xff"}',
    ],
)
def test_unacceptable_json_is_a_400(sim: EmbeddedSimulator, raw: bytes):
    with sim.client() as http:
        resp = http.post("users", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert error_code(resp) == "BadRequest"
    assert resp.json()["error"]["message"].startswith("Unable to read JSON request payload.")


def test_the_clock_refuses_what_is_not_a_finite_forward_step(sim: EmbeddedSimulator):
    before = httpx.get(sim.root_url + "/_sim/clock").json()["offset"]
    for raw in (b'{"advance": NaN}', b'{"advance": Infinity}', b'{"advance": -5}',
                b'{"advance": 1e999}', b'{"advance": "60"}', b'{"advance": true}',
                b'{"advance": 1e12}', b"[1]"):
        resp = httpx.post(sim.root_url + "/_sim/clock", content=raw)
        assert resp.status_code == 400, raw
    assert httpx.get(sim.root_url + "/_sim/clock").json()["offset"] == before


def test_a_very_deep_or_very_long_filter_is_a_400(sim: EmbeddedSimulator):
    with sim.client() as http:
        deep = "(" * 5000 + "displayName eq 'x'" + ")" * 5000
        nots = "not " * 5000 + "accountEnabled eq true"
        long_chain = " or ".join(["displayName eq 'x'"] * 2000)
        for flt in (deep, nots, long_chain):
            resp = http.get("users", params={"$filter": flt})
            assert resp.status_code == 400, resp.text[:200]
        fine = http.get("users", params={"$filter": " or ".join(["displayName eq 'x'"] * 50)})
    assert fine.status_code == 200


def test_a_seed_that_fails_changes_nothing(sim: EmbeddedSimulator):
    before = sim.state()
    resp = httpx.post(
        sim.root_url + "/_sim/seed",
        json={"users": [{"userPrincipalName": "seed.ok@crise.ampmetropole.fr"}],
              "groups": [{"displayName": "G", "members": 5}]},
    )
    assert resp.status_code == 400
    assert sim.state()["users"] == before["users"]


@pytest.mark.parametrize(
    "prop,limit",
    [("displayName", 256), ("givenName", 64), ("surname", 64), ("jobTitle", 128),
     ("department", 64), ("companyName", 64), ("streetAddress", 1024), ("employeeId", 16)],
)
def test_user_properties_are_bounded_as_graph_bounds_them(sim: EmbeddedSimulator, prop, limit):
    with sim.client() as http:
        fits = http.post("users", json=user_body(f"len.{prop.lower()}", **{prop: "x" * limit}))
        assert fits.status_code == 201, fits.text
        too_long = user_body(f"over.{prop.lower()}", **{prop: "x" * (limit + 1)})
        over = http.post("users", json=too_long)
        assert over.status_code == 400 and error_code(over) == "Request_BadRequest"
        assert over.json()["error"]["details"][0]["target"] == prop
        patched = http.patch(f"users/{fits.json()['id']}", json={prop: "y" * (limit + 1)})
        assert patched.status_code == 400


def test_wrong_types_are_refused_not_stored(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "types.user")
        for body in ({"displayName": []}, {"jobTitle": 5}, {"businessPhones": "x"},
                     {"accountEnabled": "false"}, {"otherMails": [1]}, {"identities": [1]}):
            assert http.patch(f"users/{user['id']}", json=body).status_code == 400, body
        owner = user["id"]
        for extra in ({"mailEnabled": "yes"}, {"resourceBehaviorOptions": "x"},
                      {"groupTypes": [1]}, {"isAssignableToRole": 1}):
            body = {"displayName": "T", "mailNickname": "types-g", "mailEnabled": True,
                    "securityEnabled": False, "groupTypes": ["Unified"], **extra}
            assert http.post("groups", json=body).status_code == 400, extra
        ordered = http.get("users", params={"$orderby": "displayName"})
    assert ordered.status_code == 200 and owner


def test_group_display_names_are_bounded(sim: EmbeddedSimulator):
    with sim.client() as http:
        owner = create_user(http, "len.owner")
        create_group(http, "len-ok", owner["id"], displayName="x" * 256)
        over = http.post(
            "groups",
            json={"displayName": "x" * 257, "mailEnabled": True, "mailNickname": "len-over",
                  "securityEnabled": False, "groupTypes": ["Unified"]},
        )
    assert over.status_code == 400 and error_code(over) == "Request_BadRequest"


def test_passes_reach_the_state_file_only_as_hashes(tmp_path: Path, sample_inventory):
    state = tmp_path / "tenant.json"
    with EmbeddedSimulator(sample_inventory, state_file=state) as es, es.client() as http:
        user = create_user(http, "hash.user")
        tap = http.post(
            f"users/{user['id']}/authentication/temporaryAccessPassMethods", json={}
        ).json()["temporaryAccessPass"]
        on_disk = state.read_text()
        assert tap not in on_disk
        methods = json.loads(on_disk)["tenant"]["auth_methods"].values()
        assert [m["_secretHash"].startswith("scrypt$") for m in methods] == [True]
        # The running simulator still shows it to tests.
        shown = [m["temporaryAccessPass"] for m in es.state()["authenticationMethods"]]
        assert shown == [tap]
    with EmbeddedSimulator(state_file=state) as again:
        assert [m["temporaryAccessPass"] for m in again.state()["authenticationMethods"]] == [None]
        # The hash still recognises the pass: a reloaded tenant knows who may sign in.
        assert again.sign_in(user["id"], temporaryAccessPass=tap)["allowed"] is True
        assert again.sign_in(user["id"], temporaryAccessPass=tap + "x")["allowed"] is False


def test_the_sandbox_tenant_file_holds_no_pass_in_clear(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from crisiskit.cli import app

    home = tmp_path / "home"
    for name in ("CRISISKIT_GRAPH_URL", "CRISISKIT_GRAPH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        app,
        ["-i", str(REPO / "inventory.yaml"), "activate", "pertuis", "--sandbox", "--yes"],
        env={"CRISISKIT_HOME": str(home), "USER": "t"},
    )
    assert result.exit_code == 0, result.stderr
    with (home / "outputs" / "pertuis" / "credentials.csv").open(newline="") as f:
        passes = [row["temporary_access_pass"] for row in csv.DictReader(f)]
    assert passes and all(passes)
    tenant = (home / "sandbox" / "tenant.json").read_text()
    for secret in passes:
        assert secret.lstrip("'") not in tenant
