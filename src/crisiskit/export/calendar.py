"""Export an account's calendars (one `.ics` each) and contacts (one `.vcf`).

    GET /users/{id}/calendars                                     every calendar (paged)
    GET /users/{id}/calendars/{cid}/events?$top=1000              its events, times in UTC
        Prefer: outlook.timezone="UTC"
    GET /users/{id}/contacts?$top=1000                            every contact

The iCalendar files are written by `icalendar` (RFC 5545) and the vCards by `vobject`
(vCard 3.0, which Outlook, Thunderbird and phones import): maintained libraries that escape,
fold and encode as the RFCs say, where hand-written text would get line folding and escaping
wrong. Events and contacts are sorted by id, so the same data always gives the same bytes.
Group calendars are documented as not supported with application permissions
(group-list-events.md): `group_calendar` records that, sends nothing, and the manifest and
the attestation say so.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from crisiskit.export.job import Job, listing, mailbox_first, rest
from crisiskit.export.layout import unique_names

KIND_CALENDAR = "calendar"
KIND_CONTACTS = "contacts"
UTC_TIMES = {"Prefer": 'outlook.timezone="UTC"'}
PRODID = "-//Metropole Aix-Marseille-Provence//crisiskit export//FR"


def _utc(value: Any) -> datetime | None:
    """Return a Graph dateTimeTimeZone (asked in UTC) as an aware datetime."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        return None
    text = str(value["dateTime"]).replace("Z", "")
    head, _, frac = text.partition(".")
    moment = datetime.fromisoformat(head)
    if frac:
        moment = moment.replace(microsecond=int(frac[:6].ljust(6, "0")))
    return moment.replace(tzinfo=UTC)


def _text(body: Any) -> str:
    """Return an event body as plain text (HTML tags dropped)."""
    from html.parser import HTMLParser

    content = str((body or {}).get("content") or "")
    if str((body or {}).get("contentType", "")).lower() != "html":
        return content

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.feed(content)
    return " ".join(" ".join(parser.parts).split())


def events_to_ics(calendar_name: str, events: list[dict[str, Any]]) -> bytes:
    """Return one calendar's events as an iCalendar file."""
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", calendar_name)
    for e in sorted(events, key=lambda e: str(e.get("id"))):
        ev = icalendar.Event()
        ev.add("uid", str(e.get("iCalUId") or e["id"]))
        ev.add("summary", str(e.get("subject") or ""))
        start, end = _utc(e.get("start")), _utc(e.get("end"))
        stamp = _utc({"dateTime": e.get("lastModifiedDateTime") or e.get("createdDateTime")})
        if e.get("isAllDay") and start is not None:
            ev.add("dtstart", start.date())
            if end is not None:
                ev.add("dtend", end.date())
        else:
            if start is not None:
                ev.add("dtstart", start)
            if end is not None:
                ev.add("dtend", end)
        ev.add("dtstamp", stamp or datetime(1970, 1, 1, tzinfo=UTC))
        location = (e.get("location") or {}).get("displayName")
        if location:
            ev.add("location", str(location))
        description = _text(e.get("body"))
        if description:
            ev.add("description", description)
        organizer = ((e.get("organizer") or {}).get("emailAddress") or {}).get("address")
        if organizer:
            ev.add("organizer", f"mailto:{organizer}")
        for a in e.get("attendees") or []:
            address = (a.get("emailAddress") or {}).get("address")
            if address:
                ev.add("attendee", f"mailto:{address}")
        if e.get("isCancelled"):
            ev.add("status", "CANCELLED")
        cal.add_component(ev)
    return bytes(cal.to_ical())


def contacts_to_vcf(contacts: list[dict[str, Any]]) -> bytes:
    """Return contacts as one vCard 3.0 file (one card each)."""
    import vobject

    cards = []
    for c in sorted(contacts, key=lambda c: str(c.get("id"))):
        card = vobject.vCard()
        given, family = str(c.get("givenName") or ""), str(c.get("surname") or "")
        card.add("n").value = vobject.vcard.Name(family=family, given=given)
        card.add("fn").value = str(c.get("displayName") or f"{given} {family}".strip() or "?")
        card.add("uid").value = str(c["id"])
        for e in c.get("emailAddresses") or []:
            if e.get("address"):
                card.add("email").value = str(e["address"])
        phones = [("cell", c.get("mobilePhone"))]
        phones += [("work", p) for p in c.get("businessPhones") or []]
        phones += [("home", p) for p in c.get("homePhones") or []]
        for kind, number in phones:
            if number:
                tel = card.add("tel")
                tel.value = str(number)
                tel.type_param = kind
        if c.get("companyName"):
            card.add("org").value = [str(c["companyName"])]
        if c.get("jobTitle"):
            card.add("title").value = str(c["jobTitle"])
        cards.append(card.serialize())
    return "".join(cards).encode("utf-8")


async def export_calendars(job: Job) -> None:
    """Export every calendar of the account into `job.base`/calendars/<name>.ics."""
    uid = job.owner_id
    answer = await mailbox_first(job, f"/users/{uid}/calendars", "calendars")
    if answer is None:
        return
    calendars = await rest(job, answer)
    names = unique_names((str(c["id"]), str(c.get("name") or "calendrier")) for c in calendars)
    found = await asyncio.gather(*(  # every calendar's events at once
        listing(job, f"/users/{uid}/calendars/{cal['id']}/events?$top=1000", headers=UTC_TIMES)
        for cal in calendars
    ))
    for cal, events in zip(calendars, found, strict=True):
        cid = str(cal["id"])
        rel = f"{job.base}/calendars/{names[cid]}.ics"
        data = events_to_ics(str(cal.get("name") or ""), events)
        if not _same(job, rel, cid, data):
            job.put(rel, data, cid)
    job.done()


async def export_contacts(job: Job) -> None:
    """Export the account's contacts into `job.base`/contacts.vcf."""
    uid = job.owner_id
    answer = await mailbox_first(job, f"/users/{uid}/contacts?$top=1000", "contacts")
    if answer is None:
        return
    contacts = await rest(job, answer)
    if contacts:
        data = contacts_to_vcf(contacts)
        rel = f"{job.base}/contacts.vcf"
        if not _same(job, rel, uid, data):
            job.put(rel, data, uid)
    job.done()


def group_calendar(job: Job) -> None:
    """Record that the group's calendar is not exported (not supported app-only)."""
    job.done(
        "not_supported",
        "group calendars cannot be read with application permissions (group-list-events)",
    )


def _same(job: Job, rel: str, source_id: str, data: bytes) -> bool:
    """Tell whether the file already holds exactly `data` (then it is kept, not rewritten)."""
    import hashlib

    rec = job.sink.done.get(rel) or job.sink.recorded.get(rel)
    if rec is None or rec.sha256 != hashlib.sha256(data).hexdigest():
        return False
    return job.have(rel, source_id)
