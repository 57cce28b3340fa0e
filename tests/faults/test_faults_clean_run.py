"""One uninterrupted activation, then: idempotency, an empty plan, decoys untouched, no leak."""

from __future__ import annotations

import csv
import json
import re
import stat
from pathlib import Path
from typing import Any

from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    RecordingProxy,
    SimServer,
    child_env,
    describe,
    find_values,
    home_files,
    kit_snapshot,
    run_cli,
    tag_of,
    tap_secrets,
    writes,
)
from faultruns import Activation, activate_fresh
from planjson import changes, jsonlines, parse_json_stdout

CSV_HEADER = ["upn", "display_name", "temporary_access_pass", "valid_from", "valid_until"]


def credentials_file(home: Path) -> Path:
    path = home / "outputs" / COMMUNE / "credentials.csv"
    assert path.is_file(), f"no credentials file at {path}: {[str(p) for p in home_files(home)]}"
    return path


def read_credentials(home: Path) -> list[dict[str, str]]:
    with credentials_file(home).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CSV_HEADER, reader.fieldnames
        rows = list(reader)
    for r in rows:  # README, credentials file: the pass is the cell without its apostrophe
        assert r["temporary_access_pass"].startswith("'"), "pass cell without its text mark"
        r["temporary_access_pass"] = r["temporary_access_pass"][1:]
    return rows


def assert_nowhere(secrets: list[str], where: dict[str, bytes]) -> None:
    """Fail naming the place and the secret's owner index if any secret occurs in any place."""
    leaks = [
        f"secret #{i} ({s[:2]}…) found in {name}"
        for name, blob in where.items()
        for i, s in enumerate(secrets)
        if s.encode() in blob
    ]
    assert not leaks, "\n".join(leaks)


def local_places(run: Activation, *, except_credentials: bool = True) -> dict[str, bytes]:
    """Return every file crisiskit left under its home (state.db, -wal, logs, documents)."""
    cred = run.home / "outputs" / COMMUNE / "credentials.csv"
    return {
        str(p.relative_to(run.home)): p.read_bytes()
        for p in home_files(run.home)
        if not (except_credentials and p == cred)
    }


# ------------------------------------------------------------------------------------------


def test_second_activation_makes_zero_writes_and_reports_everything_present(
    reference: Activation,
) -> None:
    before = len(reference.sim.requests())
    again = run_cli(["activate", COMMUNE, "--yes"], reference.env)
    assert again.returncode == 0, str(again)
    new = reference.sim.requests()[before:]
    assert new, "the second activation did not even read the tenant"
    assert not writes(new), "second activation wrote:\n" + describe(writes(new))
    out = (again.stdout + again.stderr).lower()
    assert re.search(r"nothing to do|already (present|complete)|everything (is )?present", out), (
        str(again)
    )
    assert kit_snapshot(reference.sim.state()) == reference.snapshot


def test_plan_after_activation_is_empty(reference: Activation) -> None:
    before = len(reference.sim.requests())
    res = run_cli(["--output", "json", "plan", COMMUNE], reference.env)
    assert res.returncode == 0, str(res)
    plan = parse_json_stdout(res.stdout)
    assert plan.get("empty") is True, changes(plan)
    assert not changes(plan), changes(plan)
    assert not writes(reference.sim.requests()[before:]), "plan wrote to the tenant"


def test_activation_left_the_expected_kit(reference: Activation) -> None:
    """Check the reference itself, so that a kill test comparing to it compares to a kit."""
    snap = reference.snapshot
    creds = read_credentials(reference.home)
    assert len(snap["users"]) >= 10, snap["users"]
    assert {r["upn"].lower() for r in creds} == set(snap["users"])
    assert len(snap["groups"]) == 1
    (group,) = snap["groups"].values()
    assert set(group["members"]) == set(snap["users"])
    assert group["owners"] and set(group["owners"]) <= set(snap["users"])
    assert snap["teams"] == list(snap["groups"])
    assert snap["channels"], "no channel created"
    assert snap["driveItems"], "no folder created"
    taps = [m for m in snap["authenticationMethods"] if m[1] == "tap"]
    assert len(taps) == len(snap["users"])
    phones = [m for m in snap["authenticationMethods"] if m[1].startswith("phone")]
    lent_phones = [a for a, _ in reference.loans if a in _phone_tags(reference)]
    assert len(phones) == len(lent_phones)
    assert reference.loans, "no device lent"
    assert len({a for a, _ in reference.loans}) == len(reference.loans)


def _phone_tags(run: Activation) -> set[str]:
    import yaml

    data = yaml.safe_load(run.inventory.read_text(encoding="utf-8"))
    return {p["asset_tag"] for p in data["devices"]["phones"]}


def test_decoys_are_untouched(reference: Activation) -> None:
    before, after = reference.before, reference.after
    decoy_users = {u["id"]: u for u in before["users"]}
    decoy_groups = {g["id"]: g for g in before["groups"]}
    assert decoy_users and decoy_groups, "the simulator seeded no decoys to protect"
    after_users = {u["id"]: u for u in after["users"]}
    after_groups = {g["id"]: g for g in after["groups"]}
    for uid, u in decoy_users.items():
        assert after_users.get(uid) == u, f"decoy user {u.get('userPrincipalName')} changed"
        assert tag_of(u) != COMMUNE
    for gid, g in decoy_groups.items():
        assert after_groups.get(gid) == g, f"decoy group {g.get('mailNickname')} changed"
    names = {str(u.get("userPrincipalName")).lower() for u in decoy_users.values()}
    names |= {str(g.get("mailNickname")).lower() for g in decoy_groups.values()}
    ids = set(decoy_users) | set(decoy_groups)
    for entry in writes(reference.requests):
        path = str(entry.get("path", "")).lower()
        hit = [x for x in ids | names if x and x.lower() in path]
        assert not hit, f"write {entry['method']} {entry['path']} targets decoy {hit}"
    # Auth methods and drive items of decoys did not change either.
    for key in ("authenticationMethods", "driveItems", "deletedItems"):
        mine = [
            x
            for x in before.get(key, [])
            if x.get("userId") in decoy_users or x.get("groupId") in decoy_groups
        ]
        for x in mine:
            assert x in after.get(key, []), f"decoy {key} entry changed: {x}"


def test_every_pass_is_in_the_credentials_file_and_nowhere_else(reference: Activation) -> None:
    secrets = tap_secrets(reference.after)
    users = {u["id"]: u for u in reference.after["users"] if tag_of(u) == COMMUNE}
    assert len(secrets) == len(users), "not one pass per account in the simulator"
    creds = read_credentials(reference.home)
    by_upn = {r["upn"].lower(): r["temporary_access_pass"] for r in creds}
    for m in reference.after["authenticationMethods"]:
        if m.get("temporaryAccessPass"):
            upn = str(users[m["userId"]]["userPrincipalName"]).lower()
            assert by_upn.get(upn) == m["temporaryAccessPass"], f"wrong pass on file for {upn}"
    mode = stat.S_IMODE(credentials_file(reference.home).stat().st_mode)
    assert mode == 0o600, oct(mode)
    printed = reference.result.stdout + reference.result.stderr
    assert "credentials.csv" in printed, "the credentials file's path is not printed"

    export = run_cli(["audit", "export"], reference.env)
    assert export.returncode == 0, str(export)
    assert jsonlines(export.stdout), "empty audit export"
    places = local_places(reference)
    places["stdout"] = reference.result.stdout.encode()
    places["stderr"] = reference.result.stderr.encode()
    places["audit export"] = export.stdout.encode()
    for args in (["status", COMMUNE], ["--output", "json", "status", COMMUNE], ["audit", "show"]):
        res = run_cli(args, reference.env)
        assert res.returncode == 0, str(res)
        places[" ".join(args)] = (res.stdout + res.stderr).encode()
    assert any(k.endswith(".md") for k in places) and any(k.endswith(".html") for k in places)
    assert any(k.endswith("state.db") for k in places)
    assert_nowhere(secrets, places)
    # A pass of crisiskit's own is a long random token; make sure the test can see one at all.
    assert all(len(s) >= 8 for s in secrets)


def test_generated_passwords_are_strong_unique_and_never_kept_or_shown(tmp_path: Path) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)
    try:
        with RecordingProxy(sim.root_url) as proxy:
            home = tmp_path / "home"
            env = child_env(home, SAMPLE_INVENTORY, proxy.base_url)
            res = run_cli(["activate", COMMUNE, "--yes"], env)
            assert res.returncode == 0, str(res)
            export = run_cli(["audit", "export"], env)
            assert export.returncode == 0, str(export)
        pwds = [
            str(p["password"])
            for doc in proxy.json_bodies()
            for p in find_values(doc, "passwordProfile")
            if isinstance(p, dict) and p.get("password")
        ]
        ours = [u for u in sim.state()["users"] if tag_of(u) == COMMUNE]
        assert len(pwds) == len(ours), f"{len(pwds)} passwords sent for {len(ours)} accounts"
        assert len(set(pwds)) == len(pwds), "two accounts got the same password"
        for pwd in pwds:
            classes = sum(
                any(f(c) for c in pwd)
                for f in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
            )
            assert len(pwd) >= 16 and classes >= 3, "a generated password is weak"
        places = {str(p.relative_to(home)): p.read_bytes() for p in home_files(home)}
        places.update(
            stdout=res.stdout.encode(), stderr=res.stderr.encode(), export=export.stdout.encode()
        )
        assert_nowhere(pwds, places)
    finally:
        sim.close()


def test_json_output_activation_leaks_no_pass(tmp_path: Path) -> None:
    run = activate_fresh(tmp_path, extra_args=("--output", "json"))
    try:
        doc = parse_json_stdout(run.result.stdout)
        assert isinstance(doc, dict | list)
        secrets = tap_secrets(run.after)
        assert secrets
        places = local_places(run)
        places["stdout"] = run.result.stdout.encode()
        places["stderr"] = run.result.stderr.encode()
        assert_nowhere(secrets, places)
    finally:
        run.sim.close()


def test_show_secrets_is_the_only_way_to_the_terminal(reference: Activation) -> None:
    """`--show-secrets` on a complete kit issues nothing new, so it prints no pass either."""
    secrets = tap_secrets(reference.sim.state())
    res = run_cli(["activate", COMMUNE, "--yes", "--show-secrets"], reference.env)
    assert res.returncode == 0, str(res)
    assert_nowhere(secrets, {"stdout": res.stdout.encode(), "stderr": res.stderr.encode()})


def test_lost_credentials_file_makes_the_rerun_reissue_and_say_so(tmp_path: Path) -> None:
    run = activate_fresh(tmp_path)
    try:
        cred = credentials_file(run.home)
        old = {r["upn"].lower(): r["temporary_access_pass"] for r in read_credentials(run.home)}
        cred.unlink()
        env = child_env(run.home, run.inventory, run.sim.base_url)
        before = len(run.sim.requests())
        res = run_cli(["activate", COMMUNE, "--yes"], env)
        assert res.returncode == 0, str(res)
        out = (res.stdout + res.stderr).lower()
        assert "reissu" in out, str(res)
        new_writes = writes(run.sim.requests()[before:])
        tap_posts = [e for e in new_writes if "temporaryaccesspass" in str(e["path"]).lower()]
        assert len(tap_posts) == len(old), describe(new_writes)
        non_tap = [e for e in new_writes if e not in tap_posts]
        assert not non_tap, "reissuing passes rewrote other objects:\n" + describe(non_tap)
        fresh = {r["upn"].lower(): r["temporary_access_pass"] for r in read_credentials(run.home)}
        assert set(fresh) == set(old)
        assert all(fresh[u] != old[u] for u in old), "a pass was not renewed"
        assert sorted(fresh.values()) == sorted(tap_secrets(run.sim.state()))
        export = run_cli(["audit", "export"], env)
        reissued = [
            json.dumps(e, ensure_ascii=False).lower()
            for e in jsonlines(export.stdout)
            if "reissu" in json.dumps(e, ensure_ascii=False).lower()
        ]
        missing = [u for u in old if not any(u in e for e in reissued)]
        assert not missing, f"the audit export does not record the reissue for {missing}"
    finally:
        run.sim.close()


def _tag_key(state: dict[str, Any]) -> str:
    names = state.get("extensionProperties") or []
    (key,) = [n for n in names if str(n).endswith("_crisiskitCommune")]
    return str(key)


def test_lookalikes_of_the_kit_are_refused_not_adopted(tmp_path: Path) -> None:
    """An account or group with our natural key but not our tag for this commune: exit 3."""
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)
    try:
        tag = _tag_key(sim.state())
        sim.seed(
            {
                "users": [
                    {   # someone else's account that happens to have a crisis UPN
                        "accountEnabled": True,
                        "displayName": "Jean Martin",
                        "mailNickname": "jean.martin",
                        "userPrincipalName": "jean.martin@crise.ampmetropole.fr",
                        "passwordProfile": {"password": "Xx-1234567890-yY"},
                    },
                    {   # a crisis account, but of another commune
                        "accountEnabled": True,
                        "displayName": "Noël Chêne (Crise Marseille)",
                        "mailNickname": "noel.chene",
                        "userPrincipalName": "noel.chene@crise.ampmetropole.fr",
                        "passwordProfile": {"password": "Xx-1234567890-yY"},
                        tag: "marseille",
                    },
                ]
            }
        )
        before = sim.state()
        env = child_env(tmp_path / "home", SAMPLE_INVENTORY, sim.base_url)
        res = run_cli(["activate", COMMUNE, "--yes"], env)
        assert res.returncode == 3, str(res)
        said = (res.stdout + res.stderr).lower()
        assert "jean.martin@" in said and "noel.chene@" in said, str(res)
        assert not writes(sim.requests()), describe(writes(sim.requests()))
        after = sim.state()
        assert after["users"] == before["users"] and after["groups"] == before["groups"]
    finally:
        sim.close()
