"""Measure crisiskit's start-up and validation speed against the cost of importing its libraries.

Run:  python bench/startup.py [--runs 15]

Reports the median wall time (subprocess, N runs, interleaved) of:
  * the baseline  `python -c "import typer, rich, pydantic, yaml"`
  * `crisiskit --help`
  * `crisiskit validate` on the sample inventory
and, in-process on one core, `validate` of a generated inventory of 92 communes, 3,000 roster
entries and 2,000 devices. Targets (issue 2's decision): --help within 1.5x the baseline;
validate within 2x the floor of what it cannot avoid importing (typer, yaml, phonenumbers,
rich.console, a pydantic model); the large inventory under 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "inventory.yaml"
PLAYBOOKS = REPO / "playbooks"

GIVEN = [
    "Jean", "Marie", "Hélène", "François", "Aïcha", "Loïc", "Zoé", "Jérôme", "Anaïs", "Noël",
    "Inès", "Mathis", "Élodie", "Karima", "Yannick", "Sophie", "Thomas", "Camille", "Hugo",
    "Lucie", "Rachid", "Ophélie", "Kévin", "Manon", "Rémi", "Valérie", "Sébastien", "Lætitia",
    "Bernard", "Didier", "Julie", "Patrick", "Sylvie", "Claire", "Laurent", "Nadia", "Gérard",
    "Marie-Hélène", "Jean-Luc", "Anne-Sophie", "Maëlle", "Chloé", "Léa", "Théo", "Yasmine",
    "Éric", "Agnès", "Bruno", "Céline", "Damien", "Estelle", "Fabrice", "Gaëlle", "Hervé",
    "Isabelle", "Joël", "Karine", "Ludovic", "Mireille", "Nicolas",
]
SURNAMES = [
    "Martin", "Dupont", "Garçon", "N'Diaye", "Le Goff", "Bérard", "D'Almeida", "Mérindol",
    "Chêne", "de La Fontaine", "Boucher", "Ollivier", "Fabre", "Haddad", "Moreau", "Rey",
    "Pons", "Lefèvre", "Marchetti", "Belkacem", "Ménard", "Aubert", "Icard", "Sauvaire",
    "Roux", "Coste", "Œuvray", "Estève", "Arnaud", "Santoni", "Giraud", "Roustan",
    "Vasseur", "Castellane", "Benali", "Lucciani", "Aïssaoui", "Tallon", "Chabaud", "Ferhat",
    "Bonnet", "Girard", "Lambert", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry",
    "Perrin", "Morel", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine",
    "Chevalier", "Robin", "Masson",
]
ROLES = ["maire", "dgs", "dsi", "communication", "police_municipale", "agent", "agent"]


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def generate_inventory(folder: Path, communes: int = 92, people: int = 3000,
                       devices: int = 2000) -> Path:
    """Write a large valid inventory (and the shipped playbooks) into `folder`."""
    shutil.copytree(PLAYBOOKS, folder / "playbooks")
    head = SAMPLE.read_text(encoding="utf-8").split("\ncommunes:\n", 1)[0]
    lines = [head, "communes:"]
    names = [(g, s) for s in SURNAMES for g in GIVEN][:people]
    per = people // communes
    for c in range(communes):
        share = names[c * per : (c + 1) * per] if c < communes - 1 else names[c * per :]
        lines += [
            f"  - id: commune-{c:03d}",
            f"    name: Commune {c:03d}",
            f'    insee: "13{c:03d}"',
            f"    address: Hôtel de Ville, 13{c:03d} Commune {c:03d}",
            "    mayor: Un Maire",
            "    convention:",
            f'      deliberation_number: "D-{c}"',
            "      deliberation_date: 2024-01-15",
            "      signature_date: 2024-02-01",
            "      notification_date: 2024-02-15",
            "    correspondent:",
            f"      name: Correspondant {c}",
            f"      email: dsi@commune-{c:03d}.fr",
            f'      phone: "04 65 71 {c // 100:02d} {c % 100:02d}"',
            f"    playbook: {'standard' if c % 2 else 'minimal'}",
            "    roster:",
        ]
        for i, (given, surname) in enumerate(share):
            lines.append(
                f'      - {{given_name: "{given}", surname: "{surname}", '
                f"role: {ROLES[i % len(ROLES)]}, team_owner: {str(i < 2).lower()}, "
                f"laptop: {str(i % 2 == 0).lower()}, phone: {str(i % 3 == 0).lower()}}}"
            )
    lines += ["devices:", "  laptops:"]
    for i in range(devices // 2):
        lines.append(
            f"    - {{asset_tag: PC-{i:05d}, serial: SN{i:08d}, model: Dell Latitude 5440}}"
        )
    lines.append("  phones:")
    for i in range(devices - devices // 2):
        body = f"35391811{i:06d}"
        number = f"07 57 {i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d}"
        lines.append(
            f'    - {{asset_tag: TEL-{i:05d}, imei: "{body}{_luhn(body)}", '
            f'number: "{number}", model: iPhone 13}}'
        )
    path = folder / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _crisiskit() -> list[str]:
    script = Path(sys.executable).with_name("crisiskit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crisiskit"]


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, children too
    commands = {
        "baseline: import typer, rich, pydantic, yaml": [
            sys.executable, "-c", "import typer, rich, pydantic, yaml"
        ],
        # What `validate` cannot avoid importing: pydantic's model machinery (which pulls in
        # importlib.metadata), rich's console and phonenumbers. Shown to explain the ratio.
        "floor: + BaseModel, rich.console, phonenumbers": [
            sys.executable, "-c", "import typer, rich, pydantic, yaml, rich.console, "
            "phonenumbers; from pydantic import BaseModel; import pydantic.plugin._loader"
        ],
        "crisiskit --help": [*_crisiskit(), "--help"],
        "crisiskit validate (sample)": [*_crisiskit(), "-i", str(SAMPLE), "validate"],
    }
    for cmd in commands.values():  # warm the OS cache and the bytecode cache
        _wall(cmd)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so drifting machine load hits all alike
        for name, cmd in commands.items():
            samples[name].append(_wall(cmd))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians["baseline: import typer, rich, pydantic, yaml"]

    from crisiskit.inventory import check_inventory

    with tempfile.TemporaryDirectory() as tmp:
        path = generate_inventory(Path(tmp))
        size = path.stat().st_size
        check_inventory(path)  # first call pays the imports; time the steady state separately
        large = []
        for _ in range(5):
            start = time.perf_counter()
            checked = check_inventory(path)
            large.append(time.perf_counter() - start)
    inv = checked.inventory
    roster = sum(len(c.roster) for c in inv.communes)
    devices = len(inv.devices.laptops) + len(inv.devices.phones)

    print(f"python {sys.version.split()[0]}, {args.runs} runs each, medians, one core")
    print(f"{'measure':<48} {'seconds':>8} {'ratio':>7}")
    floor = next(v for k, v in medians.items() if k.startswith("floor"))
    for name, value in medians.items():
        ratio = value / baseline
        print(f"{name:<48} {value:8.3f} {ratio:6.2f}x")
    # The decision on issue 2: --help against the baseline, validate against the floor.
    print(f"{'target':<48} {'':>8} {'ratio':>7} {'limit':>8}  ok")
    for name, against, what, limit in (
        ("crisiskit --help", baseline, "baseline", 1.5),
        ("crisiskit validate (sample)", floor, "floor", 2.0),
    ):
        ratio = medians[name] / against
        print(f"{name + ' / ' + what:<48} {'':>8} {ratio:6.2f}x {limit:>7}x  "
              f"{'yes' if ratio <= limit else 'NO'}")
    figure = statistics.median(large)
    label = (
        f"validate large ({len(inv.communes)} communes, {roster} roster, {devices} devices,"
        f" {size / 1e6:.1f} MB)"
    )
    print(f"{label}\n{'  in-process':<48} {figure:8.3f} {'':>7} {'< 1 s':>8}  "
          f"{'yes' if figure < 1 else 'NO'}")


if __name__ == "__main__":
    main()
