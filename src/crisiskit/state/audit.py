"""The audit log's hash chain: canonical form of an entry, its hash, and chain verification.

Each entry's hash covers its content and the previous entry's hash, so that editing, inserting
or deleting an entry breaks the chain. The last (seq, hash) is also kept in `audit_head`, so
that deleting entries at the end of the chain is detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crisiskit.secrets import Secret

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log, as stored."""

    seq: int
    at: str
    operator: str
    commune: str | None
    action: str
    target: str | None
    outcome: str
    request_id: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the entry as a JSON-able dict (the `audit export` line format)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "operator": self.operator,
            "commune": self.commune,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "request_id": self.request_id,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def canonical_json(value: Any) -> str:
    """Serialise `value` the one way the chain hashes it (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def entry_hash(
    *,
    seq: int,
    at: str,
    operator: str,
    commune: str | None,
    action: str,
    target: str | None,
    outcome: str,
    request_id: str | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """Return the sha256 (hex) of an entry's canonical JSON form."""
    body = {
        "seq": seq,
        "at": at,
        "operator": operator,
        "commune": commune,
        "action": action,
        "target": target,
        "outcome": outcome,
        "request_id": request_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def ensure_no_secret(value: Any, where: str) -> None:
    """Raise ValueError if a `Secret` hides anywhere in `value` (keys and nested values)."""
    if isinstance(value, Secret):
        raise ValueError(f"{where} contains a secret; secrets are never written to the state")
    if isinstance(value, Mapping):
        for key, item in value.items():
            ensure_no_secret(key, where)
            ensure_no_secret(item, f"{where}.{key}")
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            ensure_no_secret(item, f"{where}[{index}]")


@dataclass(frozen=True)
class _Row:
    seq: int
    at: str
    operator: str
    commune: str | None
    action: str
    target: str | None
    outcome: str
    request_id: str | None
    details_json: str
    prev_hash: str
    hash: str


def verify_chain(rows: Iterable[tuple[Any, ...]], head: tuple[int, str] | None) -> list[str]:
    """Return the problems found in the chain (empty when intact).

    `rows` are the audit table's rows in seq order; `head` is the recorded (seq, hash) of the
    last entry, or None when none was recorded.
    """
    problems: list[str] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    last: tuple[int, str] | None = None
    for raw in rows:
        row = _Row(*raw)
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                missing = (
                    f"entry {expected_seq}"
                    if row.seq == expected_seq + 1
                    else f"entries {expected_seq}..{row.seq - 1}"
                )
                problems.append(f"{missing} missing before entry {row.seq} (deleted)")
            else:
                problems.append(f"entry {row.seq} out of order after entry {expected_seq - 1}")
        if row.prev_hash != prev_hash:
            problems.append(
                f"entry {row.seq}: does not follow the previous entry in the chain "
                "(an entry was inserted, removed or rewritten before it)"
            )
        try:
            details = json.loads(row.details_json)
        except ValueError:
            problems.append(f"entry {row.seq}: details are not valid JSON (edited)")
            details = None
        if details is not None:
            recomputed = entry_hash(
                seq=row.seq,
                at=row.at,
                operator=row.operator,
                commune=row.commune,
                action=row.action,
                target=row.target,
                outcome=row.outcome,
                request_id=row.request_id,
                details=details,
                prev_hash=row.prev_hash,
            )
            if recomputed != row.hash:
                problems.append(f"entry {row.seq}: content does not match its hash (edited)")
        prev_hash = row.hash
        expected_seq = row.seq + 1
        last = (row.seq, row.hash)
    if head is None:
        if last is not None:
            problems.append("the chain's head record is missing (tampered)")
    elif last is None:
        problems.append(f"all entries are missing: the head records entry {head[0]} (deleted)")
    elif head[0] > last[0]:
        problems.append(
            f"entries {last[0] + 1}..{head[0]} missing at the end of the chain (deleted)"
        )
    elif head[0] < last[0]:
        problems.append(
            f"entries {head[0] + 1}..{last[0]} were added outside crisiskit (head is {head[0]})"
        )
    elif head[1] != last[1]:
        problems.append(f"entry {last[0]}: hash differs from the recorded head (rewritten)")
    return problems
