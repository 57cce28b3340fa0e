"""Simulated Outlook calendars: users' calendars and events, groups' events, calendar views.

Reads follow user-list-calendars.md, user-list-events.md, event-get.md, user-list-calendarview.md,
group-list-events.md and group-list-calendarview.md: pages of 10 (`$top` ≤ 1000), bodies in HTML
unless `Prefer: outlook.body-content-type="text"`, start and end in UTC unless
`Prefer: outlook.timezone="<Windows or IANA zone>"` (both acknowledged by `Preference-Applied`).
`/users/{id}/events` and `/calendarView` address the default calendar (named as in a fr-FR
mailbox, "Calendrier"); other calendars are `/calendars/{id}/events`. A calendar view needs
`startDateTime` and `endDateTime` (else 400 `ErrorInvalidParameter`, as reported) and returns
the events overlapping that window, earliest first. Recurrences are not simulated: every seeded
event is a single instance. Group events and group calendar views are documented as not
supported with application permissions (PERMISSIONS None). Seeded via `POST /_sim/seed`
(`events`, see `seed_event`); a group's calendar lives in its mailbox (`mailbox_delay_s`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crisiskit.sim import mailbox, outlook
from crisiskit.sim.errors import invalid_parameter, mail_item_not_found
from crisiskit.sim.mailseed import email_address
from crisiskit.sim.permissions import EXCHANGE_DENIED
from crisiskit.sim.router import Router, SimRequest, SimResponse, strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

DEFAULT_CALENDAR = "Calendrier"
# Windows time zone names (datetimetimezone.md) the simulator converts to; IANA names work too.
WINDOWS_ZONES = {
    "UTC": "UTC",
    "Romance Standard Time": "Europe/Paris",
    "W. Europe Standard Time": "Europe/Berlin",
    "GMT Standard Time": "Europe/London",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Pacific Standard Time": "America/Los_Angeles",
}
_U = "/users/{user_id}"
_GR = "/groups/{group_id}"
_CAL = ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite")
_VIEW = ("Calendars.Read", "Calendars.ReadWrite")
ROUTES: list[tuple[str, str, tuple[str, ...] | None]] = [
    (_U + "/calendars", "list_calendars", _CAL),
    (_U + "/calendar", "get_default_calendar", _CAL),
    (_U + "/calendars/{calendar_id}", "get_calendar", _CAL),
    (_U + "/events", "list_user_events", _CAL),
    (_U + "/calendar/events", "list_user_events", _CAL),
    (_U + "/calendars/{calendar_id}/events", "list_user_events", _CAL),
    (_U + "/events/{event_id}", "get_user_event", _CAL),
    (_U + "/calendarView", "user_calendar_view", _VIEW),
    (_U + "/calendar/calendarView", "user_calendar_view", _VIEW),
    (_U + "/calendars/{calendar_id}/calendarView", "user_calendar_view", _VIEW),
    (_GR + "/events", "list_group_events", None),
    (_GR + "/events/{event_id}", "get_group_event", None),
    (_GR + "/calendarView", "group_calendar_view", None),
]
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", template): perms for template, _, perms in ROUTES
}
DENIED = EXCHANGE_DENIED


def register(router: Router) -> None:
    """Register the calendar routes on `router`."""
    for template, name, _ in ROUTES:
        router.route("GET", template)(globals()[name])


# ---------------------------------------------------------------- calendars


def _default_calendar(sim: Simulator, user: dict[str, Any]) -> dict[str, Any]:
    upn = str(user.get("mail") or user.get("userPrincipalName"))
    return _calendar_record(
        mailbox.folder_id(user["id"], "calendar"), DEFAULT_CALENDAR, user, upn, default=True
    )


def _calendar_record(
    calendar_id: str, name: str, user: dict[str, Any], upn: str, default: bool
) -> dict[str, Any]:
    return {
        "id": calendar_id,
        "name": name,
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": default,
        "changeKey": calendar_id[-12:],
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": not default,
        "owner": {"name": str(user.get("displayName") or upn), "address": upn},
        "_ownerId": user["id"],
    }


def calendars_of(sim: Simulator, user: dict[str, Any]) -> list[dict[str, Any]]:
    extra = [c for c in sim.tenant.calendars.values() if c.get("_ownerId") == user["id"]]
    return [_default_calendar(sim, user), *sorted(extra, key=lambda c: str(c["name"]).lower())]


def _calendar(sim: Simulator, user: dict[str, Any], calendar_id: str | None) -> dict[str, Any]:
    for calendar in calendars_of(sim, user):
        if calendar_id is None and calendar["isDefaultCalendar"] or calendar["id"] == calendar_id:
            return calendar
    raise mail_item_not_found()


def _calendar_view(sim: Simulator, req: SimRequest, calendar: dict[str, Any]) -> dict[str, Any]:
    owner = f"{calendar['_ownerId']}@{sim.tenant.tenant_id}"
    link = f"{req.base_url}/users('{owner}')/calendars('{calendar['id']}')"
    return {"@odata.id": link, **strip_internal(calendar)}


def list_calendars(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a user's calendars (`GET /users/{id}/calendars`)."""
    user = mailbox.mailbox_user(sim, user_id)
    items = [_calendar_view(sim, req, c) for c in calendars_of(sim, user)]
    return outlook.page(sim, req, items, f"users('{user['id']}')/calendars")


def get_default_calendar(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Read a user's default calendar (`GET /users/{id}/calendar`)."""
    return get_calendar(sim, req, user_id, None)


def get_calendar(
    sim: Simulator, req: SimRequest, user_id: str, calendar_id: str | None
) -> SimResponse:
    """Read one calendar (`GET /users/{id}/calendars/{cid}`)."""
    user = mailbox.mailbox_user(sim, user_id)
    obj = outlook.select(_calendar_view(sim, req, _calendar(sim, user, calendar_id)), req)
    return outlook.item_response(req, f"users('{user['id']}')/calendars/$entity", obj)


# ---------------------------------------------------------------- events


def _zone(req: SimRequest) -> tuple[ZoneInfo | None, str]:
    name = outlook.preferences(req).get("outlook.timezone", "")
    if not name:
        return None, ""
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name)), name
    except (ZoneInfoNotFoundError, ValueError):
        return None, ""


def _event_view(req: SimRequest, event: dict[str, Any]) -> dict[str, Any]:
    view = outlook.view(event, req)
    zone, name = _zone(req)
    for key in ("start", "end"):
        when = datetime.fromtimestamp(float(event[f"_{key}"]), UTC)
        if zone is not None:
            when = when.astimezone(zone)
        view[key] = {
            "dateTime": when.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": name if zone is not None else "UTC",
        }
    return view


def _extra_prefs(req: SimRequest) -> list[str]:
    zone, name = _zone(req)
    return [f'outlook.timezone="{name}"'] if zone is not None else []


def _events(sim: Simulator, owner_id: str, calendar_id: str | None) -> list[dict[str, Any]]:
    found = [
        e
        for e in sim.tenant.events.values()
        if e.get("_ownerId") == owner_id
        and (calendar_id is None or e["_calendarId"] == calendar_id)
    ]
    return sorted(found, key=lambda e: (float(e["_start"]), e["id"]))


def _window(req: SimRequest) -> tuple[float, float]:
    raw_start, raw_end = req.query.get("startDateTime"), req.query.get("endDateTime")
    if not raw_start or not raw_end:
        raise invalid_parameter(
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime."
        )
    bounds = []
    for raw in (raw_start, raw_end):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise invalid_parameter(f"Invalid date and time '{raw}'.") from None
        bounds.append((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    return bounds[0], bounds[1]


def _events_page(
    sim: Simulator, req: SimRequest, events: list[dict[str, Any]], where: str
) -> SimResponse:
    items = [_event_view(req, e) for e in events]
    return outlook.page(sim, req, items, where, extra=_extra_prefs(req))


def _in_window(events: list[dict[str, Any]], req: SimRequest) -> list[dict[str, Any]]:
    start, end = _window(req)
    return [e for e in events if float(e["_start"]) < end and float(e["_end"]) > start]


def list_user_events(
    sim: Simulator, req: SimRequest, user_id: str, calendar_id: str | None = None
) -> SimResponse:
    """List a calendar's events (`GET /users/{id}/events`, `.../calendars/{cid}/events`)."""
    user = mailbox.mailbox_user(sim, user_id)
    calendar = _calendar(sim, user, calendar_id)
    events = _events(sim, user["id"], calendar["id"])
    return _events_page(sim, req, events, f"users('{user['id']}')/events")


def get_user_event(sim: Simulator, req: SimRequest, user_id: str, event_id: str) -> SimResponse:
    """Read one event of a user (`GET /users/{id}/events/{eid}`)."""
    user = mailbox.mailbox_user(sim, user_id)
    event = sim.tenant.events.get(event_id)
    if event is None or event.get("_ownerId") != user["id"]:
        raise mail_item_not_found()
    obj = outlook.select(_event_view(req, event), req)
    where = f"users('{user['id']}')/events/$entity"
    return outlook.item_response(req, where, obj, _extra_prefs(req))


def user_calendar_view(
    sim: Simulator, req: SimRequest, user_id: str, calendar_id: str | None = None
) -> SimResponse:
    """List a calendar's events within a time window (`GET /users/{id}/calendarView`)."""
    user = mailbox.mailbox_user(sim, user_id)
    calendar = _calendar(sim, user, calendar_id)
    events = _in_window(_events(sim, user["id"], calendar["id"]), req)
    return _events_page(sim, req, events, f"users('{user['id']}')/calendarView")


def list_group_events(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """List a group's events (`GET /groups/{id}/events`)."""
    group = mailbox.mailbox_group(sim, group_id)
    return _events_page(
        sim, req, _events(sim, group["id"], None), f"groups('{group['id']}')/events"
    )


def get_group_event(sim: Simulator, req: SimRequest, group_id: str, event_id: str) -> SimResponse:
    """Read one event of a group (`GET /groups/{id}/events/{eid}`)."""
    group = mailbox.mailbox_group(sim, group_id)
    event = sim.tenant.events.get(event_id)
    if event is None or event.get("_ownerId") != group["id"]:
        raise mail_item_not_found()
    obj = outlook.select(_event_view(req, event), req)
    where = f"groups('{group['id']}')/events/$entity"
    return outlook.item_response(req, where, obj, _extra_prefs(req))


def group_calendar_view(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """List a group's events within a time window (`GET /groups/{id}/calendarView`)."""
    group = mailbox.mailbox_group(sim, group_id)
    events = _in_window(_events(sim, group["id"], None), req)
    return _events_page(sim, req, events, f"groups('{group['id']}')/calendarView")


# ---------------------------------------------------------------- seeding


def _local(sim: Simulator, value: Any, zone_name: str, what: str) -> datetime:
    if not isinstance(value, str):
        return outlook.parse_time(sim, value, what)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid {what} {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(WINDOWS_ZONES.get(zone_name, zone_name)))
    return parsed


def seed_event(
    sim: Simulator, owner: dict[str, Any], is_group: bool, spec: dict[str, Any]
) -> dict[str, Any]:
    """Store one event in a user's (or group's) calendar; return its Graph JSON.

    `spec`: `{"user" | "group", "subject", "start", "end" (ISO 8601, local to "timeZone" unless
    they carry an offset), "timeZone"?: "Romance Standard Time" (default UTC), "calendar"?:
    name (users only, created if missing), "body"?, "bodyType"?, "location"?, "isAllDay"?,
    "organizer"?: "Name <addr>", "attendees"?: ["Name <addr>", ...]}`.
    """
    zone_name = str(spec.get("timeZone") or "UTC")
    if WINDOWS_ZONES.get(zone_name, zone_name) not in WINDOWS_ZONES.values():
        try:
            ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone_name!r}") from None
    start = _local(sim, spec.get("start"), zone_name, "start")
    end = _local(sim, spec.get("end") or (start + timedelta(hours=1)).isoformat(), zone_name, "end")
    if end < start:
        raise ValueError("an event cannot end before it starts")
    upn = str(owner.get("mail") or owner.get("userPrincipalName") or "")
    owner_as = {"emailAddress": {"name": str(owner.get("displayName") or upn), "address": upn}}
    if is_group:
        calendar_id = mailbox.folder_id(owner["id"], "calendar")
    elif spec.get("calendar") and str(spec["calendar"]) != DEFAULT_CALENDAR:
        calendar_id = _ensure_calendar(sim, owner, str(spec["calendar"]))
    else:
        calendar_id = mailbox.folder_id(owner["id"], "calendar")
    organizer = email_address(spec["organizer"]) if spec.get("organizer") else owner_as
    attendees = [
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            **email_address(a),
        }
        for a in spec.get("attendees") or []
    ]
    body = outlook.bodies(str(spec.get("body", "")), str(spec.get("bodyType", "text")))
    now = sim.iso()
    event_id = outlook.outlook_id(sim, "AAMkA", 48)
    location = str(spec.get("location") or "")
    event: dict[str, Any] = {
        "id": event_id,
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "changeKey": outlook.change_key(sim),
        "categories": [],
        "originalStartTimeZone": zone_name,
        "originalEndTimeZone": zone_name,
        "iCalUId": "040000008200E00074C5B7101A82E008" + sim.rng.randbytes(28).hex().upper(),
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": str(spec.get("subject", "")),
        "bodyPreview": outlook.preview(body["_text"]),
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": bool(spec.get("isAllDay", False)),
        "isCancelled": False,
        "isOrganizer": organizer == owner_as,
        "responseRequested": True,
        "seriesMasterId": None,
        "showAs": "busy",
        "type": "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": None,
        "start": None,
        "end": None,
        "location": {
            "displayName": location,
            "locationType": "default",
            "uniqueId": location,
            "uniqueIdType": "private",
        },
        "locations": (
            [{"displayName": location, "locationType": "default", "uniqueIdType": "unknown"}]
            if location
            else []
        ),
        "hideAttendees": False,
        "recurrence": None,
        "attendees": attendees,
        "organizer": organizer,
        "_ownerId": owner["id"],
        "_calendarId": calendar_id,
        "_start": start.timestamp(),
        "_end": end.timestamp(),
        **body,
    }
    sim.tenant.events[event_id] = event
    out = strip_internal(event)
    out.update(body=outlook.body_of(event, text=False))
    return out


def _ensure_calendar(sim: Simulator, user: dict[str, Any], name: str) -> str:
    for calendar in calendars_of(sim, user):
        if str(calendar["name"]).casefold() == name.casefold():
            return str(calendar["id"])
    upn = str(user.get("mail") or user.get("userPrincipalName"))
    record = _calendar_record(outlook.outlook_id(sim, "AAMkA", 36), name, user, upn, default=False)
    sim.tenant.calendars[record["id"]] = record
    return str(record["id"])
