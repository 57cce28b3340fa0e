"""Fixtures of the fault tests: simulator subprocesses and a reference activation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faultruns import Activation, activate_fresh


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Activation]:
    """Return the uninterrupted activation of the sample commune every fault run must equal."""
    run = activate_fresh(tmp_path_factory.mktemp("reference"))
    yield run
    run.sim.close()
