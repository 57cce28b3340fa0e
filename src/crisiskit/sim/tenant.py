"""The simulated tenant's state: plain JSON-able collections, saved and reloaded as one file.

Each stored object is its Graph JSON form (Graph property names) plus internal keys that start
with `_` (links and bookkeeping). `strip_internal` gives what Graph would return.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_FORMAT = "crisiskit-sim-state"
STATE_VERSION = 1
# Temporary Access Passes reach the state file only as a salted scrypt hash (n=2^12, r=8: about
# 10 ms a pass; an 8-character pass from a 67-letter alphabet is then far out of reach offline).
SCRYPT = {"n": 2**12, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    """Return `scrypt$<salt>$<hash>` (base64) of a pass, with a fresh random salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def secret_matches(secret: str, stored: str) -> bool:
    """Tell whether `secret` is the pass whose `hash_secret` is `stored`."""
    try:
        scheme, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), dklen=32, **SCRYPT)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(want, got)


@dataclass
class Tenant:
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    display_name: str = "Simulated tenant"
    verified_domains: list[str] = field(default_factory=list)
    # Registered directory extension property names, e.g. "extension_<appid>_crisiskitCommune".
    extension_properties: list[str] = field(default_factory=list)
    tap_policy_enabled: bool = True
    skus: dict[str, dict[str, Any]] = field(default_factory=dict)  # skuId -> subscribedSku
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_createdAt", "_licensedAt"
    # "_members", "_owners" (id lists)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)  # id == group id
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_teamId"
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)  # teamsAsyncOperation
    drives: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_groupId" | "_userId"
    # "_driveId", "_parentId", "_path", "_groupId" | "_userId", "_blob" (content reference)
    drive_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "_userId", "_kind", "_secret"
    auth_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_userId", "_text"
    # Workload data (teardown, day-2, exercises); bytes live in blobs.py, referenced by "_blob".
    mail_folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_userId", "_parentId"
    # "_ownerId" (user or group), "_parentId" (message or post), "_blob"
    attachments: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_groupId"
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_groupId", "_threadId"
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_ownerId"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_ownerId", "_calendarId"
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_userId"
    # "_teamId", "_channelId", "_replyToId" (None for a top-level message)
    chat_messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_kind": user|group
    # object id -> epoch seconds of last write
    written_at: dict[str, float] = field(default_factory=dict)
    # object id -> {"at", "where", "prev"}: what a lagging replica still has (`replication`)
    replicas: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Change feed of users and groups for delta queries (`changes`): a sequence number, the
    # last change of each object, and membership changes [seq, group, rel, member, removed].
    change_seq: int = 0
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"seq", "kind"}
    member_changes: list[list[Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "tenant": asdict(self)}

    def to_disk(self) -> dict[str, Any]:
        """Return `to_json()` with every Temporary Access Pass replaced by its hash.

        The clear pass stays in memory (`_secret`, shown by `/_sim/state` to tests); the hash
        is computed once per pass and kept beside it.
        """
        for method in self.auth_methods.values():
            secret = method.get("_secret")
            if isinstance(secret, str) and "_secretHash" not in method:
                method["_secretHash"] = hash_secret(secret)
        data = self.to_json()
        for method in data["tenant"]["auth_methods"].values():
            method.pop("_secret", None)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Tenant:
        """Rebuild a tenant from `to_json` output; raise ValueError on anything else."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a crisiskit simulator state file")
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported simulator state version {data.get('version')!r}")
        body = data.get("tenant")
        if not isinstance(body, dict):
            raise ValueError("simulator state file has no tenant")
        names = {f.name for f in fields(cls)}
        unknown = set(body) - names
        if unknown:
            raise ValueError(f"simulator state file has unknown keys: {sorted(unknown)}")
        return cls(**body)
