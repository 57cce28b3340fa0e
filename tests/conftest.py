"""Shared fixtures: the sample inventory, a running Graph simulator, real msgraph-sdk clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401
import pytest

from crisiskit.inventory import Inventory, load_inventory
from crisiskit.sim.server import EmbeddedSimulator, build_router

# Imported up front on purpose: CPython 3.11.7 can fail with "AST constructor recursion depth
# mismatch" when pytest's assertion rewriter first compiles hypothesis late in a session that
# ran msgraph-sdk coroutines (seen at terminal-summary time, after all tests passed).
REPO = Path(__file__).resolve().parent.parent
SAMPLE_INVENTORY = REPO / "inventory.yaml"
SIM_TOKEN = "test-token"
# An application consented to every application permission the simulator knows: the
# simulator's own tests exercise every endpoint; crisiskit's tests keep the default
# (README's least-privilege) roles, and permission tests narrow them with `set_roles`.
ADMIN_ROLES = tuple(sorted(build_router().grants()))


@pytest.fixture(scope="session")
def sample_inventory() -> Inventory:
    """Return the Inventory of the repository's sample `inventory.yaml`."""
    return load_inventory(SAMPLE_INVENTORY)


@pytest.fixture(scope="session")
def _sim_session(sample_inventory: Inventory) -> Iterator[EmbeddedSimulator]:
    with EmbeddedSimulator(sample_inventory, profile="instant", seed=0, roles=ADMIN_ROLES) as sim:
        yield sim


@pytest.fixture
def sim(_sim_session: EmbeddedSimulator) -> EmbeddedSimulator:
    """Return the session's simulator (instant, seeded from the sample inventory), reset."""
    _sim_session.reset()
    return _sim_session


@pytest.fixture
def graph_client_factory(
    sim: EmbeddedSimulator, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """Return `make(token=None, base_url=None)` building a real GraphServiceClient on the sim.

    The client must be created and used inside one event loop (one `asyncio.run`), and closed
    with `await simhelp.close_sdk_client(client)` (the HTTP client and its connection pool).
    """
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from kiota_http.middleware.retry_handler import RetryHandler
    from msgraph import GraphRequestAdapter, GraphServiceClient

    monkeypatch.setattr(RetryHandler, "get_delay_time", lambda *args, **kwargs: 0)

    class StaticToken(AccessTokenProvider):  # type: ignore[misc]
        def __init__(self, token: str) -> None:
            self.token = token

        async def get_authorization_token(
            self, uri: str, additional_authentication_context: dict[str, Any] | None = None
        ) -> str:
            return self.token

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator([])

    def make(token: str | None = None, base_url: str | None = None) -> Any:
        provider = BaseBearerTokenAuthenticationProvider(StaticToken(token or SIM_TOKEN))
        adapter = GraphRequestAdapter(provider)
        adapter.base_url = base_url or sim.base_url
        return GraphServiceClient(request_adapter=adapter)

    return make
