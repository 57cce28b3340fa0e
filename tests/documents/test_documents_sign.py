"""Optional PAdES signature: a signed PDF validates; a byte changed afterwards does not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from doc_helpers import IDENTITY, REPO, complete_sheet
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.documents.handover import write_handover
from crisiskit.documents.sign import PASSWORD_ENV, load_signer
from crisiskit.errors import InputError
from crisiskit.secrets import Secret


def validate(data: bytes, ca_pem: bytes) -> object:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    _, _, der = pem.unarmor(ca_pem)
    context = ValidationContext(trust_roots=[x509.Certificate.load(der)])
    reader = PdfFileReader(io.BytesIO(data))
    (signature,) = reader.embedded_signatures
    return validate_pdf_signature(signature, context)


def test_a_signed_pdf_validates_and_a_changed_byte_breaks_it(
    tmp_path: Path, signing_p12: tuple[Path, bytes, str]
) -> None:
    p12, ca_pem, password = signing_p12
    signer = load_signer(p12, Secret(password))
    written = write_handover(tmp_path, complete_sheet(), IDENTITY, signer=signer)
    data = written.paths["pdf"].read_bytes()
    status = validate(data, ca_pem)
    assert status.intact and status.valid and status.trusted  # type: ignore[attr-defined]
    assert status.bottom_line  # type: ignore[attr-defined]

    # Change one byte inside the signed range (the page content, far from the signature).
    index = data.index(b"stream") + 20
    tampered = data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
    broken = validate(tampered, ca_pem)
    assert not broken.intact and not broken.bottom_line  # type: ignore[attr-defined]


def test_an_untrusted_signer_is_not_trusted(
    tmp_path: Path, signing_p12: tuple[Path, bytes, str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    p12, _, password = signing_p12
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autre CA")])
    now = datetime.now(UTC)
    other = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(key.public_key()).serial_number(1)
             .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(key, hashes.SHA256()))
    written = write_handover(tmp_path, complete_sheet(), IDENTITY,
                             signer=load_signer(p12, Secret(password)))
    status = validate(written.paths["pdf"].read_bytes(),
                      other.public_bytes(serialization.Encoding.PEM))
    assert status.intact and not status.trusted  # type: ignore[attr-defined]


def test_a_wrong_password_or_a_missing_file_is_an_input_error(
    tmp_path: Path, signing_p12: tuple[Path, bytes, str]
) -> None:
    p12, _, _ = signing_p12
    with pytest.raises(InputError, match=f"password is wrong .*{PASSWORD_ENV}"):
        load_signer(p12, Secret("faux"))
    with pytest.raises(InputError, match="cannot read"):
        load_signer(tmp_path / "absent.p12", Secret("x"))


def test_cli_signs_with_the_password_from_the_environment(
    tmp_path: Path, signing_p12: tuple[Path, bytes, str]
) -> None:
    p12, ca_pem, password = signing_p12
    args = ["-i", str(REPO / "inventory.yaml"), "--home", str(tmp_path), "--output", "json",
            "rgpd", "record", "--format", "pdf", "--sign-with", str(p12)]
    refused = CliRunner().invoke(app, args, env={PASSWORD_ENV: "faux"})
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert list(tmp_path.glob("outputs/*")) == []  # refused before writing anything
    result = CliRunner().invoke(app, args, env={PASSWORD_ENV: password})
    assert result.exit_code == 0, result.output
    pdf = Path(json.loads(result.stdout)["files"]["pdf"])
    assert validate(pdf.read_bytes(), ca_pem).bottom_line  # type: ignore[attr-defined]
    assert password not in result.output


def test_signing_works_from_inside_an_event_loop(
    tmp_path: Path, signing_p12: tuple[Path, bytes, str]
) -> None:
    # `activate` writes its documents from inside its event loop, where pyHanko's synchronous
    # API could not start its own.
    import asyncio

    p12, ca_pem, password = signing_p12
    signer = load_signer(p12, Secret(password))

    async def write() -> Path:
        return write_handover(tmp_path, complete_sheet(), IDENTITY, signer=signer).paths["pdf"]

    pdf = asyncio.run(write())
    assert validate(pdf.read_bytes(), ca_pem).bottom_line  # type: ignore[attr-defined]
