"""Targeted faults: the next N requests matching a method and path get a given fault.

The profile's rates (`commit_then_5xx_rate`, `drop_rate`, `transient_5xx_rate`) hit any request
at random; a test that must prove what happens after a fault on ONE request (the create of the
crisis Team, say) sets a rule instead, through `PUT /_sim/faults`:

    {"rules": [{"method": "POST", "path": "^/teams$", "fault": "commit_then_5xx", "count": 1}]}

- `path` is a regular expression searched in the request's path (without `/v1.0`) followed,
  when it has a query, by `?` and its decoded parameters (`$filter=displayName eq '…'`);
  `$batch` sub-requests are matched on their own;
- `fault`: `commit_then_5xx` (the request is applied, then answered 503), `drop` (applied,
  then the connection is closed without an answer; inside a `$batch`, the whole exchange is
  dropped after every sub-request ran, as a real dropped connection would), `unavailable`
  (503 with `Retry-After: retryAfter` seconds, default 1, before any effect), `throttled`
  (429 with the same `Retry-After`, before any effect: a `$batch` sub-request throttled on its
  own, as json-batching says each is);
- `count`: how many matching requests get it (default 1); a rule is spent after that. The
  faults after the effect only hit a request that had one (answered < 400).

`GET /_sim/faults` lists the rules still armed (with `hits`); `DELETE /_sim/faults` disarms
them; `/_sim/reset` too. The rules are faults of the network and the service, never leniency:
nothing here changes what a request does, only what its client is told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crisiskit.sim.errors import SimError, throttled

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator
    from crisiskit.sim.router import SimRequest

FAULTS = ("commit_then_5xx", "drop", "unavailable", "throttled")
BEFORE = frozenset({"unavailable", "throttled"})


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    fault: str
    count: int
    retry_after: float = 1.0
    hits: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path.pattern,
            "fault": self.fault,
            "count": self.count,
            "retryAfter": self.retry_after,
            "hits": self.hits,
        }


def parse_rules(body: Any) -> list[Rule]:
    """Validate `PUT /_sim/faults`; any problem refuses the whole body (ValueError)."""
    if not isinstance(body, dict) or not isinstance(body.get("rules"), list):
        raise ValueError('expected {"rules": [{"method", "path", "fault", "count"?}]}')
    rules = []
    for n, raw in enumerate(body["rules"]):
        if not isinstance(raw, dict):
            raise ValueError(f"rule {n}: expected an object")
        method, path, fault = raw.get("method"), raw.get("path"), raw.get("fault")
        if not isinstance(method, str) or not isinstance(path, str):
            raise ValueError(f"rule {n}: method and path must be strings")
        if fault not in FAULTS:
            raise ValueError(f"rule {n}: fault must be one of {', '.join(FAULTS)}")
        count = raw.get("count", 1)
        after = raw.get("retryAfter", 1.0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"rule {n}: count must be a positive integer")
        if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
            raise ValueError(f"rule {n}: retryAfter must be a number >= 0")
        try:
            pattern = re.compile(path)
        except re.error as exc:
            raise ValueError(f"rule {n}: path is not a regular expression: {exc}") from None
        rules.append(Rule(method.upper(), pattern, str(fault), count, float(after)))
    return rules


def take(sim: Simulator, req: SimRequest, *, before: bool) -> Rule | None:
    """Return (and spend) the first armed rule matching `req` for this moment, if any.

    A rule that acts after the effect is only spent on a request that had one (status < 400).
    """
    with sim.lock:
        for rule in sim.fault_rules:
            if (rule.fault in BEFORE) != before or rule.hits >= rule.count:
                continue
            if rule.method == req.method.upper() and rule.path.search(_target(req)):
                rule.hits += 1
                return rule
    return None


def _target(req: SimRequest) -> str:
    if not req.query:
        return req.path
    return req.path + "?" + "&".join(f"{k}={v}" for k, v in req.query.items())


def refusal(sim: Simulator, req: SimRequest) -> SimError | None:
    """Return the 503 (or 429) of an armed `unavailable` (`throttled`) rule matching `req`."""
    rule = take(sim, req, before=True)
    if rule is None:
        return None
    if rule.fault == "throttled":
        return throttled(rule.retry_after)
    return SimError(
        503,
        "serviceNotAvailable",
        "The service is temporarily unavailable. Retry later.",
        headers={"Retry-After": f"{rule.retry_after:g}"},
    )


def after(sim: Simulator, req: SimRequest, status: int) -> str | None:
    """Return "5xx" or "drop" when an armed rule matches `req`, which succeeded with `status`."""
    if status >= 400:
        return None
    rule = take(sim, req, before=False)
    if rule is None:
        return None
    return "5xx" if rule.fault == "commit_then_5xx" else "drop"
