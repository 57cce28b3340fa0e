"""The simulated tenant's state: plain JSON-able collections, saved and reloaded as one file.

Each stored object is its Graph JSON form (Graph property names) plus internal keys that start
with `_` (links and bookkeeping). `strip_internal` gives what Graph would return.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_FORMAT = "crisiskit-sim-state"
STATE_VERSION = 1


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
    drives: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_groupId"
    # "_driveId", "_parentId", "_path", "_content"
    drive_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "_userId", "_kind", "_secret"
    auth_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # "_userId", "_mime"
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
