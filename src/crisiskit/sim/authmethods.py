"""Simulated authentication methods: Temporary Access Pass and phone methods of a user.

A Temporary Access Pass's secret is returned once, in the create response; every later read
gives `temporaryAccessPass: null` (the secret stays in `_secret`, exposed only by
`GET /_sim/state` so tests can prove it never leaks). A user holds one pass: a new one replaces
the old. The tenant's policy switch (`tenant.tap_policy_enabled`) can refuse passes altogether.
A disabled account (`accountEnabled: false`) cannot use its pass (`isUsable: false`).
Phone methods have fixed, documented ids per type, one per type, `mobile` before
`alternateMobile`; the type cannot be changed by PATCH; the user's default MFA method
(`_isDefault`, set by seeding: Graph v1.0 cannot set it) cannot be deleted. Methods are
stored under `"{userId}/{methodId}"` with `_userId` and `_kind`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata
from crisiskit.sim.errors import method_bad_request as bad_request
from crisiskit.sim.errors import method_not_found
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
PHONE_TYPE = "#microsoft.graph.phoneAuthenticationMethod"
PASSWORD_TYPE = "#microsoft.graph.passwordAuthenticationMethod"
PASSWORD_ID = "28c10230-6103-485e-b985-444c60001490"
PHONE_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}
PHONE_FORMAT = re.compile(r"^\+[1-9]\d{0,3} \d{4,15}(x\d{1,10})?$")
TAP_MIN, TAP_MAX, TAP_DEFAULT = 10, 43200, 60
TAP_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789+-#$%&!?@*"
TAP_LENGTH = 8

TAP_READ = (
    "UserAuthMethod-TAP.Read.All",
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
)
TAP_WRITE = ("UserAuthMethod-TAP.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All")
PHONE_READ = (
    "UserAuthMethod-Phone.Read.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
)
PHONE_WRITE = ("UserAuthMethod-Phone.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All")
ALL_READ = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
_BASE = "/users/{user_id}/authentication"
# Application permissions per route (authentication-list-methods, authenticationmethod-get,
# the temporaryAccessPassMethods and phoneMethods pages).
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", f"{_BASE}/methods"): ALL_READ,
    ("GET", f"{_BASE}/methods/{{method_id}}"): ALL_READ,
    ("POST", f"{_BASE}/temporaryAccessPassMethods"): TAP_WRITE,
    ("GET", f"{_BASE}/temporaryAccessPassMethods"): TAP_READ,
    ("GET", f"{_BASE}/temporaryAccessPassMethods/{{method_id}}"): TAP_READ,
    ("DELETE", f"{_BASE}/temporaryAccessPassMethods/{{method_id}}"): TAP_WRITE,
    ("POST", f"{_BASE}/phoneMethods"): PHONE_WRITE,
    ("GET", f"{_BASE}/phoneMethods"): PHONE_READ,
    ("GET", f"{_BASE}/phoneMethods/{{method_id}}"): PHONE_READ,
    ("PATCH", f"{_BASE}/phoneMethods/{{method_id}}"): PHONE_WRITE,
    ("DELETE", f"{_BASE}/phoneMethods/{{method_id}}"): PHONE_WRITE,
}
# Reported wording of the authentication methods service's 403.
DENIED = ("accessDenied", "Request Authorization failed")


def register(router: Router) -> None:
    """Register the authentication method routes on `router`."""
    base = "/users/{user_id}/authentication"
    router.route("GET", f"{base}/methods")(list_methods)
    router.route("GET", f"{base}/methods/{{method_id}}")(get_method)
    router.route("POST", f"{base}/temporaryAccessPassMethods")(create_tap)
    router.route("GET", f"{base}/temporaryAccessPassMethods")(list_taps)
    router.route("GET", f"{base}/temporaryAccessPassMethods/{{method_id}}")(get_tap)
    router.route("DELETE", f"{base}/temporaryAccessPassMethods/{{method_id}}")(delete_tap)
    router.route("POST", f"{base}/phoneMethods")(create_phone)
    router.route("GET", f"{base}/phoneMethods")(list_phones)
    router.route("GET", f"{base}/phoneMethods/{{method_id}}")(get_phone)
    router.route("PATCH", f"{base}/phoneMethods/{{method_id}}")(update_phone)
    router.route("DELETE", f"{base}/phoneMethods/{{method_id}}")(delete_phone)


# ---------------------------------------------------------------- helpers


def _user(sim: Simulator, user_id: str) -> dict[str, Any]:
    user = sim.get_user(user_id)
    sim.check_replicated(user["id"])
    return user


def _methods(sim: Simulator, user_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [
        m
        for m in sim.tenant.auth_methods.values()
        if m.get("_userId") == user_id and (kind is None or m.get("_kind") == kind)
    ]


def _key(user_id: str, method_id: str) -> str:
    return f"{user_id}/{method_id}"


def _find(sim: Simulator, user_id: str, method_id: str, kind: str) -> dict[str, Any]:
    method = sim.tenant.auth_methods.get(_key(user_id, method_id.lower()))
    if method is None or method.get("_kind") != kind:
        raise method_not_found(method_id)
    return method


def _parse_time(value: Any, prop: str) -> float:
    if not isinstance(value, str):
        raise bad_request(f"Invalid value for '{prop}'.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid value for '{prop}': '{value}'.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def tap_view(sim: Simulator, method: dict[str, Any]) -> dict[str, Any]:
    """Return a Temporary Access Pass as later reads show it: usability now, secret null."""
    view = strip_internal(method)
    view["temporaryAccessPass"] = None
    now = sim.now()
    start = float(method["_start"])
    end = start + 60 * float(method["lifetimeInMinutes"])
    user = sim.tenant.users.get(str(method.get("_userId")))
    if not sim.tenant.tap_policy_enabled or (user is not None and not user.get("accountEnabled")):
        # A disabled account cannot sign in with its pass; the reference lists no reason for
        # that case, so the simulator reports the administrative block as DisabledByPolicy.
        usable, reason = False, "DisabledByPolicy"
    elif now < start:
        usable, reason = False, "NotYetValid"
    elif now >= end:
        usable, reason = False, "Expired"
    else:
        usable, reason = True, "EnabledByPolicy"
    view.update(isUsable=usable, methodUsabilityReason=reason)
    return view


def phone_view(method: dict[str, Any]) -> dict[str, Any]:
    return strip_internal(method)


def _view(sim: Simulator, method: dict[str, Any]) -> dict[str, Any]:
    return tap_view(sim, method) if method["_kind"] == "temporaryAccessPass" else phone_view(method)


def _context(req: SimRequest, user_id: str, what: str, entity: bool) -> str:
    return f"{req.base_url}/$metadata#users('{user_id}')/authentication/{what}" + (
        "/$entity" if entity else ""
    )


# ---------------------------------------------------------------- Temporary Access Pass


def create_tap(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Create a Temporary Access Pass (`POST .../temporaryAccessPassMethods`) → 201 + secret."""
    user = _user(sim, user_id)
    body = req.body if isinstance(req.body, dict) else {}
    if not sim.tenant.tap_policy_enabled:
        # Reported wording when the authentication-methods policy does not allow passes.
        raise bad_request(
            "Converged UserCredentialPolicy does not allow creating or updating this "
            "authentication method. AuthMethodType [TemporaryAccessPass]."
        )
    lifetime = body.get("lifetimeInMinutes", TAP_DEFAULT)
    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, int)
        or not TAP_MIN <= lifetime <= TAP_MAX
    ):
        raise bad_request(
            f"lifetimeInMinutes must be between {TAP_MIN} and {TAP_MAX}, got {lifetime!r}."
        )
    usable_once = body.get("isUsableOnce", False)
    if not isinstance(usable_once, bool):
        raise bad_request("isUsableOnce must be a boolean.")
    now = sim.now()
    start = now
    if body.get("startDateTime"):
        start = _parse_time(body["startDateTime"], "startDateTime")
    for old in _methods(sim, user["id"], "temporaryAccessPass"):
        # One pass per user: the documented behaviour is that the previous one is deleted.
        del sim.tenant.auth_methods[_key(user["id"], old["id"])]
    secret = "".join(sim.rng.choice(TAP_ALPHABET) for _ in range(TAP_LENGTH))
    method_id = sim.new_id()
    method = {
        "@odata.type": TAP_TYPE,
        "id": method_id,
        "temporaryAccessPass": None,
        "createdDateTime": sim.iso(now),
        "startDateTime": sim.iso(start),
        "lifetimeInMinutes": lifetime,
        "isUsableOnce": usable_once,
        "isUsable": False,
        "methodUsabilityReason": "NotYetValid",
        "_userId": user["id"],
        "_kind": "temporaryAccessPass",
        "_secret": secret,
        "_createdAt": now,
        "_start": start,
    }
    sim.tenant.auth_methods[_key(user["id"], method_id)] = method
    body_out = {"@odata.context": _context(req, user["id"], "temporaryAccessPassMethods", True)}
    body_out.update(tap_view(sim, method))
    body_out["temporaryAccessPass"] = secret  # the only response that ever carries it
    return json_response(201, body_out)


def list_taps(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's Temporary Access Passes (secrets null)."""
    user = _user(sim, user_id)
    items = [tap_view(sim, m) for m in _methods(sim, user["id"], "temporaryAccessPass")]
    return _page(sim, req, user["id"], "temporaryAccessPassMethods", items)


def get_tap(sim: Simulator, req: SimRequest, user_id: str, method_id: str) -> SimResponse:
    """Read one Temporary Access Pass (secret null)."""
    user = _user(sim, user_id)
    method = _find(sim, user["id"], method_id, "temporaryAccessPass")
    body = {"@odata.context": _context(req, user["id"], "temporaryAccessPassMethods", True)}
    body.update(tap_view(sim, method))
    return json_response(200, body)


def delete_tap(sim: Simulator, req: SimRequest, user_id: str, method_id: str) -> SimResponse:
    """Delete a Temporary Access Pass → 204."""
    user = _user(sim, user_id)
    method = _find(sim, user["id"], method_id, "temporaryAccessPass")
    del sim.tenant.auth_methods[_key(user["id"], method["id"])]
    return no_content()


# ---------------------------------------------------------------- phone methods


def _check_phone(number: Any) -> str:
    if not isinstance(number, str) or not PHONE_FORMAT.match(number):
        raise bad_request(
            f"Invalid phone number '{number}': the expected format is "
            "'+{country code} {number}x{extension}', e.g. '+33 612345678'."
        )
    return number


def _check_type(phone_type: Any) -> str:
    if phone_type not in PHONE_IDS:
        raise bad_request(
            f"Invalid phoneType '{phone_type}': expected mobile, alternateMobile or office."
        )
    return str(phone_type)


def _sms_state(phone_type: str) -> str:
    return "ready" if phone_type == "mobile" else "notSupported"


def create_phone(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Add a phone method (`POST .../phoneMethods`) → 201; one per type, mobile first."""
    user = _user(sim, user_id)
    body = req.body if isinstance(req.body, dict) else {}
    if "smsSignInState" in body:
        raise bad_request("smsSignInState is read-only.")
    number = _check_phone(body.get("phoneNumber"))
    phone_type = _check_type(body.get("phoneType"))
    existing = {m["phoneType"] for m in _methods(sim, user["id"], "phone")}
    if phone_type in existing:
        raise bad_request(f"A phone method of type '{phone_type}' already exists for this user.")
    if phone_type == "alternateMobile" and "mobile" not in existing:
        raise bad_request("A mobile phone must be registered before an alternateMobile phone.")
    method_id = PHONE_IDS[phone_type]
    method = {
        "@odata.type": PHONE_TYPE,
        "id": method_id,
        "phoneNumber": number,
        "phoneType": phone_type,
        "smsSignInState": _sms_state(phone_type),
        "_userId": user["id"],
        "_kind": "phone",
        "_createdAt": sim.now(),
    }
    sim.tenant.auth_methods[_key(user["id"], method_id)] = method
    body_out = {"@odata.context": _context(req, user["id"], "phoneMethods", True)}
    body_out.update(phone_view(method))
    return json_response(201, body_out)


def list_phones(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's phone methods."""
    user = _user(sim, user_id)
    items = [phone_view(m) for m in _methods(sim, user["id"], "phone")]
    return _page(sim, req, user["id"], "phoneMethods", items)


def get_phone(sim: Simulator, req: SimRequest, user_id: str, method_id: str) -> SimResponse:
    """Read one phone method."""
    user = _user(sim, user_id)
    method = _find(sim, user["id"], method_id, "phone")
    body = {"@odata.context": _context(req, user["id"], "phoneMethods", True)}
    body.update(phone_view(method))
    return json_response(200, body)


def update_phone(sim: Simulator, req: SimRequest, user_id: str, method_id: str) -> SimResponse:
    """Change a phone method's number (`PATCH .../phoneMethods/{id}`) → 204.

    The type cannot be changed (phoneauthenticationmethod-update.md): add a method of the new
    type, then delete the old one. Sending the current type is accepted.
    """
    user = _user(sim, user_id)
    method = _find(sim, user["id"], method_id, "phone")
    body = req.body if isinstance(req.body, dict) else {}
    number = _check_phone(body["phoneNumber"]) if "phoneNumber" in body else method["phoneNumber"]
    if "phoneType" in body and _check_type(body["phoneType"]) != method["phoneType"]:
        raise bad_request(
            "The phoneType of a phone method cannot be changed; add a phone method of the new "
            "type, then delete this one."
        )
    method.update(phoneNumber=number)
    return no_content()


def delete_phone(sim: Simulator, req: SimRequest, user_id: str, method_id: str) -> SimResponse:
    """Delete a phone method → 204 (a mobile cannot go while an alternateMobile remains)."""
    user = _user(sim, user_id)
    method = _find(sim, user["id"], method_id, "phone")
    types = {m["phoneType"] for m in _methods(sim, user["id"], "phone")}
    if method["phoneType"] == "mobile" and "alternateMobile" in types:
        raise bad_request("Delete the alternateMobile phone before the mobile phone.")
    if method.get("_isDefault"):
        # phoneauthenticationmethod-delete.md: the user's default MFA method cannot be deleted.
        raise bad_request(
            "This phone number is the user's default multifactor authentication method and "
            "cannot be deleted; the user must choose another default method first."
        )
    del sim.tenant.auth_methods[_key(user["id"], method["id"])]
    return no_content()


# ---------------------------------------------------------------- all methods


def _password_method(user: dict[str, Any], sim: Simulator) -> dict[str, Any]:
    created = user.get("createdDateTime") or sim.iso(float(user.get("_createdAt", sim.now())))
    return {
        "@odata.type": PASSWORD_TYPE,
        "id": PASSWORD_ID,
        "password": None,
        "createdDateTime": created,
    }


def list_methods(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List every authentication method of a user (`GET .../authentication/methods`)."""
    user = _user(sim, user_id)
    items = [_password_method(user, sim)]
    items += [_view(sim, m) for m in _methods(sim, user["id"])]
    return _page(sim, req, user["id"], "methods", items)


def get_method(sim: Simulator, req: SimRequest, user_id: str, method_id: str) -> SimResponse:
    """Read one authentication method of any kind."""
    user = _user(sim, user_id)
    if method_id.lower() == PASSWORD_ID:
        view = _password_method(user, sim)
    else:
        method = sim.tenant.auth_methods.get(_key(user["id"], method_id.lower()))
        if method is None:
            raise method_not_found(method_id)
        view = _view(sim, method)
    body = {"@odata.context": _context(req, user["id"], "methods", True)}
    body.update(view)
    return json_response(200, body)


def _page(
    sim: Simulator, req: SimRequest, user_id: str, what: str, items: list[dict[str, Any]]
) -> SimResponse:
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    return odata.page(
        sim, req, items, entity_set=f"users('{user_id}')/authentication/{what}"
    )
