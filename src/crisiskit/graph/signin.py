"""Signing in to Microsoft Entra ID: every failure of azure-identity becomes one sentence.

    SignIn(credential, where)    the credential kiota calls; a failed `get_token` raises
                                 `SignInFailed` (exit 3) saying what to check, never a traceback
    explain(exc)                 the sentence for an azure-identity / azure-core exception
    certificate_expiry(path, pw) when a certificate file stops being valid (checked before any
                                 request: an expired certificate is refused here, not by Entra)

Entra ID names its refusals with AADSTS codes (in the message azure-identity raises); the
common ones an operator can act on are spelled out, any other is quoted as Entra gave it.
azure-identity also logs each failure as a warning: that log is silenced here, since the
sentence says it all.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiskit.errors import SignInFailed

_AADSTS = re.compile(r"AADSTS(\d+):?\s*([^\r\n]*)")
_TRAILER = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*$")

# What to check, per Entra ID error code (learn.microsoft.com, "Microsoft Entra
# authentication and authorization error codes").
HINTS = {
    "7000215": "the client secret is wrong: check AZURE_CLIENT_SECRET (the secret's value, "
               "not its id)",
    "7000222": "the client secret has expired: create a new one on the application and set "
               "AZURE_CLIENT_SECRET",
    "700027": "the certificate was not accepted (expired, or not registered on the "
              "application): check tenant.certificate_path and the application's certificates",
    "700024": "the signed assertion is outside its validity window: check this machine's clock",
    "700016": "the application (tenant.client_id) does not exist in this tenant",
    "7000112": "the application is disabled in this tenant",
    "90002": "the tenant (tenant.tenant_id) does not exist",
    "900023": "tenant.tenant_id is not a valid tenant id or domain",
    "50049": "the authority (tenant.authority_host) is not a valid Entra ID authority",
}


def explain(exc: BaseException) -> str:
    """Return what went wrong with a sign-in, for people (no secret is ever in it)."""
    kind = type(exc).__name__
    text = str(getattr(exc, "message", None) or exc)
    found = _AADSTS.search(text)
    if found:
        code, said = found.group(1), _TRAILER.sub("", found.group(2)).strip()
        hint = HINTS.get(code)
        detail = f"{hint} (AADSTS{code}: {said})" if hint else f"AADSTS{code}: {said}"
        return f"Microsoft Entra ID refused the sign-in: {detail}"
    if kind == "CredentialUnavailableError":
        return f"no credential could be used: {_first_line(text)}"
    if kind in ("ServiceRequestError", "ServiceRequestTimeoutError", "ClientConnectorError"):
        return f"the sign-in endpoint cannot be reached: {_first_line(text)}"
    return f"the sign-in failed ({kind}): {_first_line(text)}"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"^\w+Credential\.get_token failed:\s*", "", line)
    return line[:300] or "no detail"


class SignIn:
    """Wrap an azure-identity credential so that a failed sign-in is a `SignInFailed`."""

    def __init__(self, credential: Any, where: str) -> None:
        self._credential = credential
        self._where = where
        # azure-identity logs each failure at WARNING; without handlers, Python would print it.
        logging.getLogger("azure.identity").addHandler(logging.NullHandler())
        logging.getLogger("azure.identity").propagate = False

    def _failed(self, exc: BaseException) -> SignInFailed:
        return SignInFailed(
            f"cannot sign in to Microsoft Entra ID ({self._where}): {explain(exc)}; then run "
            "the command again"
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        try:
            result = self._credential.get_token(*scopes, **kwargs)
        except Exception as exc:  # noqa: BLE001 - azure-identity raises several families
            raise self._failed(exc) from None
        if inspect.isawaitable(result):
            return self._settle(result)
        return result

    async def _settle(self, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except Exception as exc:  # noqa: BLE001
            raise self._failed(exc) from None

    async def close(self) -> None:
        close = getattr(self._credential, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


def certificate_expiry(path: Path, password: str | None) -> datetime | None:
    """Return when the certificate in a PEM or PFX file expires (None if it cannot be read)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = x509.load_pem_x509_certificates(data)
            cert = certs[0] if certs else None
        else:
            _, cert, _ = pkcs12.load_key_and_certificates(
                data, password.encode() if password else None
            )
    except (ValueError, TypeError):
        return None
    return cert.not_valid_after_utc if cert is not None else None
