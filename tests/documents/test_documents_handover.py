"""The handover sheet: golden Markdown, well-formed HTML, a PDF whose text is whole, no secret."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from doc_helpers import (
    FIRST,
    GOLDEN,
    IDENTITY,
    SHAREPOINT_URL,
    TEAM_URL,
    assert_breaks_only_at_separators,
    assert_unbroken,
    assert_well_formed_html,
    complete_sheet,
    pdf_text,
    sparse_sheet,
)
from pydantic import ValidationError

from crisiskit.documents.handover import (
    HandoverAccount,
    first_activation,
    handover_document,
    write_handover,
)
from crisiskit.secrets import Secret


@pytest.mark.parametrize(
    ("name", "build"),
    [("complete", complete_sheet), ("sparse", sparse_sheet)],
)
def test_markdown_matches_the_golden_file(name: str, build: object) -> None:
    markdown = handover_document(build(), IDENTITY).markdown  # type: ignore[operator]
    golden = GOLDEN / f"fiche-de-remise-{name}.md"
    if os.environ.get("CRISISKIT_UPDATE_GOLDEN"):
        golden.write_text(markdown, encoding="utf-8")
    assert markdown == golden.read_text(encoding="utf-8")


def test_complete_sheet_has_every_part_a_signatory_needs() -> None:
    md = handover_document(complete_sheet(), IDENTITY).markdown
    for expected in [
        "**Métropole Aix-Marseille-Provence**",  # the identity block
        "| Commune | Aubagne (code INSEE `13005`) |",
        "| Maire | Gérard Lucciani |",
        "n° `DEL-2025-014` du 30\u00a0janvier 2025",
        "| Convention notifiée le | 1er\u00a0mars 2025 |",
        "| Activation du kit | 26\u00a0novembre 2026 à 21\u00a0h\u00a018 (heure de Paris) |",
        "| Gérard Lucciani | Maire | `gerard.lucciani@crise.ampmetropole.fr` | Oui |",
        "| Marie-Hélène Dupont | Direction générale des services |",
        "N° de série `DL4793725B`",
        "IMEI `353918110542012`",
        "`+33 7 57 10 04 01`",
        "2\u00a0ordinateurs portables et 1\u00a0téléphone mobile, soit 3\u00a0matériels",
        f"<{TEAM_URL}>",
        f"<{SHAREPOINT_URL}>",
        "Fichier d’identifiants remis en main propre\u00a0: `credentials.csv`",
        "## 6. Conditions de restitution (articles 4 et 10 de la convention)",
        "| Gérard Lucciani — `gerard.lucciani@crise.ampmetropole.fr` | `AMP-PC-0001`, "
        "`AMP-TEL-0001` | | |",
        "| Aïcha N’Diaye — `aicha.ndiaye@crise.ampmetropole.fr` | – | | |",
        "| Nom\u00a0: Hélène Marchal | Nom\u00a0: |",
        "Fait à Aubagne, en deux exemplaires originaux.",
        "`57:3f2a 9c1d 0b7e 55aa`",
    ]:
        assert expected in md, expected
    # The defects of the first sheet are gone.
    assert "(rice)" not in md and ") (" not in md
    assert "Nouvelle édition" not in md


def test_sparse_sheet_prints_blanks_and_lists_them() -> None:
    document = handover_document(sparse_sheet(), IDENTITY)
    assert "| Convention notifiée le | \\_\\_\\_\\_\\_\\_\\_\\_ |" in document.markdown
    assert "Activation incomplète" in document.markdown
    assert "Aucun matériel n’est prêté" in document.markdown
    assert set(document.missing) == {"convention.signature_date", "convention.notification_date"}


def test_a_regenerated_sheet_is_a_new_edition_with_both_times() -> None:
    later = FIRST + timedelta(days=1, hours=2)
    md = handover_document(complete_sheet(edited_at=later), IDENTITY).markdown
    assert ("**Nouvelle édition** de la fiche, établie le "
            "27\u00a0novembre 2026 à 23\u00a0h\u00a018") in md
    assert "le kit a été activé le 26\u00a0novembre 2026 à 21\u00a0h\u00a018" in md
    assert "| Activation du kit | 26\u00a0novembre 2026 à 21\u00a0h\u00a018" in md


@dataclass(frozen=True)
class _Run:
    kind: str
    outcome: str | None
    finished_at: str | None


def test_the_activation_time_is_the_first_successful_activation() -> None:
    runs = [
        _Run("activate", "ok", "2026-11-28T10:00:00+00:00"),
        _Run("activate", "failed", "2026-11-25T10:00:00+00:00"),
        _Run("activate", "ok", "2026-11-26T20:18:00+00:00"),
        _Run("activate", None, None),
        _Run("teardown", "ok", "2026-11-20T10:00:00+00:00"),
    ]
    assert first_activation(runs) == FIRST
    assert first_activation([_Run("activate", "failed", "2026-11-25T10:00:00+00:00")]) is None


def test_html_is_well_formed_and_prints_addresses_in_full() -> None:
    html = handover_document(complete_sheet(), IDENTITY).html()
    assert_well_formed_html(html)
    assert html.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert '@bottom-right { content: "page " counter(page) " sur " counter(pages)' in html
    assert "<thead>" in html and "white-space: nowrap" in html
    assert '<span class="id">gerard.lucciani@crise.ampmetropole.fr</span>' in html
    assert f'href="{TEAM_URL.replace("&", "&amp;")}"' in html
    assert "conversations<wbr>?groupId=" in html


def test_pdf_text_is_whole(tmp_path: Path) -> None:
    written = write_handover(tmp_path, complete_sheet(), IDENTITY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fiche-de-remise.html", "fiche-de-remise.md", "fiche-de-remise.pdf"]
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    text = pdf_text(written.paths["pdf"].read_bytes())
    assert "Aubagne" in text and "13005" in text
    assert "page 1 sur" in text
    identifiers = [a.upn for a in complete_sheet().accounts] + [
        "DL4793725B", "5CG4143195C", "353918110542012", "AMP-PC-0001", "AMP-TEL-0001",
        "+33 7 57 10 04 01", "DEL-2025-014", SHAREPOINT_URL,
    ]
    assert_unbroken(text, identifiers)
    assert_breaks_only_at_separators(text, TEAM_URL)


def test_hostile_values_stay_text_in_every_format(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script> *x* [l](javascript:y) #set page(fill: red) ]" \\'
    sheet = complete_sheet(accounts=[HandoverAccount(
        given_name=hostile, surname="|Nom|", role="agent", upn="a.b@crise.example")])
    document = handover_document(sheet, IDENTITY)
    assert "<script>" not in document.markdown and "\\<script\\>" in document.markdown
    assert "\\[l\\](javascript:y)" in document.markdown and "\\|Nom\\|" in document.markdown
    html = document.html()
    assert_well_formed_html(html)
    assert "<script>" not in html and 'href="javascript' not in html
    text = " ".join(pdf_text(document.pdf()).split())
    # Printed as text: Typst did not read "#set page(...)" as a rule (the page is not red,
    # the words are there) and the closing "]" did not end a content block early.
    assert "#set page(fill : red) ]\" \\ |Nom|" in text.replace("\u00a0", " ")
    assert "<script>alert(1)</script> *x* [l](javascript:y)" in text


def test_the_sheet_never_names_a_local_path_or_holds_a_pass() -> None:
    with pytest.raises(ValidationError, match="file name"):
        complete_sheet(credentials_file="/home/op/.crisiskit/outputs/aubagne/credentials.csv")
    with pytest.raises(ValidationError, match="extra"):
        complete_sheet(temporary_access_pass=Secret("Xq7!mZ2#"))
    with pytest.raises(ValidationError, match="http"):
        complete_sheet(team_url="javascript:alert(1)")
    with pytest.raises(ValidationError, match="timezone"):
        complete_sheet(edited_at=FIRST.replace(tzinfo=None))


def test_an_identifier_boxed_by_its_length_is_exactly_as_wide_as_measured() -> None:
    """page.typ boxes a printable-ASCII identifier at `n` mono advances instead of measuring
    it: true only while the bundled mono font has fixed-width glyphs of 1233/2048 em. A font
    or Typst upgrade that changes that would box identifiers too narrow (then broken) or too
    wide: this typesets both ways and compares."""
    from datetime import UTC, datetime

    from crisiskit.documents.markup import typst_string
    from crisiskit.documents.pdf import compile_pdf

    samples = [a.upn for a in complete_sheet().accounts] + [
        "AMP-PC-0001", "353918110542012", 'a"b\\c]#d', "+mkR@&oP", "fi fl ffi -- -> ...", "W i"]
    checks = "\n\n".join(
        f"#context {{ let t = text(font: mono, size: 0.86em, hyphenate: false, {typst_string(s)});"
        f" let sized = {len(s)} * mono-advance * 0.86em;"
        f" let gap = calc.abs((measure(t).width - sized.to-absolute()) / 1pt);"
        f" if gap < 0.0001 [same] else [differs] }}"
        for s in samples
    )
    text = pdf_text(compile_pdf(checks, title="t", footer="f", confidential=False,
                                created=datetime.now(UTC)))
    assert text.split().count("same") == len(samples), text
