"""What Outlook items (messages, group posts, events, contacts) have in common in the simulator.

- Bodies: HTML unless the request says `Prefer: outlook.body-content-type="text"`, in which case
  the response carries `Preference-Applied` (message-get.md, user-list-messages.md). Each item
  stores both forms (`_html`, `_text`), derived from the one it was seeded with.
- `@odata.etag` is `W/"<changeKey>"`; `$select` on an Outlook item always keeps `id` and the etag
  (user-list-messages.md's `$select=sender,subject` example returns both).
- File attachments (fileattachment.md): `contentBytes` is base64 of bytes kept in `blobs.py`;
  they are stored in `tenant.attachments` with the id of the item they belong to.
"""

from __future__ import annotations

import base64
import binascii
import html
import mimetypes
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from crisiskit.sim import blobs, odata
from crisiskit.sim.errors import invalid_parameter, mail_item_not_found
from crisiskit.sim.router import SimRequest, SimResponse, json_response, strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

FILE_ATTACHMENT = "#microsoft.graph.fileAttachment"
_PREFER_ITEM = re.compile(r'\s*([\w.-]+)\s*(?:=\s*("[^"]*"|[^,;\s]*))?')
_HTML_HEAD = (
    '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
    "</head>\r\n<body>\r\n"
)


# ---------------------------------------------------------------- ids, times


def outlook_id(sim: Simulator, prefix: str = "AAMkA", size: int = 48) -> str:
    """Return an Outlook-style opaque id drawn from the seeded random source."""
    return prefix + base64.urlsafe_b64encode(sim.rng.randbytes(size)).decode().rstrip("=")


def change_key(sim: Simulator) -> str:
    return base64.b64encode(sim.rng.randbytes(12)).decode()


def parse_time(sim: Simulator, value: Any, what: str) -> datetime:
    """Parse an ISO 8601 time (naive = UTC) or epoch seconds; None is now."""
    if value is None:
        return datetime.fromtimestamp(int(sim.now()), UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid_parameter(f"Invalid {what} '{value}'.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- bodies and Prefer


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\r\n")


def text_of(markup: str) -> str:
    """Return the text of an HTML body, roughly as Exchange renders it."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"[ \t]+", " ", text).strip() + "\r\n"


def html_of(text: str) -> str:
    """Return the HTML body Exchange would store for a plain-text one."""
    escaped = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>\r\n")
    return f"{_HTML_HEAD}<div>{escaped}</div>\r\n</body>\r\n</html>\r\n"


def bodies(content: str, content_type: str) -> dict[str, str]:
    """Return the stored forms of a body given as `text` or `html`."""
    if content_type.lower() == "html":
        return {"_html": content, "_text": text_of(content)}
    if content_type.lower() != "text":
        raise invalid_parameter(f"Invalid body contentType '{content_type}': text or html.")
    return {"_html": html_of(content), "_text": content}


def preview(text: str) -> str:
    return " ".join(text.split())[:255]


def preferences(req: SimRequest) -> dict[str, str]:
    """Return the request's `Prefer` preferences (lower-case names, unquoted values)."""
    found: dict[str, str] = {}
    for item in req.headers.get("prefer", "").split(","):
        m = _PREFER_ITEM.match(item)
        if m and m.group(1):
            found[m.group(1).lower()] = (m.group(2) or "").strip('"')
    return found


def text_wanted(req: SimRequest) -> bool:
    return preferences(req).get("outlook.body-content-type", "").lower() == "text"


def body_of(item: dict[str, Any], text: bool) -> dict[str, str]:
    if text:
        return {"contentType": "text", "content": str(item.get("_text", ""))}
    return {"contentType": "html", "content": str(item.get("_html", ""))}


def applied_headers(req: SimRequest, extra: list[str] | None = None) -> dict[str, str]:
    """Return `Preference-Applied` for the body preference (and `extra` ones) if asked."""
    applied = list(extra or [])
    prefs = preferences(req)
    value = prefs.get("outlook.body-content-type", "").lower()
    if value in ("text", "html"):
        applied.insert(0, f'outlook.body-content-type="{value}"')
    return {"Preference-Applied": ", ".join(applied)} if applied else {}


def view(
    item: dict[str, Any], req: SimRequest, *, body_keys: tuple[str, ...] = ("body",)
) -> dict[str, Any]:
    """Return an Outlook item's Graph JSON for this request: etag first, body per Prefer."""
    out: dict[str, Any] = {"@odata.etag": f'W/"{item.get("changeKey", "")}"'}
    out.update(strip_internal(item))
    text = text_wanted(req)
    for key in body_keys:
        out[key] = body_of(item, text)
    return out


def select(obj: dict[str, Any], req: SimRequest) -> dict[str, Any]:
    """Apply `$select`, keeping `id` (Outlook always returns it with the etag)."""
    raw = req.query.get("$select")
    if not raw:
        return obj
    names = [p.strip() for p in raw.split(",") if p.strip()]
    if not any(n.lower() == "id" for n in names):
        names.insert(0, "id")
    return odata.apply_select(obj, names)


def item_response(
    req: SimRequest, context: str, obj: dict[str, Any], extra: list[str] | None = None
) -> SimResponse:
    body = {"@odata.context": f"{req.base_url}/$metadata#{context}"}
    body.update(obj)
    return json_response(200, body, applied_headers(req, extra))


def page(
    sim: Simulator,
    req: SimRequest,
    items: list[dict[str, Any]],
    entity_set: str,
    *,
    default_top: int = 10,
    max_top: int = 1000,
    extra: list[str] | None = None,
) -> SimResponse:
    """Filter, order, project and page Outlook items; add `Preference-Applied` if asked."""
    expr = req.query.get("$filter")
    if expr:
        predicate = odata.parse_filter(expr)
        items = [i for i in items if predicate(i)]
    items = odata.order_by(req, items)
    items = [select(i, req) for i in items]
    resp = odata.page(
        sim, req, items, default_top=default_top, max_top=max_top, entity_set=entity_set
    )
    resp.headers.update(applied_headers(req, extra))
    return resp


# ---------------------------------------------------------------- file attachments


def add_attachment(
    sim: Simulator, owner_id: str, parent_id: str, spec: Any, when: str
) -> dict[str, Any]:
    """Store a file attachment from a seed spec; return the stored record.

    `spec`: `{"name", "contentType"?, "contentBase64" | "size" + "seed", "isInline"?}`.
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise ValueError("an attachment needs a name")
    if "size" in spec:
        ref = blobs.pattern_ref(spec.get("seed", 0), spec["size"])
    else:
        try:
            ref = blobs.put(
                sim, base64.b64decode(str(spec.get("contentBase64", "")), validate=True)
            )
        except binascii.Error:
            raise ValueError("contentBase64 is not valid base64") from None
    name = spec["name"]
    content_type = spec.get("contentType") or mimetypes.guess_type(name)[0]
    record = {
        "@odata.type": FILE_ATTACHMENT,
        "id": outlook_id(sim, "AAMkA", 40),
        "lastModifiedDateTime": when,
        "name": name,
        "contentType": content_type or "application/octet-stream",
        "size": blobs.size(ref),
        "isInline": bool(spec.get("isInline", False)),
        "contentId": spec.get("contentId"),
        "contentLocation": None,
        "_ownerId": owner_id,
        "_parentId": parent_id,
        "_blob": ref,
    }
    sim.tenant.attachments[record["id"]] = record
    return record


def attachments_of(sim: Simulator, parent_id: str) -> list[dict[str, Any]]:
    return [a for a in sim.tenant.attachments.values() if a.get("_parentId") == parent_id]


def attachment_view(sim: Simulator, record: dict[str, Any]) -> dict[str, Any]:
    out = strip_internal(record)
    out["contentBytes"] = base64.b64encode(blobs.read(sim, record["_blob"])).decode()
    return out


def find_attachment(sim: Simulator, parent_id: str, attachment_id: str) -> dict[str, Any]:
    record = sim.tenant.attachments.get(attachment_id)
    if record is None or record.get("_parentId") != parent_id:
        raise mail_item_not_found()
    return record


def attachment_value(sim: Simulator, record: dict[str, Any]) -> SimResponse:
    """Return a file attachment's raw bytes (`.../attachments/{id}/$value`)."""
    return SimResponse(
        status=200, raw=blobs.read(sim, record["_blob"]), content_type=str(record["contentType"])
    )
