"""Fixtures for the Graph door's tests: scripted loopback servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from graph_scripted import Handler, ScriptedServer


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], ScriptedServer]]:
    """Start scripted servers on demand; stop them all at the end of the test."""
    servers: list[ScriptedServer] = []

    def start(handler: Handler) -> ScriptedServer:
        server = ScriptedServer(handler).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
