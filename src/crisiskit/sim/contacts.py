"""Simulated Outlook contacts: a user's personal contacts (the default contacts folder).

Reads follow user-list-contacts.md and contact-get.md: pages of 10 (`$top` ≤ 1000), `@odata.etag`,
`$filter=emailAddresses/any(a:a/address eq '...')`. Seeded via `POST /_sim/seed` (`contacts`,
see `seed_contact`). The mailbox must exist (`mailbox_delay_s` after the licence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import mailbox, outlook
from crisiskit.sim.errors import mail_item_not_found
from crisiskit.sim.mailseed import email_address
from crisiskit.sim.permissions import EXCHANGE_DENIED
from crisiskit.sim.router import Router, SimRequest, SimResponse, strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

_U = "/users/{user_id}"
_READ = ("Contacts.Read", "Contacts.ReadWrite")
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", _U + "/contacts"): _READ,
    ("GET", _U + "/contacts/{contact_id}"): _READ,
}
DENIED = EXCHANGE_DENIED
_TEXT = (
    "givenName",
    "middleName",
    "surname",
    "nickName",
    "title",
    "jobTitle",
    "companyName",
    "department",
    "officeLocation",
    "profession",
    "businessHomePage",
    "assistantName",
    "manager",
    "mobilePhone",
    "spouseName",
    "personalNotes",
    "birthday",
    "yomiGivenName",
    "yomiSurname",
    "yomiCompanyName",
    "generation",
)


def register(router: Router) -> None:
    """Register the contact routes on `router`."""
    router.route("GET", _U + "/contacts")(list_contacts)
    router.route("GET", _U + "/contacts/{contact_id}")(get_contact)


def _view(contact: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.etag": f'W/"{contact["changeKey"]}"', **strip_internal(contact)}


def list_contacts(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's contacts (`GET /users/{id}/contacts`), 10 per page."""
    user = mailbox.mailbox_user(sim, user_id)
    found = [c for c in sim.tenant.contacts.values() if c.get("_userId") == user["id"]]
    found.sort(key=lambda c: (str(c.get("displayName", "")).casefold(), c["id"]))
    return outlook.page(sim, req, [_view(c) for c in found], f"users('{user['id']}')/contacts")


def get_contact(sim: Simulator, req: SimRequest, user_id: str, contact_id: str) -> SimResponse:
    """Read one contact (`GET /users/{id}/contacts/{cid}`)."""
    user = mailbox.mailbox_user(sim, user_id)
    contact = sim.tenant.contacts.get(contact_id)
    if contact is None or contact.get("_userId") != user["id"]:
        raise mail_item_not_found()
    obj = outlook.select(_view(contact), req)
    return outlook.item_response(req, f"users('{user['id']}')/contacts/$entity", obj)


def seed_contact(sim: Simulator, user: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Store one contact; return its Graph JSON.

    `spec`: `{"user", "displayName", "givenName"?, "surname"?, "emailAddresses"?:
    ["Name <addr>", ...], "businessPhones"?: [...], "homePhones"?: [...], "mobilePhone"?,
    "companyName"?, "jobTitle"?, ...}` (any contact string property).
    """
    name = spec.get("displayName") or " ".join(
        str(spec[k]) for k in ("givenName", "surname") if spec.get(k)
    )
    if not name:
        raise ValueError("a contact needs a displayName (or givenName/surname)")
    now = sim.iso()
    contact: dict[str, Any] = {
        "id": outlook.outlook_id(sim, "AAMkA", 48),
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "changeKey": outlook.change_key(sim),
        "categories": [],
        "parentFolderId": mailbox.folder_id(user["id"], "contacts"),
        "displayName": str(name),
        "fileAs": str(spec.get("fileAs") or name),
        "initials": spec.get("initials"),
        **{k: (str(spec[k]) if spec.get(k) is not None else None) for k in _TEXT},
        "emailAddresses": [
            email_address(a)["emailAddress"] for a in spec.get("emailAddresses") or []
        ],
        "imAddresses": [],
        "businessPhones": [str(p) for p in spec.get("businessPhones") or []],
        "homePhones": [str(p) for p in spec.get("homePhones") or []],
        "children": [],
        "homeAddress": dict(spec.get("homeAddress") or {}),
        "businessAddress": dict(spec.get("businessAddress") or {}),
        "otherAddress": {},
        "_userId": user["id"],
    }
    sim.tenant.contacts[contact["id"]] = contact
    return strip_internal(contact)
