"""The exercise report, in French: Markdown, HTML (chart embedded) and PDF, one template.

    write_report(result, directory) -> Written     rapport-exercice.md / .html / .pdf,
                                                   chronologie.png, evenements.json

Through the document mechanism (documents/render.py, templates/rapport-exercice.md.j2): the
chronogramme as planned and as executed, each commune's time to operational against the
service's own delays, the Graph traffic (requests, retries, throttling met, uncertain writes
settled), failures and how they were recovered, the timeline chart, and the RETEX section
for the observers to fill in (what went well, what did not, actions with owner and date).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.exercise.scenario import offset_text

if TYPE_CHECKING:
    from crisiskit.documents.render import Document, Identity, Written
    from crisiskit.exercise.run import ExerciseResult

TEMPLATE = "rapport-exercice.md.j2"
STEM = "rapport-exercice"
CHART = "chronologie.png"
OUTCOMES = {"ok": "réussi", "failed": "échec", "refused": "refusé", "pending": "non joué"}
PROFILES = {"instant": "instantané", "realistic": "réaliste", "hostile": "hostile"}
FAULTS = {
    "transient_5xx_rate": "erreurs 503/504 transitoires",
    "commit_then_5xx_rate": "erreurs 503 après écriture effectuée",
    "drop_rate": "connexions coupées",
    "replication_404_rate": "lectures manquées (réplication)",
    "stale_read_rate": "lectures périmées (réplication)",
    "throttle_rate": "limitation (requêtes/s par client)",
    "latency_ms": "latence (ms)",
}


def duration_fr(seconds: float) -> str:
    """Write a duration in French ("4 min 10 s", "1 h 05 min", "12 s")."""
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {s:02d} s" if s else f"{m} min"
    return f"{s} s"


def offset_fr(seconds: float | None) -> str:
    """Write an offset for the report's tables: to the minute past an hour ("T+2 h 05 min")."""
    if seconds is None:
        return "–"
    return offset_text(round(seconds / 60) * 60 if seconds >= 3600 else seconds)


def _view(result: ExerciseResult) -> dict[str, Any]:
    s = result.scenario
    names = {c.id: c.name for c in result.communes}
    events = []
    for e in result.events:
        late = None if e.started is None else e.started - e.planned
        events.append({
            "n": e.index + 1, "planned": offset_fr(e.planned), "started": offset_fr(e.started),
            "finished": offset_fr(e.finished), "title": e.title,
            "outcome": OUTCOMES.get(e.outcome, e.outcome), "detail": e.detail or "–",
            "late": duration_fr(late) if late is not None and late >= 30 else "",
            "commune": names.get(e.commune or "", "tenant"), "stats": e.stats,
            "kind": e.kind, "requests": requests(e.stats) if e.stats else 0,
        })
    communes = []
    for c in result.communes:
        if c.hit_at is None:
            continue
        took = c.time_to_operational
        communes.append({
            "name": c.name, "hit": offset_fr(c.hit_at), "operational": offset_fr(
                c.operational_at), "took": duration_fr(took) if took is not None else "non",
            "floor": duration_fr(c.service_delay),
            "extra": duration_fr(max(took - c.service_delay, 0.0)) if took is not None else "–",
            "signin": _since(c.milestones.get("connexion"), c.hit_at),
            "mail": _since(c.milestones.get("messagerie"), c.hit_at),
            "team": _since(c.milestones.get("equipe"), c.hit_at),
            "problem": c.problem,
        })
    recovered = [(e.title, note) for e in result.events for note in e.notes]
    failed = [e for e in result.events if e.outcome in ("failed", "refused")]
    faults = [f"{FAULTS[k]} : {_number(v)}" for k, v in sorted(result.knobs.items())
              if k in FAULTS and v]
    took_all = [c.time_to_operational for c in result.communes
                if c.time_to_operational is not None]
    return {
        "s": s, "profile": PROFILES.get(s.tenant.profile, s.tenant.profile),
        "speed": _number(s.speed), "events": events, "communes": communes,
        "recovered": recovered, "failed": failed,
        "faults": faults, "totals": result.totals, "requests": requests(result.totals),
        "waits": {
            k: duration_fr(v * s.speed) for k, v in result.waits.items()},
        "elapsed": duration_fr(result.elapsed), "wall": duration_fr(result.wall_s),
        "slowest": duration_fr(max(took_all)) if took_all else None,
        "started_at": result.started_at, "chart": CHART, "hit": len(communes),
        "operational": len(took_all), "retex_rows": range(5),
    }


def requests(stats: dict[str, int]) -> int:
    """Return the Graph requests made: plain requests plus the sub-requests of `$batch` calls."""
    return stats["http_requests"] - stats["batches"] + stats["sub_requests"]


def _since(moment: float | None, start: float | None) -> str:
    if moment is None or start is None:
        return "–"
    return duration_fr(moment - start)


def _number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def report_document(result: ExerciseResult, identity: Identity, chart: bytes) -> Document:
    """Render the report (Markdown; `.html()` and `.pdf()` on the result)."""
    from crisiskit.documents.render import render

    title = f"Rapport d'exercice de crise cyber – {result.scenario.title}"
    return render(
        TEMPLATE, {"r": _view(result)}, identity=identity, title=title,
        footer=f"Rapport d'exercice – {result.scenario.name}", created=result.started_at,
        images={CHART: chart},
    )


def write_report(result: ExerciseResult, directory: Path) -> Written:
    """Write the report (md, html, pdf), the chart and the events as JSON in `directory`."""
    from crisiskit.documents.render import identity_of, write_document
    from crisiskit.exercise.chart import timeline_png
    from crisiskit.state.files import atomic_write

    chart = timeline_png(result)
    document = report_document(result, identity_of(result.scenario.inventory.metropole), chart)
    written = write_document(document, directory, STEM)
    written.paths["png"] = atomic_write(directory / CHART, chart, 0o644)
    data = json.dumps(result.to_json(), ensure_ascii=False, indent=2).encode("utf-8")
    written.paths["json"] = atomic_write(directory / "evenements.json", data, 0o644)
    return written
