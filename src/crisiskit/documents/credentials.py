"""The credentials file: one Temporary Access Pass per account, CSV, readable by its owner only.

This is the one file where passes are written in clear. It is created with mode 0600 from
its first byte and replaced atomically, so that neither another user nor a crash ever sees
a partial or world-readable copy.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crisiskit.errors import InputError
from crisiskit.secrets import Secret
from crisiskit.state.files import atomic_write

HEADER = ("upn", "display_name", "temporary_access_pass", "valid_from", "valid_until")
FILE_MODE = 0o600
# A spreadsheet would run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CredentialRow:
    """One account's Temporary Access Pass and its validity window."""

    upn: str
    display_name: str
    temporary_access_pass: Secret
    valid_from: datetime
    valid_until: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.temporary_access_pass, Secret):
            raise TypeError("temporary_access_pass must be a crisiskit.secrets.Secret")
        for name in ("valid_from", "valid_until"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")


def format_utc(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 in UTC with a Z suffix (to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _neutralise(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


def _restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def render_credentials(rows: Iterable[CredentialRow]) -> bytes:
    """Return the CSV bytes of the credentials file (this reveals the passes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(
            (
                row.upn,
                _neutralise(row.display_name),
                # The only place a pass is revealed: the file handed over in person.
                row.temporary_access_pass.reveal(),
                format_utc(row.valid_from),
                format_utc(row.valid_until),
            )
        )
    return buffer.getvalue().encode("utf-8")


def write_credentials(path: Path, rows: Iterable[CredentialRow]) -> Path:
    """Write the credentials file atomically with mode 0600; return its path."""
    rows = list(rows)
    upns = [r.upn for r in rows]
    duplicates = sorted({u for u in upns if upns.count(u) > 1})
    if duplicates:
        raise ValueError(f"two passes for the same account: {', '.join(duplicates)}")
    return atomic_write(Path(path), render_credentials(rows), FILE_MODE)


def read_credentials(path: Path) -> list[CredentialRow]:
    """Read a credentials file written by `write_credentials`; an absent file gives no rows."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the credentials file: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    if tuple(header) != HEADER:
        raise InputError(f"{path}:1: expected the header {','.join(HEADER)}")
    rows: list[CredentialRow] = []
    for record in reader:
        line = reader.line_num
        if not record:
            continue
        if len(record) != len(HEADER):
            raise InputError(f"{path}:{line}: expected {len(HEADER)} fields, found {len(record)}")
        upn, display_name, tap, valid_from, valid_until = record
        try:
            start = _parse_utc(valid_from)
            end = _parse_utc(valid_until)
        except ValueError as exc:
            raise InputError(f"{path}:{line}: {exc}") from None
        if not upn or not tap:
            raise InputError(f"{path}:{line}: upn and temporary_access_pass are required")
        rows.append(CredentialRow(upn, _restore(display_name), Secret(tap), start, end))
    return rows


def _parse_utc(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment.astimezone(UTC)


def merge_credentials(
    existing: Iterable[CredentialRow], issued: Iterable[CredentialRow]
) -> list[CredentialRow]:
    """Return `existing` with the rows of reissued accounts replaced and new accounts appended."""
    merged = {row.upn: row for row in existing}
    for row in issued:
        merged[row.upn] = row
    return list(merged.values())


def update_credentials(path: Path, issued: Iterable[CredentialRow]) -> Path:
    """Merge newly issued passes into the credentials file at `path` (created if absent)."""
    return write_credentials(path, merge_credentials(read_credentials(path), issued))
