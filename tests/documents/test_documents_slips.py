"""First sign-in slips: one page per person, each pass exactly once, 0600, never elsewhere."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from doc_helpers import FIRST, IDENTITY, assert_unbroken

from crisiskit.documents.slips import (
    SLIPS_FILE,
    Helpdesk,
    SigninSlip,
    slip_file_name,
    write_signin_slips,
)
from crisiskit.errors import OperationFailed
from crisiskit.secrets import Secret

PASSES = {"gerard.lucciani@crise.ampmetropole.fr": "+mkR@&oP",
          "aicha.ndiaye@crise.ampmetropole.fr": "Xq7!mZ2#pL9v",
          "noel.chene@crise.ampmetropole.fr": 'a"b\\c]#d'}


def slips() -> list[SigninSlip]:
    names = {"gerard.lucciani@crise.ampmetropole.fr": ("Gérard Lucciani", "maire", "+33757100401"),
             "aicha.ndiaye@crise.ampmetropole.fr": ("Aïcha N'Diaye", "communication", None),
             "noel.chene@crise.ampmetropole.fr": ("Noël Chêne", "agent", None)}
    return [
        SigninSlip(name=names[upn][0], upn=upn, role=names[upn][1],
                   temporary_access_pass=Secret(tap), valid_from=FIRST,
                   valid_until=FIRST + timedelta(hours=8), phone_number=names[upn][2],
                   phone_registered=names[upn][2] is not None)
        for upn, tap in PASSES.items()
    ]


def test_one_page_per_person_with_each_pass_exactly(tmp_path: Path) -> None:
    from pypdf import PdfReader

    path = write_signin_slips(tmp_path, slips(), commune_name="Aubagne", identity=IDENTITY,
                              helpdesk=Helpdesk("Nadia Benali", "+33465710001"))
    assert path == tmp_path / SLIPS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    pages = [page.extract_text() for page in PdfReader(path).pages]
    assert len(pages) == len(PASSES)
    for page, (upn, tap) in zip(pages, PASSES.items(), strict=True):
        assert upn in page
        assert page.count(tap) == 1, (upn, tap)  # on its own page, once, character for character
        assert all(other not in page for other in PASSES.values() if other != tap)
        assert "Microsoft Authenticator" in page and "https://aka.ms/mysecurityinfo" in page
        assert "27\u00a0novembre 2026 à 5\u00a0h\u00a018" in page.replace(" h ", "\u00a0h\u00a0")
    assert "+33 7 57 10 04 01" in pages[0] and "aucun" in pages[1]
    assert_unbroken("\n".join(pages), list(PASSES) + list(PASSES.values()))
    # Only the PDF: no Markdown or HTML copy of the passes.
    assert sorted(p.name for p in tmp_path.iterdir()) == [SLIPS_FILE]


def test_a_symlink_in_the_way_is_refused_not_followed(tmp_path: Path) -> None:
    from crisiskit.state.files import UnsafePath

    elsewhere = tmp_path / "elsewhere.pdf"
    elsewhere.write_bytes(b"untouched")
    out = tmp_path / "outputs"
    out.mkdir()
    (out / SLIPS_FILE).symlink_to(elsewhere)
    with pytest.raises(UnsafePath):
        write_signin_slips(out, slips()[:1], commune_name="Aubagne", identity=IDENTITY)
    assert (out / SLIPS_FILE).is_symlink()
    assert elsewhere.read_bytes() == b"untouched"
    assert [p.name for p in out.iterdir()] == [SLIPS_FILE]  # no temporary file left behind


def test_no_slip_no_file_and_file_names_are_plain(tmp_path: Path) -> None:
    assert write_signin_slips(tmp_path, [], commune_name="Aubagne", identity=IDENTITY) is None
    assert list(tmp_path.iterdir()) == []
    assert slip_file_name("fiches-reemission-20261127.pdf") == "fiches-reemission-20261127.pdf"
    for bad in ("../x.pdf", "/tmp/x.pdf", "x.html", ".x.pdf"):
        with pytest.raises(ValueError):
            slip_file_name(bad)


def test_a_typesetting_error_never_quotes_a_confidential_source() -> None:
    from crisiskit.documents.pdf import compile_pdf

    tap = "Xq7!mZ2#pL9v"
    body = f'#ident("{tap}")\n#unknown-function("{tap}")\n'
    with pytest.raises(OperationFailed) as caught:
        compile_pdf(body, title="Fiches", footer="", confidential=True, created=FIRST)
    assert tap not in str(caught.value) and "unknown" not in str(caught.value)
    with pytest.raises(OperationFailed, match="unknown"):  # an ordinary document says why
        compile_pdf(body, title="Fiche", footer="", confidential=False, created=FIRST)
