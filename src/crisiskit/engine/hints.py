"""What the journal knows about a kit that the tenant cannot say, for observation.

    journal_hints(store, kit) -> Hints
        group_id     the group a run created (its id journaled from the create's answer)
        sent_at      a `POST /teams` sent for this kit whose answer no run read (a run killed
                     mid-request): observation then looks for the group by display name
        licensed_at  when each account's licence was assigned (the mailbox bound runs from it)
        created      every object a run created, (kind, natural key) -> id: observation
                     re-reads one a lagging replica does not show yet (a rerun right after
                     an interrupted run)
"""

from __future__ import annotations

from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.observe import Hints
from crisiskit.resources.waiting import parse_time
from crisiskit.state.api import StateStore

SENT = "sent"


def journal_hints(store: StateStore, kit: DesiredKit) -> Hints:
    """Read the commune's journal for the hints observation needs."""
    commune = kit.commune_id
    nickname = kit.group.mail_nickname if kit.group is not None else None
    created = {(o.kind, o.natural_key): o.graph_id for o in store.objects(commune)}
    group_id = created.get(("group", nickname)) if nickname else None
    sent = None
    licensed: dict[str, str] = {}
    for run in store.runs(commune):
        if run.kind != "activate":
            continue
        for s in store.steps(run.id):
            if s.kind == "group" and s.key == nickname and s.status == SENT:
                sent = max(sent or s.at, s.at)
            elif s.kind == "licence" and s.action == "create" and s.status == "done":
                if kit.group is not None and s.key == nickname:
                    licensed.update({u.upn: max(licensed.get(u.upn, s.at), s.at)
                                     for u in kit.users})
                else:
                    licensed[s.key] = max(licensed.get(s.key, s.at), s.at)
    sent_at = parse_time(sent)
    if sent_at is not None and nickname:
        # Answered since: the create's answer journaled the group's id after it was sent.
        answered = [
            o for o in store.objects(commune, "group")
            if o.natural_key == nickname and (parse_time(o.created_at) or sent_at) >= sent_at
        ]
        if answered:
            sent_at = None
    return Hints(group_id=group_id, sent_at=sent_at, licensed_at=licensed, created=created)
