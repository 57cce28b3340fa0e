"""The exercise's timeline as a PNG image (matplotlib, Agg backend, imported only here).

One row per commune (and one for the tenant's throttling storms), one bar per inject from
its execution's start to its end, coloured by kind; a black tick marks the planned time, a
star the moment the commune became operational. Readable printed in black and white too: the
kinds also differ by hatching.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisiskit.exercise.run import ExerciseResult

KINDS = {
    "commune_hit": ("Activation du kit", "#00558c", ""),
    "throttling_storm": ("Tempête de limitation", "#c0392b", "//"),
    "agents_join": ("Arrivée d'agents", "#27ae60", ""),
    "agent_leaves": ("Départ d'un agent", "#8e44ad", "\\\\"),
    "device_lost": ("Appareil perdu", "#e67e22", "xx"),
    "pass_reissue": ("Nouveau passe", "#16a085", ".."),
    "end_of_forensics": ("Démontage avec export", "#7f8c8d", "--"),
}
TENANT_ROW = "Tenant (Graph)"


def timeline_png(result: ExerciseResult) -> bytes:
    """Draw the timeline of `result` and return it as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    names = {c.id: c.name for c in result.communes}
    storms = any(e.commune is None and e.kind != "end_of_exercise" for e in result.events)
    rows = ([TENANT_ROW] if storms else []) + [c.name for c in result.communes]
    index = {name: i for i, name in enumerate(rows)}
    fig = Figure(figsize=(8, 2.2 + 0.45 * len(rows)), dpi=150, layout="constrained")
    span = max(result.elapsed, result.scenario.end, 60.0)
    unit, unit_name = (3600.0, "heures") if span > 3 * 3600 else (60.0, "minutes")
    ax = fig.add_subplot()
    used: dict[str, None] = {}
    for event in result.events:
        if event.kind == "end_of_exercise" or event.started is None:
            continue
        row = index[TENANT_ROW if event.commune is None else names[event.commune]]
        label, colour, hatch = KINDS[event.kind]
        end = event.finished if event.finished is not None else result.elapsed
        width = max((end - event.started) / unit, span / unit / 300)
        start_min = event.started / unit
        ax.barh(row, width, left=start_min, height=0.55, color=colour, hatch=hatch,
                edgecolor="white" if not hatch else "#333333", linewidth=0.4,
                alpha=0.6 if event.outcome != "ok" else 1.0)
        ax.plot([event.planned / unit] * 2, [row - 0.38, row + 0.38], color="black", lw=1.2)
        used[event.kind] = None
    for commune in result.communes:
        if commune.operational_at is not None:
            ax.plot(commune.operational_at / unit, index[commune.name], marker="*",
                    markersize=11, color="#f1c40f", markeredgecolor="black", zorder=5)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.4, -0.6)  # first row on top, none cut
    ax.set_xlabel(f"Temps de l'exercice ({unit_name} depuis T+0)")
    ax.set_xlim(left=0, right=span / unit * 1.02)
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    handles: list[Any] = [Patch(facecolor=KINDS[k][1], hatch=KINDS[k][2], edgecolor="#333333",
                     label=KINDS[k][0]) for k in used]
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="black", lw=1.2, label="Heure prévue"))
    handles.append(Line2D([], [], marker="*", color="#f1c40f", markeredgecolor="black",
                          lw=0, markersize=10, label="Commune opérationnelle"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=9)
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
