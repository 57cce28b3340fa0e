"""Whether a person could sign in now: the user side of day-2 operations, for tests and drills.

Signing in is not a Graph call, so the control API answers it (`POST /_sim/signin`): a user
signs in only if it exists (not deleted) and `accountEnabled` is true (user resource:
"true if the account is enabled; otherwise, false"); a session issued before
`signInSessionsValidFromDateTime` is refused (user-revokesigninsessions: the user "must sign in
again"). With a Temporary Access Pass, the pass must be the user's, within its lifetime, not
used if it is single-use, and allowed by the tenant's policy. This module imports no family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crisiskit.sim.tenant import secret_matches

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator


@dataclass(frozen=True)
class SignIn:
    allowed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason}


def _user(sim: Simulator, who: str) -> dict[str, Any] | None:
    user = sim.tenant.users.get(who)
    if user is None and "@" in who:
        user = sim.user_by_upn(who)
    return user


def _is(method: dict[str, Any], secret: str) -> bool:
    """Tell whether `secret` is this pass: in clear in memory, or by its hash after a reload."""
    if isinstance(method.get("_secret"), str):
        return bool(method["_secret"] == secret)
    stored = method.get("_secretHash")
    return isinstance(stored, str) and secret_matches(secret, stored)


def _pass_state(sim: Simulator, user_id: str, secret: str) -> str | None:
    """Return why `secret` is not a usable pass of the user, or None if it is."""
    passes = [
        m
        for m in sim.tenant.auth_methods.values()
        if m.get("_userId") == user_id and m.get("_kind") == "temporaryAccessPass"
    ]
    match = next((m for m in passes if _is(m, secret)), None)
    if match is None:
        return "InvalidTemporaryAccessPass"
    if not sim.tenant.tap_policy_enabled:
        return "DisabledByPolicy"
    start = float(match.get("_start", 0.0))
    end = start + 60 * float(match.get("lifetimeInMinutes", 0))
    if sim.now() < start:
        return "NotYetValid"
    if sim.now() >= end:
        return "Expired"
    if match.get("isUsableOnce") and match.get("_usedAt") is not None:
        return "OneTimeUsed"
    return None


def sign_in(
    sim: Simulator, who: str, *, secret: str | None = None, session_from: float | None = None
) -> SignIn:
    """Tell whether `who` (id or UPN) can sign in now, with a pass or an existing session."""
    user = _user(sim, who)
    if user is None:
        return SignIn(False, "UserNotFound")
    if user.get("accountEnabled") is False:
        return SignIn(False, "UserAccountDisabled")
    if session_from is not None:
        valid_from = float(user.get("_sessionsValidFrom") or 0.0)
        if session_from < valid_from:
            return SignIn(False, "SessionRevoked")
        return SignIn(True, "SessionValid")
    if secret is not None:
        refused = _pass_state(sim, user["id"], secret)
        if refused is not None:
            return SignIn(False, refused)
        for m in sim.tenant.auth_methods.values():
            if m.get("_userId") == user["id"] and _is(m, secret):
                m["_usedAt"] = sim.now()
        return SignIn(True, "TemporaryAccessPass")
    return SignIn(True, "AccountEnabled")
