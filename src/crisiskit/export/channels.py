"""Export the Team's channels: messages and replies as JSON, and a readable HTML page each.

    GET /teams/{id}/channels                                   the channels
    GET /teams/{id}/channels/{cid}/messages?$top=50             top-level messages (paged)
    GET .../messages/{mid}/replies?$top=50                      each message's replies

The crisis cell's decisions are often in a channel, not in mail. Channel messages need
ChannelMessage.Read.All, a protected Teams API that Microsoft must grant to the application:
where Graph refuses it (403), the export says so (source status `refused`) and goes on; the
attestation reports it. The HTML page shows each message's text with every tag dropped and
every character escaped (a message's HTML is never interpreted), through Jinja2 with
autoescaping.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from html.parser import HTMLParser
from typing import Any

from crisiskit.export.job import ExportError, Job, first, listing, rest, unsupported
from crisiskit.export.layout import unique_names
from crisiskit.graph.types import GraphResponse

KIND = "channels"

_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<title>{{ team }} — {{ channel }}</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;color:#222}
article{border-top:1px solid #ccc;padding:.5em 0}.reply{margin-left:2em;color:#333}
.meta{color:#666;font-size:.9em}p{white-space:pre-wrap;margin:.3em 0}</style></head>
<body><h1>{{ channel }}</h1><p class="meta">{{ team }} — {{ count }} messages exportés</p>
{% for m in messages %}<article><div class="meta">{{ m.author }} — {{ m.at }}</div>
{% if m.subject %}<strong>{{ m.subject }}</strong>{% endif %}<p>{{ m.text }}</p>
{% for r in m.replies %}<div class="reply"><div class="meta">{{ r.author }} — {{ r.at }}</div>
<p>{{ r.text }}</p></div>{% endfor %}</article>
{% endfor %}</body></html>
"""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain(body: Any) -> str:
    """Return a message body as text: tags dropped, entities decoded (escaped when shown)."""
    content = str((body or {}).get("content") or "")
    if str((body or {}).get("contentType", "html")).lower() != "html":
        return content
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()


def _view(m: dict[str, Any]) -> dict[str, Any]:
    who = m.get("from") or {}
    author = ((who.get("user") or who.get("application") or {}).get("displayName")) or "?"
    return {"author": author, "at": m.get("createdDateTime") or "",
            "subject": m.get("subject") or "", "text": plain(m.get("body"))}


def render_page(team: str, channel: str, messages: list[dict[str, Any]]) -> bytes:
    """Return the channel's readable HTML page (every value escaped)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    views = [{**_view(m), "replies": [_view(r) for r in m.get("replies") or []]}
             for m in messages]
    html = env.from_string(_PAGE).render(
        team=team, channel=channel, count=len(messages), messages=views
    )
    return html.encode("utf-8")


async def export_channels(job: Job, team_name: str) -> None:
    """Export every channel of the Team `job.owner_id` into `job.base`/channels/<name>/."""
    tid = job.owner_id
    answer = await first(job, f"/teams/{tid}/channels", expect=(403, 404))
    if answer.status == 404:
        job.done("none", "the group has no Team")
        return
    if unsupported(answer):
        job.done("refused", f"channels not readable: 403 {answer.code}")
        return
    channels = await rest(job, answer)
    names = unique_names((str(c["id"]), str(c.get("displayName") or "")) for c in channels)
    firsts = await asyncio.gather(*(  # every channel at once
        first(job, f"/teams/{tid}/channels/{ch['id']}/messages?$top=50", expect=(403,))
        for ch in channels
    ))
    outcomes = await asyncio.gather(*(
        _channel(job, team_name, ch, got, names[str(ch["id"])])
        for ch, got in zip(channels, firsts, strict=True)
    ))
    refused = [why for why in outcomes if why is not None]
    if refused and len(refused) == len(channels):
        job.done("refused", "; ".join(refused))
    elif refused:
        raise ExportError("channel messages refused for some channels only: "
                          + "; ".join(refused))
    else:
        job.done()


async def _channel(
    job: Job, team_name: str, ch: dict[str, Any], got: GraphResponse, name: str
) -> str | None:
    """Export one channel's messages and replies; return why it was refused, if it was."""
    tid, cid = job.owner_id, str(ch["id"])
    if unsupported(got):
        return f"{ch.get('displayName')}: 403 {got.code}"
    messages = sorted(await rest(job, got), key=lambda m: str(m.get("createdDateTime")))
    replies = await asyncio.gather(*(
        listing(job, f"/teams/{tid}/channels/{cid}/messages/{m['id']}/replies?$top=50")
        for m in messages
    ))
    for m, found in zip(messages, replies, strict=True):
        m["replies"] = sorted(found, key=lambda r: str(r.get("createdDateTime")))
    folder = f"{job.base}/channels/{name}"
    data = json.dumps({"channel": ch, "messages": messages}, ensure_ascii=False,
                      indent=2, sort_keys=True).encode("utf-8") + b"\n"
    page = render_page(team_name, str(ch.get("displayName") or ""), messages)
    for rel, content in ((f"{folder}/messages.json", data), (f"{folder}/messages.html", page)):
        rec = job.sink.done.get(rel) or job.sink.recorded.get(rel)
        same = rec is not None and rec.sha256 == hashlib.sha256(content).hexdigest()
        if not (same and job.have(rel, cid)):
            job.put(rel, content, cid)
    return None
