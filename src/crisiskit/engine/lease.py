"""The commune lease: one run per commune at a time, across machines, kept in the tenant.

Two operators on two machines share nothing but the tenant, so the lease lives there: a small
JSON file per commune in the document library of the tenant's root site, which every Microsoft
365 tenant has (site-get.md: `/sites/root`, "the tenant root site"; drive-get.md), reachable
with Files.ReadWrite.All, which crisiskit already holds. A drive item is the one object Graph
lets us write conditionally: an upload with `@microsoft.graph.conflictBehavior=fail` creates a
file only if it is absent (409 `nameAlreadyExists` otherwise), and a write with `if-match:
<eTag>` applies only to the version read (412 `resourceModified` otherwise; driveitem-update.md,
driveitem-delete.md). That is a compare-and-swap; directory objects (an extension attribute, a
group) offer none, so two runs could both believe they won.

    GET /sites/root/drive                                      the library (once per process)
    acquire    PUT  .../root:/crisiskit-leases/<commune>.json:/content?…conflictBehavior=fail
    read       GET  the item (eTag, lastModifiedDateTime, the answer's Date) + its content
    take over  PUT  .../items/{id}/content, if-match: <eTag read>  (an expired lease only)
    renew      PUT  .../items/{id}/content, if-match: <our eTag>, every ttl/3
    release    DELETE .../items/{id}, if-match: <our eTag>

Time. A lease has expired when the `Date` of the answer that read it is more than
`ttl + SKEW_MARGIN_S` after the item's `lastModifiedDateTime`: both are stamped by the service,
so the clocks of the operators' machines never enter the judgement (the margin covers the
service's own front ends). The holder judges its own lease on durations of its monotonic clock
only: it stops writing once its last successful renewal was *sent* more than
`ttl - STOP_BEFORE_S` ago. The service stamped that renewal later than it was sent, so the holder
stops at least `STOP_BEFORE_S + SKEW_MARGIN_S` before anyone may take over, more than one
request timeout: a write it sent in time has landed (or failed) before a successor starts.

Uncertainty. Every lease write is sent once (`idempotent=False`); an answer that leaves its
outcome unknown (a 5xx, a timeout, a dropped connection) and every 409 or 412 are settled by
reading the lease and comparing its random `lease_id` with ours: the lease is ours exactly when
the id is. A dead holder of this very home (same machine, same lock file, whose flock we now
hold) is known to be dead at once: its lease is taken over without waiting for it to expire.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from crisiskit.errors import LeaseLost, LeaseUnavailable, LockHeld
from crisiskit.graph.errors import AmbiguousWrite, GraphError

if TYPE_CHECKING:
    from crisiskit.graph import Graph, GraphResponse

FOLDER = "crisiskit-leases"
TTL_S = 180.0  # a killed holder blocks other machines for at most this (plus the margin)
SKEW_MARGIN_S = 15.0  # between the service's own clocks (two stamps of the same service)
DEADLINE_S = 30.0  # per lease request: an unreachable service is refused quickly
QUICK_S = 8.0  # at the end of a run (confirm, release): the run is over, do not linger
MAX_ROUNDS = 5  # acquire attempts when the lease keeps changing under us
CONTENT = {"Content-Type": "application/json"}
CREATE_ONLY = "@microsoft.graph.conflictBehavior=fail"  # in the query string (driveItem)


def stop_before(ttl_s: float) -> float:
    """Return how long before its lease could expire a holder stops writing (a third of it)."""
    return ttl_s / 3


@dataclass(frozen=True)
class LeaseRecord:
    """What the lease file says: who holds the commune, for which run, until when."""

    lease_id: str
    commune: str
    operation: str
    operator: str
    host: str
    pid: int
    home: str  # identifies the holder's home (machine, lock file): a dead holder of ours
    ttl_s: float
    since: str | None = None  # the service's time of acquisition (set by the first renewal)
    replaced: str | None = None  # who held it before an expired lease was taken over
    renewals: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"crisiskit": "lease", "version": 1, **asdict(self)}

    @classmethod
    def parse(cls, body: Any) -> LeaseRecord | None:
        """Read a lease file's content; None when it is not a crisiskit lease."""
        if isinstance(body, bytes | bytearray):
            try:
                body = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return None
        if not isinstance(body, dict) or body.get("crisiskit") != "lease":
            return None
        try:
            return cls(
                lease_id=str(body["lease_id"]),
                commune=str(body["commune"]),
                operation=str(body.get("operation") or "run"),
                operator=str(body.get("operator") or "unknown"),
                host=str(body.get("host") or "unknown"),
                pid=int(body.get("pid") or 0),
                home=str(body.get("home") or ""),
                ttl_s=float(body["ttl_s"]),
                since=str(body["since"]) if body.get("since") else None,
                replaced=str(body["replaced"]) if body.get("replaced") else None,
                renewals=int(body.get("renewals") or 0),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class LeaseView:
    """A lease as read from the tenant: its record, version, and the service's times."""

    item_id: str
    etag: str
    modified: datetime  # lastModifiedDateTime: the service's time of the last write
    server_now: datetime | None  # the Date of the answer that read it
    record: LeaseRecord | None  # None: the file is not a lease crisiskit can read

    @property
    def expires(self) -> datetime:
        ttl = self.record.ttl_s if self.record is not None else TTL_S
        return self.modified + timedelta(seconds=ttl + SKEW_MARGIN_S)

    @property
    def expired(self) -> bool:
        return self.server_now is not None and self.server_now > self.expires

    def holder(self) -> str:
        """Describe the holder for people: operator, host, pid, operation, since when."""
        r = self.record
        if r is None:
            return f"an unreadable lease file (last written {_utc(self.modified)})"
        since = r.since or _utc(self.modified)
        return f"{r.operator} on {r.host} (pid {r.pid}, {r.operation}) since {since}"


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _stamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _date(answer: GraphResponse) -> datetime | None:
    try:
        return parsedate_to_datetime(answer.headers.get("date", ""))
    except (TypeError, ValueError):
        return None


def new_record(
    commune: str, operation: str, operator: str, host: str, pid: int, home: str, ttl_s: float
) -> LeaseRecord:
    """Return a fresh lease record with a random lease id."""
    return LeaseRecord(secrets.token_hex(16), commune, operation, operator, host, pid, home, ttl_s)


class TenantLease:
    """One run's lease on one commune, read and written through the Graph door."""

    def __init__(self, graph: Graph, record: LeaseRecord) -> None:
        self.graph = graph
        self.record = record
        self.etag: str | None = None
        self.item_id: str | None = None
        self.replaced: LeaseView | None = None  # the expired (or dead) lease we took over
        self.acquired: datetime | None = None  # the service's time of our first write
        self._drive: str | None = None

    @property
    def path(self) -> str:
        return f"{FOLDER}/{self.record.commune}.json"

    # -- reads ---------------------------------------------------------------------------

    async def drive(self) -> str:
        """Return the id of the root site's library (LeaseUnavailable if it cannot be read)."""
        if self._drive is None:
            try:
                answer = await self.graph.request(
                    "GET", "/sites/root/drive?$select=id", expect=(403, 404),
                    deadline_s=DEADLINE_S,
                )
            except GraphError as exc:
                raise LeaseUnavailable(
                    f"cannot reach the tenant to take the lease of {self.record.commune} "
                    f"({exc}); nothing was changed: check the connection, then run again"
                ) from None
            if answer.status != 200 or not answer.json().get("id"):
                raise LeaseUnavailable(
                    f"cannot use the tenant's root SharePoint site to hold the lease of "
                    f"{self.record.commune}: GET /sites/root/drive answered {answer.status} "
                    f"{answer.code}: {answer.message or 'no message'} (request-id "
                    f"{answer.request_id}). crisiskit needs Files.ReadWrite.All there; nothing "
                    "was changed"
                )
            self._drive = str(answer.json()["id"])
        return self._drive

    async def read(self, deadline_s: float = DEADLINE_S) -> LeaseView | None:
        """Read the lease as it is now in the tenant (None: there is none)."""
        drive = await self.drive()
        meta = await self._get(f"/drives/{drive}/root:/{self.path}", deadline_s)
        if meta.status == 404:
            return None
        body = meta.json()
        modified = _stamp(body.get("lastModifiedDateTime"))
        if not body.get("id") or not body.get("eTag") or modified is None:
            raise LeaseUnavailable(f"the lease file {self.path} has no id, eTag or date")
        content = await self._get(f"/drives/{drive}/items/{body['id']}/content", deadline_s)
        if content.status == 404:
            return None  # released between the two reads
        return LeaseView(
            str(body["id"]), str(body["eTag"]), modified, _date(meta),
            LeaseRecord.parse(content.body),
        )

    async def _get(self, path: str, deadline_s: float) -> GraphResponse:
        try:
            answer = await self.graph.request("GET", path, expect=(404,), deadline_s=deadline_s)
        except GraphError as exc:
            raise LeaseUnavailable(
                f"cannot read the lease of {self.record.commune} in the tenant ({exc}); "
                "nothing was changed"
            ) from None
        return answer

    def ours(self, view: LeaseView | None) -> bool:
        return view is not None and view.record is not None and (
            view.record.lease_id == self.record.lease_id
        )

    # -- writes --------------------------------------------------------------------------

    async def _put(
        self, path: str, record: LeaseRecord, etag: str | None, deadline_s: float = DEADLINE_S
    ) -> GraphResponse | None:
        """Send one lease write; return its answer, or None when its outcome is unknown."""
        headers = dict(CONTENT)
        if etag is not None:
            headers["If-Match"] = etag
        try:
            return await self.graph.request(
                "PUT", path, body=record.to_json(), headers=headers, idempotent=False,
                expect=(404, 409, 412), deadline_s=deadline_s,
            )
        except AmbiguousWrite:
            return None
        except GraphError as exc:
            if exc.status == 0 or exc.status >= 500:
                return None
            raise LeaseUnavailable(
                f"the tenant refused the lease of {self.record.commune} ({exc}); nothing was "
                "changed"
            ) from None

    def _took(self, answer: GraphResponse) -> None:
        body = answer.json()
        self.item_id = str(body.get("id") or self.item_id)
        self.etag = str(body.get("eTag") or "") or None
        if self.acquired is None:
            self.acquired = _stamp(body.get("lastModifiedDateTime"))

    async def acquire(self, *, home_dead: bool = False) -> None:
        """Take the lease, or raise LockHeld naming the holder (LeaseUnavailable: unreachable).

        `home_dead`: the caller holds this home's flock, so a holder of this very home is dead.
        """
        drive = await self.drive()
        create = f"/drives/{drive}/root:/{self.path}:/content?{CREATE_ONLY}"
        for _ in range(MAX_ROUNDS):
            answer = await self._put(create, self.record, None)
            if answer is not None and answer.status in (200, 201):
                self._took(answer)
                return
            view = await self.read()
            if view is None:
                continue  # released meanwhile (or our create never landed): try again
            if self.ours(view):
                self.item_id, self.etag = view.item_id, view.etag
                self.acquired = self.acquired or view.modified
                return
            dead_here = home_dead and view.record is not None and (
                view.record.home == self.record.home
            )
            if not (view.expired or dead_here):
                raise LockHeld(self._held_message(view))
            taken = replace(self.record, replaced=view.holder())
            content = f"/drives/{drive}/items/{view.item_id}/content"
            answer = await self._put(content, taken, view.etag)
            if answer is not None and answer.status in (200, 201):
                self.record, self.replaced = taken, view
                self._took(answer)
                return
            check = await self.read()
            if self.ours(check):
                assert check is not None
                self.record, self.replaced = taken, view
                self.item_id, self.etag = check.item_id, check.etag
                self.acquired = self.acquired or check.modified
                return
        raise LeaseUnavailable(
            f"the lease of {self.record.commune} kept changing while crisiskit tried to take it; "
            "another run is starting: nothing was changed, run again in a minute"
        )

    def _held_message(self, view: LeaseView) -> str:
        commune = self.record.commune
        left = ""
        if view.server_now is not None:
            seconds = max(0, int((view.expires - view.server_now).total_seconds()))
            left = f"; unless renewed it expires at {_utc(view.expires)} (in {seconds} s)"
        return (
            f"another crisiskit run holds {commune} in the tenant: {view.holder()}{left}. "
            f"Only one run per commune at a time: wait for it to finish (its lease is released "
            f"then), or, if it was killed, run again after the lease expires"
        )

    async def renew(self, deadline_s: float = DEADLINE_S) -> None:
        """Renew the lease (LeaseLost: taken over or deleted; GraphError, LeaseUnavailable: its
        outcome is unknown, try again soon)."""
        assert self.item_id is not None and self.etag is not None, "renew before acquire"
        drive = await self.drive()
        record = replace(self.record, renewals=self.record.renewals + 1)
        if record.since is None and self.acquired is not None:
            record = replace(record, since=_utc(self.acquired))
        content = f"/drives/{drive}/items/{self.item_id}/content"
        answer = await self._put(content, record, self.etag, deadline_s)
        if answer is not None and answer.status in (200, 201):
            self.record = record
            self._took(answer)
            return
        view = await self.read(deadline_s)
        if self.ours(view):
            assert view is not None
            self.etag = view.etag  # our write landed though its answer was lost
            self.record = view.record or record
            return
        if answer is None:
            raise GraphError("PUT", self.path, 0, "noResponse", "lease renewal outcome unknown")
        raise LeaseLost(self.lost_message(view))

    def lost_message(self, view: LeaseView | None) -> str:
        commune = self.record.commune
        if view is None:
            return (f"this run lost the lease of {commune}: it is gone from the tenant (taken "
                    "over by another run, which has released it since, or deleted)")
        return f"this run lost the lease of {commune}: it was taken over by {view.holder()}"

    async def release(self, deadline_s: float = QUICK_S) -> bool:
        """Delete the lease if it is still ours; tell whether it was released.

        Not released (the service did not answer), it expires by itself after its ttl.
        """
        if self.item_id is None or self.etag is None:
            return False
        for _ in range(2):
            try:
                drive = await self.drive()
                answer = await self.graph.request(
                    "DELETE", f"/drives/{drive}/items/{self.item_id}",
                    headers={"If-Match": self.etag}, expect=(404, 412), deadline_s=deadline_s,
                )
            except (GraphError, LeaseUnavailable):
                return False
            if answer.status in (204, 404):
                self.etag = None
                return True
            try:
                view = await self.read(deadline_s)
            except LeaseUnavailable:
                return False
            if view is None:
                self.etag = None
                return True
            if not self.ours(view):
                return False
            self.etag = view.etag
        return False
