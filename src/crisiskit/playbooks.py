"""Playbooks: what an activation provisions for a commune (accounts, Team, folders, devices).

A playbook is `playbooks/<name>.yaml` beside the inventory, validated like the inventory (unknown
keys rejected, every problem reported at once as `FILE:LINE:COL: path: message`).
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from crisiskit.errors import Diagnostic, InputError

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune

# Graph: a channel name has at most 50 characters and none of these; "General" is reserved.
_CHANNEL_FORBIDDEN = set("~#%&*{}+/\\:<>?|'\"")
# SharePoint in Microsoft 365 ("Restrictions and limitations in OneDrive and SharePoint",
# invalid characters and invalid file or folder names): none of " * : < > ? / \ |, no leading
# or trailing space, none of the reserved names (as a whole name or before an extension,
# as Windows reads them), "_vti_" nowhere, no "~$" or (for a folder) "~" at the start, and
# "forms" not at the root of a library, where crisiskit creates its folders.
_FOLDER_FORBIDDEN = set('"*:<>?/\\|')
_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)
_FOLDER_RESERVED = _DEVICE_NAMES | {".lock", "desktop.ini", "forms"}
# The whole decoded path (site, library, folder) may not exceed 400 characters; folders sit
# at the root of the group's library, and 128 keeps any of them well inside it.
FOLDER_NAME_MAX = 128
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PLACEHOLDERS = ("commune", "commune_id", "insee")


def _channel_name(value: str) -> str:
    bad = sorted(set(value) & _CHANNEL_FORBIDDEN)
    if bad:
        raise ValueError(f"a Teams channel name cannot contain {' '.join(bad)}")
    if value.startswith("_") or value.endswith("."):
        raise ValueError("a Teams channel name cannot start with '_' or end with '.'")
    if value.casefold() == "general":
        raise ValueError("'General' is the Team's built-in channel; it cannot be created")
    return value


def _folder_name(value: str) -> str:
    bad = sorted(set(value) & _FOLDER_FORBIDDEN)
    if bad:
        raise ValueError(f"a SharePoint folder name cannot contain {' '.join(bad)}")
    if value.startswith((".", "~")) or value.endswith("."):
        raise ValueError("a SharePoint folder name cannot start with '.' or '~', or end "
                         "with '.'")
    folded = value.casefold()
    if folded in _FOLDER_RESERVED or folded.split(".", 1)[0] in _DEVICE_NAMES:
        raise ValueError(f"{value!r} is a name SharePoint reserves (CON, PRN, AUX, NUL, "
                         "COM0-9, LPT0-9, .lock, desktop.ini, forms)")
    if "_vti_" in folded:
        raise ValueError("a SharePoint folder name cannot contain '_vti_'")
    return value


def _nfc(value: str) -> str:
    """Return the text in Unicode NFC, so that é typed either way is the same name."""
    return unicodedata.normalize("NFC", value)


def _template(value: str) -> str:
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
    except ValueError as exc:
        raise ValueError(f"bad placeholder: {exc}") from None
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} (allowed: {allowed})")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_nfc),
]
ChannelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(_nfc), AfterValidator(_channel_name),
]
FolderName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=FOLDER_NAME_MAX),
    AfterValidator(_nfc), AfterValidator(_folder_name),
]
Template = Annotated[Text, AfterValidator(_template)]
# Graph's channel.md gives channel descriptions no bound; Teams holds them to 1024 (limits.py).
ChannelDescription = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=1024), AfterValidator(_nfc)
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Tap(_Model):
    """Temporary Access Pass used for onboarding (Graph accepts 10 minutes to 30 days)."""

    lifetime_minutes: Annotated[int, Field(ge=10, le=43200)] = 480
    usable_once: bool = False


class Channel(_Model):
    """A standard channel of the crisis Team."""

    name: ChannelName
    description: ChannelDescription = ""


class Team(_Model):
    """The crisis cell's private Team (and its Microsoft 365 group)."""

    display_name: Template = "Cellule de crise – {commune}"
    description: Template = "Cellule de crise cyber de {commune}"
    channels: list[Channel] = Field(default_factory=list, max_length=200)


class DeviceLoans(_Model):
    """Which lent devices an activation assigns to the accounts that need one."""

    laptops: bool = False
    phones: bool = False


class Readiness(_Model):
    """How long to wait, in seconds, for each provisioned thing to become usable.

    Absent (the default) means the upper bound of that delay (`crisiskit.resources.waiting`:
    24 h for a mailbox, 60 min for the Team and for the SharePoint site); a value shortens
    that wait (a rehearsal, a commune that prefers `status --wait`), never lengthens it.
    """

    mailbox_s: Annotated[int, Field(ge=1, le=86400)] | None = None
    team_s: Annotated[int, Field(ge=1, le=86400)] | None = None
    drive_s: Annotated[int, Field(ge=1, le=86400)] | None = None


class Playbook(_Model):
    """What an activation provisions for a commune."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]
    description: Text
    roles: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]] | None = (
        Field(default=None, description="Roles that get an account; absent or null = everyone.")
    )
    licence: Literal["direct", "group"] = "direct"
    tap: Tap = Field(default_factory=Tap)
    register_phone: bool = True
    team: Team | None = None
    folders: list[FolderName] = Field(default_factory=list)
    devices: DeviceLoans = Field(default_factory=DeviceLoans)
    readiness: Readiness = Field(default_factory=Readiness)

    def includes(self, role: str) -> bool:
        """Tell whether a roster entry with this role gets an account."""
        return self.roles is None or role in self.roles


def expand(template: str, commune: Commune) -> str:
    """Fill {commune}, {commune_id} and {insee} in a playbook text, as the desired state does."""
    names = {"commune": commune.name, "commune_id": commune.id, "insee": commune.insee}
    for key, value in names.items():
        template = template.replace("{" + key + "}", value)
    return template


def group_names(playbook: Playbook, commune: Commune) -> tuple[str, str] | None:
    """Return the crisis group's (display name, description), or None if it makes no group.

    These are the values `plan/desired.py` sends (the Team takes them from the group).
    """
    if playbook.team is None and not playbook.folders and playbook.licence != "group":
        return None
    if playbook.team is None:
        return (f"Cellule de crise – {commune.name}",
                f"Cellule de crise cyber de la commune de {commune.name}")
    return expand(playbook.team.display_name, commune), expand(playbook.team.description, commune)


def channel_descriptions(playbook: Playbook, commune: Commune) -> list[str]:
    """Return the channel descriptions the Team gets for `commune`, templates expanded."""
    if playbook.team is None:
        return []
    return [expand(c.description, commune) for c in playbook.team.channels]


def list_playbooks(directory: Path) -> list[str]:
    """Return the names of the playbooks in `directory`, sorted."""
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.yaml") if _NAME.match(p.stem))


def playbook_diagnostics(path: Path) -> tuple[Playbook | None, list[Diagnostic]]:
    """Validate one playbook file; return it (or None) with every problem found."""
    from pydantic import ValidationError

    from crisiskit.inventory.loader import pydantic_diagnostics, read_yaml, strip_secret_keys

    doc = read_yaml(path, what="playbook")
    if doc.data is None:
        raise InputError(f"{path}: the playbook is empty")
    if not isinstance(doc.data, dict):
        raise InputError(
            f"{path}: a playbook is a mapping of keys, not a {type(doc.data).__name__}"
        )
    from crisiskit.inventory.invisible import invisible_diagnostics

    found = strip_secret_keys(doc)
    found.extend(invisible_diagnostics(doc))
    playbook: Playbook | None = None
    try:
        playbook = Playbook.model_validate(doc.data)
    except ValidationError as exc:
        found.extend(pydantic_diagnostics(doc, exc, root=Playbook))
    if playbook is not None:
        if playbook.name != path.stem:
            found.append(
                doc.diagnostic("name", f"must match the file name ({path.stem!r})")
            )
        seen: dict[str, int] = {}
        for i, channel in enumerate(playbook.team.channels if playbook.team else []):
            key = channel.name.casefold()
            if key in seen:
                found.append(
                    doc.diagnostic(
                        f"team.channels[{i}].name", f"same name as team.channels[{seen[key]}]"
                    )
                )
            seen.setdefault(key, i)
        folders: dict[str, int] = {}
        for i, folder in enumerate(playbook.folders):
            if folder.casefold() in folders:
                first = folders[folder.casefold()]
                found.append(doc.diagnostic(f"folders[{i}]", f"same name as folders[{first}]"))
            folders.setdefault(folder.casefold(), i)
    return (playbook if not found else None), found


def load_playbook(name: str, directory: Path) -> Playbook:
    """Load and validate `directory/<name>.yaml`; raise InputError listing every problem."""
    if not _NAME.match(name):
        raise InputError(f"{name!r} is not a playbook name (lower-case letters, digits, '-')")
    path = directory / f"{name}.yaml"
    if not path.exists() and not path.is_symlink():  # a pipe or a loop: read_yaml says which
        available = ", ".join(list_playbooks(directory)) or "none"
        raise InputError(f"{path}: no such playbook (available in {directory}: {available})")
    playbook, found = playbook_diagnostics(path)
    if playbook is None:
        raise InputError(f"{path}: invalid playbook", found)
    return playbook
