"""One exercise, end to end: `crisiskit exercise run` on a short scenario at high speed.

The real CLI in-process, the embedded simulator over a loopback socket (realistic profile,
seeded), the real msgraph-sdk client, SQLite, every inject kind through the production
operations, and the report as a person gets it (Markdown, HTML parsed by a real parser with
its chart, PDF text).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crisiskit.cli import app

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"

SCENARIO = """\
name: courte
title: Exercice court
description: Toutes les sortes d'injects, en accéléré.
communes: [aix-en-provence]
tenant:
  profile: realistic
  # The service's delays stay (compressed); stale reads would only add uncompressed retries.
  faults: {stale_read_rate: 0, replication_404_rate: 0}
speed: 2000
seed: 5
injects:
  - {at: T+0, kind: throttling_storm, rate: 4, burst: 2, duration: 30 min}
  - {at: T+0, kind: commune_hit, commune: aix-en-provence}
  - at: T+2 min
    kind: agents_join
    commune: aix-en-provence
    people: [{given_name: Nathalie, surname: Gaubert, role: agent, laptop: true}]
  - {at: T+3 min, kind: agent_leaves, commune: aix-en-provence, person: mathis.ollivier}
  - {at: T+4 min, kind: device_lost, commune: aix-en-provence, person: claire.vasseur}
  - {at: T+5 min, kind: pass_reissue, commune: aix-en-provence, people: [nathalie.gaubert]}
  - {at: T+6 min, kind: end_of_forensics, commune: aix-en-provence}
  - {at: T+50 min, kind: end_of_exercise}
"""


def test_a_short_exercise_plays_every_inject_and_writes_its_report(tmp_path: Path) -> None:
    scenario = tmp_path / "courte.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    folder = tmp_path / "rapport"
    result = CliRunner().invoke(app, [
        "-i", str(SAMPLE), "--home", str(tmp_path / "home"), "exercise", "run", str(scenario),
        "--report", str(folder), "--output", "json",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    events = data["events"]
    # Every inject, in scenario order, each recorded as planned and as executed.
    assert [e["kind"] for e in events] == [
        "throttling_storm", "commune_hit", "agents_join", "agent_leaves", "device_lost",
        "pass_reissue", "end_of_forensics", "end_of_exercise"]
    assert {e["outcome"] for e in events} == {"ok"}, events
    assert all(e["started"] >= e["planned"] - 1 and e["finished"] >= e["started"]
               for e in events)
    # Day-2 injects on the commune wait for the one before them.
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["agents_join"]["started"] >= by_kind["commune_hit"]["finished"]
    assert "connexion refusée" in by_kind["agent_leaves"]["detail"]
    assert "connexion vérifiée" in by_kind["pass_reissue"]["detail"]
    # Teardown with export: the export verifies, then nobody of the kit can sign in.
    assert "export vérifié" in by_kind["end_of_forensics"]["detail"]
    assert "plus aucune connexion possible" in by_kind["end_of_forensics"]["detail"]
    # The storm was met by the one shared client, and waited out.
    assert "429" in by_kind["throttling_storm"]["detail"]
    assert data["totals"]["throttled"] > 0 and data["totals"]["throttled"] <= data["totals"][
        "retries"]
    # Time to operational is measured, and never beats the service's own delays.
    (commune,) = data["communes"]
    assert commune["operational_at"] is not None
    assert commune["time_to_operational"] >= commune["service_delay"] > 0
    assert set(commune["milestones"]) == {"connexion", "messagerie", "equipe"}
    # The report, as observers get it.
    paths = {k: Path(v) for k, v in data["report"].items()}
    assert set(paths) == {"md", "html", "pdf", "png", "json"}
    markdown = paths["md"].read_text(encoding="utf-8")
    for heading in ("## Chronogramme prévu et exécuté", "## Délai de mise en service par commune",
                    "## Trafic Graph et incidents", "### Ce qui a bien fonctionné",
                    "### Ce qui n’a pas fonctionné", "### Actions"):
        assert heading in markdown
    import html5lib

    page = paths["html"].read_text(encoding="utf-8")
    tree = html5lib.parse(page, namespaceHTMLElements=False)
    images = tree.findall(".//img")
    assert len(images) == 1 and images[0].get("src", "").startswith("data:image/png;base64,")
    assert tree.findall(".//script") == []
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(paths["pdf"]).pages).replace("\xad", "-")
    assert "Rapport d" in text and "Aix-en-Provence" in text and "RETEX" in text
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["events"] == events


SHORT = """\
name: rejouee
title: Exercice rejoué
description: Le même exercice, la même graine, deux fois.
communes: [aix-en-provence]
tenant:
  profile: realistic
  faults: {stale_read_rate: 0, replication_404_rate: 0}
speed: 2000
seed: 9
injects:
  - {at: T+0, kind: commune_hit, commune: aix-en-provence}
  - {at: T+3 min, kind: device_lost, commune: aix-en-provence, person: claire.vasseur}
  - {at: T+4 min, kind: pass_reissue, commune: aix-en-provence, people: [claire.vasseur]}
  - {at: T+20 min, kind: end_of_exercise}
"""


def test_the_same_seed_plays_the_same_exercise(tmp_path: Path) -> None:
    scenario = tmp_path / "rejouee.yaml"
    scenario.write_text(SHORT, encoding="utf-8")

    def play(n: int) -> list[tuple[str, str, int, str]]:
        result = CliRunner().invoke(app, [
            "-i", str(SAMPLE), "--home", str(tmp_path / f"home{n}"), "exercise", "run",
            str(scenario), "--report", str(tmp_path / f"rapport{n}"), "--output", "json",
        ], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        events = json.loads(result.stdout)["events"]
        # What happened, not when: durations and throttling depend on the machine's pace.
        return [(e["kind"], e["outcome"], e["attempts"],
                 e["detail"] if e["kind"] in ("device_lost", "pass_reissue") else "")
                for e in events]

    first = play(1)
    assert [kind for kind, *_ in first] == [
        "commune_hit", "device_lost", "pass_reissue", "end_of_exercise"]
    assert "remplacé par" in first[1][3]
    assert play(2) == first
