"""The French handover sheet: content, escaping, no secret, atomic files."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pydantic import ValidationError

from crisiskit.documents.credentials import CredentialRow, write_credentials
from crisiskit.documents.handover import (
    HandoverAccount,
    HandoverContact,
    HandoverDevice,
    HandoverSheet,
    commune_title,
    french_date,
    french_datetime,
    render_handover,
    write_handover,
)
from crisiskit.secrets import Secret

TAP = "Xq7!mZ2#pL9v"
ACTIVATED = datetime(2026, 11, 26, 23, 5, tzinfo=UTC)  # 27 November 00:05 in Paris


def sheet(**overrides: object) -> HandoverSheet:
    values: dict[str, object] = {
        "commune_name": "Aubagne",
        "activated_at": ACTIVATED,
        "convention_number": "2025-117",
        "convention_date": date(2025, 3, 1),
        "accounts": [
            HandoverAccount(surname="Dupont", given_name="Jérôme", role="maire",
                            upn="jerome.dupont@crise.example", team_owner=True),
            HandoverAccount(surname="Lefèvre", given_name="Anaïs", role="police_municipale",
                            upn="anais.lefevre@crise.example"),
        ],
        "devices": [
            HandoverDevice(kind="laptop", asset_tag="PC-0007", serial="5CG1234XYZ",
                           model="EliteBook 840", assigned_to="Jérôme Dupont"),
            HandoverDevice(kind="phone", asset_tag="TEL-0003", serial="356938035643809",
                           model="Galaxy A55", phone_number="+33612345678",
                           assigned_to="Anaïs Lefèvre"),
        ],
        "team_name": "Cellule de crise – Aubagne",
        "team_url": "https://teams.microsoft.com/l/team/19%3aabc?groupId=g1&tenantId=t1",
        "sharepoint_url": "https://contoso.sharepoint.com/sites/crise_aubagne",
        "credentials_path": "/srv/crisiskit/out/aubagne/identifiants.csv",
        "tap_valid_until": datetime(2026, 11, 27, 23, 5, tzinfo=UTC),
        "metropole_contact": HandoverContact(name="Claire Martin",
                                             email="claire.martin@ampmetropole.fr",
                                             phone="+33491000000"),
        "commune_correspondent": HandoverContact(name="Paul Roux", email="p.roux@aubagne.fr",
                                                 phone="+33442000000"),
    }
    values.update(overrides)
    return HandoverSheet(**values)  # type: ignore[arg-type]


def test_markdown_has_the_french_content() -> None:
    md, _ = render_handover(sheet())
    assert md.startswith("# Fiche de remise – Kit de crise cyber – Commune d'Aubagne\n")
    for expected in [
        "27 novembre 2026 à 0 h 05 (heure de Paris)",
        "délibération n° 2025-117 du 1er mars 2025",
        "| Nom | Prénom | Rôle | Identifiant (UPN) | Propriétaire de l'équipe |",
        "| Dupont | Jérôme | Maire | jerome.dupont@crise.example | Oui |",
        "| Lefèvre | Anaïs | Police municipale | anais.lefevre@crise.example | Non |",
        "| Type | N° d'inventaire | N° de série | Modèle | N° de téléphone | Attribué à |",
        "| Ordinateur portable | PC-0007 | 5CG1234XYZ | EliteBook 840 | – | Jérôme Dupont |",
        "| Téléphone mobile | TEL-0003 | 356938035643809 | Galaxy A55 | +33 6 12 34 56 78 |",
        "Cellule de crise – Aubagne – [ouvrir l'équipe](<https://teams.microsoft.com/l/team/"
        "19%3aabc?groupId=g1&tenantId=t1>)",
        "[ouvrir l'espace documentaire](<https://contoso.sharepoint.com/sites/crise_aubagne>)",
        "code d'accès temporaire (*Temporary Access Pass*)",
        "Ce code ne figure pas sur cette fiche.",
        "valables jusqu'au 28 novembre 2026 à 0 h 05 (heure de Paris)",
        "/srv/crisiskit/out/aubagne/identifiants.csv",
        "remis **en main propre** au correspondant de la commune",
        "## 5. Interlocuteurs (article 5 de la convention)",
        "| Interlocuteur de la Métropole | Claire Martin | claire.martin@ampmetropole.fr "
        "| +33 4 91 00 00 00 |",
        "| Correspondant de la commune | Paul Roux | p.roux@aubagne.fr | +33 4 42 00 00 00 |",
        "Fait à Marseille, le 27 novembre 2026, en deux exemplaires.",
        "| Pour la Métropole | Pour la commune |",
        "| Qualité : | Qualité : |",
        "| Signature : | Signature : |",
    ]:
        assert expected in md, expected


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_a_printable_french_page() -> None:
    _, html = render_handover(sheet())
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert "@page { size: A4;" in html
    parsed = _Collect()
    parsed.feed(html)
    text = " ".join(" ".join(parsed.text).split())
    for expected in [
        "Fiche de remise – Kit de crise cyber – Commune d'Aubagne",
        "délibération n° 2025-117 du 1er mars 2025",
        "Jérôme", "Anaïs", "Propriétaire de l'équipe", "Oui", "Non",
        "Numéro" if False else "N° de série", "+33 6 12 34 56 78",
        "Pour la Métropole", "Pour la commune", "Fait à Marseille, le 27 novembre 2026",
        "Interlocuteur de la Métropole", "Correspondant de la commune",
    ]:
        assert expected in text, expected
    assert parsed.hrefs == [
        "https://teams.microsoft.com/l/team/19%3aabc?groupId=g1&tenantId=t1",
        "https://contoso.sharepoint.com/sites/crise_aubagne",
    ]
    assert "script" not in parsed.tags


def test_hostile_names_are_escaped_in_html_and_markdown() -> None:
    hostile = '<script>alert("x")</script>'
    s = sheet(accounts=[HandoverAccount(surname=hostile, given_name="[a](javascript:x) *b*|c",
                                        role="agent", upn="a@x")],
              place="<b>Aix</b>")
    md, html = render_handover(s)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Aix" not in html
    assert "<script>" not in md and r"\<script\>" in md
    assert r"\[a\](javascript:x) \*b\*\|c" in md  # no link, no emphasis, no extra table cell
    parsed = _Collect()
    parsed.feed(html)
    assert "script" not in parsed.tags and "b" not in parsed.tags


def test_credentials_path_is_shown_verbatim_in_a_code_span() -> None:
    md, _ = render_handover(sheet(credentials_path="/srv/my_kit/<x>*y*/identifiants.csv"))
    assert "`/srv/my_kit/<x>*y*/identifiants.csv`" in md
    with pytest.raises(ValidationError, match="backtick"):
        sheet(credentials_path="/srv/`rm -rf`/x.csv")


def test_links_must_be_web_addresses() -> None:
    with pytest.raises(ValidationError, match="http"):
        sheet(team_url="javascript:alert(1)")
    with pytest.raises(ValidationError):
        sheet(sharepoint_url='https://x/"onmouseover="alert(1)')


def test_sheet_never_holds_a_pass(tmp_path: Path) -> None:
    credentials = tmp_path / "identifiants.csv"
    write_credentials(credentials, [CredentialRow("jerome.dupont@crise.example", "Jérôme Dupont",
                                                  Secret(TAP), ACTIVATED, ACTIVATED)])
    md_path, html_path = write_handover(tmp_path / "out", sheet(credentials_path=str(credentials)))
    assert TAP in credentials.read_text(encoding="utf-8")
    for path in (md_path, html_path):
        content = path.read_text(encoding="utf-8")
        assert TAP not in content
        assert str(credentials) in content
    # The model has no place for a pass: an extra field is refused, not silently rendered.
    with pytest.raises(ValidationError, match="extra"):
        sheet(temporary_access_pass=Secret(TAP))


def test_optional_parts_read_well_when_absent() -> None:
    md, html = render_handover(sheet(devices=[], team_name=None, team_url=None,
                                     sharepoint_url=None, tap_valid_until=None,
                                     still_provisioning=[]))
    assert "Aucun matériel n'est prêté au titre de cette activation." in md
    assert "aucune équipe n'est prévue pour cette activation" in md
    assert "valables jusqu'au" not in md
    assert "Aucun matériel" in html


def test_still_provisioning_mailboxes_are_listed() -> None:
    md, html = render_handover(sheet(still_provisioning=["anais.lefevre@crise.example"]))
    assert "Boîtes aux lettres encore en cours de préparation" in md
    assert "- anais.lefevre@crise.example" in md
    assert "anais.lefevre@crise.example</span>." in html


def test_write_handover_is_atomic_and_readable(tmp_path: Path) -> None:
    out = tmp_path / "out"
    md_path, html_path = write_handover(out, sheet())
    assert (md_path.name, html_path.name) == ("fiche-de-remise.md", "fiche-de-remise.html")
    assert stat.S_IMODE(os.stat(md_path).st_mode) == 0o644
    write_handover(out, sheet(commune_name="La Ciotat"))
    assert sorted(p.name for p in out.iterdir()) == ["fiche-de-remise.html",
                                                     "fiche-de-remise.md"]
    assert "Commune de La Ciotat" in md_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Aubagne", "Commune d'Aubagne"),
        ("Éguilles", "Commune d'Éguilles"),
        ("Marseille", "Commune de Marseille"),
        ("Le Rove", "Commune du Rove"),
        ("Les Pennes-Mirabeau", "Commune des Pennes-Mirabeau"),
        ("La Ciotat", "Commune de La Ciotat"),
    ],
)
def test_commune_title_follows_french_elision(name: str, title: str) -> None:
    assert commune_title(name) == title


def test_french_dates() -> None:
    assert french_date(date(2026, 8, 1)) == "1er août 2026"
    assert french_date(date(2026, 2, 14)) == "14 février 2026"
    # Summer time: UTC+2.
    assert french_datetime(datetime(2026, 7, 14, 8, 0, tzinfo=UTC)) == (
        "14 juillet 2026 à 10 h 00 (heure de Paris)")


def test_naive_activation_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        sheet(activated_at=datetime(2026, 1, 1, 12, 0))


def test_audit_anchor_is_printed_for_the_paper_record() -> None:
    digest = "3f2a9c1d0b7e55aa" + "0" * 48
    md, html = render_handover(sheet(audit_anchor=(57, digest)))
    line = "Empreinte du journal d'audit à la remise (à conserver avec cette fiche) : "
    assert line + "57:3f2a 9c1d 0b7e 55aa" in md
    assert "57:3f2a 9c1d 0b7e 55aa</span>" in html
    assert "Empreinte" not in render_handover(sheet())[0]
    with pytest.raises(ValidationError):
        sheet(audit_anchor=(57, "not hex"))
