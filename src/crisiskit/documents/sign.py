"""Optional electronic signature of the PDFs crisiskit writes: PAdES, through pyHanko.

    signer = load_signer(Path("signature.p12"))     # password: $CRISISKIT_SIGN_PASSWORD
    signed = signer.sign(pdf_bytes)

The PKCS#12 file holds the signing certificate and key; its password comes from the
environment, never from the command line (it would show in the process list and the shell's
history). pyHanko and its certificate stack load only when a PDF is signed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisiskit.errors import InputError, OperationFailed
from crisiskit.secrets import Secret

PASSWORD_ENV = "CRISISKIT_SIGN_PASSWORD"
FIELD_NAME = "SignatureMetropole"


@dataclass(frozen=True)
class PdfSigner:
    """Signs PDF bytes with a PAdES baseline signature (an incremental update of the file)."""

    path: Path
    _signer: Any
    reason: str = "Document établi par la Métropole Aix-Marseille-Provence"
    location: str = "Marseille"

    @property
    def subject(self) -> str:
        """Return the signing certificate's subject, for messages."""
        return str(self._signer.signing_cert.subject.human_friendly)

    def sign(self, pdf: bytes) -> bytes:
        """Return `pdf` signed (PAdES B-B, SHA-256).

        pyHanko's synchronous API runs its own event loop, which cannot start inside a running
        one (activation writes its documents from within its loop): sign in a worker thread.
        """
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign") as pool:
            return pool.submit(self._sign, pdf).result()

    def _sign(self, pdf: bytes) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
            meta = signers.PdfSignatureMetadata(
                field_name=FIELD_NAME,
                subfilter=fields.SigSeedSubFilter.PADES,
                md_algorithm="sha256",
                reason=self.reason,
                location=self.location,
            )
            out = signers.sign_pdf(writer, meta, signer=self._signer)
        except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds; report one way
            raise OperationFailed(f"could not sign the PDF with {self.path}: {exc}") from None
        return bytes(out.getvalue())


def load_signer(path: Path, password: Secret) -> PdfSigner:
    """Load the PKCS#12 file `path` with its password (the CLI reads $CRISISKIT_SIGN_PASSWORD).

    InputError (exit 2) when the file is missing or unreadable, or the password is wrong.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--sign-with: cannot read {path}: {exc.strerror or exc}") from None
    from cryptography.hazmat.primitives.serialization import pkcs12

    secret = password.reveal().encode("utf-8") or None
    try:
        pkcs12.load_key_and_certificates(data, secret)
    except ValueError:
        hint = f" (set {PASSWORD_ENV})" if secret is None else f" (check {PASSWORD_ENV})"
        raise InputError(
            f"--sign-with: {path} is not a PKCS#12 file or its password is wrong{hint}"
        ) from None
    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
        pfx_file=str(path), passphrase=secret
    )
    if signer is None:
        raise InputError(f"--sign-with: {path} holds no usable certificate and key")
    return PdfSigner(path=path, _signer=signer)
