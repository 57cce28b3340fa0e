"""Exercise scenarios: `playbooks/exercises/<name>.yaml`, validated like the inventory.

    load_scenario(path, inventory, playbooks_dir) -> Scenario   InputError (exit 2) listing
                                                                every problem FILE:LINE:COL
    list_scenarios(directory) -> [path]

A scenario names the communes hit (inventory ids, or `generated: N` for scale), the simulated
tenant's profile and faults, the speed factor, the seed, and the chronogramme: injects at
offsets from the start of the exercise (`T+0`, `T+2 min`, `T+1 h 30 min`), in order. The YAML
is read by `inventory.loader.read_yaml` (the same line-aware reader) and every problem is a
`Diagnostic` at the field it concerns: an unknown inject kind, an offset out of order, a
commune, a person or an asset the inventory does not hold, a day-2 inject on a commune not hit
before it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from crisiskit.errors import Diagnostic, InputError
from crisiskit.inventory.models import Inventory, Person

_UNIT = {"h": 3600.0, "min": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|min|s)\b")
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


def parse_duration(text: str) -> float:
    """Parse "2 min", "1 h 30 min", "45 s" or "0" into seconds (ValueError otherwise)."""
    rest = text.strip()
    if rest == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _PART.finditer(rest):
        if rest[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos == 0 or rest[pos:].strip():
        raise ValueError(f"{text!r} is not a duration: write e.g. \"2 min\", \"1 h 30 min\", "
                         "\"45 s\"")
    return total


def parse_offset(text: Any) -> float:
    """Parse an offset "T+2 min" (or "T+0") into seconds from the start of the exercise."""
    if not isinstance(text, str) or not text.strip().startswith("T+"):
        raise ValueError(f"{text!r} is not an offset: write e.g. \"T+0\", \"T+2 min\", "
                         "\"T+1 h 30 min\"")
    return parse_duration(text.strip()[2:])


def offset_text(seconds: float) -> str:
    """Write an offset the way scenarios do ("T+1 h 05 min", "T+2 min 30 s")."""
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"T+{h} h {m:02d} min" + (f" {s:02d} s" if s else "")
    if m:
        return f"T+{m} min" + (f" {s:02d} s" if s else "")
    return f"T+{s} s" if s else "T+0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Rate = Annotated[float, Field(ge=0, le=1)]


class Faults(_Model):
    """The simulator's fault knobs for the whole exercise (`crisiskit sim serve` profiles)."""

    transient_5xx_rate: Rate | None = None
    commit_then_5xx_rate: Rate | None = None
    drop_rate: Rate | None = None
    replication_404_rate: Rate | None = None
    stale_read_rate: Rate | None = None
    latency_ms: Annotated[float, Field(ge=0, le=5000)] | None = None
    throttle_rate: Annotated[float, Field(ge=0, le=10000)] | None = None
    throttle_burst: Annotated[float, Field(ge=0, le=10000)] | None = None

    def knobs(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Tenant(_Model):
    """The fresh simulated tenant the exercise runs on."""

    profile: Literal["instant", "realistic", "hostile"] = "realistic"
    faults: Faults = Field(default_factory=Faults)


class Generated(_Model):
    """Communes made up for scale (`simu-01` …): a small roster each, no lent device."""

    communes: Annotated[int, Field(ge=1, le=100)]
    roster: Annotated[int, Field(ge=1, le=50)] = 4
    playbook: Slug = "standard"


class _Inject(_Model):
    at: float
    title: Text | None = None  # what the players are told, as the chronogramme prints it


class CommuneHit(_Inject):
    """A commune is hit: its crisis kit is activated (`commune: all`: every commune at once)."""

    kind: Literal["commune_hit"]
    commune: Slug
    playbook: Slug | None = None


class ThrottlingStorm(_Inject):
    """Graph throttles the tool harder for a while (the simulator's per-client rate)."""

    kind: Literal["throttling_storm"]
    rate: Annotated[float, Field(gt=0, le=10000)]  # requests per second of the service
    burst: Annotated[float, Field(ge=0, le=10000)] = 0
    duration: float


class DeviceLost(_Inject):
    """A lent device is lost or broken: `devices swap` for the person's device (or an asset)."""

    kind: Literal["device_lost"]
    commune: Slug
    person: Text | None = None  # account name ("gerard.lucciani") whose device it is
    device: Literal["phone", "laptop"] = "phone"
    asset: Text | None = None  # or the asset tag itself
    reason: Literal["lost", "broken"] = "lost"


class AgentsJoin(_Inject):
    """People join the cell: added to the roster, then `activate` again."""

    kind: Literal["agents_join"]
    commune: Slug
    people: Annotated[list[Person], Field(min_length=1, max_length=50)]


class AgentLeaves(_Inject):
    """Someone leaves the cell: removed from the roster, then `activate` again."""

    kind: Literal["agent_leaves"]
    commune: Slug
    person: Text


class PassReissue(_Inject):
    """Someone locked themselves out: `credentials reissue`."""

    kind: Literal["pass_reissue"]
    commune: Slug
    people: Annotated[list[Text], Field(min_length=1, max_length=50)]


class EndOfForensics(_Inject):
    """The forensic investigation of a commune is over: teardown with export."""

    kind: Literal["end_of_forensics"]
    commune: Slug


class EndOfExercise(_Inject):
    """The end of the exercise: what is still running is waited for, then the report."""

    kind: Literal["end_of_exercise"]


Inject = (
    CommuneHit | ThrottlingStorm | DeviceLost | AgentsJoin | AgentLeaves | PassReissue
    | EndOfForensics | EndOfExercise
)
KINDS: dict[str, type[_Inject]] = {
    "commune_hit": CommuneHit,
    "throttling_storm": ThrottlingStorm,
    "device_lost": DeviceLost,
    "agents_join": AgentsJoin,
    "agent_leaves": AgentLeaves,
    "pass_reissue": PassReissue,
    "end_of_forensics": EndOfForensics,
    "end_of_exercise": EndOfExercise,
}
COMMUNE_KINDS = ("device_lost", "agents_join", "agent_leaves", "pass_reissue",
                 "end_of_forensics")


class _Head(_Model):
    name: Slug
    title: Text
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    communes: Annotated[list[Slug], Field(min_length=1, max_length=100)] | None = None
    generated: Generated | None = None
    tenant: Tenant = Field(default_factory=Tenant)
    speed: Annotated[float, Field(ge=1, le=100000)] = 60.0
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    injects: Annotated[list[Any], Field(min_length=1, max_length=500)]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its head, its injects in order, and the inventory it runs on.

    `inventory` holds the generated communes when the scenario asks for them.
    """

    name: str
    title: str
    description: str
    communes: tuple[str, ...]
    tenant: Tenant
    speed: float
    seed: int
    injects: tuple[Inject, ...]
    inventory: Inventory
    playbooks_dir: Path
    path: Path | None = None
    generated: bool = False
    end: float = field(default=0.0)

    def with_options(self, *, speed: float | None = None, seed: int | None = None) -> Scenario:
        """Return the scenario with the command line's --speed / --seed."""
        import dataclasses

        return dataclasses.replace(
            self,
            speed=self.speed if speed is None else speed,
            seed=self.seed if seed is None else seed,
        )


def list_scenarios(directory: Path) -> list[Path]:
    """Return the scenario files of `directory`, by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.yaml") if re.fullmatch(r"[a-z0-9-]+", p.stem))


def load_scenario(path: Path, inventory: Inventory, playbooks_dir: Path) -> Scenario:
    """Read and validate a scenario against the inventory; InputError lists every problem."""
    from crisiskit.inventory.invisible import invisible_diagnostics
    from crisiskit.inventory.loader import pydantic_diagnostics, read_yaml, strip_secret_keys

    doc = read_yaml(path, what="scenario")
    if doc.data is None:
        raise InputError(f"{path}: the scenario is empty")
    if not isinstance(doc.data, dict):
        raise InputError(f"{path}: a scenario is a mapping of keys, not a "
                         f"{type(doc.data).__name__}")
    found: list[Diagnostic] = strip_secret_keys(doc)
    found.extend(invisible_diagnostics(doc))
    data = dict(doc.data)
    raw_injects = data.get("injects")
    head: _Head | None = None
    try:
        head = _Head.model_validate(data)
    except ValidationError as exc:
        found.extend(pydantic_diagnostics(doc, exc, root=_Head))
    if head is not None and head.name != path.stem:
        found.append(doc.diagnostic("name", f"must match the file name ({path.stem!r})"))
    if head is not None and (head.communes is None) == (head.generated is None):
        found.append(doc.diagnostic("communes", "give the communes hit (communes: [ids]) or "
                                    "generated ones (generated: {communes: N}), one of them"))
    injects = _injects(doc, raw_injects if isinstance(raw_injects, list) else [], found)
    if head is None or found:
        raise _invalid(path, found)
    variant, communes = _communes(doc, head, inventory, found)
    _check(doc, head, communes, injects, variant, playbooks_dir, found)
    if found:
        raise _invalid(path, found)
    return Scenario(
        name=head.name, title=head.title, description=head.description,
        communes=tuple(communes), tenant=head.tenant, speed=head.speed, seed=head.seed,
        injects=tuple(injects), inventory=variant, playbooks_dir=playbooks_dir, path=path,
        generated=head.generated is not None, end=injects[-1].at,
    )


def _invalid(path: Path, found: list[Diagnostic]) -> InputError:
    n = len(found)
    return InputError(f"{path}: {n} problem{'s' if n != 1 else ''}", found)


def _injects(doc: Any, raw: list[Any], found: list[Diagnostic]) -> list[Inject]:
    """Validate each inject by its kind, and their order in time."""
    from crisiskit.inventory.loader import pydantic_diagnostics

    out: list[Inject] = []
    previous: float | None = None
    for i, item in enumerate(raw):
        where = f"injects[{i}]"
        if not isinstance(item, dict):
            found.append(doc.diagnostic(where, "an inject is a mapping with at and kind"))
            continue
        kind = item.get("kind")
        model = KINDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            found.append(doc.diagnostic(f"{where}.kind", _unknown_kind(kind)))
            continue
        values = dict(item)
        for key, parse in (("at", parse_offset), ("duration", parse_duration)):
            if key in values:
                try:
                    values[key] = parse(values[key]) if key == "at" else parse(str(values[key]))
                except ValueError as exc:
                    found.append(doc.diagnostic(f"{where}.{key}", str(exc)))
                    values[key] = 0.0
        try:
            inject: Inject = model.model_validate(values)  # type: ignore[assignment]
        except ValidationError as exc:
            found.extend(pydantic_diagnostics(doc, exc, prefix=where, root=model))
            continue
        if previous is not None and inject.at < previous:
            found.append(doc.diagnostic(
                f"{where}.at",
                f"{offset_text(inject.at)} comes before the previous inject "
                f"({offset_text(previous)}): injects are listed in time order",
            ))
        previous = inject.at if previous is None else max(previous, inject.at)
        out.append(inject)
    if out and out[-1].kind != "end_of_exercise":
        found.append(doc.diagnostic(f"injects[{len(raw) - 1}]",
                                    "the last inject must be kind: end_of_exercise"))
    for i, inject in enumerate(out[:-1]):
        if inject.kind == "end_of_exercise":
            found.append(doc.diagnostic(f"injects[{i}].kind",
                                        "end_of_exercise must be the last inject"))
    return out


def _unknown_kind(kind: object) -> str:
    known = list(KINDS)
    if not isinstance(kind, str):
        return f"required: one of {', '.join(known)}"
    close = difflib.get_close_matches(kind, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown inject kind {kind!r}{hint}; known: {', '.join(known)}"


def _communes(
    doc: Any, head: _Head, inventory: Inventory, found: list[Diagnostic]
) -> tuple[Inventory, list[str]]:
    """Return the inventory the exercise runs on and the ids of its communes."""
    if head.generated is not None:
        from crisiskit.exercise.generated import with_generated

        variant = with_generated(inventory, head.generated)
        return variant, [c.id for c in variant.communes[len(inventory.communes):]]
    assert head.communes is not None
    known = [c.id for c in inventory.communes]
    for i, cid in enumerate(head.communes):
        if cid not in known:
            found.append(doc.diagnostic(f"communes[{i}]", _unknown("commune", cid, known)))
        elif head.communes.index(cid) != i:
            found.append(doc.diagnostic(f"communes[{i}]", f"{cid!r} is listed twice"))
    return inventory, [cid for cid in dict.fromkeys(head.communes) if cid in known]


def _unknown(what: str, value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    return f"unknown {what} {value!r}{hint} (known: {listed})"


def _check(
    doc: Any, head: _Head, communes: list[str], injects: list[Inject], inventory: Inventory,
    playbooks_dir: Path, found: list[Diagnostic],
) -> None:
    """Cross-check the injects against the communes, rosters and devices, in time order."""
    from crisiskit.inventory.naming import roster_accounts
    from crisiskit.playbooks import list_playbooks

    books = list_playbooks(playbooks_dir)
    if head.generated is not None and head.generated.playbook not in books:
        found.append(doc.diagnostic("generated.playbook",
                                    _unknown("playbook", head.generated.playbook, books)))
    for cid in communes:
        book = inventory.commune(cid).playbook
        if book not in books:
            found.append(doc.diagnostic("communes", f"{cid}'s playbook {book!r} is not in "
                                        f"{playbooks_dir}"))
    domain = inventory.tenant.upn_domain
    rosters = {c.id: list(c.roster) for c in inventory.communes if c.id in communes}
    hit: set[str] = set()
    assets = {d.asset_tag for d in inventory.devices.laptops} | {
        d.asset_tag for d in inventory.devices.phones
    }

    def accounts(cid: str) -> dict[str, Person]:
        commune = inventory.commune(cid).model_copy(update={"roster": rosters[cid]})
        return {a.upn.split("@")[0]: a.person for a in roster_accounts(commune, domain) if a.upn}

    def person(where: str, cid: str, name: str) -> Person | None:
        names = accounts(cid)
        local = name.split("@")[0].lower()
        if local not in names:
            found.append(doc.diagnostic(where, _unknown(f"person of {cid}", name, list(names))))
            return None
        return names[local]

    for i, inject in enumerate(injects):
        where = f"injects[{i}]"
        if isinstance(inject, CommuneHit):
            if inject.playbook is not None and inject.playbook not in books:
                found.append(doc.diagnostic(f"{where}.playbook",
                                            _unknown("playbook", inject.playbook, books)))
            if inject.commune == "all":
                hit.update(communes)
            elif inject.commune not in communes:
                found.append(doc.diagnostic(f"{where}.commune", _unknown(
                    "commune (not in this scenario's communes)", inject.commune, communes)))
            else:
                hit.add(inject.commune)
            continue
        commune = getattr(inject, "commune", None)
        if commune is None:
            continue
        if commune not in communes:
            found.append(doc.diagnostic(f"{where}.commune", _unknown(
                "commune (not in this scenario's communes)", commune, communes)))
            continue
        if commune not in hit:
            found.append(doc.diagnostic(
                f"{where}.commune",
                f"{commune} is not hit before this inject (add a commune_hit earlier)"))
            continue
        if isinstance(inject, AgentsJoin):
            rosters[commune] = rosters[commune] + list(inject.people)
        elif isinstance(inject, AgentLeaves):
            gone = person(f"{where}.person", commune, inject.person)
            if gone is not None:
                rosters[commune] = [p for p in rosters[commune] if p is not gone]
        elif isinstance(inject, PassReissue):
            for j, name in enumerate(inject.people):
                person(f"{where}.people[{j}]", commune, name)
        elif isinstance(inject, DeviceLost):
            if (inject.person is None) == (inject.asset is None):
                found.append(doc.diagnostic(where, "name the person whose device it is "
                                            "(person:) or the device (asset:), not both"))
            elif inject.asset is not None and inject.asset not in assets:
                found.append(doc.diagnostic(f"{where}.asset", _unknown(
                    "asset tag", inject.asset, sorted(assets))))
            elif inject.person is not None:
                who = person(f"{where}.person", commune, inject.person)
                if who is not None and not getattr(who, inject.device):
                    found.append(doc.diagnostic(
                        f"{where}.person", f"{inject.person} has no {inject.device} lent "
                        f"(the roster says {inject.device}: false)"))
        elif isinstance(inject, EndOfForensics):
            hit.discard(commune)
