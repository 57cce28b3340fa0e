"""Where each exported item goes: readable, stable, portable relative paths.

    accounts/<upn>/mail/<folder>/<sub-folder>/<date>-<subject>-<id8>.eml
    accounts/<upn>/onedrive/<the OneDrive's own tree>
    accounts/<upn>/calendars/<calendar>.ics
    accounts/<upn>/contacts.vcf
    group/conversations/<topic>-<id8>/<date>-<id8>.eml
    group/files/<the group library's own tree>
    group/channels/<channel>/messages.json, messages.html

Names come from what people see (folder and file names, subjects), made safe for every
filesystem the commune may copy the export to (no `/ \\ : * ? " < > |`, no control
character, no trailing dot or space, no reserved Windows name, at most 120 bytes), and made
unique among siblings by a short digest of the Graph id: the same item always lands on the
same path, so a rerun finds what an earlier run wrote. Display names are never keys (mail
folders are localised): identity is the Graph id, kept in the manifest.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

MAX_NAME_BYTES = 120
_BAD = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_SPACES = re.compile(r"\s+")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


def short_id(source_id: str) -> str:
    """Return 8 hex digits standing for a Graph id (stable, collision-resistant enough)."""
    return hashlib.sha256(source_id.encode()).hexdigest()[:8]


def safe_name(text: str, *, fallback: str = "sans-nom", limit: int = MAX_NAME_BYTES) -> str:
    """Return `text` as one portable path segment (see the module docstring)."""
    name = unicodedata.normalize("NFC", str(text))
    name = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in name
    )
    name = _SPACES.sub(" ", _BAD.sub("_", name)).strip(" .")
    if not name or name in (".", ".."):
        name = fallback
    if _RESERVED.match(name):
        name = "_" + name
    encoded = name.encode("utf-8")
    if len(encoded) > limit:
        name = encoded[:limit].decode("utf-8", "ignore").rstrip(" .") or fallback
    return name


def split_ext(name: str) -> tuple[str, str]:
    """Split `report.final.pdf` into (`report.final`, `.pdf`); no extension: (name, "")."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16 or " " in ext:
        return name, ""
    return stem, "." + ext


def with_suffix_id(name: str, source_id: str) -> str:
    """Return `name` with `-<id8>` before its extension."""
    stem, ext = split_ext(name)
    room = MAX_NAME_BYTES - len(ext.encode()) - 9
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .") or "x"
    return f"{stem}-{short_id(source_id)}{ext}"


def unique_names(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Map each (source id, name) to a safe name unique among them, case-insensitively.

    Items are considered in id order, so the outcome does not depend on listing order; a
    name taken twice gets the id suffix on every item that shares it.
    """
    pairs = sorted((sid, safe_name(name)) for sid, name in items)
    counts: dict[str, int] = {}
    for _, name in pairs:
        counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    out: dict[str, str] = {}
    for sid, name in pairs:
        out[sid] = with_suffix_id(name, sid) if counts[name.casefold()] > 1 else name
    return out


def placed_in(level: list[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str]]:
    """Give each (item, parent path) its path: a safe name unique among its siblings."""
    siblings: dict[str, list[dict[str, Any]]] = {}
    for item, parent in level:
        siblings.setdefault(parent, []).append(item)
    names: dict[tuple[str, str], str] = {}
    for parent, items in siblings.items():
        named = unique_names(
            (str(i["id"]), str(i.get("displayName") or i.get("name") or "")) for i in items
        )
        names.update({(parent, sid): name for sid, name in named.items()})
    return [(item, f"{parent}/{names[(parent, str(item['id']))]}") for item, parent in level]


def stamp(iso: str | None) -> str:
    """Return an ISO 8601 time as a file-name prefix: `2026-03-01T101500Z`."""
    if not iso:
        return "0000-00-00T000000Z"
    core = iso.replace(":", "")[:17]
    return core.rstrip("Z") + "Z" if "T" in core else core


def account_root(upn: str) -> str:
    return f"accounts/{safe_name(upn.lower())}"


GROUP_ROOT = "group"
