"""Any plan on a terminal: who and where, why it would be refused, counts, steps, summary.

    render_plan(plan, target="the simulated sandbox tenant (...)", refusals=[...],
                notes=[...], verbose=False)
    plan_summary(plan) -> "to create: 12 accounts, 1 group; 3 present"

The order is the operator's: the target first (which tenant this writes to), then what would
stop the operation (each reason with how to fix it), then the counts by kind and action, then
the steps. Long groups of steps are collapsed to one line per kind and action so that the
summary never scrolls away; `verbose` lists every step, unchanged ones included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiskit.words import count, noun

if TYPE_CHECKING:
    from crisiskit.plan.model import Plan, Step

# Columns every plan table shows; other actions (delete, disable...) get a column when used.
PLAN_COLUMNS = ("create", "update", "present", "conflict")
LIFECYCLE = ("disable", "revoke", "export", "delete", "purge", "wait")
SYMBOL = {
    "create": "+",
    "update": "~",
    "present": "=",
    "conflict": "!",
    "disable": "/",
    "revoke": "x",
    "delete": "-",
    "purge": "#",
    "export": ">",
    "wait": ".",
}
COLLAPSE_OVER = 5  # more steps of one kind and action than this: one line (without -v)
# Actions an operator reads one by one even in a long plan: they change or refuse something
# that exists.
SCRUTINISED = frozenset({"update", "conflict", "disable", "revoke", "delete", "purge"})
SCRUTINISED_OVER = 20


def step_line(step: Step) -> str:
    """Return a step as one line: symbol, kind, natural key, detail."""
    detail = f"  ({step.detail})" if step.detail else ""
    return f"  {SYMBOL.get(step.action, '?')} {noun(step.kind, 1)} {step.key}{detail}"


def plan_summary(plan: Plan) -> str:
    """Return what the plan does in one sentence, by action then kind, in plan order."""
    by_action: dict[str, dict[str, int]] = {}
    for s in plan.steps:
        by_action.setdefault(s.action, {}).setdefault(s.kind, 0)
        by_action[s.action][s.kind] += 1
    parts = []
    for action, kinds in by_action.items():
        if action == "present":
            continue
        what = ", ".join(count(n, kind) for kind, n in kinds.items())
        parts.append(f"to {action}: {what}")
    present = sum(by_action.get("present", {}).values())
    if present:
        parts.append(f"{present} already present (unchanged)")
    return "; ".join(parts) or "nothing to do"


def render_plan(
    plan: Plan,
    *,
    target: str | None = None,
    refusals: Sequence[str] = (),
    notes: Sequence[str] = (),
    verbose: bool = False,
    summary: bool = True,
) -> None:
    """Print any plan (see the module docstring); `summary=False` when a prompt restates it."""
    from crisiskit import console

    title = f"Plan: {plan.operation} {plan.commune}"
    if plan.playbook:
        title += f" (playbook {plan.playbook})"
    console.text(title, style="bold")
    if target:
        console.text(f"Target: {target}", style="bold")
    if refusals:
        console.text(f"{plan.operation} would refuse (nothing is changed until this is fixed):",
                     style="bold red")
        for reason in refusals:
            console.text(f"  ! {reason}", wrap=True)
    counts = plan.counts()
    used = {a for by in counts.values() for a in by}
    # A plan that provisions shows all four provisioning columns (a 0 there is news); any
    # other action has a column only when the plan has it, in the order a lifecycle runs.
    base = list(PLAN_COLUMNS) if used & set(PLAN_COLUMNS) else []
    rest = sorted((a for a in used if a not in PLAN_COLUMNS),
                  key=lambda a: (LIFECYCLE.index(a) if a in LIFECYCLE else len(LIFECYCLE), a))
    columns = [*base, *rest]
    rows = [(kind.replace("_", " "), *(by.get(a, 0) for a in columns))
            for kind, by in counts.items()]
    if rows:
        console.table(None, ("kind", *columns), rows)
    collapsed = False
    for (kind, action), steps in _groups(plan.steps):
        if action == "present" and not verbose:
            continue
        limit = SCRUTINISED_OVER if action in SCRUTINISED else COLLAPSE_OVER
        if verbose or len(steps) <= limit:
            for s in steps:
                console.text(step_line(s))
            continue
        collapsed = True
        first, last = steps[0].key, steps[-1].key
        symbol = SYMBOL.get(action, "?")
        console.text(f"  {symbol} {count(len(steps), kind)} ({first} … {last})")
    for note in notes:
        console.text(note, wrap=True)
    if collapsed:
        console.text("(-v lists every step)")
    if summary:
        console.text(f"Summary: {plan_summary(plan)}.", style="bold", wrap=True)


def _groups(steps: Sequence[Step]) -> list[tuple[tuple[str, str], list[Step]]]:
    """Group steps by (kind, action), in the order each group first appears."""
    groups: dict[tuple[str, str], list[Step]] = {}
    for s in steps:
        groups.setdefault((s.kind, s.action), []).append(s)
    return list(groups.items())
