"""Benchmark crisis exercises: the mass incident, and how activation scales with communes.

Usage: python bench/exercise.py [--speed 60] [--rate 20] [--burst 10] [--sizes 1,5,20]
                                [--report DIR] [--skip-mass]

What it does, in one process (as `crisiskit exercise run` does: the embedded simulator, one
Graph client and one throttling budget shared by every commune):

1. the shipped mass-incident scenario (playbooks/exercises/fournisseur-commun.yaml: five
   communes hit within ten minutes, a throttling storm) at `--speed` (60: the hour of the
   scenario lasts about a minute): each commune's time to operational (activation start →
   every account can sign in, mailboxes ready, Team ready) against the service's own delay,
   and the total (first hit → last commune operational);
2. generated communes (4 accounts each, standard playbook), all hit at T+0, for each size of
   `--sizes`, under a fixed throttling budget: the simulator's per-client rate `--rate`
   requests/s (burst `--burst`), the realistic profile otherwise. T(N) is the exercise time
   until the last commune is operational; the baseline is N × T(1), measured in the same run
   (one commune after another);
3. where the time goes, per size: the Graph door's waits (Retry-After of 429 answers and
   retry back-offs; waits for a free slot of the bounded concurrency), the service's delays
   the engine waited on (Team on a young group, mailboxes, SharePoint, consistency reads),
   as task-seconds summed over concurrent operations, and the requests (each a loopback
   round trip of the simulator's `latency_ms`); the budget floor is the requests the service
   processed (429 answers are not) divided by the rate: no schedule can take less wall time.

Figures are exercise time (scenario seconds) unless marked wall.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from crisiskit.cli.wiring import run_exercise  # noqa: E402
from crisiskit.exercise.report import duration_fr, requests, write_report  # noqa: E402
from crisiskit.exercise.scenario import load_scenario  # noqa: E402
from crisiskit.inventory import load_inventory  # noqa: E402

PLAYBOOKS = REPO / "playbooks"


def _scaling_scenario(directory: Path, n: int, speed: float, rate: float, burst: float) -> Path:
    path = directory / f"echelle-{n}.yaml"
    path.write_text(f"""\
name: echelle-{n}
title: {n} communes touchées en même temps
generated: {{communes: {n}, roster: 4}}
tenant:
  profile: realistic
  faults: {{throttle_rate: {rate}, throttle_burst: {burst}}}
speed: {speed}
seed: 1
injects:
  - {{at: T+0, kind: commune_hit, commune: all}}
  - {{at: T+1 min, kind: end_of_exercise}}
""", encoding="utf-8")
    return path


def _last_operational(result: Any) -> float | None:
    done = [c.operational_at for c in result.communes]
    return None if any(d is None for d in done) else max(d for d in done if d is not None)


def _waits(result: Any) -> str:
    w = result.waits
    return (f"429/retry waits {w['graph_retry_after_s']:.1f} s, queue {w['graph_queue_s']:.1f} s,"
            f" service delays {w['service_s']:.1f} s (wall task-seconds)")


def mass(speed: float, report: Path | None) -> None:
    inventory = load_inventory(REPO / "inventory.yaml")
    scenario = load_scenario(PLAYBOOKS / "exercises" / "fournisseur-commun.yaml", inventory,
                             PLAYBOOKS).with_options(speed=speed)
    start = time.monotonic()
    result = run_exercise(scenario, operator="bench")
    wall = time.monotonic() - start
    print(f"\n1. Mass incident ({scenario.name}), speed x{speed:g}: {wall:.1f} s wall "
          f"(scenario {duration_fr(scenario.end)})")
    print(f"   {'commune':<20} {'hit':>8} {'operational':>12} {'time to op.':>12} "
          f"{'service own':>12}")
    for c in result.communes:
        took = c.time_to_operational
        print(f"   {c.id:<20} {duration_fr(c.hit_at or 0):>8} "
              f"{duration_fr(c.operational_at) if c.operational_at else '-':>12} "
              f"{duration_fr(took) if took is not None else 'NOT':>12} "
              f"{duration_fr(c.service_delay):>12}")
    last = _last_operational(result)
    first = min(c.hit_at for c in result.communes if c.hit_at is not None)
    print(f"   total: first hit -> last commune operational "
          f"{duration_fr(last - first) if last is not None else 'not reached'}")
    t = result.totals
    print(f"   Graph: {requests(t)} requests ({t['http_requests']} HTTP exchanges), "
          f"{t['throttled']} throttled (429), {t['retries']} retries, {t['ambiguous']} "
          f"uncertain writes; {_waits(result)}")
    for e in result.events:
        if e.outcome == "failed":
            print(f"   FAILED {e.title}: {e.detail}")
        if e.attempts > 1:
            print(f"   {e.commune}: rerun {e.attempts - 1} time(s) to finish: {e.notes[0]}")
    if report is not None:
        written = write_report(result, report)
        print(f"   report: {', '.join(str(p) for p in written.paths.values())}")


def scaling(sizes: list[int], speed: float, rate: float, burst: float) -> None:
    inventory = load_inventory(REPO / "inventory.yaml")
    print(f"\n2. Scaling: N generated communes hit at T+0, speed x{speed:g}, throttling budget "
          f"{rate:g} requests/s per client (burst {burst:g})")
    print(f"   {'N':>3} {'T(N)':>12} {'N x T(1)':>12} {'ratio':>6} {'wall':>7} {'requests':>9} "
          f"{'429':>5} {'budget floor':>12} "
          f"{'per commune: 429 wait / queue / service (wall s)':>50}")
    one: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            scenario = load_scenario(_scaling_scenario(Path(tmp), n, speed, rate, burst),
                                     inventory, PLAYBOOKS)
            start = time.monotonic()
            result = run_exercise(scenario, operator="bench")
            wall = time.monotonic() - start
            last = _last_operational(result)
            if last is None:
                print(f"   {n:>3} not every commune became operational: "
                      + "; ".join(f"{c.id} {c.problem}" for c in result.communes if c.problem))
                continue
            if n == 1 or one is None:
                one = last / n if n == 1 else None
            base = one * n if one is not None else None
            ratio = f"{last / base:.2f}" if base else "-"
            w = result.waits
            per = (f"{w['graph_retry_after_s'] / n:.2f} / {w['graph_queue_s'] / n:.2f} / "
                   f"{w['service_s'] / n:.2f}")
            t = result.totals
            # Requests the service processed (a 429 is not processed), at the budget's rate:
            # no schedule can be shorter than that, in wall seconds.
            floor = (requests(t) - t["throttled"]) / rate
            print(f"   {n:>3} {duration_fr(last):>12} "
                  f"{duration_fr(base) if base else '-':>12} {ratio:>6} {wall:>6.1f}s "
                  f"{requests(t):>9} {t['throttled']:>5} {floor:>11.1f}s {per:>50}")
            reruns = [e for e in result.events if e.attempts > 1]
            if reruns:
                why = sorted({m.group(1) for e in reruns for note in e.notes
                              if (m := re.search(r": ([^:()]*)\)", note))})
                print(f"       {len(reruns)} of {n} activations rerun to finish "
                      f"({'; '.join(why)[:120]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=float, default=10.0)
    parser.add_argument("--sizes", default="1,5,20")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--skip-mass", action="store_true")
    args = parser.parse_args()
    if not args.skip_mass:
        mass(args.speed, args.report)
    scaling([int(x) for x in args.sizes.split(",")], args.speed, args.rate, args.burst)


if __name__ == "__main__":
    main()
