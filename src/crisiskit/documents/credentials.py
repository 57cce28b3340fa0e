"""The credentials file: one Temporary Access Pass per account, CSV, readable by its owner only.

This is the one file where passes are written in clear. It is created with mode 0600 from
its first byte and replaced atomically, so that neither another user nor a crash ever sees
a partial or world-readable copy; it is never read or written through a link.

No cell can be run as a formula by a spreadsheet (CSV injection, OWASP): a spreadsheet runs
a cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return (or their full-width
forms), so such cells are written with a leading apostrophe, which makes them plain text.
The pass column gets that apostrophe on every row, whatever the pass, so that the rule the
operator applies never depends on the pass (README, "Credentials file"): the pass is the
cell without its first character. Elsewhere the apostrophe is added only where needed (and
to a cell that itself starts with an apostrophe, so that reading back is exact).
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
from crisiskit.state.files import atomic_write, read_own_file

HEADER = ("upn", "display_name", "temporary_access_pass", "valid_from", "valid_until")
FILE_MODE = 0o600
MAX_BYTES = 64 * 1024 * 1024  # a roster of thousands is well under a megabyte
TEXT_MARK = "'"  # makes a spreadsheet cell plain text; never part of the value
# A spreadsheet may run a cell starting with one of these as a formula (OWASP, CSV
# injection): ASCII, full-width and small forms of = + - @, the minus sign, and the
# characters that some applications trim before looking at the rest.
_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\u2212\ufe62\ufe63\ufe66\ufe6b")


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


def could_run(cell: str) -> bool:
    """Tell whether a spreadsheet could take this cell for a formula."""
    return bool(cell) and (cell[0] in _FORMULA_START or cell[0].isspace())


def _neutralise(cell: str) -> str:
    """Return the cell as written: text-marked if it could run, or starts with the mark."""
    return TEXT_MARK + cell if could_run(cell) or cell.startswith(TEXT_MARK) else cell


def _restore(cell: str) -> str:
    """Return the value a written cell holds (the inverse of `_neutralise`)."""
    return cell[1:] if cell.startswith(TEXT_MARK) else cell


def pass_cell(secret: Secret) -> str:
    """Return the pass column's cell: the text mark, then the pass exactly as Graph issued it."""
    return TEXT_MARK + secret.reveal()


def pass_from_cell(cell: str) -> Secret:
    """Return the pass a cell of the pass column holds (a file written before the mark: as is)."""
    return Secret(cell[1:] if cell.startswith(TEXT_MARK) else cell)


def render_credentials(rows: Iterable[CredentialRow]) -> bytes:
    """Return the CSV bytes of the credentials file (this reveals the passes)."""
    buffer = io.StringIO()
    # CRLF (RFC 4180): the csv module then also quotes a cell holding a lone CR or LF.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(
            (
                _neutralise(row.upn),
                _neutralise(row.display_name),
                # The only place a pass is revealed: the file handed over in person.
                pass_cell(row.temporary_access_pass),
                format_utc(row.valid_from),
                format_utc(row.valid_until),
            )
        )
    return buffer.getvalue().encode("utf-8")


def write_credentials(
    path: Path, rows: Iterable[CredentialRow], *, root: Path | None = None
) -> Path:
    """Write the credentials file atomically with mode 0600; return its path.

    A link at `path` is refused (`UnsafePath`, exit 3); give `root` (the home) to have every
    folder between it and the file checked the same way.
    """
    rows = list(rows)
    upns = [r.upn for r in rows]
    duplicates = sorted({u for u in upns if upns.count(u) > 1})
    if duplicates:
        raise ValueError(f"two passes for the same account: {', '.join(duplicates)}")
    return atomic_write(Path(path), render_credentials(rows), FILE_MODE, root=root)


def read_credentials(path: Path, *, root: Path | None = None) -> list[CredentialRow]:
    """Read a credentials file written by `write_credentials`; an absent file gives no rows.

    The file is never read through a link, nor when another name shares it (a hard link):
    `UnsafePath` (exit 3), so that one commune's file never takes in another's rows.
    """
    path = Path(path)
    try:
        raw = read_own_file(path, limit=MAX_BYTES, root=root, what="credentials file")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the credentials file: "
                         f"{exc.strerror or exc}") from None
    if raw is None:
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
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
        rows.append(
            CredentialRow(_restore(upn), _restore(display_name), pass_from_cell(tap), start, end)
        )
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


def update_credentials(
    path: Path, issued: Iterable[CredentialRow], *, root: Path | None = None
) -> Path:
    """Merge newly issued passes into the credentials file at `path` (created if absent)."""
    return write_credentials(
        path, merge_credentials(read_credentials(path, root=root), issued), root=root
    )


MAIN_FILE = "credentials.csv"
REISSUE_PREFIX = "credentials-reissue-"  # + UTC timestamp + ".csv", one per `credentials reissue`


def credential_files(directory: Path) -> list[Path]:
    """Return a commune's credentials files: the activation's, then each reissue's (by name)."""
    directory = Path(directory)
    reissued = sorted(directory.glob(f"{REISSUE_PREFIX}*.csv")) if directory.is_dir() else []
    return [directory / MAIN_FILE, *reissued]


def current_credentials(
    directory: Path, *, root: Path | None = None
) -> dict[str, tuple[str, CredentialRow]]:
    """Return, per lower-case UPN, the newest pass on file (latest `valid_from`) and the name
    of the file holding it: a reissued pass supersedes the activation's, and the other way
    round when activation issued one later."""
    current: dict[str, tuple[str, CredentialRow]] = {}
    for path in credential_files(directory):
        for row in read_credentials(path, root=root):
            key = row.upn.lower()
            if key not in current or row.valid_from >= current[key][1].valid_from:
                current[key] = (path.name, row)
    return current
