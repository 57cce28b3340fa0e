"""Execute a Plan: dependency order, batching, bounded parallelism, no duplicates, a journal.

Order (each arrow is a real dependency; everything else runs concurrently):

    users ──┬─> licences ──> mailbox readiness
            ├─> temporary access passes (each secret saved to the credentials file at once)
            ├─> phone methods
            └─> group ──┬─> remaining members (PATCH, ≤ 20 binds each)
                        ├─> team ──> channels
                        └─> drive ready ──> folders

No duplicates: a create answered with a 5xx, a timeout or a dropped connection (ambiguous) or
with "already exists" is followed by a lookup by natural key; only an object confirmed absent
by several consecutive reads is created again. Eventual consistency (404 or "does not exist"
right after a create) is retried with capped backoff. Every created id is journaled before
any wait that follows its creation. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.diff import Plan
from crisiskit.plan.observe import Observed
from crisiskit.resources import authmethods, directory, groups, mailbox, sharepoint, teams
from crisiskit.resources.base import Answer, Req, send
from crisiskit.secrets import Secret

if TYPE_CHECKING:
    from crisiskit.engine.journal import Journal
    from crisiskit.graph import Graph

ATTEMPTS = 4  # creates of one object (after confirmed absence), and consistency retries
ABSENT_READS = 3  # consecutive "not found" reads that confirm an ambiguous create did not happen
ABSENT_SPACING_S = 1.0  # between those reads (a replica may lag behind the write)
CONSISTENCY_ATTEMPTS = 14
CONSISTENCY_FIRST_S = 0.1
CONSISTENCY_CAP_S = 2.0
TEAM_RETRIES = 3  # documented: retry team creation up to 3 times, 10 s apart
TEAM_RETRY_S = 10.0
GROUP_MATURITY_S = 15 * 60.0  # documented: then wait until the group is 15 minutes old


class PhaseProgress(Protocol):
    def advance(self, n: int = 1, note: str | None = None) -> None: ...

    def finish(self, summary: str) -> None: ...


PhaseFactory = Callable[[str, int], PhaseProgress]


class _Quiet:
    def advance(self, n: int = 1, note: str | None = None) -> None:
        return None

    def finish(self, summary: str) -> None:
        return None


def quiet_phase(name: str, total: int) -> PhaseProgress:
    return _Quiet()


@dataclass
class IssuedPass:
    """A Temporary Access Pass issued by this run (the secret stays a Secret)."""

    upn: str
    display_name: str
    secret: Secret
    valid_from: datetime
    valid_until: datetime
    reissued: str = ""  # why a previous pass was replaced, if it was


@dataclass
class Outcome:
    """What an execution did and what is still pending."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)
    user_ids: dict[str, str] = field(default_factory=dict)
    group_id: str | None = None
    team_id: str | None = None
    team_url: str | None = None
    drive_id: str | None = None
    drive_url: str | None = None
    passes: list[IssuedPass] = field(default_factory=list)
    mailboxes_ready: list[str] = field(default_factory=list)
    mailboxes_pending: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "present": dict(self.present),
            "group_id": self.group_id,
            "team_id": self.team_id,
            "team_url": self.team_url,
            "drive_id": self.drive_id,
            "drive_url": self.drive_url,
            "passes_issued": [p.upn for p in self.passes],
            "passes_reissued": {p.upn: p.reissued for p in self.passes if p.reissued},
            "mailboxes_ready": self.mailboxes_ready,
            "mailboxes_pending": self.mailboxes_pending,
            "failures": self.failures,
            "warnings": self.warnings,
        }


@dataclass
class Creation:
    """How to create one object and how to find it again by its natural key."""

    kind: str
    key: str
    request: Callable[[str], Req]
    lookup: Callable[[str], Req] | None  # None: re-sending the create is itself safe
    found: Callable[[Answer], str | None]  # id of the object in a lookup answer, or None
    created_id: Callable[[Answer], str | None]
    duplicate: Callable[[Answer], bool] = lambda a: False
    ours: Callable[[Answer], bool] = lambda a: True  # does the found object belong to us


def is_consistency_failure(a: Answer) -> bool:
    """Tell whether an error is the directory not having caught up with a recent write."""
    if a.ambiguous:
        return False
    text = a.message.lower()
    if a.status == 404 and a.code not in (mailbox.NOT_READY, "itemNotFound"):
        return True
    if a.status == 400 and ("does not exist" in text or "do not exist" in text):
        return True
    return a.status == 409 and a.code == "Directory_ConcurrencyViolation"


def _id(a: Answer) -> str | None:
    value = a.json().get("id")
    return str(value) if value else None


def _first_id(a: Answer) -> str | None:
    if a.status != 200:
        return None
    items = a.values()
    return str(items[0].get("id")) if items else None


class Executor:
    """Carry out one plan against the tenant (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        journal: Journal,
        kit: DesiredKit,
        observed: Observed,
        plan: Plan,
        *,
        graph_root: str,
        save_passes: Callable[[list[IssuedPass]], None],
        wait_scale: float = 1.0,
        phase: PhaseFactory = quiet_phase,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.graph = graph
        self.journal = journal
        self.kit = kit
        self.observed = observed
        self.plan = plan
        self.graph_root = graph_root.rstrip("/")
        self.save_passes = save_passes
        self.scale = max(wait_scale, 0.0)
        self.phase = phase
        self.clock = clock
        self.out = Outcome()
        self.group_created_at: float | None = None
        self._seq = 0

    # ------------------------------------------------------------------ helpers

    def _rid(self) -> str:
        self._seq += 1
        return f"r{self._seq}"

    def _record(
        self,
        counter: dict[str, int],
        phase: str,
        kind: str,
        action: str,
        reqs: dict[str, Req],
        answers: dict[str, Answer],
    ) -> None:
        """Journal the outcome of one request per key, counting the successes in `counter`."""
        with self.journal.group():
            for key, r in reqs.items():
                a = answers[r.id]
                if a.ok:
                    counter[kind] += 1
                    self.journal.step(phase, kind, key, action, "done", request_id=a.request_id)
                else:
                    self._fail(phase, kind, key, a)

    def _fail(self, phase: str, kind: str, key: str, a: Answer | None, why: str = "") -> None:
        reason = why or (
            f"HTTP {a.status} {a.code}".strip() if a is not None and a.status else "no answer"
        )
        self.journal.step(
            phase, kind, key, "create", "failed", detail=reason,
            request_id=a.request_id if a else None,
        )
        self.out.failures.append(f"{kind} {key}: {reason}")

    async def settle(
        self,
        reqs: Sequence[Req],
        *,
        retry_ambiguous: bool = False,
        deadline_s: float = 60.0,
    ) -> dict[str, Answer]:
        """Send requests; re-send those that hit eventual consistency, with capped backoff.

        With `retry_ambiguous`, an ambiguous answer is re-sent too: only for requests whose
        repetition cannot duplicate anything (assignLicense, PUT, a TAP that replaces the last).
        """
        pending = list(reqs)
        answers: dict[str, Answer] = {}
        # Replication lag is a property of the service, not of our documented waits: these
        # retries are never scaled down, only bounded by attempts and a deadline.
        deadline = time.monotonic() + deadline_s
        delay = CONSISTENCY_FIRST_S
        for attempt in range(CONSISTENCY_ATTEMPTS):
            got = await send(self.graph, pending)
            answers.update(got)
            pending = [
                r
                for r in pending
                if is_consistency_failure(got[r.id]) or (retry_ambiguous and got[r.id].ambiguous)
            ]
            if not pending or attempt == CONSISTENCY_ATTEMPTS - 1:
                break
            if time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, CONSISTENCY_CAP_S)
        return answers

    async def create_all(self, phase: str, items: Sequence[Creation]) -> dict[str, str]:
        """Create objects, never twice: an uncertain create is looked up before any retry."""
        ids: dict[str, str] = {}
        pending = list(items)
        for _ in range(ATTEMPTS):
            if not pending:
                break
            reqs = {c.key: c.request(self._rid()) for c in pending}
            answers = await self.settle(list(reqs.values()))
            uncertain: list[Creation] = []
            with self.journal.group():
                for c in pending:
                    a = answers[reqs[c.key].id]
                    gid = c.created_id(a) if a.ok else None
                    if gid is not None:
                        self.journal.created(c.kind, c.key, gid)
                        ids[c.key] = gid
                        self.journal.step(
                            phase, c.kind, c.key, "create", "done",
                            graph_id=gid, request_id=a.request_id,
                        )
                    elif a.ambiguous or c.duplicate(a):
                        uncertain.append(c)
                    else:
                        self._fail(phase, c.kind, c.key, a)
            pending = []
            if not uncertain:
                break
            found = await self.look_up(uncertain)
            with self.journal.group():
                for c in uncertain:
                    if c.key not in found:
                        self._fail(phase, c.kind, c.key, None,
                                   "outcome unknown (the lookup got no answer); rerun")
                        continue
                    hit = found[c.key]
                    if hit is None:
                        pending.append(c)
                        continue
                    gid, ours = hit
                    if not ours:
                        self._fail(phase, c.kind, c.key, None, "exists and is not ours: left alone")
                        continue
                    self.journal.created(c.kind, c.key, gid)
                    ids[c.key] = gid
                    self.journal.step(
                        phase, c.kind, c.key, "create", "done",
                        graph_id=gid, detail="found by natural key after an uncertain answer",
                    )
        for c in pending:
            self._fail(phase, c.kind, c.key, None, "still absent after repeated attempts")
        return ids

    async def look_up(self, items: Sequence[Creation]) -> dict[str, tuple[str, bool] | None]:
        """Find objects by natural key; absent only after several consecutive empty reads.

        The answer maps a key to (id, ours) when found, to None when confirmed absent; a key
        missing from it could not be settled (no answer, deadline): its outcome is unknown.
        """
        result: dict[str, tuple[str, bool] | None] = {}
        absent: Counter[str] = Counter()
        todo = [c for c in items if c.lookup is not None]
        deadline = time.monotonic() + 60.0
        while todo:
            reqs = {c.key: c.lookup(self._rid()) for c in todo if c.lookup is not None}
            answers = await send(self.graph, list(reqs.values()))
            still: list[Creation] = []
            for c in todo:
                a = answers[reqs[c.key].id]
                gid = c.found(a) if a.status == 200 else None
                if gid is not None:
                    result[c.key] = (gid, c.ours(a))
                    continue
                if a.status not in (200, 404):
                    # No usable answer even after the Graph door's own retries: the outcome
                    # stays unknown, and an unknown object is never created again blind.
                    continue
                absent[c.key] += 1
                if absent[c.key] >= ABSENT_READS:
                    result[c.key] = None
                else:
                    still.append(c)
            todo = still
            if todo:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(ABSENT_SPACING_S)
        return result

    # ------------------------------------------------------------------ phases

    async def run(self) -> Outcome:
        """Execute the plan and return what was done and what is pending."""
        for s in self.plan.steps:
            if s.action == "present":
                self.out.present[s.kind] += 1
        for upn, u in self.observed.users.items():
            if u.tag == self.kit.commune_id:
                self.out.user_ids[upn] = u.id
        if self.observed.group is not None and self.observed.group.tag == self.kit.commune_id:
            self.out.group_id = self.observed.group.id
        self.out.team_id = self.observed.team_id
        self.out.team_url = self.observed.team_url
        self.out.drive_id = self.observed.drive_id
        self.out.drive_url = self.observed.drive_url

        await self.users()
        # The group chain is the critical path (group → team → channels): start it first so
        # that it gets the first slots of the bounded concurrency.
        await asyncio.gather(
            self.group_chain(),
            self.licences_then_mailboxes(),
            self.passes(),
            self.phone_methods(),
        )
        self.journal.flush()
        return self.out

    async def users(self) -> None:
        kit, tag = self.kit, self.kit.tag
        todo = self.plan.of("user", "create")
        prog = self.phase("accounts", len(todo) + len(self.plan.of("user", "update")))

        def found(a: Answer) -> str | None:
            return _id(a)

        def ours(a: Answer) -> bool:
            return a.json().get(tag) == kit.commune_id

        items = []
        for s in todo:
            u = kit.user(s.key)
            items.append(
                Creation(
                    kind="user",
                    key=u.upn,
                    request=lambda rid, u=u: directory.create_user(  # type: ignore[misc]
                        rid,
                        upn=u.upn,
                        mail_nickname=u.mail_nickname,
                        display_name=u.display_name,
                        given_name=u.given_name,
                        surname=u.surname,
                        usage_location=u.usage_location,
                        tag=tag,
                        commune_id=kit.commune_id,
                    ),
                    lookup=lambda rid, u=u: directory.get_user(rid, u.upn, tag),  # type: ignore[misc]
                    found=found,
                    created_id=_id,
                    duplicate=lambda a: directory.is_duplicate(a.code, a.message),
                    ours=ours,
                )
            )
        ids = await self.create_all("accounts", items)
        self.out.user_ids.update(ids)
        self.out.created["user"] += len(ids)
        prog.advance(len(ids))

        updates = self.plan.of("user", "update")
        if updates:
            reqs = {}
            for s in updates:
                u = kit.user(s.key)
                body = {
                    "displayName": u.display_name,
                    "usageLocation": u.usage_location,
                    "accountEnabled": True,
                }
                reqs[s.key] = directory.update_user(self._rid(), str(s.graph_id), body)
            answers = await self.settle(list(reqs.values()), retry_ambiguous=True)
            self._record(self.out.updated, "accounts", "user", "update", reqs, answers)
            prog.advance(len(updates))
        prog.finish(f"{len(ids)} created, {self.out.present['user']} present")

    async def licences_then_mailboxes(self) -> None:
        if self.kit.licence_mode == "direct":
            await self.licences()
        await self.mailboxes()

    async def licences(self) -> None:
        todo = [s for s in self.plan.of("licence", "create") if s.key in self.out.user_ids]
        prog = self.phase("licences", len(todo))
        sku_id = self.plan.sku_id
        if not todo or sku_id is None:
            prog.finish("nothing to assign")
            return
        reqs = {
            s.key: directory.assign_licence(self._rid(), self.out.user_ids[s.key], sku_id)
            for s in todo
        }
        # Assigning a licence the user already holds changes nothing: safe to re-send.
        answers = await self.settle(list(reqs.values()), retry_ambiguous=True)
        self._record(self.out.created, "licences", "licence", "create", reqs, answers)
        prog.advance(len(todo))
        prog.finish(f"{self.out.created['licence']} assigned")

    async def mailboxes(self) -> None:
        """Wait for mailboxes under the playbook's deadline; slow ones are only reported."""
        upns = [u.upn for u in self.kit.users if u.upn in self.out.user_ids]
        prog = self.phase("mailboxes", len(upns))
        budget = self.kit.readiness.mailbox_s * self.scale
        if not self.out.created["licence"]:
            # Licences were assigned by an earlier run: look once, do not wait again (the
            # operator reruns to finish something else; `status` re-checks mailboxes).
            budget = 0.0
        deadline = time.monotonic() + budget
        pending = list(upns)
        delay = 0.5
        while pending:
            reqs = {upn: mailbox.probe(self._rid(), self.out.user_ids[upn]) for upn in pending}
            answers = await send(self.graph, list(reqs.values()))
            still = []
            unknown = []
            for upn, r in reqs.items():
                a = answers[r.id]
                if a.status == 200:
                    self.out.mailboxes_ready.append(upn)
                    prog.advance(1)
                elif a.status == 404 or a.status >= 500 or a.status == 429:
                    still.append(upn)
                else:
                    # Not the "not provisioned yet" answer: waiting will not change it.
                    unknown.append(upn)
            if unknown:
                self.out.warnings.append(
                    f"mailbox readiness could not be checked for {len(unknown)} account(s)"
                )
            self.out.mailboxes_pending.extend(unknown)
            pending = still
            if not pending or time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)
        self.out.mailboxes_pending.extend(pending)
        for upn in self.out.mailboxes_pending:
            self.journal.step("mailboxes", "mailbox", upn, "wait", "still provisioning")
        prog.finish(
            f"{len(self.out.mailboxes_ready)} ready"
            + (
                f", {len(self.out.mailboxes_pending)} still provisioning"
                if self.out.mailboxes_pending
                else ""
            )
        )

    async def passes(self) -> None:
        todo = [s for s in self.plan.of("tap", "create") if s.key in self.out.user_ids]
        prog = self.phase("temporary access passes", len(todo))
        if not todo:
            prog.finish("none to issue")
            return
        kit = self.kit
        why = {s.key: s.detail for s in todo}
        waiting = [s.key for s in todo]
        issued: list[IssuedPass] = []
        delay = CONSISTENCY_FIRST_S
        for attempt in range(ATTEMPTS):
            reqs = {
                upn: authmethods.create_tap(
                    self._rid(), self.out.user_ids[upn], kit.tap_lifetime_minutes,
                    kit.tap_usable_once,
                )
                for upn in waiting
            }
            answers = await self.settle(list(reqs.values()))
            fresh: list[tuple[IssuedPass, Answer]] = []
            retry: list[str] = []
            for upn, r in reqs.items():
                a = answers[r.id]
                secret = a.json().get("temporaryAccessPass")
                if a.ok and secret:
                    fresh.append((self._issued(upn, a, why.get(upn, "")), a))
                elif a.ambiguous and attempt < ATTEMPTS - 1:
                    # A new pass replaces the previous one, so re-sending never duplicates;
                    # and an uncertain answer lost the secret anyway: issue it again.
                    retry.append(upn)
                else:
                    self._fail("credentials", "tap", upn, a)
            if fresh:
                # The secret exists nowhere else: save it before doing anything more.
                self.save_passes([p for p, _ in fresh])
                self._journal_passes(fresh)
                issued.extend(p for p, _ in fresh)
            waiting = retry
            if not waiting:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, CONSISTENCY_CAP_S)
        prog.advance(len(issued))
        prog.finish(f"{len(issued)} issued")

    def _issued(self, upn: str, a: Answer, reason: str) -> IssuedPass:
        body = a.json()
        secret = body["temporaryAccessPass"]
        if not isinstance(secret, Secret):
            secret = Secret(str(secret))
        start = _parse_start(body.get("startDateTime")) or self.clock()
        lifetime = int(body.get("lifetimeInMinutes") or self.kit.tap_lifetime_minutes)
        return IssuedPass(
            upn=upn,
            display_name=self.kit.user(upn).display_name,
            secret=secret,
            valid_from=start,
            valid_until=start + timedelta(minutes=lifetime),
            reissued=reason if reason.startswith("reissue") else "",
        )

    def _journal_passes(self, fresh: list[tuple[IssuedPass, Answer]]) -> None:
        with self.journal.group():
            for p, a in fresh:
                tap_id = _id(a)
                if tap_id:
                    self.journal.created("tap", p.upn, tap_id)
                self.journal.step(
                    "credentials", "tap", p.upn, "create", "done",
                    graph_id=tap_id, detail=p.reissued or "issued", request_id=a.request_id,
                )
                if p.reissued:
                    what = p.reissued.replace("reissue", f"reissued for {p.upn}", 1)
                    self.out.warnings.append(f"tap: {what}")
                self.out.passes.append(p)
                self.out.created["tap"] += 1

    async def phone_methods(self) -> None:
        if not self.kit.register_phone:
            return
        creates = [s for s in self.plan.of("phone_method", "create") if s.key in self.out.user_ids]
        updates = [s for s in self.plan.of("phone_method", "update") if s.key in self.out.user_ids]
        prog = self.phase("phone methods", len(creates) + len(updates))
        ids = self.out.user_ids

        def mobile_of(a: Answer) -> str | None:
            for m in a.values():
                if m.get("phoneType") == "mobile":
                    return str(m.get("id"))
            return None

        items = [
            Creation(
                kind="phone_method",
                key=s.key,
                request=lambda rid, s=s: authmethods.create_phone(  # type: ignore[misc]
                    rid, ids[s.key], s.detail
                ),
                lookup=lambda rid, s=s: authmethods.list_phones(rid, ids[s.key]),  # type: ignore[misc]
                found=mobile_of,
                created_id=_id,
                duplicate=lambda a: a.status in (400, 409) and "exist" in a.message.lower(),
            )
            for s in creates
        ]
        done = await self.create_all("phones", items)
        self.out.created["phone_method"] += len(done)
        if updates:
            reqs = {
                s.key: authmethods.update_phone(self._rid(), ids[s.key], str(s.graph_id), s.detail)
                for s in updates
            }
            answers = await self.settle(list(reqs.values()), retry_ambiguous=True)
            for key, r in reqs.items():
                a = answers[r.id]
                if a.ok:
                    self.out.updated["phone_method"] += 1
                    self.journal.step("phones", "phone_method", key, "update", "done",
                               request_id=a.request_id)
                else:
                    self._fail("phones", "phone_method", key, a)
        prog.advance(len(done) + len(updates))
        prog.finish(f"{len(done)} registered, {self.out.updated['phone_method']} updated")

    # ------------------------------------------------------------------ group chain

    def _url(self, object_id: str) -> str:
        return groups.bind_url(self.graph_root, object_id)

    async def group_chain(self) -> None:
        g = self.kit.group
        if g is None:
            return
        prog = self.phase("group", 1)
        gid = self.out.group_id
        ids = self.out.user_ids
        owners_in_create: set[str] = set()
        members_in_create: set[str] = set()
        if gid is None:
            owner_upns = [u for u in g.owners if u in ids][: groups.MAX_BINDS]
            if not owner_upns:
                self._fail("group", "group", g.mail_nickname, None, "no owner account exists")
                return
            room = groups.MAX_BINDS - len(owner_upns)
            member_upns = [u for u in g.members if u in ids][:room]
            owners_in_create, members_in_create = set(owner_upns), set(member_upns)
            tag, kit = self.kit.tag, self.kit
            created_at: dict[str, str] = {}

            def created(a: Answer) -> str | None:
                if a.json().get("createdDateTime"):
                    created_at["t"] = str(a.json()["createdDateTime"])
                return _id(a)

            item = Creation(
                kind="group",
                key=g.mail_nickname,
                request=lambda rid: groups.create_group(
                    rid,
                    nickname=g.mail_nickname,
                    display_name=g.display_name,
                    description=g.description,
                    tag=tag,
                    commune_id=kit.commune_id,
                    owner_urls=[self._url(ids[u]) for u in owner_upns],
                    member_urls=[self._url(ids[u]) for u in member_upns],
                ),
                lookup=lambda rid: groups.find_by_nickname(rid, g.mail_nickname, tag),
                found=_first_id,
                created_id=created,
                duplicate=lambda a: groups.is_duplicate(a.code, a.message),
                ours=lambda a: bool(a.values()) and a.values()[0].get(tag) == kit.commune_id,
            )
            got = await self.create_all("group", [item])
            gid = got.get(g.mail_nickname)
            if gid is None:
                prog.finish("failed")
                return
            self.out.group_id = gid
            self.out.created["group"] += 1
            start = _parse_start(created_at.get("t"))
            self.group_created_at = start.timestamp() if start else time.time()
        prog.advance(1)
        prog.finish("ready")
        await asyncio.gather(
            self.memberships(gid, owners_in_create, members_in_create),
            self.team_chain(gid),
            self.drive_chain(gid),
        )

    async def memberships(self, gid: str, owners_done: set[str], members_done: set[str]) -> None:
        g = self.kit.group
        assert g is not None
        ids = self.out.user_ids
        todo = list(self.plan.of("membership", "create"))
        prog = self.phase("members", len(todo))
        with self.journal.group():
            for s in todo:
                role, _, upn = s.key.partition(":")
                bound = owners_done if role == "owner" else members_done
                if upn in bound:
                    self.out.created["membership"] += 1
                    self.journal.step("group", "membership", s.key, "create", "done",
                               detail="bound in the group create")
        owners = [
            s.key.partition(":")[2]
            for s in todo
            if s.key.startswith("owner:") and s.key[6:] not in owners_done and s.key[6:] in ids
        ]
        members = [
            s.key.partition(":")[2]
            for s in todo
            if s.key.startswith("member:") and s.key[7:] not in members_done and s.key[7:] in ids
        ]
        if owners:
            await self._add_owners(gid, owners)
        if members:
            await self._add_members(gid, members)
        prog.advance(len(todo))
        prog.finish(f"{self.out.created['membership']} added")
        if self.kit.licence_mode == "group":
            await self.group_licence(gid)

    async def _add_owners(self, gid: str, upns: list[str]) -> None:
        """Add owners one `$ref` at a time; an uncertain add is checked against the owners."""
        ids = self.out.user_ids
        missing = list(upns)
        for _ in range(ATTEMPTS):
            reqs = {u: groups.add_owner(self._rid(), gid, self._url(ids[u])) for u in missing}
            answers = await self.settle(list(reqs.values()))
            unsure: list[str] = []
            with self.journal.group():
                for u, r in reqs.items():
                    a = answers[r.id]
                    if a.ok or (a.status == 400 and "already exist" in a.message):
                        self.out.created["membership"] += 1
                        self.journal.step("group", "membership", f"owner:{u}", "create", "done",
                                   request_id=a.request_id)
                    elif a.ambiguous:
                        unsure.append(u)
                    else:
                        self._fail("group", "membership", f"owner:{u}", a)
            if not unsure:
                return
            r = groups.list_owners(self._rid(), gid)
            current = (await self.settle([r]))[r.id]
            if current.status != 200:
                break
            present = {str(x.get("id")) for x in current.values()}
            with self.journal.group():
                for u in unsure:
                    if ids[u] in present:
                        self.out.created["membership"] += 1
                        self.journal.step("group", "membership", f"owner:{u}", "create", "done",
                                   detail="found among the owners after an uncertain answer")
            missing = [u for u in unsure if ids[u] not in present]
            if not missing:
                return
        for u in missing:
            self._fail("group", "membership", f"owner:{u}", None, "could not be added")

    async def _add_members(self, gid: str, upns: list[str]) -> None:
        ids = self.out.user_ids
        missing = list(upns)
        for _ in range(ATTEMPTS):
            chunks = [missing[i : i + groups.MAX_BINDS] for i in range(0, len(missing), 20)]
            reqs = {
                i: groups.add_members(self._rid(), gid, [self._url(ids[u]) for u in chunk])
                for i, chunk in enumerate(chunks)
            }
            answers = await self.settle(list(reqs.values()))
            unsure = False
            next_missing: list[str] = []
            with self.journal.group():
                for i, r in reqs.items():
                    a = answers[r.id]
                    if a.ok:
                        for u in chunks[i]:
                            self.out.created["membership"] += 1
                            self.journal.step(
                                "group", "membership", f"member:{u}", "create", "done",
                                request_id=a.request_id,
                            )
                    else:
                        unsure = unsure or a.ambiguous or a.status == 400
                        if not (a.ambiguous or a.status == 400):
                            for u in chunks[i]:
                                self._fail("group", "membership", f"member:{u}", a)
                        else:
                            next_missing.extend(chunks[i])
            if not next_missing:
                return
            # The PATCH is all-or-nothing but its outcome may be unknown, or some members
            # were already there: read the members and add only those still missing.
            current = await self._members(gid)
            if current is None:
                break
            for u in next_missing:
                if ids[u] in current:
                    self.out.created["membership"] += 1
                    self.journal.step("group", "membership", f"member:{u}", "create", "done",
                               detail="found in the group after an uncertain answer")
            missing = [u for u in next_missing if ids[u] not in current]
            if not missing:
                return
            await asyncio.sleep(CONSISTENCY_FIRST_S)
        for u in missing:
            self._fail("group", "membership", f"member:{u}", None, "could not be added")

    async def _members(self, gid: str) -> set[str] | None:
        r = groups.list_members(self._rid(), gid)
        a = (await self.settle([r]))[r.id]
        if a.status != 200:
            return None
        items = a.values()
        link = a.json().get("@odata.nextLink")
        if link:
            items.extend(await self.graph.get_all(str(link)))
        return {str(x.get("id")) for x in items}

    async def group_licence(self, gid: str) -> None:
        todo = self.plan.of("licence", "create")
        if not todo or self.plan.sku_id is None:
            return
        r = groups.assign_licence(self._rid(), gid, self.plan.sku_id)
        a = (await self.settle([r], retry_ambiguous=True))[r.id]
        if a.ok:
            self.out.created["licence"] += 1
            self.journal.step("licences", "licence", todo[0].key, "create", "done",
                       request_id=a.request_id)
        else:
            self._fail("licences", "licence", todo[0].key, a)

    async def team_chain(self, gid: str) -> None:
        t = self.kit.team
        if t is None:
            return
        prog = self.phase("team", 1 + len(t.channels))
        team_id = self.out.team_id
        if team_id is None:
            team_id = await self._create_team(gid)
            if team_id is None:
                prog.finish("not created")
                return
            self.out.team_id = team_id
        prog.advance(1)
        todo = self.plan.of("channel", "create")
        items = [
            Creation(
                kind="channel",
                key=s.key,
                request=lambda rid, s=s: teams.create_channel(  # type: ignore[misc]
                    rid, team_id, s.key, _channel_description(self.kit, s.key)
                ),
                lookup=lambda rid, s=s: teams.find_channel(rid, team_id, s.key),  # type: ignore[misc]
                found=_first_id,
                created_id=_id,
                duplicate=lambda a: a.status in (400, 409) and (
                    "exist" in a.message.lower() or a.code.lower() == "nameAlreadyExists".lower()
                ),
            )
            for s in todo
        ]
        done = await self.create_all("team", items)
        self.out.created["channel"] += len(done)
        prog.advance(len(done))
        prog.finish(f"team ready, {len(done)} channels created")

    async def _create_team(self, gid: str) -> str | None:
        """Create the team; on a young group's 404, follow the documented retry, then wait."""
        t = self.kit.team
        assert t is not None
        # The documented recipe may need the whole maturity wait: never give up before it.
        budget = max(self.kit.readiness.team_s, GROUP_MATURITY_S + 2 * TEAM_RETRY_S)
        deadline = time.monotonic() + budget * self.scale + 1.0
        not_found = 0
        uncertain = 0
        answer: Answer | None = None
        while True:
            r = teams.create_team(self._rid(), gid)
            answer = (await send(self.graph, [r]))[r.id]
            if answer.status == 202:
                return await self._await_team_operation(gid, answer, deadline)
            if answer.ok or answer.status == 409 or answer.ambiguous:
                # 409: a team exists already (an earlier, interrupted run); ambiguous: it may.
                check = answer
                if not answer.ok:
                    g = teams.get_team(self._rid(), gid)
                    check = (await self.settle([g]))[g.id]
                if check.status in (200, 201):
                    team_id = _id(check) or gid
                    self.out.team_url = check.json().get("webUrl")
                    self.journal.created("team", t.display_name, team_id)
                    self.out.created["team"] += 1
                    self.journal.step("team", "team", t.display_name, "create", "done",
                               graph_id=team_id, request_id=answer.request_id)
                    return team_id
                uncertain += 1
                if check.status != 404 or uncertain >= ATTEMPTS:
                    # Neither the create nor the lookup got a usable answer: stop here
                    # (a rerun observes the tenant again) rather than poll a dead service.
                    self._fail("team", "team", t.display_name, check,
                               "outcome unknown (no usable answer); rerun")
                    return None
            elif answer.status != 404:
                self._fail("team", "team", t.display_name, answer)
                return None
            else:
                not_found += 1
            if not_found <= TEAM_RETRIES:
                wait = TEAM_RETRY_S * self.scale
            else:
                age = time.time() - (self.group_created_at or time.time())
                wait = max(GROUP_MATURITY_S * self.scale - age, TEAM_RETRY_S * self.scale)
            if time.monotonic() + wait > deadline:
                self._fail("team", "team", t.display_name, answer,
                           "the group is too young for a team yet; rerun later")
                return None
            await asyncio.sleep(wait)

    async def _await_team_operation(
        self, gid: str, accepted: Answer, deadline: float
    ) -> str | None:
        """Poll the teamsAsyncOperation of a `POST /teams` until it succeeds, under `deadline`."""
        t = self.kit.team
        assert t is not None
        # The team's id is the group's: journal it now, before waiting, so that a kill during
        # the wait leaves nothing unknown (a rerun finds the team or its 409).
        self.journal.created("team", t.display_name, gid)
        location = accepted.headers.get("location", "")
        delay = 0.2
        last: Answer = accepted
        while location:
            op = teams.get_operation(self._rid(), location)
            last = (await self.settle([op]))[op.id]
            status = str(last.json().get("status", "")) if last.status == 200 else ""
            if status == "succeeded":
                break
            if status == "failed" or (last.status >= 400 and last.status != 404):
                self._fail("team", "team", t.display_name, last,
                           f"team creation operation {status or last.status}")
                return None
            if time.monotonic() + delay > deadline:
                self._fail("team", "team", t.display_name, last,
                           "the team is still being created; rerun later")
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0 * max(self.scale, 0.01))
        g = teams.get_team(self._rid(), gid)
        check = (await self.settle([g]))[g.id]
        self.out.team_url = check.json().get("webUrl")
        self.out.created["team"] += 1
        self.journal.step("team", "team", t.display_name, "create", "done",
                   graph_id=gid, request_id=accepted.request_id)
        return gid

    async def drive_chain(self, gid: str) -> None:
        if not self.kit.folders:
            return
        prog = self.phase("sharepoint", 1 + len(self.plan.of("folder", "create")))
        drive_id = self.out.drive_id
        if drive_id is None:
            deadline = time.monotonic() + self.kit.readiness.drive_s * self.scale + 1.0
            delay = 0.5
            while True:
                r = sharepoint.get_group_drive(self._rid(), gid)
                a = (await send(self.graph, [r]))[r.id]
                if a.status == 200:
                    drive_id = _id(a)
                    self.out.drive_url = a.json().get("webUrl")
                    break
                # Only "not provisioned yet" (404) is worth waiting for: the Graph door has
                # already retried no-answers and 5xx on this GET.
                if a.status != 404 or (
                    time.monotonic() + delay > deadline
                ):
                    why = (
                        "the group's SharePoint site is still provisioning; rerun later"
                        if a.status == 404
                        else ""
                    )
                    self._fail("sharepoint", "drive", "Documents", a, why)
                    prog.finish("drive not ready")
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)
            self.out.drive_id = drive_id
            self.journal.step(
                "sharepoint", "drive", "Documents", "wait", "ready", graph_id=drive_id
            )
        prog.advance(1)
        assert drive_id is not None
        todo = self.plan.of("folder", "create")

        def folder_found(name: str) -> Callable[[Answer], str | None]:
            def find(a: Answer) -> str | None:
                for f in a.values():
                    if str(f.get("name", "")).lower() == name.lower() and "folder" in f:
                        return str(f.get("id"))
                return None

            return find

        items = [
            Creation(
                kind="folder",
                key=s.key,
                request=lambda rid, s=s: sharepoint.create_folder(rid, drive_id, s.key),  # type: ignore[misc]
                lookup=lambda rid: sharepoint.list_root_children(rid, drive_id),
                found=folder_found(s.key),
                created_id=_id,
                duplicate=lambda a: a.status == 409,
            )
            for s in todo
        ]
        done = await self.create_all("sharepoint", items)
        self.out.created["folder"] += len(done)
        prog.advance(len(done))
        prog.finish(f"drive ready, {len(done)} folders created")


def _channel_description(kit: DesiredKit, name: str) -> str:
    if kit.team is not None:
        for c in kit.team.channels:
            if c.name == name:
                return c.description
    return ""


def _parse_start(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
