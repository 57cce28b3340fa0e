"""Pre-authenticated downloads of drive items: short-lived URLs, `Range`, conditional GETs.

`GET .../content` answers 302 to a URL under `/_sim/download/{token}` (also given as an item's
`@microsoft.graph.downloadUrl`), valid for a few minutes and needing no Authorization header
(driveitem-get-content.md). That URL honours one `Range` (206 Partial Content with
Content-Range; 416 when it starts past the end; several ranges or a malformed header are
ignored: 200 with the whole file, as the reference allows). `If-None-Match` with the item's
eTag or cTag on `/content` answers 304. `/_sim/downloads {"corruptNext": n}` makes the next n
downloads serve one wrong byte, for testing a client's hash check.

A download waits `latency_ms` like any request, then its body is sent in chunks paced by
`download_bandwidth_mbps` (a profile knob, settable at runtime): one link shared by every
download in flight, each chunk taking its turn on it, so n concurrent downloads of B bytes
take n·B / bandwidth in all, as on a real link; 0 means unlimited.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import weakref
from typing import TYPE_CHECKING, Any

from crisiskit.sim import blobs
from crisiskit.sim.errors import SimError
from crisiskit.sim.router import SimRequest, SimResponse

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

DOWNLOAD_TTL_S = 300.0  # pre-authenticated download URLs are short-lived ("a few minutes")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_ETAGS = re.compile(r'"[^"]*"|\*')


class Downloads:
    """Pre-authenticated download tokens (memory only: a restart forgets them, as they expire)."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, float]] = {}
        self.corrupt_next = 0  # `/_sim/downloads`: serve that many downloads with a wrong byte
        self.link_free_at = 0.0  # monotonic time when the shared download link is free again

    def issue(self, item_id: str) -> str:
        now = time.monotonic()
        if len(self.tokens) > 10_000:
            self.tokens = {t: e for t, e in self.tokens.items() if e[1] > now}
        token = secrets.token_urlsafe(30)
        self.tokens[token] = (item_id, now + DOWNLOAD_TTL_S)
        return token


_DOWNLOADS: weakref.WeakKeyDictionary[Simulator, Downloads] = weakref.WeakKeyDictionary()


def downloads(sim: Simulator) -> Downloads:
    """Return the simulator's download tokens and download fault counter."""
    found = _DOWNLOADS.get(sim)
    if found is None:
        found = _DOWNLOADS[sim] = Downloads()
    return found


def download_url(sim: Simulator, req: SimRequest, item: dict[str, Any]) -> str:
    root = req.base_url.rsplit("/v1.0", 1)[0]
    return f"{root}/_sim/download/{downloads(sim).issue(item['id'])}"


def none_match(req: SimRequest, tags: set[str]) -> bool:
    """Tell whether the request's `If-None-Match` names one of `tags` (or `*`)."""
    sent = set(_ETAGS.findall(req.headers.get("if-none-match", "")))  # tags hold commas
    return bool(sent & (tags | {"*"}))


def download(sim: Simulator, token: str, headers: dict[str, str] | None = None) -> SimResponse:
    """Serve a pre-authenticated download URL (`GET /_sim/download/{token}`): no auth needed.

    A single `Range: bytes=a-b` (or `a-`, `-n`) gets 206 with Content-Range; a range starting
    past the end gets 416; several ranges or a malformed header are ignored (200, whole file),
    as the reference allows.
    """
    state = downloads(sim)
    entry = state.tokens.get(token)
    if entry is None or time.monotonic() > entry[1]:
        state.tokens.pop(token, None)
        raise SimError(401, "unauthenticated", "The download URL is invalid or has expired.")
    item = sim.tenant.drive_items.get(entry[0])
    if item is None or "file" not in item:
        raise SimError(404, "itemNotFound", "The item no longer exists.")
    ref = item["_blob"]
    mime = str(item["file"].get("mimeType", "application/octet-stream"))
    total = blobs.size(ref)
    base = {"Accept-Ranges": "bytes", "ETag": f'"{{{item["id"]}}},{item.get("_version", 1)}"'}
    match = _RANGE.match((headers or {}).get("range", "").strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return SimResponse(
            status=200, raw=_served(state, blobs.read(sim, ref)), content_type=mime, headers=base
        )
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), total - 1) if last else total - 1
    else:
        start, end = max(0, total - int(last)), total - 1
    if start >= total or (last and first and int(last) < start):
        return SimResponse(
            status=416,
            raw=b"",
            content_type=mime,
            headers={**base, "Content-Range": f"bytes */{total}"},
        )
    return SimResponse(
        status=206,
        raw=_served(state, blobs.read_range(sim, ref, start, end)),
        content_type=mime,
        headers={**base, "Content-Range": f"bytes {start}-{end}/{total}"},
    )


def _served(state: Downloads, data: bytes) -> bytes:
    """Return what a download serves: the bytes, or one wrong byte if a fault was asked for."""
    if state.corrupt_next > 0 and data:
        state.corrupt_next -= 1
        return bytes([data[0] ^ 0xFF]) + data[1:]
    return data


PACE_CHUNK = 64 * 1024


async def respond(send: Any, sim: Simulator, resp: SimResponse) -> None:
    """Send a download's answer after the profile's latency, its body paced by the bandwidth."""
    profile = sim.profile
    if profile.latency_ms > 0:
        await asyncio.sleep(profile.latency_ms / 1000.0)
    data = resp.raw or b""
    headers = dict(resp.headers)
    if resp.raw is not None:
        headers.setdefault("Content-Type", resp.content_type or "application/octet-stream")
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": raw})
    rate = profile.download_bandwidth_mbps * 1e6 / 8  # bytes per second
    if rate <= 0 or not data:
        await send({"type": "http.response.body", "body": data})
        return
    state = downloads(sim)
    view = memoryview(data)
    for start in range(0, len(data), PACE_CHUNK):
        chunk = bytes(view[start : start + PACE_CHUNK])
        now = time.monotonic()
        state.link_free_at = max(state.link_free_at, now) + len(chunk) / rate
        await asyncio.sleep(state.link_free_at - now)
        more = start + PACE_CHUNK < len(data)
        await send({"type": "http.response.body", "body": chunk, "more_body": more})
