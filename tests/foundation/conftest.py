"""Fixtures for the foundation tests: the shipped sample data and throw-away inventories."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAMPLE = REPO / "inventory.yaml"
PLAYBOOKS = REPO / "playbooks"
BASE = HERE / "base.yaml"
BROKEN = HERE / "broken"


@pytest.fixture
def base_text() -> str:
    """Return the small valid inventory the broken corpus derives from."""
    return BASE.read_text(encoding="utf-8")


@pytest.fixture
def write_inventory(tmp_path: Path) -> Callable[[str], Path]:
    """Return a function writing an inventory (with the shipped playbooks beside it)."""
    shutil.copytree(PLAYBOOKS, tmp_path / "playbooks")

    def write(text: str, name: str = "inventory.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
