"""PDF through Typst (the `typst` package bundles the compiler and its fonts: pip alone).

The page preamble (templates/page.typ) sets A4, French hyphenation, "page X sur Y", repeated
table headers and the unbreakable identifiers; the body comes from `markup.to_typst`. Only the
fonts bundled with Typst are used (Libertinus Serif, DejaVu Sans Mono), never the host's, so a
document prints the same on every machine. Imported lazily: `typst` loads only when a PDF is
written.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from importlib import resources

from crisiskit.errors import OperationFailed


@functools.cache
def preamble() -> str:
    """Return the Typst page preamble shared by every document."""
    return (resources.files("crisiskit.documents") / "templates" / "page.typ").read_text("utf-8")


@functools.cache
def _fonts() -> object:
    import typst

    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=True)


def compile_pdf(
    body: str, *, title: str, footer: str, confidential: bool, created: datetime,
    images: Mapping[str, bytes] | None = None,
) -> bytes:
    """Compile a document body (Typst source) into PDF bytes.

    A confidential document (one that holds a pass) never has its source or Typst's
    diagnostics quoted in an error: the message says only that the PDF could not be made.
    `images` (name -> PNG bytes) go to a private temporary folder, the compilation's root,
    where the body's `#image("/name")` reads them.
    """
    if not images:
        return _compile(body, title, footer, confidential, created, None)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="crisiskit-pdf-") as root:
        for name, data in images.items():
            (Path(root) / Path(name).name).write_bytes(data)
        return _compile(body, title, footer, confidential, created, root)


def _compile(
    body: str, title: str, footer: str, confidential: bool, created: datetime, root: str | None
) -> bytes:
    import typst

    source = (preamble() + "\n" + body).encode("utf-8")
    inputs = {"title": title, "footer": footer, "confidential": "1" if confidential else ""}
    try:
        compiler = typst.Compiler(font_paths=_fonts(), ignore_system_fonts=True)  # type: ignore[arg-type]
        pdf = compiler.compile(input=source, format="pdf", sys_inputs=inputs,
                               timestamp=created.replace(microsecond=0), root=root)
    except typst.TypstError as exc:
        if confidential:
            raise OperationFailed(f"could not typeset the PDF of {title!r}") from None
        raise OperationFailed(f"could not typeset the PDF of {title!r}: {exc.message}") from None
    if not isinstance(pdf, bytes):
        raise OperationFailed(f"could not typeset the PDF of {title!r}: no PDF produced")
    return pdf
