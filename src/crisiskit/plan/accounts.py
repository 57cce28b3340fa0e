"""Read a few named accounts of a commune and their authentication methods (read-only).

Day-2 operations act on one or a few accounts (`credentials reissue`, `devices swap`); they
need no full observation of the kit. Round 1 reads each account by UPN; round 2, for those
that are the commune's (its tag), their Temporary Access Passes and/or phone methods. The
requests and parsers are the resource modules', as for `crisiskit.plan.observe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crisiskit.errors import OperationFailed
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.resources import phones, taps, users
from crisiskit.resources.taps import ObservedTap
from crisiskit.resources.users import ObservedUser

if TYPE_CHECKING:
    from crisiskit.graph import Graph


@dataclass
class AccountView:
    """One account as the tenant has it (None: no such account), and its methods if ours."""

    upn: str
    user: ObservedUser | None
    ours: bool = False
    taps: list[ObservedTap] = field(default_factory=list)
    phones: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (id, number)


def _expect(answer: GraphResponse, what: str) -> None:
    if answer.status != 200:
        raise OperationFailed(
            f"could not read {what}: HTTP {answer.status} {answer.code} "
            f"(request-id {answer.request_id})"
        )


async def observe_accounts(
    graph: Graph,
    tag: str,
    commune: str,
    upns: Sequence[str],
    *,
    with_taps: bool = False,
    with_phones: bool = False,
) -> dict[str, AccountView]:
    """Read the accounts `upns` (lower-case) and, for the commune's, the methods asked for."""
    r1 = await graph.send({upn: users.by_upn(upn, tag) for upn in upns})
    views: dict[str, AccountView] = {}
    for upn in upns:
        a = r1[upn]
        if a.status == 404:
            views[upn] = AccountView(upn, None)
            continue
        _expect(a, f"user {upn}")
        user = users.parse(a.json(), tag)
        views[upn] = AccountView(upn, user, ours=user.tag == commune)
    round2: dict[str, Request] = {}
    for upn, v in views.items():
        if v.user is None or not v.ours:
            continue  # nothing of an account that is not ours is read further
        if with_taps:
            round2[f"tap:{upn}"] = taps.of_user(v.user.id)
        if with_phones:
            round2[f"phone:{upn}"] = phones.of_user(v.user.id)
    r2 = await graph.send(round2)
    for key, answer in r2.items():
        what, upn = key.split(":", 1)
        if what == "tap":
            _expect(answer, f"the Temporary Access Passes of {upn}")
            views[upn].taps = [taps.parse(t) for t in answer.values()]
        else:
            _expect(answer, f"the phone methods of {upn}")
            views[upn].phones = phones.parse(answer.values())
    return views
