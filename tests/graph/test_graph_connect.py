"""Wiring: lazy imports, national clouds, credentials per `tenant.auth`, static tokens."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crisiskit.errors import EXIT_PRECONDITION, InputError, PreconditionFailed
from crisiskit.graph import graph_base_url, graph_scope, open_graph
from crisiskit.graph.connect import build_credential


@dataclass
class FakeTenant:
    """The tenant settings the Graph door reads (the inventory's `Tenant` has these fields)."""

    auth: str = "client_secret"
    tenant_id: str = "11111111-2222-3333-4444-555555555555"
    client_id: str = "66666666-7777-8888-9999-000000000000"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    authority_host: str = "https://login.microsoftonline.com"
    certificate_path: str | None = None


def test_importing_the_graph_package_loads_no_sdk() -> None:
    code = (
        "import sys, crisiskit.graph\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('msgraph', 'msgraph_core', 'kiota_abstractions', 'kiota_http', 'azure', 'httpx')]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "base", "scope"),
    [
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/v1.0",
         "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.us/", "https://graph.microsoft.us/v1.0",
         "https://graph.microsoft.us/.default"),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0/", "https://microsoftgraph.chinacloudapi.cn/v1.0",
         "https://microsoftgraph.chinacloudapi.cn/.default"),
        ("http://127.0.0.1:8765/v1.0", "http://127.0.0.1:8765/v1.0", "http://127.0.0.1/.default"),
    ],
)
def test_base_url_and_scope_follow_the_cloud(url: str, base: str, scope: str) -> None:
    assert graph_base_url(url) == base
    assert graph_scope(url) == scope


def test_a_bad_graph_url_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not a Graph URL"):
        graph_base_url("graph.microsoft.com")


@pytest.mark.parametrize(
    ("auth", "env", "cls"),
    [
        ("client_secret", {"AZURE_CLIENT_SECRET": "s"}, "ClientSecretCredential"),
        ("managed_identity", {}, "ManagedIdentityCredential"),
        ("device_code", {}, "DeviceCodeCredential"),
        ("environment", {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c",
                         "AZURE_CLIENT_SECRET": "s"}, "EnvironmentCredential"),
    ],
)
def test_each_auth_mode_builds_its_credential(auth: str, env: dict[str, str], cls: str) -> None:
    async def build() -> str:
        credential = build_credential(FakeTenant(auth=auth), env)
        name = type(credential).__name__
        close = getattr(credential, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        return name

    assert asyncio.run(build()) == cls


def test_certificate_credential_reads_the_certificate_path(tmp_path: Path) -> None:
    with pytest.raises(PreconditionFailed, match="certificate_path"):
        build_credential(FakeTenant(auth="certificate"), {})
    with pytest.raises(PreconditionFailed, match="file not found"):
        build_credential(FakeTenant(auth="certificate", certificate_path=str(tmp_path / "x")), {})


@pytest.mark.parametrize(
    ("auth", "env", "missing"),
    [
        ("client_secret", {}, "AZURE_CLIENT_SECRET"),
        ("environment", {"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"}, "AZURE_TENANT_ID"),
        ("environment", {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, "AZURE_CLIENT_SECRET"),
    ],
)
def test_a_missing_variable_fails_the_precondition_naming_it(
    auth: str, env: dict[str, str], missing: str
) -> None:
    with pytest.raises(PreconditionFailed, match=missing) as caught:
        build_credential(FakeTenant(auth=auth), env)
    assert caught.value.exit_code == EXIT_PRECONDITION


def test_unknown_auth_mode_and_plain_http_authority_are_input_errors() -> None:
    with pytest.raises(InputError, match="password"):
        build_credential(FakeTenant(auth="password"), {})
    with pytest.raises(InputError, match="https"):
        plain = FakeTenant(authority_host="http://login.example")
        build_credential(plain, {"AZURE_CLIENT_SECRET": "s"})


def test_open_graph_for_a_real_tenant_makes_no_request_before_use() -> None:
    async def scenario() -> tuple[str, int]:
        graph = open_graph(FakeTenant(graph_url="https://graph.microsoft.us"),
                           env={"AZURE_CLIENT_SECRET": "not-used"})
        try:
            return graph.base_url, graph.stats.http_requests
        finally:
            await graph.aclose()

    assert asyncio.run(scenario()) == ("https://graph.microsoft.us/v1.0", 0)


def test_open_graph_missing_secret_fails_before_any_request() -> None:
    with pytest.raises(PreconditionFailed, match="AZURE_CLIENT_SECRET"):
        open_graph(FakeTenant(), env={})


def test_static_endpoint_needs_both_url_and_token() -> None:
    with pytest.raises(PreconditionFailed, match="CRISISKIT_GRAPH_TOKEN"):
        open_graph(None, base_url="http://127.0.0.1:9/v1.0")
    with pytest.raises(PreconditionFailed, match="CRISISKIT_GRAPH_URL"):
        open_graph(None, token="t")


class RecordingCredential:
    """An azure-identity-shaped async credential: the edge of the world (Entra ID)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("entra-issued-token", 2_000_000_000)


def test_azure_path_sends_the_credential_token_with_the_cloud_scope(serve: Any) -> None:
    from graph_scripted import ok

    server = serve(lambda r: ok({"value": []}))
    credential = RecordingCredential()

    async def scenario() -> None:
        tenant = FakeTenant(graph_url=server.base_url)
        graph = open_graph(tenant, credential=credential, env={})
        try:
            await graph.request("GET", "/subscribedSkus")
        finally:
            await graph.aclose()

    asyncio.run(scenario())
    assert server.requests[0].headers["authorization"] == "Bearer entra-issued-token"
    assert credential.scopes == [("http://127.0.0.1/.default",)]
