"""Build the one Graph client of a process: real tenant (azure-identity) or static bearer token.

One code path for the three endpoints: a real tenant, the embedded simulator (`--sandbox`),
and any Graph-compatible endpoint given by `CRISISKIT_GRAPH_URL` + `CRISISKIT_GRAPH_TOKEN`.
All of them use the msgraph-sdk request adapter with the same middleware; only the
authentication provider differs. msgraph, kiota and azure are imported here, inside functions,
so that commands that never talk to Graph do not pay for them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from crisiskit.clock import SYSTEM, Clock
from crisiskit.errors import InputError, PreconditionFailed, SignInFailed
from crisiskit.graph.client import Graph, WriteHook
from crisiskit.graph.policy import RetryPolicy
from crisiskit.graph.signin import SignIn, certificate_expiry
from crisiskit.secrets import Secret

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


class TenantSettings(Protocol):
    """What the Graph door reads from `Inventory.tenant`."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def client_id(self) -> str: ...

    @property
    def graph_url(self) -> str: ...

    @property
    def auth(self) -> Any: ...

    @property
    def certificate_path(self) -> str | Path | None: ...

    @property
    def authority_host(self) -> str: ...


def graph_base_url(url: str) -> str:
    """Return the version root of a Graph URL, without trailing slash (`…/v1.0` if none given)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"not a Graph URL: {url!r} (expected https://host[/v1.0])")
    path = parts.path.rstrip("/") or "/v1.0"
    return f"{parts.scheme}://{parts.netloc}{path}"


def graph_scope(url: str) -> str:
    """Return the `.default` scope of the Graph cloud serving `url` (national clouds too)."""
    parts = urlsplit(graph_base_url(url))
    # Host only: Entra ID rejects `.default` scopes that carry a port or userinfo.
    host = parts.hostname or ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}/.default"


def _auth_mode(tenant: TenantSettings) -> str:
    mode = getattr(tenant.auth, "value", tenant.auth)
    return str(mode).replace("-", "_").lower()


def _need(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name, "")
    if not value:
        raise PreconditionFailed(f"environment variable {name} is not set ({why})")
    return value


def build_credential(
    tenant: TenantSettings, env: Mapping[str, str] | None = None, *, clock: Clock = SYSTEM
) -> Any:
    """Return the azure-identity credential that `tenant.auth` names; check its inputs first.

    A missing environment variable or certificate raises `PreconditionFailed` naming it, and
    an expired certificate `SignInFailed`, before any request is made.
    """
    # The core reads no environment: the CLI hands `os.environ` in.
    env = {} if env is None else env
    mode = _auth_mode(tenant)
    authority = tenant.authority_host or DEFAULT_AUTHORITY
    if not authority.startswith("https://"):
        raise InputError(f"tenant.authority_host must be an https URL, got {authority!r}")
    if mode == "client_secret":
        from azure.identity.aio import ClientSecretCredential

        secret = Secret(_need(env, "AZURE_CLIENT_SECRET", "tenant.auth is client_secret"))
        return ClientSecretCredential(
            tenant.tenant_id, tenant.client_id, secret.reveal(), authority=authority
        )
    if mode == "certificate":
        from azure.identity.aio import CertificateCredential

        path = tenant.certificate_path
        if path is None:
            raise PreconditionFailed("tenant.auth is certificate: set tenant.certificate_path")
        if not Path(path).is_file():
            raise PreconditionFailed(f"tenant.certificate_path: file not found: {path}")
        password = env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
        expires = certificate_expiry(Path(path), password)
        if expires is not None and expires <= clock.now():
            raise SignInFailed(
                f"cannot sign in to Microsoft Entra ID: the certificate {path} expired on "
                f"{expires:%Y-%m-%d %H:%M} UTC; register a new certificate on the application "
                "and point tenant.certificate_path at it, then run the command again"
            )
        return CertificateCredential(
            tenant.tenant_id,
            tenant.client_id,
            certificate_path=str(path),
            password=password,
            authority=authority,
        )
    if mode == "device_code":
        # azure.identity.aio has no device-code credential; kiota accepts the sync one, which
        # blocks the loop only while the operator signs in and when the token is refreshed.
        from azure.identity import DeviceCodeCredential

        def prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
            # stderr, so that `--output json` keeps stdout clean.
            print(f"To sign in, open {verification_uri} and enter {user_code}", file=sys.stderr)

        return DeviceCodeCredential(
            client_id=tenant.client_id,
            tenant_id=tenant.tenant_id,
            authority=authority,
            prompt_callback=prompt,
        )
    if mode == "managed_identity":
        from azure.identity.aio import ManagedIdentityCredential

        # A user-assigned identity is named by AZURE_CLIENT_ID; without it, system-assigned.
        identity = env.get("AZURE_CLIENT_ID") or None
        return ManagedIdentityCredential(client_id=identity)
    if mode == "environment":
        from azure.identity.aio import EnvironmentCredential

        _need(env, "AZURE_TENANT_ID", "tenant.auth is environment")
        _need(env, "AZURE_CLIENT_ID", "tenant.auth is environment")
        if not (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_CLIENT_CERTIFICATE_PATH")):
            raise PreconditionFailed(
                "environment variable AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH is "
                "not set (tenant.auth is environment)"
            )
        return EnvironmentCredential(authority=authority)
    raise InputError(
        f"tenant.auth {mode!r} is not one of client_secret, certificate, device_code, "
        "managed_identity, environment"
    )


class _StaticToken:
    """Hand a fixed bearer token to kiota, only for the configured Graph host."""

    def __init__(self, token: Secret, host: str) -> None:
        from kiota_abstractions.authentication import AllowedHostsValidator

        self._token = token
        self._hosts = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        if not self._hosts.is_url_host_valid(uri):
            return ""
        return self._token.reveal()

    def get_allowed_hosts_validator(self) -> Any:
        return self._hosts


def _http_client(timeout_s: float, max_concurrency: int) -> tuple[Any, Any]:
    """Return the SDK-wired httpx client and its innermost transport (the connection pool)."""
    import httpx
    from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
    from msgraph._version import VERSION
    from msgraph_core import APIVersion, GraphClientFactory
    from msgraph_core.middleware.options import GraphTelemetryHandlerOption

    native = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        http2=True,
        limits=httpx.Limits(
            max_connections=max(10, 2 * max_concurrency),
            max_keepalive_connections=max(10, 2 * max_concurrency),
        ),
    )
    options = {
        # Client-wide, so that even a typed SDK call (`Graph.sdk`) never retries a POST blind.
        RetryHandlerOption.get_key(): RetryHandlerOption(
            delay=0, max_retries=0, should_retry=False
        ),
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
        ),
        GraphTelemetryHandlerOption.get_key(): GraphTelemetryHandlerOption(
            api_version=APIVersion.v1, sdk_version=VERSION
        ),
    }
    pool = native._transport
    client = GraphClientFactory.create_with_default_middleware(client=native, options=options)
    return client, pool


def open_graph(
    tenant: TenantSettings | None,
    *,
    base_url: str | None = None,
    token: Secret | str | None = None,
    policy: RetryPolicy | None = None,
    max_concurrency: int = 8,
    timeout_s: float = 60.0,
    on_write: WriteHook | None = None,
    env: Mapping[str, str] | None = None,
    credential: Any = None,
    clock: Clock = SYSTEM,
) -> Graph:
    """Return a Graph client: static bearer token if `base_url`/`token` are given, else Azure.

    Call it inside the event loop that will use the client, and `await graph.aclose()` at the
    end. `tenant` may be None only with a static token. `credential` overrides the one
    `tenant.auth` names (any azure-identity credential, e.g. `AzureCliCredential`); the caller
    then owns it and closes it. `env` is where credentials' variables are read (the CLI
    passes `os.environ`; nothing else is consulted). Retries, pauses and deadlines are
    measured on `clock`.
    """
    import warnings

    with warnings.catch_warnings():
        # msgraph's generated builders emit DeprecationWarnings at import time.
        warnings.simplefilter("ignore", DeprecationWarning)
        from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_service_client import GraphServiceClient

    owned = False
    if base_url is not None or token is not None:
        if not base_url or token is None or not (
            token.reveal() if isinstance(token, Secret) else token
        ):
            raise PreconditionFailed(
                "CRISISKIT_GRAPH_URL and CRISISKIT_GRAPH_TOKEN must be set together"
            )
        root = graph_base_url(base_url)
        secret = token if isinstance(token, Secret) else Secret(token)
        host = urlsplit(root).hostname or ""
        provider: Any = _StaticToken(secret, host)
        auth: Any = BaseBearerTokenAuthenticationProvider(provider)
    else:
        if tenant is None:
            raise PreconditionFailed("no tenant settings and no static Graph endpoint")
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )

        root = graph_base_url(tenant.graph_url or DEFAULT_GRAPH_URL)
        owned = credential is None
        credential = build_credential(tenant, env, clock=clock) if owned else credential
        where = (
            f"tenant {tenant.tenant_id}, application {tenant.client_id}, "
            f"{_auth_mode(tenant)} at {tenant.authority_host or DEFAULT_AUTHORITY}"
        )
        credential = SignIn(credential, where)
        auth = AzureIdentityAuthenticationProvider(
            credential,
            scopes=[graph_scope(root)],
            allowed_hosts=[urlsplit(root).hostname or ""],
        )

    http_client, pool = _http_client(timeout_s, max_concurrency)
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = root
    sdk = GraphServiceClient(request_adapter=adapter)
    # msgraph-core's AsyncGraphTransport has no aclose(): closing the client alone would leave
    # the connection pool (and its sockets) open, so the pool is closed explicitly.
    closers: list[Any] = [http_client.aclose, pool.aclose]
    if owned and hasattr(credential, "close"):
        closers.append(credential.close)
    return Graph(
        adapter,
        sdk=sdk,
        policy=policy,
        max_concurrency=max_concurrency,
        on_write=on_write,
        closers=closers,
        clock=clock,
        http=http_client,
    )
