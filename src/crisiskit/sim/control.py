"""The simulator's control API under `/_sim/`, for tests, exercises and operators.

    GET  /_sim/state      every object, Graph JSON plus the links needed to check it (file and
                          attachment bytes are left out: sizes and hashes are there)
    GET  /_sim/requests   the ordered request log ($batch sub-requests have "via": "$batch")
    POST /_sim/reset      back to the tenant as it was at start; log, clock, rng, profile too
    GET  /_sim/tokens     who the tokens stand for: the default principal and registered tokens
    PUT  /_sim/tokens     {"token"?: T, "roles": [...], "appOnly"?: bool}: register T (or, without
                          a token, change what unknown tokens hold)
    GET  /_sim/profile    the current knobs
    PUT  /_sim/profile    {"profile"?: name, "scale"?: x, <knob>: value, "tapPolicyEnabled"?: bool,
                          "seats"?: n | {skuPartNumber: n}}
    POST /_sim/seed       objects added to the tenant (schema below), all or nothing
    POST /_sim/clock      {"advance": seconds}: age every object (replication, mailbox, site),
                          purge deleted items past their 30 days
    POST /_sim/signin     {"user", "temporaryAccessPass"?, "sessionIssuedAt"?}: could that
                          person sign in now (account enabled, pass usable, session valid)?
    POST /_sim/downloads  {"corruptNext": n}: the next n file downloads serve one wrong byte
    PUT  /_sim/faults     {"rules": [...]}: a fault for the next N requests matching a method
                          and path (`crisiskit.sim.faultplan`); GET lists, DELETE disarms

Never under `/v1.0`: Graph clients cannot reach it by accident.

Seed schema (`POST /_sim/seed`, `EmbeddedSimulator.seed`): a JSON object with any of these
keys, each a list, applied in this order; the answer lists the ids created per key. Users and
groups are named by id, userPrincipalName (users) or mailNickname (groups); addresses are
`addr` or `Name <addr>`; times are ISO 8601 (UTC unless they carry an offset; default now).

    users:     partial POST /users bodies (userPrincipalName required; defaults filled in)
    groups:    partial POST /groups bodies + "members"/"owners": [UPN or id]
    messages:  {"user", "folder"?: "inbox" | "sentitems" | "deleteditems" | ... |
                "inbox/Child/Grandchild" (child folders created), "subject", "from"
                (required but in sentitems/drafts/outbox), "to"?: [...], "cc"?: [...],
                "body", "bodyType"?: "text" | "html", "receivedDateTime"?, "isRead"?,
                "attachments"?: [ATTACHMENT]}
    files:     {"group" | "user", "path": "Folder/Sub/name.ext" (a trailing "/" makes a
                folder), "contentBase64" | "size": bytes, "seed"?: int}; "size" + "seed"
                generate the content (`blobs.pattern_bytes`), so large files need no JSON;
                a user needs a SharePoint licence (their OneDrive)
    conversations: {"group", "topic", "posts": [{"from", "body", "bodyType"?,
                "receivedDateTime"?, "attachments"?: [ATTACHMENT]}]}: one thread each
    events:    {"user" | "group", "subject", "start", "end"?, "timeZone"?: Windows or IANA name
                the naive start/end are in (default UTC), "calendar"?: name (users; created),
                "body"?, "bodyType"?, "location"?, "isAllDay"?, "organizer"?, "attendees"?}
    contacts:  {"user", "displayName" | "givenName"/"surname", "emailAddresses"?: [...],
                "businessPhones"?, "homePhones"?, "mobilePhone"?, "companyName"?, ...}
    channelMessages: {"team": group of a team, "channel"?: display name or id (General),
                "from": user, "body", "bodyType"?: "html" | "text", "subject"?,
                "createdDateTime"?, "replies"?: [{"from", "body", "bodyType"?,
                "createdDateTime"?}]}
    phoneMethods: {"user", "phoneNumber", "phoneType", "isDefault"?: true marks it the user's
                default MFA method (which cannot then be deleted)}

    ATTACHMENT: {"name", "contentType"?, "contentBase64" | "size" + "seed", "isInline"?}

Mailboxes, drives and group mailboxes need not be provisioned yet: what is seeded appears
when they are (their delays are not skipped).
"""

from __future__ import annotations

import copy
import math
import random
from typing import TYPE_CHECKING, Any, Protocol

from crisiskit.sim import blobs, cascade, downloads, jsonbody, signin
from crisiskit.sim import seed as seeding
from crisiskit.sim.errors import SimError
from crisiskit.sim.permissions import Principal
from crisiskit.sim.profiles import Profile
from crisiskit.sim.router import strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator


class Host(Protocol):
    """What the control API drives: the served simulator and the HTTP layer's own state."""

    sim: Simulator
    default_principal: Principal
    principals: dict[str, Principal]

    def reset_http(self) -> None:
        """Forget the HTTP layer's per-client state (throttling buckets)."""

    def reset_principals(self) -> None:
        """Forget registered tokens."""

AUTH_TYPES = {
    "temporaryAccessPass": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "phone": "#microsoft.graph.phoneAuthenticationMethod",
}


def _with(obj: dict[str, Any], **links: Any) -> dict[str, Any]:
    out = strip_internal(obj)
    out.update(links)
    return out


def state(sim: Simulator) -> dict[str, Any]:
    """Return every object of the tenant in Graph JSON form, plus its links."""
    t = sim.tenant
    with sim.lock:
        methods = []
        for m in t.auth_methods.values():
            kind = m.get("_kind", "")
            links: dict[str, Any] = {
                "userId": m.get("_userId"),
                "@odata.type": m.get("@odata.type") or AUTH_TYPES.get(kind, kind),
            }
            if kind == "temporaryAccessPass":
                links["temporaryAccessPass"] = m.get("_secret")
            methods.append(_with(m, **links))
        body = {
            "users": [strip_internal(u) for u in t.users.values()],
            "groups": [
                _with(g, members=list(g.get("_members", [])), owners=list(g.get("_owners", [])))
                for g in t.groups.values()
            ],
            "teams": [strip_internal(x) for x in t.teams.values()],
            "channels": [_with(c, teamId=c.get("_teamId")) for c in t.channels.values()],
            "drives": [
                _with(d, groupId=d.get("_groupId"), userId=d.get("_userId"))
                for d in t.drives.values()
            ],
            "driveItems": [
                _with(
                    i,
                    groupId=i.get("_groupId"),
                    userId=i.get("_userId"),
                    driveId=i.get("_driveId"),
                    path=i.get("_path"),
                    size=blobs.size(i.get("_blob")),
                )
                for i in t.drive_items.values()
            ],
            "authenticationMethods": methods,
            "messages": [_with(m, userId=m.get("_userId")) for m in t.messages.values()],
            "mailFolders": [_with(f, userId=f.get("_userId")) for f in t.mail_folders.values()],
            "attachments": [
                _with(a, ownerId=a.get("_ownerId"), parentId=a.get("_parentId"))
                for a in t.attachments.values()
            ],
            "threads": [_with(x, groupId=x.get("_groupId")) for x in t.threads.values()],
            "posts": [
                _with(p, groupId=p.get("_groupId"), threadId=p.get("_threadId"))
                for p in t.posts.values()
            ],
            "calendars": [_with(c, ownerId=c.get("_ownerId")) for c in t.calendars.values()],
            "events": [
                _with(e, ownerId=e.get("_ownerId"), calendarId=e.get("_calendarId"))
                for e in t.events.values()
            ],
            "contacts": [_with(c, userId=c.get("_userId")) for c in t.contacts.values()],
            "channelMessages": [
                _with(m, teamId=m.get("_teamId"), channelId=m.get("_channelId"))
                for m in t.chat_messages.values()
            ],
            "deletedItems": [
                _with(d, **{"@odata.type": f"#microsoft.graph.{d.get('_kind', 'user')}"})
                for d in t.deleted.values()
            ],
            "subscribedSkus": [strip_internal(s) for s in t.skus.values()],
            "operations": [strip_internal(o) for o in t.operations.values()],
            "verifiedDomains": list(t.verified_domains),
            "extensionProperties": list(t.extension_properties),
            "tapPolicyEnabled": t.tap_policy_enabled,
        }
        return copy.deepcopy(body)


def reset(app: Host) -> None:
    """Return the simulator to its starting point: tenant, log, clock, rng, profile, buckets."""
    sim = app.sim
    with sim.lock:
        sim.tenant = sim.initial_tenant()
        sim.invalidate_upns()
        sim.requests_log.clear()
        sim.fault_rules.clear()
        sim.clock_offset = 0.0
        sim.rng = random.Random()
        sim.rng.setstate(sim.initial_rng_state)
        sim.profile = copy.deepcopy(sim.initial_profile)
        app.reset_http()
        app.reset_principals()
        blobs.store(sim).prune(referenced_blobs(sim))
        sim.save()


def referenced_blobs(sim: Simulator) -> set[str]:
    """Return the content digests the tenant still refers to (deleted groups' stashes too)."""
    t = sim.tenant
    sources = [t.drive_items, t.attachments]
    for entry in t.deleted.values():
        stash = entry.get("_stash") or {}
        sources += [stash.get("drive_items") or {}, stash.get("attachments") or {}]
    refs = [record.get("_blob") for source in sources for record in source.values()]
    return {str(r["sha256"]) for r in refs if r and "sha256" in r}


def tokens(app: Host) -> dict[str, Any]:
    """Return the default principal and every registered token's."""
    return {
        "default": app.default_principal.to_json(),
        "tokens": {t: p.to_json() for t, p in app.principals.items()},
    }


def set_token(app: Host, body: Any) -> dict[str, Any]:
    """Apply `PUT /_sim/tokens`: register a token's roles, or change the default ones."""
    if not isinstance(body, dict) or set(body) - {"token", "roles", "appOnly"}:
        raise ValueError('expected {"token"?: string, "roles": [names], "appOnly"?: bool}')
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise ValueError("roles must be a list of permission names")
    app_only = body.get("appOnly", True)
    if not isinstance(app_only, bool):
        raise ValueError("appOnly must be true or false")
    token = body.get("token")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ValueError("token must be a non-empty string")
    principal = Principal.application(roles) if app_only else Principal.delegated()
    with app.sim.lock:
        if token is None:
            app.default_principal = principal
        else:
            app.principals[token.strip()] = principal
    return tokens(app)


def set_profile(app: Host, body: Any) -> dict[str, Any]:
    """Apply `PUT /_sim/profile`: a named profile first, then knobs; all or nothing."""
    sim = app.sim
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object of knobs")
    knobs = dict(body)
    name = knobs.pop("profile", None)
    tap = knobs.pop("tapPolicyEnabled", None)
    if tap is not None and not isinstance(tap, bool):
        raise ValueError("tapPolicyEnabled must be true or false")
    seats = _seats(sim, knobs.pop("seats", None))
    if name is not None:
        scale = knobs.pop("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ValueError("scale must be a number")
        profile = Profile.named(str(name), float(scale))
    else:
        profile = copy.deepcopy(sim.profile)
    profile.update(**knobs)
    if name is not None and not knobs:
        profile.name = str(name)
    with sim.lock:
        sim.profile = profile
        if tap is not None:
            sim.tenant.tap_policy_enabled = tap
        for sku, count in seats:
            sku["prepaidUnits"]["enabled"] = count
        if tap is not None or seats:
            sim.save()
        app.reset_http()
    return profile_view(sim)


def _faults(sim: Simulator, method: str, body: Any) -> tuple[int, Any]:
    """Arm (`PUT`), list (`GET`) or disarm (`DELETE`) targeted faults (`sim.faultplan`)."""
    from crisiskit.sim import faultplan

    if method == "PUT":
        rules = faultplan.parse_rules(body)
        with sim.lock:
            sim.fault_rules[:] = rules
    elif method == "DELETE":
        with sim.lock:
            sim.fault_rules.clear()
        return 204, None
    elif method != "GET":
        return 405, {"error": f"{method} /_sim/faults: use GET, PUT or DELETE"}
    with sim.lock:
        return 200, {"rules": [r.to_json() for r in sim.fault_rules]}


def profile_view(sim: Simulator) -> dict[str, Any]:
    """Return the knobs, the TAP policy switch and the seats of each SKU."""
    return {
        **sim.profile.to_json(),
        "tapPolicyEnabled": sim.tenant.tap_policy_enabled,
        "seats": {
            s["skuPartNumber"]: s["prepaidUnits"]["enabled"] for s in sim.tenant.skus.values()
        },
    }


def _seats(sim: Simulator, value: Any) -> list[tuple[dict[str, Any], int]]:
    """Read `"seats": n` (every SKU) or `{"SKU_PART_NUMBER": n}`; nothing is changed yet."""
    if value is None:
        return []

    def count(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10_000_000:
            raise ValueError("seats must be a whole number between 0 and 10000000")
        return v

    skus = list(sim.tenant.skus.values())
    if isinstance(value, dict):
        by_part = {s["skuPartNumber"].lower(): s for s in skus}
        unknown = [k for k in value if str(k).lower() not in by_part]
        if unknown:
            raise ValueError(f"no subscribed SKU {unknown[0]!r}")
        return [(by_part[str(k).lower()], count(v)) for k, v in value.items()]
    n = count(value)
    return [(s, n) for s in skus]


def sign_in(sim: Simulator, body: Any) -> dict[str, Any]:
    """Apply `POST /_sim/signin`."""
    if not isinstance(body, dict) or not isinstance(body.get("user"), str):
        raise ValueError('expected {"user": id or UPN, "temporaryAccessPass"?, "sessionIssuedAt"?}')
    if set(body) - {"user", "temporaryAccessPass", "sessionIssuedAt"}:
        raise ValueError("unknown sign-in keys")
    secret = body.get("temporaryAccessPass")
    if secret is not None and not isinstance(secret, str):
        raise ValueError("temporaryAccessPass must be a string")
    issued = body.get("sessionIssuedAt")
    if issued is not None and (
        isinstance(issued, bool) or not isinstance(issued, int | float) or not math.isfinite(issued)
    ):
        raise ValueError("sessionIssuedAt must be epoch seconds on the simulator clock")
    with sim.lock:
        result = signin.sign_in(
            sim, body["user"], secret=secret, session_from=None if issued is None else float(issued)
        )
    return result.to_json()


def handle(app: Host, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """Serve one control request; return (status, JSON body)."""
    sim = app.sim
    route = path.rstrip("/")
    try:
        body = jsonbody.parse(raw) if raw else None
    except jsonbody.JsonRejected as exc:
        return 400, {"error": f"the body is not acceptable JSON: {exc}"}
    try:
        if route == "/_sim/state" and method == "GET":
            return 200, state(sim)
        if route == "/_sim/requests" and method == "GET":
            with sim.lock:
                return 200, copy.deepcopy(sim.requests_log)
        if route == "/_sim/requests" and method == "DELETE":
            with sim.lock:
                sim.requests_log.clear()
            return 204, None
        if route == "/_sim/reset" and method == "POST":
            reset(app)
            return 200, {"reset": True}
        if route == "/_sim/tokens" and method == "GET":
            return 200, tokens(app)
        if route == "/_sim/tokens" and method == "PUT":
            return 200, set_token(app, body)
        if route == "/_sim/profile" and method == "GET":
            return 200, profile_view(sim)
        if route == "/_sim/profile" and method == "PUT":
            return 200, set_profile(app, body)
        if route == "/_sim/faults":
            return _faults(sim, method, body)
        if route == "/_sim/seed" and method == "POST":
            with sim.lock:
                before = copy.deepcopy(sim.tenant)
                try:
                    created = seeding.apply_seed(sim, body)
                except (ValueError, TypeError, KeyError, SimError):
                    sim.tenant = before  # all or nothing: a bad entry changes nothing
                    sim.invalidate_upns()
                    raise
                sim.save()
            return 200, created
        if route == "/_sim/clock" and method == "POST":
            advance = body.get("advance") if isinstance(body, dict) else None
            if (
                isinstance(advance, bool)
                or not isinstance(advance, int | float)
                or not math.isfinite(advance)
                or not 0 <= advance <= 100 * 365 * 86400
            ):
                raise ValueError('expected {"advance": seconds}, a number from 0 to 100 years')
            with sim.lock:
                sim.advance(float(advance))
                if cascade.expire(sim):
                    sim.save()
            return 200, {"now": sim.iso(), "offset": sim.clock_offset}
        if route == "/_sim/signin" and method == "POST":
            return 200, sign_in(sim, body)
        if route == "/_sim/downloads" and method == "POST":
            count = body.get("corruptNext") if isinstance(body, dict) else None
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError('expected {"corruptNext": n} with n >= 0')
            with sim.lock:
                downloads.downloads(sim).corrupt_next = count
            return 200, {"corruptNext": count}
        if route == "/_sim/clock" and method == "GET":
            return 200, {"now": sim.iso(), "offset": sim.clock_offset}
    except (ValueError, TypeError, KeyError) as exc:
        return 400, {"error": str(exc)}
    except SimError as exc:
        return exc.status, {"error": exc.message}
    return 404, {"error": f"no control endpoint {method} {path}"}
