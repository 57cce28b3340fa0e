"""The simulator's core: one tenant, one behaviour profile, one seeded random source, routing.

`Simulator` is the context every handler receives. `Simulator.dispatch` is shared by plain HTTP
requests and `$batch` sub-requests: it routes, checks the caller's application roles against the
route's declared permissions, turns `SimError`s into Graph error bodies, logs and persists. HTTP
concerns (authentication, throttling, latency, injected faults, dropped connections) live in
`app.py`, around `dispatch`. The endpoint families register handlers on the `Router` the server
builds and hands in; this module imports none of them.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crisiskit.sim import permissions
from crisiskit.sim.errors import SimError, internal_error, not_found, segment_not_found
from crisiskit.sim.profiles import Profile
from crisiskit.sim.router import Router, SimRequest, SimResponse
from crisiskit.sim.tenant import Tenant

MAX_LOG = 200_000  # request log entries kept (`/_sim/requests`)
_KEY_SEGMENT = re.compile(r"\('([^']*)'\)")
_SLASHES = re.compile(r"/{2,}")
_CALL = re.compile(r"\(\)(?=/|$)")  # `users/delta()`: a function called without parameters


def normalize_path(path: str) -> str:
    """Collapse `//` (the SDK produces it), drop a trailing `/`, turn `x('id')` into `x/id`,
    and `delta()` into `delta` (the SDK calls functions with their empty parentheses)."""
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if "()" in path:
        path = _CALL.sub("", path)
    if "('" in path:
        path = _KEY_SEGMENT.sub(lambda m: "/" + m.group(1), path)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path or "/"


class Simulator:
    """A simulated Microsoft 365 tenant answering Graph requests."""

    def __init__(
        self,
        tenant: Tenant | None = None,
        profile: Profile | None = None,
        seed: int = 0,
        state_file: Path | None = None,
        router: Router | None = None,
    ) -> None:
        self.tenant = tenant if tenant is not None else Tenant()
        self.profile = profile if profile is not None else Profile.named("instant")
        self.seed = seed
        self.rng = random.Random(seed)
        self.requests_log: list[dict[str, Any]] = []
        self.fault_rules: list[Any] = []  # crisiskit.sim.faultplan.Rule, armed by /_sim/faults
        self.state_file = state_file
        self.router = router if router is not None else Router()
        # Handlers run on the server's event loop; tests and the control API read the tenant from
        # other threads, so every mutation and snapshot holds this lock.
        self.lock = threading.RLock()
        self._save_deferrals = 0
        self._unsaved = False
        self.clock_offset = 0.0  # seconds added to the wall clock (`/_sim/clock`)
        self._initial = json.dumps(self.tenant.to_json())
        self.initial_profile = copy.deepcopy(self.profile)
        self.initial_rng_state = self.rng.getstate()
        self._upn_index: dict[str, str] = {}
        self._upn_index_key: tuple[int, int] = (0, -1)
        self.replica_writes = 0  # counts replication records, to prune them now and then
        self.next_expiry = 0.0  # simulated time of the next automatic purge check
        self.mime_cache: dict[str, bytes] = {}  # rendered messages (`mailbox.build_mime`)
        self.mime_cache_bytes = 0
        # Run before each request, under the lock: the server hands in `cascade.expire`, the
        # automatic purge of deleted items on the simulator's clock.
        self.before_dispatch: Callable[[Simulator], object] | None = None

    def mark_initial(self) -> None:
        """Remember the tenant, profile and random state as what `/_sim/reset` returns to."""
        with self.lock:
            self._initial = json.dumps(self.tenant.to_json())
            self.initial_profile = copy.deepcopy(self.profile)
            self.initial_rng_state = self.rng.getstate()

    def initial_tenant(self) -> Tenant:
        """Return a fresh copy of the tenant as it was when marked initial."""
        return Tenant.from_json(json.loads(self._initial))

    # -- clock, ids ---------------------------------------------------------------------------
    def now(self) -> float:
        """Return the simulated time, in epoch seconds."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward, e.g. to age a group past the replication window."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.clock_offset += seconds

    def new_id(self) -> str:
        """Return a uuid4-form id drawn from the seeded random source, unused in the tenant."""
        t = self.tenant
        while True:
            new = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if new not in t.users and new not in t.groups and new not in t.deleted:
                return new

    def new_request_id(self) -> str:
        """Return a fresh request-id (not from the seeded source: ids stay reproducible)."""
        return str(uuid.uuid4())

    def iso(self, ts: float | None = None) -> str:
        """Format epoch seconds (default: now) as Graph does: `2026-11-26T20:12:26Z`."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now() if ts is None else ts))

    # -- eventual consistency ----------------------------------------------------------------
    def touch(self, obj_id: str) -> None:
        """Record that `obj_id` (not a user or group) was just written."""
        self.tenant.written_at[obj_id] = self.now()

    def is_young(self, obj_id: str) -> bool:
        """Tell whether `obj_id` was written less than `replication_lag_s` ago."""
        lag = self.profile.replication_lag_s
        written = self.tenant.written_at.get(obj_id)
        return bool(lag) and written is not None and self.now() - written < lag

    def check_replicated(self, obj_id: str) -> None:
        """Raise the directory's 404 when a young object is read from a lagging replica."""
        if self.is_young(obj_id) and self.rng.random() < self.profile.replication_404_rate:
            raise not_found(obj_id)

    # -- lookups ------------------------------------------------------------------------------
    def invalidate_upns(self) -> None:
        """Forget the userPrincipalName index (call after changing a user's UPN in place)."""
        self._upn_index_key = (0, -1)

    def index_user(self, user: dict[str, Any]) -> None:
        """Add a just-created user to the UPN index (saves rebuilding it on every create)."""
        users = self.tenant.users
        if self._upn_index_key == (id(users), len(users) - 1):
            self._upn_index[str(user.get("userPrincipalName", "")).lower()] = user["id"]
            self._upn_index_key = (id(users), len(users))

    def user_by_upn(self, upn: str) -> dict[str, Any] | None:
        """Return the live user with this userPrincipalName (case-insensitive), or None.

        An index keeps POST /users from scanning every user for duplicates; it is rebuilt when
        the users collection is replaced or changes size, and checked on every hit.
        """
        users = self.tenant.users
        key = (id(users), len(users))
        if key != self._upn_index_key:
            self._upn_index = {
                str(u.get("userPrincipalName", "")).lower(): uid for uid, u in users.items()
            }
            self._upn_index_key = key
        wanted = upn.lower()
        uid = self._upn_index.get(wanted)
        user = users.get(uid) if uid is not None else None
        if user is not None and str(user.get("userPrincipalName", "")).lower() == wanted:
            return user
        return None

    def get_user(self, id_or_upn: str) -> dict[str, Any]:
        """Return the stored user with this id or userPrincipalName, or raise the 404."""
        user = self.tenant.users.get(id_or_upn)
        if user is not None:
            return user
        if "@" in id_or_upn:
            user = self.user_by_upn(id_or_upn)
            if user is not None:
                return user
        raise not_found(id_or_upn)

    def get_group(self, group_id: str) -> dict[str, Any]:
        """Return the stored group with this id, or raise the 404."""
        group = self.tenant.groups.get(group_id)
        if group is None:
            raise not_found(group_id)
        return group

    def directory_object(self, obj_id: str) -> dict[str, Any] | None:
        """Return a live user or group by id, or None."""
        return self.tenant.users.get(obj_id) or self.tenant.groups.get(obj_id)

    def bound_object(self, url: str) -> dict[str, Any] | None:
        """Resolve an `@odata.bind` / `$ref` URL (…/directoryObjects|users|groups/{id})."""
        match = re.search(r"/(?:directoryObjects|users|groups)(?:/|\(')([^/()']+)'?\)?/?$", url)
        return self.directory_object(match.group(1)) if match else None

    # -- persistence ---------------------------------------------------------------------------
    def save(self) -> None:
        """Write the tenant atomically to the state file, if there is one."""
        if self.state_file is None:
            return
        if self._save_deferrals:
            self._unsaved = True
            return
        save_tenant(self.tenant, self.state_file)

    @contextmanager
    def one_save(self) -> Iterator[None]:
        """Save at most once for all the writes made inside (a `$batch`), before it answers.

        Rewriting the whole tenant after each sub-request made the simulator the bottleneck of
        batched runs; one save before the batch's response loses nothing acknowledged.
        """
        with self.lock:
            self._save_deferrals += 1
            try:
                yield
            finally:
                self._save_deferrals -= 1
                if not self._save_deferrals and self._unsaved:
                    self._unsaved = False
                    self.save()

    # -- dispatch ------------------------------------------------------------------------------
    def error_body(self, err: SimError, request_id: str, client_request_id: str) -> dict[str, Any]:
        """Return the standard Graph error body."""
        error: dict[str, Any] = {
            "code": err.code,
            "message": err.message,
            "innerError": {
                "date": self.iso(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
        if err.details:
            error["details"] = err.details
        return {"error": error}

    def error_response(
        self, err: SimError, request_id: str, client_request_id: str
    ) -> SimResponse:
        headers = dict(err.headers)
        return SimResponse(
            status=err.status,
            body=self.error_body(err, request_id, client_request_id),
            headers=headers,
        )

    def dispatch(self, req: SimRequest) -> SimResponse:
        """Route one request to its handler; errors become Graph error bodies; log; persist."""
        request_id = self.new_request_id()
        client_request_id = req.headers.get("client-request-id") or request_id
        req.path = normalize_path(req.path)
        with self.lock:
            try:
                found = self.router.match(req.method, req.path)
                if found is None:
                    raise segment_not_found(req.path.strip("/").split("/")[-1] or req.path)
                route, params = found
                if self.before_dispatch is not None:
                    self.before_dispatch(self)
                permissions.check(route.rule, req.principal)
                resp = route.handler(self, req, **params)
                if route.write and resp.status < 400:
                    resp.write = True
                    self.save()
            except SimError as err:
                resp = self.error_response(err, request_id, client_request_id)
            except Exception:  # a bug in a handler: answer like Graph, keep serving
                traceback.print_exc(file=sys.stderr)
                resp = self.error_response(internal_error(), request_id, client_request_id)
            resp.headers["request-id"] = request_id
            resp.headers["client-request-id"] = client_request_id
            self.log(req, resp.status)
        return resp

    def log(self, req: SimRequest, status: int) -> None:
        """Append one entry to the request log (what `/_sim/requests` returns)."""
        entry: dict[str, Any] = {
            "method": req.method,
            "path": req.path,
            "status": status,
            "time": self.now(),
        }
        if req.query:
            entry["query"] = dict(req.query)
        if req.via_batch:
            entry["via"] = "$batch"
        self.requests_log.append(entry)
        if len(self.requests_log) > MAX_LOG:
            # A long exercise must not grow memory without bound: keep the recent entries.
            del self.requests_log[: MAX_LOG // 4]


def save_tenant(tenant: Tenant, path: Path) -> None:
    """Write a tenant atomically: temporary file, fsync, rename (a kill never leaves half).

    Passes are written as hashes only (`Tenant.to_disk`).
    """
    data = json.dumps(tenant.to_disk(), separators=(",", ":")).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_tenant(path: Path) -> Tenant:
    """Read a state file; raise ValueError with a clear reason when it is not ours or corrupt."""
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    try:
        return Tenant.from_json(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
