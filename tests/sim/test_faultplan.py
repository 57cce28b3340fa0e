"""Targeted faults (`PUT /_sim/faults`): one request gets the fault, the rest are served."""

from __future__ import annotations

import httpx
import pytest
from simhelp import user_body

from crisiskit.sim.server import EmbeddedSimulator


def body(es: EmbeddedSimulator, local: str) -> dict[str, object]:
    out = user_body(local)
    out["userPrincipalName"] = f"{local}@{es.state()['verifiedDomains'][0]}"
    return out


def _users(es: EmbeddedSimulator) -> list[str]:
    """Return the local parts of the users this module's tests created (the seed has others)."""
    return sorted(
        u["userPrincipalName"].split("@")[0]
        for u in es.state()["users"]
        if u["userPrincipalName"].startswith(("faute.", "jamais.", "enfin.", "lot."))
    )


def test_commit_then_5xx_applies_the_write_once_then_the_rule_is_spent(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    es.set_faults({"method": "POST", "path": "^/users$", "fault": "commit_then_5xx"})
    first = http.post("users", json=body(es, "faute.une"))
    assert first.status_code == 503
    assert "faute.une" in _users(es)  # applied behind the 503
    second = http.post("users", json=body(es, "faute.deux"))
    assert second.status_code == 201  # spent after count=1
    log = es.requests()
    assert [e.get("committed") for e in log if e["method"] == "POST"] == [True, None]


def test_unavailable_refuses_before_any_effect_with_retry_after(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    es.set_faults(
        {"method": "POST", "path": "/users", "fault": "unavailable", "count": 2, "retryAfter": 7}
    )
    for _ in range(2):
        refused = http.post("users", json=body(es, "jamais.la"))
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "7"
    assert _users(es) == []
    assert http.post("users", json=body(es, "enfin.la")).status_code == 201


def test_throttled_answers_one_batch_sub_request_429_on_its_own(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    # json-batching: "Requests in a batch are evaluated individually against the applicable
    # throttling limits"; the others of the call are served.
    es.set_faults({"method": "POST", "path": "^/users$", "fault": "throttled",
                   "retryAfter": 0.25})
    batch = {
        "requests": [
            {"id": str(n), "method": "POST", "url": "/users", "body": body(es, f"lot.{n}"),
             "headers": {"Content-Type": "application/json"}}
            for n in range(3)
        ]
    }
    resp = http.post("$batch", json=batch)
    assert resp.status_code == 200
    answers = {r["id"]: r for r in resp.json()["responses"]}
    throttled = [r for r in answers.values() if r["status"] == 429]
    assert len(throttled) == 1 and throttled[0]["headers"]["Retry-After"] == "0.25"
    assert throttled[0]["body"]["error"]["code"] == "TooManyRequests"
    assert sorted(r["status"] for r in answers.values()) == [201, 201, 429]
    assert len(_users(es)) == 2  # refused before any effect


def test_a_drop_inside_a_batch_drops_the_whole_exchange_after_every_sub_request_ran(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    es.set_faults({"method": "POST", "path": "^/users$", "fault": "drop"})
    batch = {
        "requests": [
            {"id": str(n), "method": "POST", "url": "/users", "body": body(es, f"lot.{n}"),
             "headers": {"Content-Type": "application/json"}}
            for n in range(3)
        ]
    }
    with pytest.raises(httpx.HTTPError):
        http.post("$batch", json=batch)
    assert _users(es) == [f"lot.{n}" for n in range(3)]


def test_a_rule_can_name_a_query(es: EmbeddedSimulator, http: httpx.Client) -> None:
    es.set_faults({"method": "GET", "path": "^/users\\?.*startswith", "fault": "unavailable"})
    assert http.get("users", params={"$filter": "userPrincipalName eq 'x'"}).status_code == 200
    assert http.get(
        "users", params={"$filter": "startswith(displayName,'A')"}
    ).status_code == 503


def test_rules_are_listed_disarmed_and_validated(es: EmbeddedSimulator, http: httpx.Client) -> None:
    es.set_faults({"method": "GET", "path": "^/users", "fault": "unavailable", "count": 3})
    assert http.get("users").status_code == 503
    with httpx.Client(base_url=es.root_url) as control:
        listed = control.get("/_sim/faults").json()["rules"]
        assert listed == [{"method": "GET", "path": "^/users", "fault": "unavailable",
                           "count": 3, "retryAfter": 1.0, "hits": 1}]
        assert control.delete("/_sim/faults").status_code == 204
        assert http.get("users").status_code == 200
        bad = control.put("/_sim/faults", json={"rules": [{"method": "GET", "path": "(",
                                                            "fault": "drop"}]})
        assert bad.status_code == 400 and "regular expression" in bad.json()["error"]
        assert control.put("/_sim/faults", json={"rules": [
            {"method": "GET", "path": "x", "fault": "explode"}]}).status_code == 400
    es.set_faults({"method": "GET", "path": "^/users", "fault": "unavailable"})
    es.reset()
    assert http.get("users").status_code == 200  # reset disarms
