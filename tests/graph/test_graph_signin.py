"""A refused or unreachable sign-in is one sentence and exit 3, never a traceback.

The real CLI, the real azure-identity credentials, against a fake Microsoft Entra ID authority
on loopback: a small HTTPS server with a self-signed certificate (trusted through
`SSL_CERT_FILE`, which the TLS stack of azure-identity's transport honours), answering the
token endpoint as Entra ID does when it refuses (401 `invalid_client` with an AADSTS code).
`tenant.authority_host` points at it; no request ever leaves the machine.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TENANT = "4f6c2a1e-8b3d-4e7a-9c15-2d8e6f0a7b39"


def self_signed(folder: Path, *, days: float = 1, cn: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a self-signed certificate valid `days` from yesterday (negative: expired)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    cert = builder.sign(key, hashes.SHA256())
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{cn}-cert.pem", folder / f"{cn}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_path, key_path


@dataclass
class FakeAuthority:
    url: str
    ca: Path
    refusal: dict[str, Any] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[FakeAuthority]:
    cert, key = self_signed(tmp_path / "tls")
    fake = FakeAuthority("", cert)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fake.seen.append(self.path)
            body = json.dumps(fake.refusal).encode()
            self.send_response(401 if fake.refusal.get("error") == "invalid_client" else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def refusal(code: int, text: str, error: str = "invalid_client") -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: 0 Correlation ID: 0 "
                             "Timestamp: 2026-01-01 00:00:00Z",
        "error_codes": [code],
    }


def activate(
    tmp_path: Path, tenant: dict[str, Any], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    data = yaml.safe_load((REPO / "inventory.yaml").read_text(encoding="utf-8"))
    data["tenant"].update(tenant)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    for book in (REPO / "playbooks").glob("*.yaml"):
        (tmp_path / "playbooks" / book.name).write_text(book.read_text("utf-8"), "utf-8")
    child = {k: v for k, v in os.environ.items()
             if not k.startswith(("CRISISKIT_", "AZURE_", "PYTEST_"))}
    child.update({"CRISISKIT_HOME": str(tmp_path / "home"), "USER": "signin-tests",
                  "CRISISKIT_INVENTORY": str(inventory), "NO_COLOR": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "crisiskit", "activate", "aubagne", "--yes"],
        env=child, capture_output=True, text=True, timeout=120, cwd=REPO,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_a_wrong_client_secret_is_one_sentence_naming_the_variable(
    tmp_path: Path, authority: FakeAuthority
) -> None:
    authority.refusal = refusal(7000215, "Invalid client secret provided.")
    result = activate(
        tmp_path, {"authority_host": authority.url, "auth": "client_secret"},
        {"AZURE_CLIENT_SECRET": "not-the-secret", "SSL_CERT_FILE": str(authority.ca)},
    )
    line = one_sentence(result)
    assert "cannot sign in to Microsoft Entra ID" in line
    assert "the client secret is wrong: check AZURE_CLIENT_SECRET" in line
    assert "AADSTS7000215" in line and TENANT in line
    assert "not-the-secret" not in result.stderr + result.stdout
    assert authority.seen == [f"/{TENANT}/oauth2/v2.0/token"]


@pytest.mark.slow
def test_a_certificate_entra_refuses_is_one_sentence(
    tmp_path: Path, authority: FakeAuthority
) -> None:
    cert, key = self_signed(tmp_path / "app", cn="crisiskit-app")
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.read_bytes() + cert.read_bytes())
    authority.refusal = refusal(
        700027, "The certificate with identifier used to sign the client assertion is not "
        "registered on application."
    )
    result = activate(
        tmp_path,
        {"authority_host": authority.url, "auth": "certificate", "certificate_path": str(pem)},
        {"SSL_CERT_FILE": str(authority.ca)},
    )
    line = one_sentence(result)
    assert "the certificate was not accepted" in line and "AADSTS700027" in line


@pytest.mark.slow
def test_an_expired_certificate_is_refused_before_any_request(
    tmp_path: Path, authority: FakeAuthority
) -> None:
    cert, key = self_signed(tmp_path / "app", days=-1, cn="crisiskit-app")
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.read_bytes() + cert.read_bytes())
    result = activate(
        tmp_path,
        {"authority_host": authority.url, "auth": "certificate", "certificate_path": str(pem)},
        {"SSL_CERT_FILE": str(authority.ca)},
    )
    line = one_sentence(result)
    assert f"the certificate {pem} expired on " in line
    assert authority.seen == []


@pytest.mark.slow
def test_an_unreachable_authority_is_one_sentence(tmp_path: Path) -> None:
    result = activate(
        tmp_path, {"authority_host": "https://127.0.0.1:9", "auth": "client_secret"},
        {"AZURE_CLIENT_SECRET": "whatever"},
    )
    line = one_sentence(result)
    assert "the sign-in endpoint cannot be reached" in line
    assert "127.0.0.1:9" in line


def test_explain_spells_out_the_common_codes_and_quotes_the_others() -> None:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from azure.identity import CredentialUnavailableError

    from crisiskit.graph.signin import explain

    expired = ClientAuthenticationError(
        "Microsoft Entra ID error '(invalid_client) AADSTS7000222: The provided client secret "
        "keys for app 'x' are expired. Trace ID: 1 Correlation ID: 2'"
    )
    assert "the client secret has expired" in explain(expired)
    other = ClientAuthenticationError("AADSTS123456: Something new. Trace ID: 1")
    assert explain(other) == "Microsoft Entra ID refused the sign-in: AADSTS123456: Something new."
    assert "cannot be reached" in explain(ServiceRequestError("Cannot connect to host x"))
    assert "no credential could be used" in explain(CredentialUnavailableError("no identity"))
