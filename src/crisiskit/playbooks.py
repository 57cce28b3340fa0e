"""Playbooks: what an activation provisions for a commune (accounts, Team, folders, devices).

A playbook is `playbooks/<name>.yaml` beside the inventory, validated like the inventory (unknown
keys rejected, every problem reported at once as `FILE:LINE:COL: path: message`).
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from crisiskit.errors import Diagnostic, InputError

# Graph: a channel name has at most 50 characters and none of these; "General" is reserved.
_CHANNEL_FORBIDDEN = set("~#%&*{}+/\\:<>?|'\"")
# SharePoint/OneDrive: characters a file or folder name cannot contain.
_FOLDER_FORBIDDEN = set('"*:<>?/\\|')
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
    if value.endswith(".") or value.startswith("~$"):
        raise ValueError("a SharePoint folder name cannot end with '.' or start with '~$'")
    return value


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


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
ChannelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(_channel_name),
]
FolderName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_folder_name),
]
Template = Annotated[Text, AfterValidator(_template)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tap(_Model):
    """Temporary Access Pass used for onboarding (Graph accepts 10 minutes to 30 days)."""

    lifetime_minutes: Annotated[int, Field(ge=10, le=43200)] = 480
    usable_once: bool = False


class Channel(_Model):
    """A standard channel of the crisis Team."""

    name: ChannelName
    description: str = ""


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
    """Deadlines, in seconds, for each provisioned thing to become usable after creation."""

    mailbox_s: Annotated[int, Field(ge=1, le=86400)] = 900
    team_s: Annotated[int, Field(ge=1, le=86400)] = 900
    drive_s: Annotated[int, Field(ge=1, le=86400)] = 900


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
    found = strip_secret_keys(doc)
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
    if not path.is_file():
        available = ", ".join(list_playbooks(directory)) or "none"
        raise InputError(f"{path}: no such playbook (available in {directory}: {available})")
    playbook, found = playbook_diagnostics(path)
    if playbook is None:
        raise InputError(f"{path}: invalid playbook", found)
    return playbook
