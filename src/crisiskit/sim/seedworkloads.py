"""Seeding what crisiskit's teardown, day-2 operations and exercises read back.

`apply(sim, kind, specs)` stores the entries of one `POST /_sim/seed` key and returns their ids;
the schema of each key is in `crisiskit.sim.control`'s docstring (and the README). Entries are
applied in order; the first bad one raises ValueError naming its index (earlier ones stay).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crisiskit.sim import (
    authmethods,
    blobs,
    calendars,
    channelmessages,
    contacts,
    conversations,
    drive,
    mailseed,
)
from crisiskit.sim.errors import SimError
from crisiskit.sim.router import SimRequest

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

KINDS = (
    "messages",
    "files",
    "conversations",
    "events",
    "contacts",
    "channelMessages",
    "phoneMethods",
)


def _group(sim: Simulator, key: Any) -> dict[str, Any]:
    wanted = str(key or "")
    found = sim.tenant.groups.get(wanted) or next(
        (
            g
            for g in sim.tenant.groups.values()
            if str(g.get("mailNickname", "")).lower() == wanted.lower()
        ),
        None,
    )
    if found is None:
        raise ValueError(f"no group {wanted!r} (id or mailNickname)")
    return found


def _message(sim: Simulator, spec: dict[str, Any]) -> str:
    if not spec.get("user"):
        raise ValueError("a message needs a user (UPN or id)")
    return str(mailseed.seed_message(sim, spec)["id"])


def _file(sim: Simulator, spec: dict[str, Any]) -> str:
    path = spec.get("path")
    if not isinstance(path, str) or not path or not (spec.get("group") or spec.get("user")):
        raise ValueError("a file needs a path and a group or a user")
    ref = None
    content: bytes | None = None
    if "size" in spec:
        ref = blobs.pattern_ref(spec.get("seed", 0), spec["size"])
    elif not path.endswith("/"):
        try:
            content = base64.b64decode(str(spec.get("contentBase64", "")), validate=True)
        except binascii.Error:
            raise ValueError("contentBase64 is not valid base64") from None
    if spec.get("user"):
        item = drive.seed_file(sim, str(spec["user"]), path, content, user=True, ref=ref)
    else:
        item = drive.seed_file(sim, str(_group(sim, spec["group"])["id"]), path, content, ref=ref)
    return str(item["id"])


def _conversation(sim: Simulator, spec: dict[str, Any]) -> str:
    group = _group(sim, spec.get("group"))
    return str(conversations.seed_conversation(sim, group, spec)["id"])


def _event(sim: Simulator, spec: dict[str, Any]) -> str:
    if spec.get("group"):
        return str(calendars.seed_event(sim, _group(sim, spec["group"]), True, spec)["id"])
    if not spec.get("user"):
        raise ValueError("an event needs a user or a group")
    return str(calendars.seed_event(sim, sim.get_user(str(spec["user"])), False, spec)["id"])


def _contact(sim: Simulator, spec: dict[str, Any]) -> str:
    if not spec.get("user"):
        raise ValueError("a contact needs a user")
    return str(contacts.seed_contact(sim, sim.get_user(str(spec["user"])), spec)["id"])


def _channel_message(sim: Simulator, spec: dict[str, Any]) -> str:
    group = _group(sim, spec.get("team"))
    if group["id"] not in sim.tenant.teams:
        raise ValueError(f"group {spec.get('team')!r} has no team")
    wanted = str(spec.get("channel") or "General")
    channel = next(
        (
            c
            for c in sim.tenant.channels.values()
            if c.get("_teamId") == group["id"]
            and (c["id"] == wanted or str(c["displayName"]).lower() == wanted.lower())
        ),
        None,
    )
    if channel is None:
        raise ValueError(f"the team has no channel {wanted!r}")
    return str(channelmessages.seed_channel_message(sim, channel, spec)["id"])


def _phone(sim: Simulator, spec: dict[str, Any]) -> str:
    user = sim.get_user(str(spec.get("user") or ""))
    body = {k: spec[k] for k in ("phoneNumber", "phoneType") if k in spec}
    req = SimRequest(method="POST", path="", body=body)
    method_id = str(authmethods.create_phone(sim, req, user["id"]).body["id"])
    if spec.get("isDefault"):
        for method in sim.tenant.auth_methods.values():
            if method.get("_userId") == user["id"]:
                method["_isDefault"] = method["id"] == method_id
    return method_id


_SEEDERS: dict[str, Callable[[Simulator, dict[str, Any]], str]] = {
    "messages": _message,
    "files": _file,
    "conversations": _conversation,
    "events": _event,
    "contacts": _contact,
    "channelMessages": _channel_message,
    "phoneMethods": _phone,
}


def apply(sim: Simulator, kind: str, specs: Any) -> list[str]:
    """Store the entries of seed key `kind`; return their ids; ValueError on a bad entry."""
    if not isinstance(specs, list):
        raise ValueError(f"{kind}: expected a list")
    seeder = _SEEDERS[kind]
    ids = []
    for i, spec in enumerate(specs):
        try:
            if not isinstance(spec, dict):
                raise ValueError("expected an object")
            ids.append(seeder(sim, spec))
        except SimError as exc:
            raise ValueError(f"{kind}[{i}]: {exc.message}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{kind}[{i}]: {exc}") from None
    return ids
