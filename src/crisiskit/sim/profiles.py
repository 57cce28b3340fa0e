"""Behaviour profiles of the Graph simulator: latency, throttling, replication lag, faults.

Every knob is settable at start (`--profile`, `--scale`) and at runtime (`PUT /_sim/profile`).
`realistic` scales the service's documented (or reported) delays down to seconds, so that a
rehearsal exercises every wait without lasting an hour; `scale` stretches or shrinks them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

PROFILE_NAMES = ("instant", "realistic", "hostile")

# Knobs that are delays in seconds, multiplied by `scale`.
SCALED = (
    "replication_lag_s",
    "deleted_items_lag_s",
    "mailbox_delay_s",
    "site_delay_s",
    "team_op_s",
    "restore_delay_s",
)
RATES = (
    "replication_404_rate",
    "stale_read_rate",
    "transient_5xx_rate",
    "commit_then_5xx_rate",
    "drop_rate",
)
# Microsoft 365 groups and users stay 30 days in deleted items (directory-deleteditems-*):
# a policy of the service, not a delay a client waits on, so `scale` does not shrink it.
RETENTION_S = 30 * 86400.0

# Real service (GRAPH.md): a group needs ~15 min before its team can be created, mailboxes
# and sites appear "minutes" later, a team operation takes tens of seconds. One minute of the
# real service is one second here at scale 1.
_REALISTIC: dict[str, float] = {
    "latency_ms": 20.0,
    "throttle_rate": 0.0,
    "throttle_burst": 0.0,
    "replication_lag_s": 15.0,
    "replication_404_rate": 0.3,
    "stale_read_rate": 0.3,
    "deleted_items_lag_s": 15.0,
    "restore_delay_s": 5.0,
    "mailbox_delay_s": 5.0,
    "site_delay_s": 3.0,
    "team_op_s": 2.0,
    "transient_5xx_rate": 0.0,
    "commit_then_5xx_rate": 0.0,
    "drop_rate": 0.0,
}
_HOSTILE: dict[str, float] = {
    **_REALISTIC,
    "latency_ms": 50.0,
    "throttle_rate": 20.0,
    "throttle_burst": 10.0,
    "replication_404_rate": 0.5,
    "stale_read_rate": 0.5,
    "transient_5xx_rate": 0.05,
    "commit_then_5xx_rate": 0.05,
    "drop_rate": 0.03,
}


@dataclass
class Profile:
    """The simulator's behaviour knobs; all zero means an instant, perfect service."""

    latency_ms: float = 0.0
    throttle_rate: float = 0.0  # requests per second per client; 0 = no throttling
    throttle_burst: float = 0.0  # bucket size; 0 with a rate means max(1, rate)
    replication_lag_s: float = 0.0
    replication_404_rate: float = 0.0  # a read by id misses an object written within the lag
    stale_read_rate: float = 0.0  # a read or list shows the version before a recent write
    deleted_items_lag_s: float = 0.0  # soft-deleted objects reach deletedItems lists after it
    restore_delay_s: float = 0.0  # a restored group's team and site come back after it
    deleted_retention_s: float = RETENTION_S  # then deleted items are purged automatically
    mailbox_delay_s: float = 0.0
    site_delay_s: float = 0.0
    team_op_s: float = 0.0
    transient_5xx_rate: float = 0.0
    commit_then_5xx_rate: float = 0.0
    drop_rate: float = 0.0
    # Megabits per second shared by every file download at once (0: unlimited), so that a
    # client's download time has a defined bound (bytes / bandwidth); see `downloads.py`.
    download_bandwidth_mbps: float = 0.0
    scale: float = 1.0
    name: str = "instant"

    @classmethod
    def named(cls, name: str, scale: float = 1.0) -> Profile:
        """Build the profile `instant`, `realistic` or `hostile`, delays multiplied by `scale`."""
        if name not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)}")
        if scale < 0:
            raise ValueError("scale must be >= 0")
        base = {"instant": {}, "realistic": _REALISTIC, "hostile": _HOSTILE}[name]
        knobs = {k: (v * scale if k in SCALED else v) for k, v in base.items()}
        return cls(**knobs, scale=scale, name=name)

    @classmethod
    def knob_names(cls) -> list[str]:
        """Return the names accepted by `update`."""
        return [f.name for f in fields(cls) if f.name != "name"]

    def update(self, **knobs: Any) -> None:
        """Set knobs by name; unknown names or invalid values raise ValueError, nothing changed."""
        allowed = set(self.knob_names())
        unknown = sorted(set(knobs) - allowed)
        if unknown:
            raise ValueError(
                f"unknown profile knob(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
            )
        new: dict[str, float] = {}
        for key, value in knobs.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"profile knob {key} must be a number, got {value!r}")
            value = float(value)
            if value < 0:
                raise ValueError(f"profile knob {key} must be >= 0, got {value}")
            if key in RATES and value > 1:
                raise ValueError(f"profile knob {key} is a probability in [0, 1], got {value}")
            new[key] = value
        if "scale" in new:
            # A new scale rescales the delays that are not set explicitly in the same call.
            ratio = new["scale"] / self.scale if self.scale else 0.0
            for key in SCALED:
                if key not in new:
                    new[key] = getattr(self, key) * ratio if self.scale else getattr(self, key)
        for key, value in new.items():
            setattr(self, key, value)
        self.name = "custom"

    def to_json(self) -> dict[str, Any]:
        """Return every knob (and the profile's name) as JSON."""
        return asdict(self)
