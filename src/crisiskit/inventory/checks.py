"""Cross-checks that span several inventory objects, each located at the offending node.

They run on the items that passed their own validation (with their original indices), so one
bad device does not hide a duplicate commune id elsewhere: every problem is reported at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crisiskit.errors import Diagnostic, InputError
from crisiskit.inventory.limits import account_problems, domain_problems, group_problems
from crisiskit.inventory.loader import Document
from crisiskit.inventory.models import Commune, Convention, Laptop, Phone
from crisiskit.inventory.naming import Account, roster_accounts
from crisiskit.playbooks import Playbook, list_playbooks, playbook_diagnostics


@dataclass
class CheckResult:
    """Problems found, plus what the user should know (homonyms renamed)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    homonyms: list[dict[str, object]] = field(default_factory=list)


def _line(doc: Document, path: str) -> int:
    return doc.where(path)[0]


def _unique(
    doc: Document,
    result: CheckResult,
    items: Sequence[tuple[str, str]],
    what: str,
) -> None:
    """Report every item whose value was already seen; items are (path, comparable value)."""
    first: dict[str, str] = {}
    for path, value in items:
        if value in first:
            earlier = first[value]
            result.diagnostics.append(
                doc.diagnostic(
                    path, f"duplicate {what} {value!r} (first at {earlier}, line "
                    f"{_line(doc, earlier)})"
                )
            )
        else:
            first[value] = path


def _convention(doc: Document, result: CheckResult, base: str, c: Convention) -> None:
    def bad(name: str, message: str) -> None:
        result.diagnostics.append(doc.diagnostic(f"{base}.{name}", message))

    if c.signature_date and c.signature_date < c.deliberation_date:
        bad("signature_date", "is before the deliberation_date")
    if c.notification_date:
        if c.signature_date is None:
            bad("notification_date", "a convention is notified after it is signed: "
                "signature_date is missing")
        elif c.notification_date < c.signature_date:
            bad("notification_date", "is before the signature_date")
    for name in ("termination_request_date", "breach_notice_date"):
        when = getattr(c, name)
        if when is None:
            continue
        if c.notification_date is None:
            bad(name, "the convention was never notified (notification_date is missing)")
        elif when < c.notification_date:
            bad(name, "is before the notification_date")
    if c.breach_remedied_date:
        if c.breach_notice_date is None:
            bad("breach_remedied_date", "no breach_notice_date to remedy")
        elif c.breach_remedied_date < c.breach_notice_date:
            bad("breach_remedied_date", "is before the breach_notice_date")


def _accounts(
    doc: Document,
    result: CheckResult,
    i: int,
    commune: Commune,
    domain: str,
    upns: dict[str, str],
) -> list[Account]:
    accounts = roster_accounts(commune, domain)
    base = f"communes[{i}].roster"
    for problem in account_problems(base, accounts, commune, domain):
        result.diagnostics.append(doc.diagnostic(problem.path, problem.message))
    for account in accounts:
        path = f"{base}[{account.index}]"
        person = account.person
        if not account.mail_nickname:
            result.diagnostics.append(
                doc.diagnostic(
                    path, f"{person.full_name!r} gives no usable ASCII user name; "
                    "set `account` (e.g. prenom.nom)"
                )
            )
            continue
        if account.clash is not None:
            other = commune.roster[account.clash]
            how = "is also the account of" if other.account else "is also the name made for"
            result.diagnostics.append(
                doc.diagnostic(
                    f"{path}.account", f"user name {account.upn} {how} "
                    f"{base}[{account.clash}] ({other.full_name}); an explicit account is "
                    "never renamed: choose another one"
                )
            )
            continue
        owner = upns.get(account.mail_nickname)
        if owner is not None:
            where = f"{path}.account" if person.account else path
            fix = (
                "choose another `account`" if person.account
                else f"set `account` on one of them, e.g. {account.mail_nickname}.{commune.id}"
            )
            result.diagnostics.append(
                doc.diagnostic(
                    where, f"user name {account.upn} is also produced by {owner} (one tenant "
                    f"for all communes); {fix}"
                )
            )
        else:
            upns[account.mail_nickname] = f"{base}[{account.index}]"
        if account.homonym_of is not None:
            result.notes.append(
                f"{commune.id}: roster[{account.index}] {person.full_name} → {account.upn} "
                f"(homonym of roster[{account.homonym_of}])"
            )
            result.homonyms.append(
                {
                    "commune": commune.id,
                    "roster_index": account.index,
                    "name": person.full_name,
                    "upn": account.upn,
                    "homonym_of": account.homonym_of,
                }
            )
    return accounts


def _selection(
    doc: Document, result: CheckResult, i: int, commune: Commune, playbook: Playbook
) -> None:
    """Check that the playbook gives this roster at least one account, and the Team an owner."""
    if not commune.roster:
        return
    chosen = [p for p in commune.roster if playbook.includes(p.role)]
    path = f"communes[{i}].roster"
    if not chosen:
        roles = ", ".join(playbook.roles or [])
        result.diagnostics.append(
            doc.diagnostic(
                path, f"playbook {playbook.name!r} creates accounts only for {roles}: "
                "nobody on this roster has one of these roles",
                key=True,
            )
        )
    elif playbook.team is not None and not any(p.team_owner for p in chosen):
        result.diagnostics.append(
            doc.diagnostic(
                path, f"playbook {playbook.name!r} creates a Team, which needs an owner: set "
                "team_owner: true on at least one person who gets an account",
                key=True,
            )
        )


def cross_check(
    doc: Document,
    communes: Sequence[tuple[int, Commune]],
    laptops: Sequence[tuple[int, Laptop]],
    phones: Sequence[tuple[int, Phone]],
    *,
    domain: str | None,
    playbooks_dir: Path,
) -> CheckResult:
    """Run every cross-check on the given (index, item) pairs and return what was found."""
    result = CheckResult()
    _unique(doc, result, [(f"communes[{i}].id", c.id) for i, c in communes], "commune id")
    _unique(doc, result, [(f"communes[{i}].insee", c.insee) for i, c in communes], "INSEE code")
    _unique(
        doc, result, [(f"communes[{i}].name", c.name.casefold()) for i, c in communes],
        "commune name",
    )
    tags = [(f"devices.laptops[{i}].asset_tag", d.asset_tag.upper()) for i, d in laptops]
    tags += [(f"devices.phones[{i}].asset_tag", d.asset_tag.upper()) for i, d in phones]
    _unique(doc, result, tags, "asset tag")
    _unique(
        doc, result, [(f"devices.laptops[{i}].serial", d.serial.upper()) for i, d in laptops],
        "serial number",
    )
    _unique(doc, result, [(f"devices.phones[{i}].imei", d.imei) for i, d in phones], "IMEI")
    _unique(
        doc, result, [(f"devices.phones[{i}].number", d.number) for i, d in phones],
        "phone number",
    )
    available = set(list_playbooks(playbooks_dir))
    # Every playbook, since `activate --playbook` may choose any; a broken one is reported by
    # its own validation, not here.
    playbooks: dict[str, Playbook] = {}
    for name in sorted(available):
        try:
            book = playbook_diagnostics(playbooks_dir / f"{name}.yaml")[0]
        except InputError:
            book = None
        if book is not None:
            playbooks[name] = book
    upns: dict[str, str] = {}
    if domain is not None:
        for problem in domain_problems(domain):
            result.diagnostics.append(doc.diagnostic(problem.path, problem.message))
    for i, commune in communes:
        if commune.playbook not in available:
            names = ", ".join(sorted(available)) or "none"
            result.diagnostics.append(
                doc.diagnostic(
                    f"communes[{i}].playbook",
                    f"playbook {commune.playbook!r} not found in {playbooks_dir} "
                    f"(available: {names})",
                )
            )
        book = playbooks.get(commune.playbook)
        if book is not None:
            _selection(doc, result, i, commune, book)
        _convention(doc, result, f"communes[{i}].convention", commune.convention)
        _accounts(doc, result, i, commune, domain or "invalid.example", upns)
        for problem in group_problems(i, commune, playbooks):
            result.diagnostics.append(doc.diagnostic(problem.path, problem.message))
    return result
