"""The teardown's plan, as data: freeze, export, delete, purge, take the devices back.

    freeze   user:disable:<upn> ──> user:revoke:<upn>      tap:<upn>:<id> (delete each pass)
    export   export:<source>:<owner> (after its owner's freeze) ──> manifest:<folder>
    delete   group:delete:<group>, user:delete:<upn>        after the manifest (the gate)
    purge    user:purge:<upn>, group:purge:<group>          after their delete (--purge)
    devices  loan:<asset>: the loan closed, the device to wipe   after every delete

Nothing is deleted before the export of the same run has been written and verified from
disk (the manifest step is the gate), unless `--no-export`, or unless an earlier run of the
same teardown verified its export (then the manifest step is `present`, and re-verified by
the operation before the plan is run). What is already done is `present`: a disabled
account (and its sessions, when an earlier teardown revoked them), an object already
deleted, a purge an earlier run made or was refused. A second run after a complete
teardown therefore has nothing to do. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisiskit.plan.export import export_steps, manifest_id
from crisiskit.plan.model import Action, Plan, Step, step
from crisiskit.plan.scope import History, KitScope
from crisiskit.resources.groups import GroupTarget
from crisiskit.resources.loans import LoanReturn
from crisiskit.resources.taps import TapTarget
from crisiskit.resources.users import UserTarget

OPERATION = "teardown"


@dataclass(frozen=True)
class OpenLoan:
    asset_tag: str
    kind: str
    upn: str


@dataclass(frozen=True)
class TeardownOptions:
    """What the operator asked for, and what the operation found out before planning."""

    commune_name: str
    operator: str
    mail_domain: str
    export_root: str | None  # None: --no-export
    purge: bool = False
    export_verified_by: int | None = None  # an earlier run whose export of this folder verified
    loans: tuple[OpenLoan, ...] = ()


@dataclass
class TeardownPlan:
    """The teardown's plan, with the scope it was computed from."""

    plan: Plan
    scope: KitScope
    options: TeardownOptions
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.plan.empty

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "export_dir": self.options.export_root,
            "no_export": self.options.export_root is None,
            "purge": self.options.purge,
            "strays": self.scope.strays,
            "untagged": self.scope.untagged,
            "from_tenant": self.scope.from_tenant,
            "notes": self.notes,
        }


class _Steps:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, kind: str, action: Action, key: str, payload: object = None, *,
            id: str, phase: str, after: tuple[str, ...] = (), detail: str = "",
            graph_id: str | None = None) -> Step:
        s = step(kind, action, key, payload, after=after, id=id, phase=phase, detail=detail,
                 graph_id=graph_id)
        self.steps.append(s)
        return s


def teardown_plan(scope: KitScope, past: History, options: TeardownOptions) -> TeardownPlan:
    """Return the teardown's plan for `scope` (see the module docstring)."""
    b = _Steps()
    freeze: dict[str, tuple[str, ...]] = {}
    for u in scope.live_users:
        mine: list[str] = []
        disable_id = f"user:disable:{u.key}"
        if u.enabled:
            b.add("user", "disable", u.key, UserTarget(u.id), id=disable_id, phase="freeze",
                  graph_id=u.id, detail="accountEnabled: false")
        else:
            b.add("user", "present", u.key, id=disable_id, phase="freeze", graph_id=u.id,
                  detail="already disabled")
        mine.append(disable_id)
        revoke_id = f"user:revoke:{u.key}"
        if not u.enabled and past.last("user", "revoke", u.key) is not None:
            b.add("user", "present", u.key, id=revoke_id, phase="freeze",
                  detail="sessions revoked by an earlier run")
        else:
            b.add("user", "revoke", u.key, UserTarget(u.id), id=revoke_id, phase="freeze",
                  after=(disable_id,), graph_id=u.id, detail="revokeSignInSessions")
        mine.append(revoke_id)
        for tap in u.taps:
            s = b.add("tap", "delete", u.key, TapTarget(u.id, tap), id=f"tap:{u.key}:{tap}",
                      phase="freeze", after=(disable_id,), detail="Temporary Access Pass")
            mine.append(s.id)
        freeze[u.key] = tuple(mine)
    all_freeze = tuple(i for ids in freeze.values() for i in ids)

    gate: tuple[str, ...] = all_freeze
    group = scope.group
    something_live = bool(scope.live_users) or (group is not None and group.state == "live")
    root = options.export_root
    if root is not None and something_live:
        if options.export_verified_by is not None:
            b.add("manifest", "present", root, id=manifest_id(root), phase="export",
                  detail=f"exported and verified by run #{options.export_verified_by}")
        else:
            b.steps.extend(export_steps(
                scope, root, commune_name=options.commune_name, operator=options.operator,
                operation=OPERATION, mail_domain=options.mail_domain,
                after={**freeze, "*": all_freeze},
            ))
        gate = (manifest_id(root),)

    deletes: list[str] = []
    if group is not None and group.state != "gone":
        gid = f"group:delete:{group.key}"
        if group.state == "live":
            b.add("group", "delete", group.key, GroupTarget(group.id), id=gid, phase="delete",
                  after=gate, graph_id=group.id, detail="with its Team and SharePoint site")
            deletes.append(gid)
        else:
            b.add("group", "present", group.key, id=gid, phase="delete", detail="deleted")
        if options.purge and past.last("group", "purge", group.key) is None:
            b.add("group", "purge", group.key, GroupTarget(group.id), id=f"group:purge:{group.key}",
                  phase="purge", after=(gid,) if gid in deletes else (), graph_id=group.id,
                  detail="directory/deletedItems")
    for u in scope.users:
        if u.state == "gone":
            continue
        uid = f"user:delete:{u.key}"
        if u.state == "live":
            b.add("user", "delete", u.key, UserTarget(u.id), id=uid, phase="delete",
                  after=(*gate, *freeze.get(u.key, ())), graph_id=u.id)
            deletes.append(uid)
        else:
            b.add("user", "present", u.key, id=uid, phase="delete", detail="deleted")
        if options.purge and past.last("user", "purge", u.key) is None:
            b.add("user", "purge", u.key, UserTarget(u.id), id=f"user:purge:{u.key}",
                  phase="purge", after=(uid,) if uid in deletes else (), graph_id=u.id,
                  detail="directory/deletedItems")
    for loan in options.loans:
        b.add("loan", "delete", loan.asset_tag,
              LoanReturn(loan.asset_tag, "to_wipe", reason="returned at teardown"),
              id=f"loan:{loan.asset_tag}", phase="devices", after=tuple(deletes),
              detail=f"{loan.kind} from {loan.upn}: back, to wipe")
    plan = Plan(OPERATION, scope.commune, b.steps)
    return TeardownPlan(plan, scope, options)
