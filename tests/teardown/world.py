"""A commune's kit with data in every workload, decoys around it, and the CLI to tear it down.

The CLI runs in-process (Typer's runner) against the session's loopback simulator, with a
real SQLite home per test: the same code path as `crisiskit teardown` in a terminal.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.inventory import load_inventory
from crisiskit.plan.desired import tag_property
from crisiskit.sim.server import EmbeddedSimulator

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"
COMMUNE = "aubagne"
OTHER = "marseille"
NICK = "crisiskit-aubagne"
TAG = tag_property(load_inventory(SAMPLE).tenant.client_id)
BIG = 5 * 1024 * 1024 + 123  # "larger than a few MB", not a multiple of anything


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class World:
    home: Path
    sim: EmbeddedSimulator
    env: dict[str, str]
    inventory: Path = SAMPLE

    def cli(self, *args: str, input: str | None = None) -> Run:
        result = CliRunner().invoke(app, ["-i", str(self.inventory), *args], env=self.env,
                                    input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """The kit's write requests (the commune lease's, `lease_writes`, are not the kit's)."""
        log = self.sim.requests()[since:]
        return [r for r in log
                if r["method"] != "GET" and r["path"] != "/$batch" and not is_lease(r)]

    def lease_writes(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.sim.requests()[since:] if r["method"] != "GET" and is_lease(r)]

    def mark(self) -> int:
        return len(self.sim.requests())


def is_lease(entry: dict[str, Any]) -> bool:
    """Tell whether a logged request is the commune lease's (the root site's library)."""
    from crisiskit.sim.drive import root_drive_id

    path = str(entry.get("path", ""))
    return path.startswith(("/sites/root", f"/drives/{root_drive_id()}"))


def ours(state: dict[str, Any], commune: str = COMMUNE) -> list[dict[str, Any]]:
    return [u for u in state["users"] if u.get(TAG) == commune]


def group_of(state: dict[str, Any], nick: str = NICK) -> dict[str, Any] | None:
    return next((g for g in state["groups"] if g["mailNickname"] == nick), None)


def seed_data(world: World) -> dict[str, Any]:
    """Seed mail (several folders, attachments), conversations, events, contacts, files (one of
    several MB, in the group library and in OneDrives) and channel messages for aubagne."""
    state = world.sim.state()
    group = group_of(state)
    assert group is not None
    users = {u["id"]: u["userPrincipalName"] for u in ours(state)}
    owner = users[group["owners"][0]]
    other = next(upn for upn in users.values() if upn != owner)
    pdf = {"name": "rapport.pdf", "contentType": "application/pdf", "size": 40_000, "seed": 7}
    note = {"name": "note.txt", "contentBase64": base64.b64encode(b"note").decode()}
    seed = {
        "messages": [
            {"user": owner, "folder": "inbox", "subject": "Point de situation",
             "from": "prefecture@interieur.gouv.fr", "body": "Bonjour", "attachments": [pdf]},
            {"user": owner, "folder": "inbox/Forensic/2026", "subject": "Journal SIEM",
             "from": "soc@prestataire.fr", "body": "<p>journal</p>", "bodyType": "html"},
            {"user": owner, "folder": "sentitems", "subject": "Communiqué", "to": [other],
             "body": "texte", "attachments": [note]},
            {"user": owner, "folder": "deleteditems", "subject": "Brouillon jeté",
             "from": other, "body": "x"},
            {"user": other, "folder": "inbox", "subject": "Réunion 14 h", "from": owner,
             "body": "ordre du jour"},
        ],
        "conversations": [
            {"group": NICK, "topic": "Message à la cellule", "posts": [
                {"from": "journaliste@presse.fr", "body": "<p>Une question</p>",
                 "bodyType": "html", "attachments": [note]},
                {"from": owner, "body": "Réponse"},
            ]},
        ],
        "events": [
            {"user": owner, "subject": "Cellule de crise", "start": "2026-03-02T09:00:00",
             "timeZone": "Romance Standard Time", "location": "Mairie", "attendees": [other]},
            {"user": other, "subject": "Point presse", "start": "2026-03-03T15:00:00Z",
             "calendar": "Presse"},
        ],
        "contacts": [
            {"user": owner, "givenName": "Anne", "surname": "Préfète",
             "emailAddresses": ["anne@interieur.gouv.fr"], "mobilePhone": "+33611223344"},
        ],
        "files": [
            {"group": NICK, "path": "Forensic/image-disque.bin", "size": BIG, "seed": 11},
            {"group": NICK, "path": "Décisions/décision 1.txt",
             "contentBase64": base64.b64encode("Décision n° 1".encode()).decode()},
            {"user": owner, "path": "Notes/brouillon.txt",
             "contentBase64": base64.b64encode(b"brouillon").decode()},
            {"user": other, "path": "photo.jpg", "size": 300_000, "seed": 12},
        ],
        "channelMessages": [
            {"team": NICK, "channel": "Décisions", "from": owner,
             "body": "<p>Décision : <b>couper</b> le VPN</p><script>alert(1)</script>",
             "replies": [{"from": other, "body": "Fait."}]},
        ],
    }
    return world.sim.seed(seed)


def decoys(world: World) -> dict[str, Any]:
    """Untagged lookalikes and objects crisiskit must never touch, with data of their own."""
    return world.sim.seed({
        "users": [
            {"userPrincipalName": "gerard.lucciani.old@crise.ampmetropole.fr",
             "displayName": "Gérard Lucciani (Crise Aubagne)", "mailNickname": "glold"},
        ],
        "groups": [
            {"displayName": "Cellule de crise – Aubagne", "mailNickname": "crisiskit-aubagne2",
             "groupTypes": ["Unified"], "mailEnabled": True, "securityEnabled": False},
        ],
    })
