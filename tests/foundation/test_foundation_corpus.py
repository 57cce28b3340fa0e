"""The broken-inventory corpus: each file's problems, with their exact locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiskit.errors import InputError
from crisiskit.inventory import check_inventory

HERE = Path(__file__).resolve().parent
PLAYBOOKS = HERE.parents[1] / "playbooks"
CASES = sorted((HERE / "broken").glob("*.yaml"))


def _report(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        check_inventory(path, PLAYBOOKS)
    text = str(caught.value).replace(str(path), path.name).replace(str(PLAYBOOKS), "PLAYBOOKS")
    return text.splitlines()


def test_the_corpus_has_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15
    assert all(case.with_suffix(".expected").is_file() for case in CASES)


def test_the_base_of_the_corpus_is_valid() -> None:
    checked = check_inventory(HERE / "base.yaml", PLAYBOOKS)
    assert [c.id for c in checked.inventory.communes] == ["aubagne", "cassis"]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_broken_inventory_reports_every_problem_at_its_location(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert _report(path) == expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_report_line_names_the_file(path: Path) -> None:
    for line in _report(path):
        assert line.startswith(f"{path.name}:")
