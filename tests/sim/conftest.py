"""Shared fixtures of the per-family simulator tests: an empty tenant per module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator, build_router

ADMIN_ROLES = tuple(sorted(build_router().grants()))  # as tests/conftest.py


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedSimulator]:
    with EmbeddedSimulator(roles=ADMIN_ROLES) as es:
        yield es


@pytest.fixture
def es(server: EmbeddedSimulator) -> EmbeddedSimulator:
    server.reset()
    return server


@pytest.fixture
def http(es: EmbeddedSimulator) -> Iterator[httpx.Client]:
    with es.client() as client:
        yield client
