"""Several communes of one command: the inventory is read and checked once, for all of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import REPO, SAMPLE

from crisiskit.engine.context import load_setup, load_setups
from crisiskit.errors import InputError

FIVE = ["aubagne", "aix-en-provence", "la-ciotat", "martigues", "cassis"]


def test_the_communes_of_one_command_share_one_inventory_read_once(tmp_path: Path) -> None:
    setups = load_setups(SAMPLE, REPO / "playbooks", tmp_path, FIVE, None)
    assert [s.commune.id for s in setups] == FIVE
    # One inventory read and checked for all (checking it per commune cost a tenth of a
    # second each before `activate A B C D E` sent anything).
    assert all(s.inventory is setups[0].inventory for s in setups)
    one = load_setup(SAMPLE, REPO / "playbooks", tmp_path, "cassis", None)
    assert one.commune == setups[-1].commune and one.playbook == setups[-1].playbook
    assert one.inventory is not setups[0].inventory  # another command, another read


def test_an_unknown_commune_among_several_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nowhere"):
        load_setups(SAMPLE, REPO / "playbooks", tmp_path, ["aubagne", "nowhere"], None)
